/* lathe-data-registry: versioned, content-addressed datasets: manifests over a blob
 * store, profiles, splits, tensors. The daemon's life (settings, database, Kafka,
 * outbox relay, health, drain) is svc_main's; this file adds the registry's settings
 * (where the blob store is, how large a blob or an upload may be, the collector's grace
 * period) and opens the store at start (dr.h lists the parts). */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include "dr.h"
#include "profile.h"

extern const struct core_embedded_file svc_migrations[];
extern const struct core_embedded_file svc_openapi[];

static const struct core_setting dr_setting_rows[] = {
	{"BLOB_DIR", CORE_SETTING_STRING, offsetof(struct dr_settings, blob_dir), "var/data-blobs", false, 0, 0,
	 "directory of the content-addressed blob store holding the datasets' file bytes (and profiles, splits, "
	 "tensors)"},
	{"BLOB_MAX_BYTES", CORE_SETTING_INT, offsetof(struct dr_settings, blob_max_bytes), "4294967296", false, 1,
	 1099511627776, "the largest blob one PUT /v1/blobs/{sha256} may carry (413 beyond)"},
	{"UPLOAD_MAX_BYTES", CORE_SETTING_INT, offsetof(struct dr_settings, upload_max_bytes), "4294967296", false, 1,
	 1099511627776,
	 "the largest one-request upload body (CSV, gzip, tar, zip) a version commit may carry (413 beyond)"},
	{"UNPACKED_MAX_BYTES", CORE_SETTING_INT, offsetof(struct dr_settings, unpacked_max_bytes), "17179869184", false,
	 1, 1099511627776, "the most bytes one upload may unpack to in all (a compressed archive expands): 413 beyond"},
	{"BLOB_GC_GRACE_S", CORE_SETTING_INT, offsetof(struct dr_settings, gc_grace_s), "3600", false, 0, 31536000,
	 "a blob younger than this (since its last upload or commit) is never collected: it may be an upload whose "
	 "version is being committed"},
	{"BLOB_TMP_AGE_S", CORE_SETTING_INT, offsetof(struct dr_settings, tmp_age_s), "3600", false, 1, 31536000,
	 "a partial upload in the blob store's tmp/ untouched for this long is a crash's leftover: swept at start and "
	 "by each collection"},
	{"PROFILE_POLL_MS", CORE_SETTING_INT, offsetof(struct dr_settings, profile_poll_ms), "500", false, 0, 3600000,
	 "how often the profiler looks for PENDING versions when it has found none; 0 turns the profiler off (versions "
	 "stay PENDING until a daemon with it on profiles them)"},
	{0},
};

static enum core_status dr_start(struct svc *svc, void *settings, void **app_out, struct core_error *err)
{
	(void)svc;
	struct dr_app *app = core_xcalloc(1, sizeof *app);
	app->settings = settings;
	enum core_status rc = blob_store_open(app->settings->blob_dir, &app->blobs, err);
	if (rc != CORE_OK) {
		free(app);
		return rc;
	}
	uint64_t n = 0, bytes = 0;
	struct core_error sweep_err = {{0}};
	if (blob_sweep_tmp(app->blobs, app->settings->tmp_age_s, false, &n, &bytes, &sweep_err) != CORE_OK)
		core_warn("sweeping the blob store's partial uploads: %s", sweep_err.message);
	else if (n > 0)
		core_info("blob store: removed %" PRIu64 " partial uploads (%" PRIu64 " bytes) left by a crash", n,
			  bytes);
	*app_out = app;
	return CORE_OK;
}

static void dr_stop(struct svc *svc, void *app_ptr)
{
	(void)svc;
	struct dr_app *app = app_ptr;
	blob_store_close(app->blobs);
	free(app);
}

static const struct svc_def dr_def = {
	.name = "data-registry",
	.summary = "versioned, content-addressed datasets: manifests, blobs, profiles, splits, tensors",
	.default_port = 5002,
	.schema = "data",
	.migrations = svc_migrations,
	.openapi = svc_openapi,
	.uses_outbox = true,
	.routes = {dr_routes, dr_split_routes},
	.content_type_error = HTTP_EC_NONE,
	.settings = dr_setting_rows,
	.settings_size = sizeof(struct dr_settings),
	.start = dr_start,
	.stop = dr_stop,
	.periodic = dr_prof_periodic,
};

int main(int argc, char **argv)
{
	return svc_main(&dr_def, argc, argv);
}
