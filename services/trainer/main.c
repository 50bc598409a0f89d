/* lathe-trainer: training jobs fed by Kafka, trained on OpenBLAS. The daemon's life
 * (settings, database, Kafka, outbox relay, health, drain) is svc_main's; this file adds
 * the trainer's settings (where the tracker, the model registry, the data registry and
 * the drift monitor are, the checkpoint store, threads, workers, the job lease), opens
 * the checkpoint blob store at start and names the schema, migrations and route table
 * (tr.h lists the parts). */
#include <stddef.h>
#include <stdlib.h>
#include "img/chart.h"
#include "tr.h"

extern const struct core_embedded_file svc_migrations[];
extern const struct core_embedded_file svc_openapi[];

#define S(f) offsetof(struct tr_settings, f)

static const struct core_setting tr_setting_rows[] = {
	{"TRACKER_URL", CORE_SETTING_STRING, S(tracker_url), "http://127.0.0.1:5000", false, 0, 0,
	 "experiment tracker base URL: a run per job (params, metrics, artifacts, dataset input)"},
	{"TRACKER_TOKEN", CORE_SETTING_STRING, S(tracker_token), NULL, false, 0, 0,
	 "the trainer's token (write scope) for the tracker when it runs with AUTH=on; sent as Authorization: Bearer"},
	{"TRACKER_TIMEOUT_MS", CORE_SETTING_INT, S(tracker_timeout_ms), "10000", false, 100, 600000,
	 "how long one call to the tracker may take (an artifact upload included)"},
	{"REGISTRY_URL", CORE_SETTING_STRING, S(registry_url), "http://127.0.0.1:5001", false, 0, 0,
	 "model registry base URL: a finished job's model version and alias"},
	{"REGISTRY_TOKEN", CORE_SETTING_STRING, S(registry_token), NULL, false, 0, 0,
	 "the trainer's token (write scope) for the model registry when it runs with AUTH=on"},
	{"REGISTRY_TIMEOUT_MS", CORE_SETTING_INT, S(registry_timeout_ms), "5000", false, 100, 600000,
	 "how long one call to the model registry may take"},
	{"DATA_REGISTRY_URL", CORE_SETTING_STRING, S(data_registry_url), "http://127.0.0.1:5002", false, 0, 0,
	 "data registry base URL: a job's dataset is checked there at submit and its tensors read from it"},
	{"DATA_REGISTRY_TOKEN", CORE_SETTING_STRING, S(data_registry_token), NULL, false, 0, 0,
	 "the trainer's token (read scope) for the data registry when it runs with AUTH=on"},
	{"DATA_REGISTRY_TIMEOUT_MS", CORE_SETTING_INT, S(data_registry_timeout_ms), "5000", false, 100, 600000,
	 "how long one metadata call to the data registry may take (a submit waits for it: unanswered -> 503)"},
	{"BLOB_DIR", CORE_SETTING_STRING, S(blob_dir), "var/trainer-blobs", false, 0, 0,
	 "directory of the blob store holding the jobs' epoch checkpoints, where a taken-over job resumes"},
	{"TRAIN_THREADS", CORE_SETTING_INT, S(train_threads), "1", false, 1, 256,
	 "BLAS threads one training uses; WORKERS x TRAIN_THREADS should not exceed the cores"},
	{"WORKERS", CORE_SETTING_INT, S(workers), "1", false, 0, 64,
	 "jobs this process trains at once (consumer group trainer on training.requests); 0 = the jobs API only"},
	{"JOB_LEASE_MS", CORE_SETTING_INT, S(lease_ms), "30000", false, 1000, 86400000,
	 "a RUNNING job's lease, renewed by its worker; a job whose lease is older is taken over by another worker"},
	{"SCHEDULE_TICK_MS", CORE_SETTING_INT, S(sched_tick_ms), "1000", false, 0, 3600000,
	 "how often due cron schedules and due retries of failed scheduled jobs are looked for; 0 = never here"},
	{"SCHEDULE_GROUP", CORE_SETTING_STRING, S(sched_group), TR_SCHED_GROUP, false, 0, 0,
	 "the Kafka consumer group reading datasets.events and drift.alerts for event-triggered schedules: "
	 "replicas of one deployment share it"},
	{"DRIFT_URL", CORE_SETTING_STRING, S(drift_url), NULL, false, 0, 0,
	 "drift monitor base URL: GET /v1/lineage lists a model version's drift reports from it; empty = none"},
	{"DRIFT_TOKEN", CORE_SETTING_STRING, S(drift_token), NULL, false, 0, 0,
	 "the trainer's token (read scope) for the drift monitor when it runs with AUTH=on"},
	{"DRIFT_TIMEOUT_MS", CORE_SETTING_INT, S(drift_timeout_ms), "5000", false, 100, 600000,
	 "how long one call to the drift monitor may take (a lineage answer waits for it)"},
	{"PROMOTION_GROUP", CORE_SETTING_STRING, S(promotion_group), TR_PROMO_GROUP, false, 0, 0,
	 "consumer group of models.events whose challenger alias events queue champion / challenger evaluations"},
	{0},
};

