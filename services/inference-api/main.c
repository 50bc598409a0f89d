/* lathe-inference-api: model serving: Open Inference Protocol v2, MLflow invocations, image upload.
 * The daemon's life (settings, database, Kafka, health, drain) is svc_main's; this
 * file names what is particular to the service: its port, schema and routes. Domain
 * routes answer 501 NOT_IMPLEMENTED until their issue lands. */
#include "svc/svc.h"

extern const struct core_embedded_file svc_openapi[];

static const struct http_route ia_routes[] = {
	{.methods = SVC_ALL_METHODS, .pattern = "/v2/{path*}", .handler = svc_h_not_implemented},
	{.methods = SVC_ALL_METHODS, .pattern = "/invocations", .handler = svc_h_not_implemented},
	{.methods = SVC_ALL_METHODS, .pattern = "/predict", .handler = svc_h_not_implemented},
	{.methods = SVC_ALL_METHODS, .pattern = "/predict/{path*}", .handler = svc_h_not_implemented},
	{0},
};

/* The Open Inference Protocol's routes answer errors as {"error": "..."}, including the
 * 404/405/413/415 the server gives before any handler runs. */
static const struct http_error_prefix ia_error_prefixes[] = {
	{"/v2/", HTTP_ERRORS_OIP},
	{0},
};

static const struct svc_def ia_def = {
	.name = "inference-api",
	.summary = "model serving: Open Inference Protocol v2, MLflow invocations, image upload",
	.default_port = 8080,
	.schema = NULL,
	.migrations = NULL,
	.openapi = svc_openapi,
	.uses_outbox = false,
	.routes = {ia_routes},
	.content_type_error = HTTP_EC_NONE,
	.error_prefixes = ia_error_prefixes,
};

int main(int argc, char **argv)
{
	return svc_main(&ia_def, argc, argv);
}
