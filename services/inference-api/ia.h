/* The inference API's private header (prefix ia_): its settings and state, and what its
 * files offer each other. No database: what to serve comes from the model registry,
 * packages from the tracker's artifact API. Sections follow the files:
 *   main.c          settings table, start/stop, consumers/periodic/readiness, the svc_def
 *   routes.c        the one route table (OIP /v2/..., MLflow /invocations, /v1/.../predict)
 *   models.c        the model table: which version of each model serves, refcounted
 *                   loaded versions swapped atomically, canary and shadow picks
 *   loader.c        resolve (registry) -> download (tracker) -> read + verify (libs/ml)
 *                   -> warm up -> publish; the models.events consumer (ev_models.c)
 *   batch.c         coalescing concurrent requests for one model into one forward pass
 *   prep.c          raw inputs -> the net's input, with the package's preprocessing
 *                   (libs/img for images, libs/ml for tabular): the one path
 *   infer.c         the one inference path every protocol calls: prep'd rows -> batcher ->
 *                   outputs, metrics, shadow scoring, prediction events
 *   ev_predictions.c  sampled inference.predictions CloudEvents, never blocking
 *   oip.c           pure: OIP v2 JSON / binary tensors <-> rows (unit-tested)
 *   h_oip.c         the OIP v2 REST routes
 *   mlflow_in.c     pure: MLflow scoring inputs (dataframe_split/records, instances,
 *                   inputs, CSV) -> rows (unit-tested)
 *   h_invocations.c /invocations, /v2/models/{m}/invocations, /ping, /health, /version
 *   h_predict.c     POST /v1/models/{m}/predict: image upload
 *   h_repository.c  /v2/repository/index, load, unload
 * Handlers receive the struct svc * as app; ia_app(svc) gives this service's state. */
#ifndef IA_H
#define IA_H
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "img/img.h"
#include "ml/package.h"
#include "svc/svc.h"

/* --- state (main.c) ------------------------------------------------------------- */

struct ia_settings {
	char *tracker_url;        /* TRACKER_URL: packages through the artifact API */
	char *tracker_token;      /* TRACKER_TOKEN */
	long tracker_timeout_ms;  /* TRACKER_TIMEOUT_MS */
	char *registry_url;       /* REGISTRY_URL: what to serve */
	char *registry_token;     /* REGISTRY_TOKEN */
	long registry_timeout_ms; /* REGISTRY_TIMEOUT_MS */
	char *model_dir;          /* MODEL_DIR: downloaded packages, <dir>/<name>/<version>/ */
	char *default_model;      /* DEFAULT_MODEL: bare /invocations; NULL: the only one */
	char *models;             /* MODELS: comma-separated names to serve; NULL: every model */
	long batch_max_delay_us;  /* BATCH_MAX_DELAY_US */
	long batch_max_size;      /* BATCH_MAX_SIZE: rows in one forward pass */
	long infer_threads;       /* INFER_THREADS: forward passes at once per model (each
				   * its own net copy, one BLAS thread) */
	long canary_percent;      /* CANARY_PERCENT: 0..100 of traffic to the challenger */
	bool shadow;              /* SHADOW: the challenger scores every request, off path */
	char *prediction_sample;  /* PREDICTION_SAMPLE_RATE: "0".."1" (parsed at start) */
	double sample_rate;       /*   ... its value */
	long events_queue_max;    /* EVENTS_QUEUE_MAX: prediction events waiting, then dropped */
	long image_max_bytes;     /* IMAGE_MAX_BYTES: an upload */
	long image_max_pixels;    /* IMAGE_MAX_PIXELS: width x height of an upload */
	long infer_max_bytes;     /* INFER_MAX_BYTES: an infer / invocations body */
	long warmup_runs;         /* WARMUP_RUNS: inferences before a version takes traffic */
	long resync_ms;           /* RESYNC_MS: re-resolve every model (missed events) */
};

struct ia_models;                           /* models.c */
struct ia_events;                           /* ev_predictions.c */
struct ia_metrics {                         /* main.c makes them; the families' label names in their comments */
	struct metrics_family *requests;    /* inference_requests_total{model,version,protocol,status} */
	struct metrics_family *duration;    /* inference_request_duration_seconds{model} */
	struct metrics_family *predictions; /* inference_predictions_total{model,version,label} */
	struct metrics_family *batch_size;  /* inference_batch_size{} */
	struct metrics_family *loaded;      /* inference_model_loaded{model,version} 1 / 0 */
	struct metrics_family *refused;     /* inference_model_load_failures_total{model} */
	struct metrics_family *dropped;     /* inference_events_dropped_total{} */
	struct metrics_family *shadow_diff; /* inference_shadow_predictions_total{model,version,agree} */
};

