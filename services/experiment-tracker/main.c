/* lathe-experiment-tracker: MLflow's tracking REST API and proxied artifact API.
 * The daemon's life (settings, database, Kafka, health, drain) is svc_main's; this
 * file adds the tracker's settings and state (the blob store holding artifacts) and
 * names its one route table (routes.c; files in et.h). */
#include <stddef.h>
#include <stdlib.h>
#include "et.h"

extern const struct core_embedded_file svc_migrations[];
extern const struct core_embedded_file svc_openapi[];

static const struct core_setting et_setting_rows[] = {
	{"BLOB_DIR", CORE_SETTING_STRING, offsetof(struct et_settings, blob_dir), "var/blobs", false, 0, 0,
	 "directory of the content-addressed blob store holding artifact bytes"},
	{0},
};

static enum core_status et_start(struct svc *svc, void *settings, void **app_out, struct core_error *err)
{
	(void)svc;
	struct et_app *app = core_xcalloc(1, sizeof *app);
	app->settings = settings;
	enum core_status rc = blob_store_open(app->settings->blob_dir, &app->blobs, err);
	if (rc != CORE_OK) {
		free(app);
		return rc;
	}
	*app_out = app;
	return CORE_OK;
}

static void et_stop(struct svc *svc, void *app_ptr)
{
	(void)svc;
	struct et_app *app = app_ptr;
	blob_store_close(app->blobs);
	free(app);
}

static const struct svc_def et_def = {
	.name = "experiment-tracker",
	.summary = "MLflow tracking REST API and artifact proxy",
	.default_port = 5000,
	.schema = "tracker",
	.migrations = svc_migrations,
	.openapi = svc_openapi,
	.routes = {et_routes},
	.ajax_twins = true,
	.content_type_error = HTTP_EC_INVALID_PARAMETER_VALUE,
	.settings = et_setting_rows,
	.settings_size = sizeof(struct et_settings),
	.start = et_start,
	.stop = et_stop,
};

int main(int argc, char **argv)
{
	return svc_main(&et_def, argc, argv);
}
