/* lathe-drift-monitor: drift of live inputs and predictions against the training profile.
 * The daemon's life (settings, database, Kafka, outbox relay, health, drain) is
 * svc_main's; this file names what is particular to the service: its port, schema,
 * migrations and routes (dm.h lists the parts). */
#include "dm.h"

extern const struct core_embedded_file svc_migrations[];
extern const struct core_embedded_file svc_openapi[];

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