struct ia_app {
	struct svc *svc;
	struct ia_settings *settings; /* borrowed from svc */
	struct ia_models *models;     /* owned */
	struct ia_events *events;     /* owned */
	struct ia_metrics metrics;
	char consumer_group[96]; /* "inference-api-<host>-<pid>": every replica sees every event */
	int64_t started_ms;      /* events older than this are covered by the start-up load */
};

static inline struct ia_app *ia_app(void *svc)
{
	return svc_app(svc);
}

/* --- a loaded model version (models.c, loader.c) --------------------------------- */

enum ia_input_kind {
	IA_INPUT_IMAGE = 1, /* raw pixels 0..255, [c, h, w] of the package's preprocessing size */
	IA_INPUT_TABULAR,   /* raw column values, numeric or categorical */
};

/* A tabular column as clients send it (from the package's preprocessing "columns"). */
struct ia_column {
	char *name;
	bool numeric; /* false: categorical (strings; numbers are taken as their text) */
};

/* One loaded version. Immutable once published; shared by requests through refs. */
struct ia_model {
	char *name, *version;  /* registry name and version ("3") */
	char *alias;           /* "champion", "challenger", "Production" or NULL (explicit load) */
	struct ml_package pkg; /* pkg.net is the template; the batcher holds copies */
	enum ia_input_kind kind;
	/* images: the raw input clients send: c x h x w pixel values (the preprocessing's
	 * size and channels), applied with prep (libs/img: the data registry's function) */
	unsigned c, h, w;
	struct img_prep prep;
	/* tabular: the columns clients send, in order, and the encoder (prep.c) */
	struct ia_column *columns;
	size_t n_columns;
	void *tab;                  /* prep.c's compiled tabular preprocessing */
	size_t n_in;                /* floats per row into the net (prepared) */
	size_t n_raw;               /* values per row clients send: c*h*w or n_columns */
	size_t n_out;               /* floats per row out of the net */
	const char *const *labels;  /* class names (n_out of them) or NULL (regression) */
	struct ia_batcher *batcher; /* owned */
	long batch_window_us;       /* BATCH_MAX_DELAY_US, or 0 for a net too cheap to wait for */
	int64_t loaded_at_ms;
	atomic_int refs; /* the table's + each request's */
};

/* The model table's answer for one request: the version that answers, and the one that
 * scores in the shadow (or NULL). Release both with ia_pick_release. */
struct ia_pick {
	struct ia_model *serve;
	struct ia_model *shadow;
	bool canary; /* serve is the challenger, picked by CANARY_PERCENT */
};

enum ia_find { IA_FOUND = 0, IA_NO_MODEL, IA_NO_VERSION, IA_NOT_READY };

/* Picks what answers a request for model name (version NULL: the serving one, with
 * canary/shadow; else exactly that version if loaded). Thread-safe and lock-light: a
 * reader never waits for a load. *why gets a message for the client on failure
 * ("model 'x' not found", "model 'x' version '7' is not loaded"). */
enum ia_find ia_models_pick(struct ia_models *t, const char *name, const char *version, struct ia_pick *out, char *why,
			    size_t why_size);
void ia_pick_release(struct ia_pick *p);
void ia_model_ref(struct ia_model *m);
void ia_model_unref(struct ia_model *m); /* the last one frees it (and its batcher) */

/* The table itself (models.c). Entries are made by the loader; a request reads them
 * under a mutex held for a few pointer copies, never across a load. */
enum ia_role { IA_ROLE_SERVE = 0, IA_ROLE_CHALLENGER = 1 };
struct ia_models *ia_models_new(struct ia_metrics *metrics, long canary_percent, bool shadow);
void ia_models_free(struct ia_models *t); /* drops every table ref */
/* Makes name's entry when missing (state LOADING: readiness waits for it). */
void ia_models_want(struct ia_models *t, const char *name);
/* Swaps m in as name's role (the table takes the caller's ref on m; m NULL drops the
 * role), updating inference_model_loaded; the version it replaces is unref'd (freed
 * when its last request ends). Clears the entry's failure. */
void ia_models_publish(struct ia_models *t, const char *name, enum ia_role role, struct ia_model *m);
/* Whether name's role is version already (a resync then does nothing). */
bool ia_models_has(struct ia_models *t, const char *name, enum ia_role role, const char *version);
/* Records a refused version (its reason shows in the index; a resync does not retry
 * that version, an event or an explicit load does). */
void ia_models_failed(struct ia_models *t, const char *name, const char *version, const char *reason);
/* Whether version of name was refused before (see ia_models_failed). */
bool ia_models_refused(struct ia_models *t, const char *name, const char *version);
/* Removes name's entry (deleted, renamed, no longer served); its versions unload. */
void ia_models_remove(struct ia_models *t, const char *name);
/* Explicit unload (repository API): the entry stays, marked unloaded, and no resync
 * or event loads it again until ia_models_set_unloaded(false) (an explicit load). */
