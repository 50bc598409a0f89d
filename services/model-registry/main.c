/* lathe-model-registry: MLflow model registry REST API: models, versions, stages, aliases.
 * The daemon's life (settings, database, Kafka, health, drain) is svc_main's; this
 * file names what is particular to the service: its port, schema and routes. Domain
 * routes answer 501 NOT_IMPLEMENTED until their issue lands. */
#include "svc/svc.h"

extern const struct core_embedded_file svc_migrations[];

static const struct http_route mr_routes[] = {
	{.methods = SVC_ALL_METHODS, .pattern = "/api/2.0/mlflow/registered-models/{path*}", .handler = svc_h_not_implemented},
	{.methods = SVC_ALL_METHODS, .pattern = "/api/2.0/mlflow/model-versions/{path*}", .handler = svc_h_not_implemented},
	{0},
};

static const struct svc_def mr_def = {
	.name = "model-registry",
	.log_name = "registry",
	.summary = "MLflow model registry REST API: models, versions, stages, aliases",
	.default_port = 5001,
	.schema = "registry",
	.migrations = svc_migrations,
	.uses_outbox = true,
	.routes = {mr_routes},
	.ajax_twins = true,
	.content_type_error = HTTP_EC_INVALID_PARAMETER_VALUE,
};

int main(int argc, char **argv)
{
	return svc_main(&mr_def, argc, argv);
}
