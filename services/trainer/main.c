/* lathe-trainer: training jobs fed by Kafka, trained on OpenBLAS.
 * The daemon's life (settings, database, Kafka, health, drain) is svc_main's; this
 * file names what is particular to the service: its port, schema and routes. Domain
 * routes answer 501 NOT_IMPLEMENTED until their issue lands. */
#include "svc/svc.h"

extern const struct core_embedded_file svc_migrations[];
extern const struct core_embedded_file svc_openapi[];

static const struct http_route tw_routes[] = {
	{.methods = SVC_ALL_METHODS, .pattern = "/v1/jobs", .handler = svc_h_not_implemented},
	{.methods = SVC_ALL_METHODS, .pattern = "/v1/jobs/{path*}", .handler = svc_h_not_implemented},
	{0},
};

static const struct svc_def tw_def = {
	.name = "trainer",
	.summary = "training jobs fed by Kafka, trained on OpenBLAS",
	.default_port = 5004,
	.schema = "trainer",
	.migrations = svc_migrations,
	.openapi = svc_openapi,
	.uses_outbox = true,
	.routes = {tw_routes},
	.content_type_error = HTTP_EC_NONE,
};

int main(int argc, char **argv)
{
	return svc_main(&tw_def, argc, argv);
}
