/* lathe-experiment-tracker: MLflow's tracking REST API and proxied artifact API.
 * The daemon's life (settings, database, Kafka, health, drain) is svc_main's; this
 * file adds the tracker's settings and state (the blob store holding artifacts, whose
 * stale partial uploads it sweeps at start), names its one route table (routes.c;
 * files in et.h) and its periodic blob garbage collection (h_admin.c). */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include "et.h"

extern const struct core_embedded_file svc_migrations[];
extern const struct core_embedded_file svc_openapi[];

static const struct core_setting et_setting_rows[] = {
	{"BLOB_DIR", CORE_SETTING_STRING, offsetof(struct et_settings, blob_dir), "var/blobs", false, 0, 0,
	 "directory of the content-addressed blob store holding artifact bytes"},
	{"BLOB_GC_INTERVAL_S", CORE_SETTING_INT, offsetof(struct et_settings, gc_interval_s), "3600", false, 0,
	 31L * 24 * 3600,
	 "seconds between garbage collections of the blob store (blobs no artifact names any more); 0: only on "
	 "POST /api/2.0/lathe/admin/gc"},
	{"BLOB_GC_GRACE_S", CORE_SETTING_INT, offsetof(struct et_settings, gc_grace_s), "3600", false, 1,
	 365L * 24 * 3600,
	 "a blob younger than this (since its last upload) is never collected: it may be an upload whose artifact row "
	 "is not written yet"},
	{"BLOB_TMP_AGE_S", CORE_SETTING_INT, offsetof(struct et_settings, tmp_age_s), "3600", false, 1,
	 365L * 24 * 3600,
	 "a partial upload in the blob store's tmp/ untouched for this long is a crash's leftover: swept at start and "
	 "by each collection"},
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
	uint64_t n = 0, bytes = 0;
	struct core_error sweep_err;
	if (blob_sweep_tmp(app->blobs, app->settings->tmp_age_s, false, &n, &bytes, &sweep_err) != CORE_OK)
		core_warn("sweeping the blob store's partial uploads: %s", sweep_err.message);
	else if (n > 0)
		core_info("blob store: removed %" PRIu64 " partial uploads (%" PRIu64 " bytes) left by a crash", n,
			  bytes);
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

/* Every BLOB_GC_INTERVAL_S; 0 leaves it off. */
static long et_gc_every_ms(const void *app)
{
	return ((const struct et_app *)app)->settings->gc_interval_s * 1000;
}

static const struct svc_periodic_def et_periodic[] = {
	{.name = "blob-gc", .every_ms_of = et_gc_every_ms, .run = et_gc_periodic},
	{0},
};

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
	.periodic = et_periodic,
};

int main(int argc, char **argv)
{
	return svc_main(&et_def, argc, argv);
}