void ia_models_set_unloaded(struct ia_models *t, const char *name, bool unloaded);
bool ia_models_is_unloaded(struct ia_models *t, const char *name);
/* Whether the table has an entry for name (loaded, loading, refused or unloaded). */
bool ia_models_known(struct ia_models *t, const char *name);
/* Drops every entry not in names[0..n) (the registry's answer of a full sync). */
void ia_models_retain(struct ia_models *t, char *const *names, size_t n);
/* The first full sync is over (readiness no longer says "loading"). */
void ia_models_set_synced(struct ia_models *t);
/* Loads are serialised (the start-up load, resync, events and repository calls). */
void ia_models_load_lock(struct ia_models *t);
void ia_models_load_unlock(struct ia_models *t);

/* The names served, sorted (for bare /invocations and GET /v2/repository/index):
 * fills up to max, returns how many there are. */
size_t ia_models_names(struct ia_models *t, char **names, size_t max);
/* Renders the repository index: [{"name","version","state","reason"}...]. */
json_t *ia_models_index(struct ia_models *t);
/* NULL when every model that should serve is loaded; else a static reason (readiness). */
const char *ia_models_not_ready(struct ia_models *t);

/* --- loader.c: what to serve, from the registry; packages from the tracker -------- */

/* Re-resolves every registered model (or MODELS) and loads what each should serve;
 * drops models no longer registered. CORE_EIO when the registry did not answer (the
 * table is left as it was). Takes the load lock. */
enum core_status ia_loader_sync_all(struct ia_app *a, const char *request_id, struct core_error *err);
/* The same for one model; force retries a version refused before. CORE_OK when it
 * serves (or, deleted in the registry, was unloaded: *gone true); CORE_ENOENT when the
 * model has nothing to serve (no champion, no Production), CORE_EINVAL for a refused
 * package (err says why), CORE_EIO for an unreachable registry or tracker. */
enum core_status ia_loader_sync_model(struct ia_app *a, const char *name, bool force, const char *request_id,
				      bool *gone, struct core_error *err);
/* Builds a loaded version from the package in dir (verifies, makes the batcher, warms
 * it up). The model has one ref (the caller's). */
enum core_status ia_model_build(struct ia_app *a, const char *name, const char *version, const char *alias,
				const char *dir, struct ia_model **out, struct core_error *err);

/* --- ev_models.c: the models.events consumer ------------------------------------- */

enum bus_handled ia_ev_models_handle(struct svc *svc, void *app, const struct bus_message *m);

/* --- routes.c and the handlers it names ------------------------------------------ */

/* The table svc serves. Its body limits come from settings (INFER_MAX_BYTES,
 * IMAGE_MAX_BYTES): ia_routes_limits sets them once, in the start hook, before the
 * HTTP server starts. */
extern struct http_route ia_routes[];
void ia_routes_limits(const struct ia_settings *s);
void ia_h_server_meta(struct http_request *req, void *app); /* h_oip.c */
void ia_h_live(struct http_request *req, void *app);
void ia_h_ready(struct http_request *req, void *app);
void ia_h_model_meta(struct http_request *req, void *app);
void ia_h_model_ready(struct http_request *req, void *app);
void ia_h_infer(struct http_request *req, void *app);
void ia_h_invocations(struct http_request *req, void *app); /* h_invocations.c */
void ia_h_ping(struct http_request *req, void *app);
void ia_h_health(struct http_request *req, void *app);
void ia_h_version(struct http_request *req, void *app);
void ia_h_predict(struct http_request *req, void *app);    /* h_predict.c */
void ia_h_repo_index(struct http_request *req, void *app); /* h_repository.c */
void ia_h_repo_load(struct http_request *req, void *app);
void ia_h_repo_unload(struct http_request *req, void *app);

/* --- batch.c --------------------------------------------------------------------- */

struct ia_batcher;
/* A batcher over nets copies of net (each used by one thread at a time, one BLAS
 * thread each). net itself is the first copy, borrowed, and the others share its
 * weights (ml_net_share: one set in memory and in the caches): the caller keeps it,
 * frees it after the batcher, and reads only its shapes meanwhile, never runs it. max_rows: rows in one forward pass;
 * max_delay_us: how long a pass may wait for more rows, and only while other requests are known to be on their way
 * (under light load a request never waits). batch_hist may be NULL. */
enum core_status ia_batcher_new(struct ml_net *net, size_t nets, size_t max_rows, long max_delay_us,
				struct metrics_family *batch_hist, struct ia_batcher **out, struct core_error *err);
