/* lathe-experiment-tracker: MLflow tracking REST API and artifact proxy.
 * The daemon's life (settings, database, Kafka, health, drain) is svc_main's; this
 * file names what is particular to the service: its port, schema and routes. Domain
 * routes answer 501 NOT_IMPLEMENTED until their issue lands. */
#include "svc/svc.h"

extern const struct core_embedded_file svc_migrations[];

static const struct http_route et_routes[] = {
	{.methods = SVC_ALL_METHODS, .pattern = "/api/2.0/mlflow/{path*}", .handler = svc_h_not_implemented},
	{.methods = SVC_ALL_METHODS, .pattern = "/api/2.0/mlflow-artifacts/{path*}", .handler = svc_h_not_implemented},
	{0},
};

static const struct svc_def et_def = {
	.name = "experiment-tracker",
	.log_name = "tracker",
	.summary = "MLflow tracking REST API and artifact proxy",
	.default_port = 5000,
	.schema = "tracker",
	.migrations = svc_migrations,
	.uses_outbox = false,
	.routes = {et_routes},
	.ajax_twins = true,
	.content_type_error = HTTP_EC_INVALID_PARAMETER_VALUE,
};

int main(int argc, char **argv)
{
	return svc_main(&et_def, argc, argv);
}
