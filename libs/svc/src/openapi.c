/* GET /openapi.json: the daemon's own OpenAPI document, embedded at build time from
 * proto/openapi/<service>.yaml (written in JSON syntax) and served byte for byte, so
 * clients and gateways read the contract from the process they talk to. Daemons
 * whose def has no document serve no such route (404). */
#include "svc_int.h"

static void h_openapi(struct http_request *req, void *app)
{
	struct svc *svc = app;
	const struct core_embedded_file *doc = svc->def->openapi;
	http_reply_raw(req, 200, "application/json", doc->data, doc->len);
}

const struct http_route svc_int_openapi_route = {
	.methods = HTTP_GET | HTTP_HEAD,
	.pattern = "/openapi.json",
	.handler = h_openapi,
	.scope = HTTP_SCOPE_PUBLIC, /* clients and gateways read the contract before they log in */
};