void ia_batcher_free(struct ia_batcher *b);
/* Runs x [n, n_in] through the net, out [n, n_out]. Thread-safe; blocks until done.
 * n may exceed max_rows (split). */
enum core_status ia_batcher_run(struct ia_batcher *b, const float *x, size_t n, float *out, struct core_error *err);

/* --- prep.c: raw rows -> the net's input ----------------------------------------- */

/* A tabular cell as parsed from a request. */
struct ia_cell {
	bool is_null;
	bool is_str;
	double num;
	const char *str; /* borrowed from the request's JSON/CSV */
};

/* Image models: n images of m->c x m->h x m->w raw values (CHW, 0..255 each) -> x. */
enum core_status ia_prep_pixels(const struct ia_model *m, const float *raw, size_t n, float *x, struct core_error *err);
/* Image models: an encoded PNG/JPEG -> one row of x (decode, convert, resize, normalise:
 * img_preprocess, the data registry's path); stats (may be NULL) gets its summary. */
struct ia_img_stats {
	unsigned width, height, channels; /* as uploaded */
	double brightness, contrast;      /* mean and population std of its values (as the
					   * data registry's profile) */
};
enum core_status ia_prep_image(const struct ia_model *m, const void *data, size_t len, const struct img_limits *lim,
			       float *x, struct ia_img_stats *stats, struct core_error *err);
/* At load (loader.c calls it once per version): reads m->pkg.preprocessing and the
 * net's input shape and fills m->kind, c/h/w, prep, columns, n_columns, tab, n_in and
 * n_raw (images: "size"/"channels"/"normalize"; tabular: "columns"; none: numeric
 * columns "0".."n-1" as they are). CORE_EINVAL naming what does not fit. ia_prep_free
 * frees what it filled (harmless on a zeroed model). Also declared in prep.h. */
enum core_status ia_prep_compile(struct ia_model *m, struct core_error *err);
void ia_prep_free(struct ia_model *m);
/* Tabular models: n rows of m->n_columns cells (row-major) -> x. CORE_EINVAL naming the
 * row and column for a value the column cannot take. */
enum core_status ia_prep_rows(const struct ia_model *m, const struct ia_cell *cells, size_t n, float *x,
			      struct core_error *err);

/* --- infer.c: the one inference path --------------------------------------------- */

/* What a protocol hands to ia_infer: rows prepared for the net, and what the prediction
 * event reports of each (raw cells for tabular, image statistics for images). */
struct ia_rows {
	size_t n;
	const float *x;                  /* [n, serve->n_in] */
	const struct ia_cell *cells;     /* tabular: [n, n_columns] raw, or NULL */
	const struct ia_img_stats *imgs; /* images: [n], or NULL (computed from x's raw when
					  * the protocol sent pixels: see raw) */
	const float *raw;                /* images sent as pixels: [n, n_raw], or NULL */
};

struct ia_result {
	struct ia_model *model; /* who answered (a reference: ia_result_free drops it) */
	size_t n, k;
	float *out;     /* [n, k]: probabilities (classifier) or values */
	int32_t *label; /* [n] argmax, classifiers only (else NULL) */
};

/* Runs rows on pick->serve (through its batcher), counts requests/predictions/duration
 * under protocol ("oip", "mlflow", "image"), scores the shadow off the request path and
 * emits sampled prediction events (never blocking). On failure err says why (the caller
 * answers 4xx/5xx in its protocol's shape). status for the metric is the caller's:
 * ia_count_request() after it replied. */
enum core_status ia_infer(struct ia_app *a, const struct ia_pick *pick, const char *protocol, const char *request_id,
			  const struct ia_rows *rows, struct ia_result *out, struct core_error *err);
void ia_result_free(struct ia_result *r);
/* Counts one request (after the reply): status the HTTP status; duration in seconds;
 * model/version may be NULL ("" labels) for requests that named no loaded model. */
void ia_count_request(struct ia_app *a, const char *model, const char *version, const char *protocol, unsigned status,
		      double seconds);

/* --- ev_predictions.c ------------------------------------------------------------ */

/* Starts the sender (its own producer and queue); events are dropped and counted when
 * EVENTS_QUEUE_MAX are waiting or the broker is down; nothing here ever blocks. */
enum core_status ia_events_new(struct ia_app *a, struct ia_events **out, struct core_error *err);
void ia_events_free(struct ia_events *e);
/* Queues the sampled share of result's rows as lathe.prediction CloudEvents on
 * inference.predictions (key: the model name). */
void ia_events_emit(struct ia_events *e, const char *request_id, const struct ia_rows *rows,
		    const struct ia_result *res);
#endif
