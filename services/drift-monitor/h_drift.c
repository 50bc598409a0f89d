/* POST /v1/drift: batch drift of two inline CSV samples, answered synchronously (no
 * database: nothing is stored). Thin over batch.c, which parses, checks and computes;
 * here only the mapping of its outcomes to replies: a bad body or bad CSV is a 400
 * naming the field, column or line; a sample that names a data-registry version is the
 * planned form, a 501 as the service's other unbuilt parts; a sample too large to copy
 * is a 413. */
#include "dm.h"

void dm_h_drift(struct http_request *req, void *app)
{
	(void)app;
	struct core_error err = {{0}};
	struct dm_batch b;
	json_t *body = NULL, *report = NULL;
	const struct http_jspec none[] = {HTTP_JS_END};
	if (http_parse_args_or_reply(req, none, &body) != HTTP_PARSE_OK)
		return;
	enum core_status rc = dm_batch_parse(body, &b, &err);
	if (rc != CORE_OK) {
		if (b.not_implemented)
			http_reply_error(req, HTTP_EC_NOT_IMPLEMENTED, "%s", err.message);
		else
			http_reply_invalid(req, &err);
		return;
	}
	rc = dm_batch_report(&b, &report, &err);
	dm_batch_clear(&b);
	if (rc == CORE_OK)
		http_reply_json(req, 200, report);
	else if (rc == CORE_ENOMEM)
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "%s", err.message);
	else
		http_reply_invalid(req, &err);
}