static enum core_status tr_start(struct svc *svc, void *settings, void **app_out, struct core_error *err)
{
	(void)svc;
	struct tr_app *app = core_xcalloc(1, sizeof *app);
	app->settings = settings;
	enum core_status rc = blob_store_open(app->settings->blob_dir, &app->blobs, err);
	if (rc != CORE_OK) {
		free(app);
		return rc;
	}
	*app_out = app;
	return CORE_OK;
}

static void tr_stop(struct svc *svc, void *app_ptr)
{
	(void)svc;
	struct tr_app *app = app_ptr;
	img_chart_shutdown(); /* the workers have returned: no chart is being drawn */
	blob_store_close(app->blobs);
	free(app);
}

/* The job runners and the takeover of expired leases (worker.c). */
static const struct svc_worker_def tr_workers[] = {{.name = "jobs", .run = tr_worker_run}, {0}};
static const struct svc_periodic_def tr_periodic[] = {
	{.name = "requeue", .every_ms_of = tr_worker_requeue_every, .run = tr_worker_requeue},
	{.name = "schedules", .every_ms_of = tr_sched_tick_every, .run = tr_sched_tick},
	/* champion / challenger evaluations (promo_worker.c) */
	{.name = "evaluations", .every_ms_of = tr_promo_every, .run = tr_promo_run},
	{0}};
/* The event triggers of the schedules (schedules.c); models.events, where a challenger
 * alias queues an evaluation (models_in.c). */
static const struct svc_consumer_def tr_consumers[] = {
	{.group_id = TR_SCHED_GROUP,
	 .group_id_of = tr_sched_group,
	 .topics = {"datasets.events", "drift.alerts", NULL},
	 .handle = tr_sched_on_event},
	{.group_id = TR_PROMO_GROUP,
	 .topics = {TR_MODELS_TOPIC, NULL},
	 .group_id_of = tr_promo_group,
	 .handle = tr_models_in_handle},
	{0},
};

static const struct svc_def tr_def = {
	.name = "trainer",
	.summary = "training jobs fed by Kafka, trained on OpenBLAS",
	.default_port = 5004,
	.schema = "trainer",
	.migrations = svc_migrations,
	.openapi = svc_openapi,
	.uses_outbox = true,
	.routes = {tr_routes, tr_sched_routes, tr_promo_routes},
	.content_type_error = HTTP_EC_INVALID_PARAMETER_VALUE,
	.settings = tr_setting_rows,
	.settings_size = sizeof(struct tr_settings),
	.start = tr_start,
	.stop = tr_stop,
	.workers = tr_workers,
	.periodic = tr_periodic,
	.consumers = tr_consumers,
};

int main(int argc, char **argv)
{
	return svc_main(&tr_def, argc, argv);
}
