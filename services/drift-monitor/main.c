/* lathe-drift-monitor: drift of live inputs and predictions against the training profile.
 * The daemon's life (settings, database, Kafka, outbox relay, health, drain) is svc_main's;
 * this file adds the drift monitor's settings (where the tracker, the registry, the
 * trainer and the data registry are; the retrain task's period), its state (the stream)
 * and names its port, schema, migrations, routes, consumer and periodic tasks (dm.h lists
 * the parts). */
#include <stddef.h>
#include <stdlib.h>
#include "core/alloc.h"
#include "dm.h"

extern const struct core_embedded_file svc_migrations[];
extern const struct core_embedded_file svc_openapi[];

#define S(f) offsetof(struct dm_settings, f)

static const struct core_setting dm_setting_rows[] = {
	{"TRACKER_URL", CORE_SETTING_STRING, S(tracker_url), "http://127.0.0.1:5000", false, 0, 0,
	 "experiment tracker base URL: a served version's run (lineage) and its reference.json"},
	{"TRACKER_TOKEN", CORE_SETTING_STRING, S(tracker_token), NULL, false, 0, 0,
	 "the drift monitor's token (read scope) for the tracker when it runs with AUTH=on"},
	{"TRACKER_TIMEOUT_MS", CORE_SETTING_INT, S(tracker_timeout_ms), "10000", false, 100, 600000,
	 "how long one call to the tracker may take (a reference download included)"},
	{"REGISTRY_URL", CORE_SETTING_STRING, S(registry_url), "http://127.0.0.1:5001", false, 0, 0,
	 "model registry base URL: which run made a served version"},
	{"REGISTRY_TOKEN", CORE_SETTING_STRING, S(registry_token), NULL, false, 0, 0,
	 "the drift monitor's token (read scope) for the model registry when it runs with AUTH=on"},
	{"REGISTRY_TIMEOUT_MS", CORE_SETTING_INT, S(registry_timeout_ms), "5000", false, 100, 600000,
	 "how long one call to the model registry may take"},
	{"TRAINER_URL", CORE_SETTING_STRING, S(trainer_url), "http://127.0.0.1:5004", false, 0, 0,
	 "trainer base URL: retraining jobs of monitors whose policy is retrain"},
	{"TRAINER_TOKEN", CORE_SETTING_STRING, S(trainer_token), NULL, false, 0, 0,
	 "the drift monitor's token (write scope) for the trainer when it runs with AUTH=on"},
	{"TRAINER_TIMEOUT_MS", CORE_SETTING_INT, S(trainer_timeout_ms), "10000", false, 100, 600000,
	 "how long one call to the trainer may take"},
	{"CONSUMER_GROUP", CORE_SETTING_STRING, S(consumer_group), "drift", false, 0, 0,
	 "the Kafka consumer group reading inference.predictions: replicas of one deployment share it"},
	{"RETRAIN_EVERY_MS", CORE_SETTING_INT, S(retrain_every_ms), "2000", false, 0, 3600000,
	 "how often pending retraining requests are sent to the trainer; 0 = never"},
	{"DATA_REGISTRY_URL", CORE_SETTING_STRING, S(data_registry_url), "http://127.0.0.1:5002", false, 0, 0,
	 "data registry base URL: POST /v1/drift reads the versions a sample names ({\"dataset\": \"name@ref\"}) "
	 "there"},
	{"DATA_REGISTRY_TOKEN", CORE_SETTING_STRING, S(data_registry_token), NULL, false, 0, 0,
	 "the drift monitor's token (read scope) for the data registry when it runs with AUTH=on; sent as "
	 "Authorization: Bearer"},
	{"DATA_REGISTRY_TIMEOUT_MS", CORE_SETTING_INT, S(data_registry_timeout_ms), "10000", false, 100, 600000,
	 "how long one call to the data registry may take (a version, its manifest, one of its files); unanswered: "
	 "503"},
	{"DATASET_MAX_BYTES", CORE_SETTING_INT, S(dataset_max_bytes), "16777216", false, 1024, 1073741824,
	 "the largest data-registry version (its files' bytes) a batch drift sample may name: larger ones get 413; "
	 "a sample costs memory as its text and a copy of each cell (measured: two 16 MiB versions of short numbers "
	 "raised the peak RSS by 186 MB)"},
	{0},
};

static enum core_status dm_start(struct svc *svc, void *settings, void **app_out, struct core_error *err)
{
	(void)err;
	struct dm_app *app = core_xcalloc(1, sizeof *app);
	app->settings = settings;
	app->stream = dm_stream_new(svc_metrics(svc));
	*app_out = app;
	return CORE_OK;
}

static void dm_stop(struct svc *svc, void *app_ptr)
{
	(void)svc;
	struct dm_app *app = app_ptr;
	dm_stream_free(app->stream);
	free(app);
}

static const char *dm_group(const void *app)
{
	return ((const struct dm_app *)app)->settings->consumer_group;
}

static const struct svc_consumer_def dm_consumers[] = {
	{.group_id = "drift",
	 .group_id_of = dm_group,
	 .topics = {"inference.predictions", NULL},
	 .handle_batch = dm_stream_batch,
	 .batch_max = DM_STREAM_BATCH_MAX,
	 .batch_wait_ms = DM_STREAM_BATCH_WAIT_MS},
	{0},
};

static const struct svc_periodic_def dm_periodic[] = {
	{.name = "windows-by-time", .every_ms = 1000, .run = dm_stream_tick},
	{.name = "retrain", .every_ms_of = dm_retrain_every, .run = dm_retrain_run},
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
	.settings = dm_setting_rows,
	.settings_size = sizeof(struct dm_settings),
	.start = dm_start,
	.stop = dm_stop,
	.consumers = dm_consumers,
	.periodic = dm_periodic,
};

int main(int argc, char **argv)
{
	return svc_main(&dm_def, argc, argv);
}
