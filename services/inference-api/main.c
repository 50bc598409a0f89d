/* lathe-inference-api: model serving: Open Inference Protocol v2, MLflow invocations, image upload.
 * The daemon's life (settings, Kafka, health, drain) is svc_main's; this file names
 * what is particular to the service (ia.h lists the parts): its settings, the metric
 * families, the model table, the start-up load (a worker, so /readyz turns 200 once
 * it is done), the models.events consumer in a group of its own per replica, the
 * periodic resync that covers missed events, and readiness (every model loaded). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "core/log.h"
#include "core/time.h"
#include "ia.h"

extern const struct core_embedded_file svc_openapi[];

#define S(f) offsetof(struct ia_settings, f)
static const struct core_setting ia_setting_rows[] = {
	{"TRACKER_URL", CORE_SETTING_STRING, S(tracker_url), "http://127.0.0.1:5000", false, 0, 0,
	 "experiment tracker base URL: model packages are downloaded through its artifact API"},
	{"TRACKER_TOKEN", CORE_SETTING_STRING, S(tracker_token), NULL, false, 0, 0,
	 "token (read scope) for the tracker when it runs with AUTH=on; sent as Authorization: Bearer"},
	{"TRACKER_TIMEOUT_MS", CORE_SETTING_INT, S(tracker_timeout_ms), "30000", false, 100, 600000,
	 "how long one package download from the tracker may take"},
	{"REGISTRY_URL", CORE_SETTING_STRING, S(registry_url), "http://127.0.0.1:5001", false, 0, 0,
	 "model registry base URL: which version of each model serves (aliases, stages)"},
	{"REGISTRY_TOKEN", CORE_SETTING_STRING, S(registry_token), NULL, false, 0, 0,
	 "token (read scope) for the registry when it runs with AUTH=on"},
	{"REGISTRY_TIMEOUT_MS", CORE_SETTING_INT, S(registry_timeout_ms), "5000", false, 100, 120000,
	 "how long one call to the registry may take"},
	{"MODEL_DIR", CORE_SETTING_STRING, S(model_dir), "var/inference-models", false, 0, 0,
	 "where a package is downloaded to be read, as <dir>/<model>/<version>/; removed once read"},
	{"DEFAULT_MODEL", CORE_SETTING_STRING, S(default_model), NULL, false, 0, 0,
	 "the model bare POST /invocations answers with; unset: the only one served"},
	{"MODELS", CORE_SETTING_STRING, S(models), NULL, false, 0, 0,
	 "comma-separated registered model names to serve; unset: every registered model"},
	{"BATCH_MAX_DELAY_US", CORE_SETTING_INT, S(batch_max_delay_us), "300", false, 0, 100000,
	 "longest a forward pass waits for more rows, only while other requests are on their way, and only for "
	 "nets whose one-row pass takes 50 us or more (a cheaper one is not worth the wake-ups: requests are then "
	 "merged only when they queue behind busy copies)"},
	{"BATCH_MAX_SIZE", CORE_SETTING_INT, S(batch_max_size), "64", false, 1, 65536, "rows in one forward pass"},
	{"INFER_THREADS", CORE_SETTING_INT, S(infer_threads), "2", false, 1, 256,
	 "forward passes at once per model (each with its own copy of the net and one BLAS thread)"},
	{"CANARY_PERCENT", CORE_SETTING_INT, S(canary_percent), "0", false, 0, 100,
	 "share of a model's traffic answered by its `challenger` alias's version"},
	{"SHADOW", CORE_SETTING_BOOL, S(shadow), "false", false, 0, 0,
	 "the `challenger` version also scores every request off the request path; recorded, never returned"},
	{"PREDICTION_SAMPLE_RATE", CORE_SETTING_STRING, S(prediction_sample), "1.0", false, 0, 0,
	 "share of requests (0 to 1) whose predictions are sent on inference.predictions"},
	{"EVENTS_QUEUE_MAX", CORE_SETTING_INT, S(events_queue_max), "10000", false, 1, 10000000,
	 "prediction events waiting for Kafka; more are dropped and counted"},
	{"IMAGE_MAX_BYTES", CORE_SETTING_INT, S(image_max_bytes), "10485760", false, 1024, 1073741824,
	 "largest image upload (413 beyond)"},
	{"IMAGE_MAX_PIXELS", CORE_SETTING_INT, S(image_max_pixels), "40000000", false, 1, 1000000000,
	 "largest width x height of an uploaded image"},
	{"INFER_MAX_BYTES", CORE_SETTING_INT, S(infer_max_bytes), "67108864", false, 1024, 4294967296,
	 "largest infer or invocations request body (413 beyond)"},
	{"WARMUP_RUNS", CORE_SETTING_INT, S(warmup_runs), "3", false, 0, 1000,
	 "inferences a freshly loaded version runs before it takes traffic"},
	{"RESYNC_MS", CORE_SETTING_INT, S(resync_ms), "30000", false, 0, 86400000,
	 "every model is re-resolved this often, covering missed models.events; 0: never"},
	{0},
};
#undef S

static void ia_make_metrics(struct metrics_registry *r, struct ia_metrics *m)
{
	m->requests = metrics_counter_new(r, "inference_requests_total", "inference requests answered",
					  (const char *const[]){"model", "version", "protocol", "status", NULL});
	m->duration = metrics_histogram_new(
		r, "inference_request_duration_seconds", "inference request time, body read to reply",
		(const char *const[]){"model", NULL}, metrics_latency_buckets, metrics_latency_buckets_n);
	static const double rows[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
	m->predictions = metrics_counter_new(r, "inference_predictions_total", "rows predicted, by predicted label",
					     (const char *const[]){"model", "version", "label", NULL});
	m->batch_size = metrics_histogram_new(r, "inference_batch_size", "rows in one forward pass", NULL, rows,
					      sizeof rows / sizeof rows[0]);
	m->loaded = metrics_gauge_new(r, "inference_model_loaded", "1 while a version takes traffic, 0 once unloaded",
				      (const char *const[]){"model", "version", NULL});
	m->refused = metrics_counter_new(r, "inference_model_load_failures_total",
					 "versions refused (package missing, broken or not matching)",
					 (const char *const[]){"model", NULL});
	m->dropped = metrics_counter_new(r, "inference_events_dropped_total",
					 "prediction events dropped (queue full or broker down)", NULL);
	m->shadow_diff = metrics_counter_new(r, "inference_shadow_predictions_total",
					     "shadow predictions, by agreement with the served one",
					     (const char *const[]){"model", "version", "agree", NULL});
}

static enum core_status ia_start(struct svc *svc, void *settings, void **app_out, struct core_error *err)
{
	struct ia_settings *s = settings;
	char *end = NULL;
	double rate = strtod(s->prediction_sample ? s->prediction_sample : "", &end);
	if (!s->prediction_sample || end == s->prediction_sample || *end || !(rate >= 0 && rate <= 1))
		return core_fail(err, CORE_EINVAL, "PREDICTION_SAMPLE_RATE must be a number from 0 to 1, got '%s'",
				 s->prediction_sample ? s->prediction_sample : "");
	s->sample_rate = rate;
	struct ia_app *a = core_xcalloc(1, sizeof *a);
	a->svc = svc;
	a->settings = s;
	a->started_ms = core_now_ms();
	char host[64] = "host";
	gethostname(host, sizeof host - 1);
	snprintf(a->consumer_group, sizeof a->consumer_group, "inference-api-%.48s-%ld", host, (long)getpid());
	ia_make_metrics(svc_metrics(svc), &a->metrics);
	ia_routes_limits(s);
	a->models = ia_models_new(&a->metrics, s->canary_percent, s->shadow);
	enum core_status rc = ia_events_new(a, &a->events, err);
	if (rc != CORE_OK) {
		ia_models_free(a->models);
		free(a);
		return rc;
	}
	*app_out = a;
	return CORE_OK;
}

static void ia_stop(struct svc *svc, void *app)
{
	(void)svc;
	struct ia_app *a = app;
	ia_events_free(a->events);
	ia_models_free(a->models);
	free(a);
}

/* The start-up load: asks the registry until it answers, then returns (readiness waits
 * for it); later changes come by models.events and the resync. */
