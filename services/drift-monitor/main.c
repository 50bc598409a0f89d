/* lathe-drift-monitor: drift of live inputs and predictions against the training profile.
 * The daemon's life (settings, database, Kafka, health, drain) is svc_main's; this
 * file names what is particular to the service: its port, schema and routes. Domain
 * routes answer 501 NOT_IMPLEMENTED until their issue lands. */
#include "svc/svc.h"

extern const struct core_embedded_file svc_migrations[];
extern const struct core_embedded_file svc_openapi[];

static const struct http_route dm_routes[] = {
	{.methods = SVC_ALL_METHODS, .pattern = "/v1/monitors", .handler = svc_h_not_implemented},
	{.methods = SVC_ALL_METHODS, .pattern = "/v1/monitors/{path*}", .handler = svc_h_not_implemented},
	{.methods = SVC_ALL_METHODS, .pattern = "/v1/reports", .handler = svc_h_not_implemented},
	{.methods = SVC_ALL_METHODS, .pattern = "/v1/reports/{path*}", .handler = svc_h_not_implemented},
	{0},
};

static const struct svc_def dm_def = {
	.name = "drift-monitor",
	.summary = "drift of live inputs and predictions against the training profile",
	.default_port = 5003,
	.schema = "drift",
	.migrations = svc_migrations,
	.openapi = svc_openapi,
	.uses_outbox = true,
	.routes = {dm_routes},
	.content_type_error = HTTP_EC_NONE,
};

int main(int argc, char **argv)
{
	return svc_main(&dm_def, argc, argv);
}
