/* lathe-model-registry: MLflow's model-registry REST API (registered models, versions,
 * stages, aliases, tags) with models.events on every change that matters to serving.
 * The daemon's life (settings, database, Kafka, outbox relay, health, drain) is
 * svc_main's; this file adds the registry's own settings (where the experiment tracker
 * is, for servability checks) and names its schema, migrations and route table (mr.h
 * lists the parts). */
#include <stddef.h>
#include <stdlib.h>
#include "mr.h"

extern const struct core_embedded_file svc_migrations[];
extern const struct core_embedded_file svc_openapi[];

static const struct core_setting mr_setting_rows[] = {
	{"TRACKER_URL", CORE_SETTING_STRING, offsetof(struct mr_settings, tracker_url), "http://127.0.0.1:5000", false,
	 0, 0, "experiment tracker base URL; new model versions are checked there for a Lathe model package"},
	{"TRACKER_TIMEOUT_MS", CORE_SETTING_INT, offsetof(struct mr_settings, tracker_timeout_ms), "2000", false, 100,
	 120000,
	 "how long one servability call to the tracker may take (made in the background, never while a client "
	 "waits)"},
	{"SERVABLE_CHECK_ATTEMPTS", CORE_SETTING_INT, offsetof(struct mr_settings, servable_attempts), "5", false, 1,
	 100,
	 "tracker calls a servability check makes before it records \"the tracker could not be reached\"; until "
	 "then lathe.servable is \"pending\""},
	{"SERVABLE_RETRY_MS", CORE_SETTING_INT, offsetof(struct mr_settings, servable_retry_ms), "1000", false, 10,
	 600000, "wait before asking an unanswering tracker again, doubled per attempt (at most a minute)"},
	{"TRACKER_TOKEN", CORE_SETTING_STRING, offsetof(struct mr_settings, tracker_token), NULL, false, 0, 0,
	 "the registry's own token (read scope is enough) for the tracker when the tracker runs with AUTH=on; sent "
	 "as Authorization: Bearer"},
	{0},
};

static enum core_status mr_start(struct svc *svc, void *settings, void **app_out, struct core_error *err)
{
	(void)svc;
	(void)err;
	struct mr_app *app = core_xcalloc(1, sizeof *app);
	app->settings = settings;
	*app_out = app;
	return CORE_OK;
}

static void mr_stop(struct svc *svc, void *app)
{
	(void)svc;
	free(app);
}

/* Pending servability checks are looked for this often (servable_queue.c). */
static const struct svc_periodic_def mr_periodic[] = {
	{.name = "servability", .every_ms = 200, .run = mr_servable_run},
	{0},
};

static const struct svc_def mr_def = {
	.name = "model-registry",
	.summary = "MLflow model registry REST API: models, versions, stages, aliases",
	.default_port = 5001,
	.schema = "registry",
	.migrations = svc_migrations,
	.openapi = svc_openapi,
	.uses_outbox = true,
	.routes = {mr_routes},
	.ajax_twins = true,
	.content_type_error = HTTP_EC_INVALID_PARAMETER_VALUE,
	.settings = mr_setting_rows,
	.settings_size = sizeof(struct mr_settings),
	.start = mr_start,
	.stop = mr_stop,
	.periodic = mr_periodic,
};

int main(int argc, char **argv)
{
	return svc_main(&mr_def, argc, argv);
}