static void ia_startup_load(struct svc *svc, void *app)
{
	struct ia_app *a = app;
	struct core_error err = {{0}};
	while (ia_loader_sync_all(a, NULL, &err) != CORE_OK) {
		core_warn("start-up load: %s; asking again in a second", err.message);
		if (svc_sleep(svc, 1000))
			return;
	}
	ia_models_set_synced(a->models);
}

static void ia_resync(struct svc *svc, void *app)
{
	(void)svc;
	struct core_error err = {{0}};
	if (ia_loader_sync_all(app, NULL, &err) != CORE_OK)
		core_warn("resync: %s", err.message);
}

static long ia_resync_ms(const void *app)
{
	return ((const struct ia_app *)app)->settings->resync_ms;
}

static const char *ia_group(const void *app)
{
	return ((const struct ia_app *)app)->consumer_group;
}

static const char *ia_not_ready(struct svc *svc, void *app)
{
	(void)svc;
	return ia_models_not_ready(((struct ia_app *)app)->models);
}

static const struct svc_consumer_def ia_consumers[] = {
	{.group_id = "inference-api",
	 .group_id_of = ia_group,
	 .topics = {"models.events"},
	 .handle = ia_ev_models_handle},
	{0},
};
static const struct svc_worker_def ia_workers[] = {{.name = "start-up load", .run = ia_startup_load}, {0}};
static const struct svc_periodic_def ia_periodic[] = {
	{.name = "resync", .every_ms_of = ia_resync_ms, .run = ia_resync},
	{0},
};

/* The OIP routes (and the image route) answer errors as {"error": "..."}, including the
 * 404/405/413/415 the server gives before any handler runs; /v2/models/{m}/invocations
 * answers MLflow's shape on its own row (routes.c). */
static const struct http_error_prefix ia_error_prefixes[] = {
	{"/v2/", HTTP_ERRORS_OIP},
	{"/v1/models/", HTTP_ERRORS_OIP},
	{0},
};

static const struct svc_def ia_def = {
	.name = "inference-api",
	.summary = "model serving: Open Inference Protocol v2, MLflow invocations, image upload",
	.default_port = 8080,
	.schema = NULL,
	.migrations = NULL,
	.openapi = svc_openapi,
	.uses_outbox = false,
	.routes = {ia_routes},
	.content_type_error = HTTP_EC_NONE,
	.settings = ia_setting_rows,
	.settings_size = sizeof(struct ia_settings),
	.error_prefixes = ia_error_prefixes,
	/* handlers are quick CPU work (parse, a forward pass, reply): two poll threads
	 * share the connections; the repository's load and unload run off them (.slow) */
	.http_poll_threads = 2,
	.start = ia_start,
	.stop = ia_stop,
	.consumers = ia_consumers,
	.workers = ia_workers,
	.periodic = ia_periodic,
	.not_ready = ia_not_ready,
};

int main(int argc, char **argv)
{
	return svc_main(&ia_def, argc, argv);
}
