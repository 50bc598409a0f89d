/* The trainer's private header (prefix tr_): its settings and state, and what its files
 * offer each other. Sections follow the files:
 *   main.c        settings table, start/stop (the checkpoint blob store), the svc_def
 *   routes.c      the one route table (/v1/jobs...)
 *   h_jobs.c      jobs: submit, get, list, cancel, events (ndjson, followed live)
 *   q_jobs.c      one function per SQL statement on jobs and job_events; the statement
 *                 is named as the function (tr_q_job_claim prepares "tr_q_job_claim");
 *                 the worker's claim / heartbeat / progress / finish are here too
 *   entities.c    Job and job-event JSON from rows
 *   ev_jobs.c     training.requests and training.events CloudEvents, through the outbox
 *   spec.c        the job spec: parse and validate (pure), the layer-fit arithmetic
 *   spec_layers.c the model family's layer list (struct ml_layer_spec) and the net check
 *   dataset.c     submit-time checks against the data registry (HTTP, outside any
 *                 transaction): the version exists and is READY, columns, input shape
 *   worker.c, run_job.c, sweep.c, data.c          (tr-worker: sections at the end)
 *   mlflow_client.c, artifacts.c, reference.c     (tr-mlflow: sections at the end)
 * Handlers receive the struct svc * as app; tr_app(svc) gives this service's state.
 * A job's row and its training.requests event are written in one transaction; a
 * worker claims the row (a lease it renews), so a redelivered event is harmless and a
 * dead worker's job is taken over once its lease runs out. Other parts add their
 * sections at the end of this file. */
#ifndef TR_H
#define TR_H
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "blob/blob.h"
#include "db/db.h"
#include "http/jspec.h"
#include "svc/svc.h"

/* --- state (main.c) ------------------------------------------------------------- */

struct tr_settings {
	char *tracker_url;             /* TRACKER_URL: the experiment tracker (runs, artifacts) */
	char *tracker_token;           /* TRACKER_TOKEN: sent as Bearer, or NULL */
	long tracker_timeout_ms;       /* TRACKER_TIMEOUT_MS: one call */
	char *registry_url;            /* REGISTRY_URL: the model registry */
	char *registry_token;          /* REGISTRY_TOKEN */
	long registry_timeout_ms;      /* REGISTRY_TIMEOUT_MS */
	char *data_registry_url;       /* DATA_REGISTRY_URL: datasets, profiles, tensors */
	char *data_registry_token;     /* DATA_REGISTRY_TOKEN */
	long data_registry_timeout_ms; /* DATA_REGISTRY_TIMEOUT_MS */
	char *blob_dir;                /* BLOB_DIR: the checkpoints' blob store */
	long train_threads;            /* TRAIN_THREADS: BLAS threads per training (1) */
	long workers;                  /* WORKERS: job runners in this process; 0 = API only */
	long lease_ms;                 /* JOB_LEASE_MS: a RUNNING job's lease, renewed by its worker */
	long sched_tick_ms;            /* SCHEDULE_TICK_MS: how often due schedules and retries are looked for */
	char *sched_group;             /* SCHEDULE_GROUP: the event triggers' consumer group */
	char *drift_url;               /* DRIFT_URL: the drift monitor (lineage's reports); "": none */
	char *drift_token;             /* DRIFT_TOKEN */
	long drift_timeout_ms;         /* DRIFT_TIMEOUT_MS */
	char *promotion_group;         /* PROMOTION_GROUP: the models.events consumer group (tr-promotion) */
};

struct tr_app {
	struct tr_settings *settings; /* borrowed from svc */
	struct blob_store *blobs;     /* owned: checkpoints (sha256 keys) */
};

static inline struct tr_app *tr_app(void *svc)
{
	return svc_app(svc);
}

/* --- routes and handlers (routes.c, h_jobs.c) ------------------------------------ */

extern const struct http_route tr_routes[];

#define TR_SPEC_MAX ((size_t)1 << 20) /* a job spec body */

void tr_h_job_submit(struct http_request *req, void *app);
void tr_h_job_get(struct http_request *req, void *app);
void tr_h_job_list(struct http_request *req, void *app);
void tr_h_job_cancel(struct http_request *req, void *app);
void tr_h_job_events(struct http_request *req, void *app);

/* --- q_jobs.c: jobs and job_events ------------------------------------------------
 * Every function runs one statement on a connection inside the caller's db_run_tx
 * body and returns db_exec's result: a row count (>= 0) or a negative db_status.
 * Times are Unix ms (core_now_ms). Job states: QUEUED -> RUNNING -> SUCCEEDED |
 * FAILED | CANCELLED; QUEUED -> CANCELLED; RUNNING -> QUEUED (lease expired). */

#define TR_JOB_ID_LEN 32 /* uuid hex, lower case */

/* Columns every job query selects, in this order, from jobs j (entities.c reads them). */
#define TR_JOB_COLS                                                                                                    \
	"j.id, j.status, j.spec::text, j.created_at, j.started_at, j.ended_at, j.failure, j.epoch, j.step, j.loss, "   \
	"j.metrics::text, j.run_id, j.parent_run_id, j.model_name, j.model_version, j.worker, j.lease_until, "         \
	"j.attempt, j.cancel_requested, j.checkpoint, j.registered"

/* A job row as the worker sees it (tr_job_from_row). Strings are owned (NULL when
 * the column is NULL); free with tr_job_clear. */
struct tr_job {
	char id[TR_JOB_ID_LEN + 1];
	char status[16];
	json_t *spec; /* the validated spec as submitted */
	int64_t created_at, started_at, ended_at;
	int epoch;    /* epochs finished; for a sweep, trials finished */
	int64_t step; /* mini-batches done in all */
	double loss;  /* latest; NAN when none yet */
	json_t *metrics;
	char *failure, *run_id, *parent_run_id, *model_name, *model_version, *worker;
	int64_t lease_until;
	int attempt; /* claims so far, this one included */
	bool cancel_requested;
	char *checkpoint; /* sha256 of the last epoch's checkpoint in BLOB_DIR, or NULL */
	bool registered;
};
/* Fills *out from row of res (TR_JOB_COLS from col 0). CORE_OK or CORE_EINVAL. */
enum core_status tr_job_from_row(const PGresult *res, int row, struct tr_job *out, struct core_error *err);
void tr_job_clear(struct tr_job *j);

/* Inserts a QUEUED job (spec_json: the spec's text; model_name from register.model or
 * NULL). 1 on success. */
int tr_q_job_insert(struct db_conn *c, const char *id, const char *spec_json, const char *model_name,
		    int64_t created_at, struct core_error *err);
/* The job's row (TR_JOB_COLS) in *res (caller PQclears); 0 rows when there is none.
 * tr_q_job_lock takes FOR UPDATE. */
int tr_q_job_get(struct db_conn *c, const char *id, PGresult **res, struct core_error *err);
int tr_q_job_lock(struct db_conn *c, const char *id, PGresult **res, struct core_error *err);
/* A page of jobs newest first (created_at, id descending), after the keyset
 * (after_created, after_id) when after_id is not NULL, of status when not NULL. */
int tr_q_job_list(struct db_conn *c, const char *status, int64_t after_created, const char *after_id, long limit,
		  PGresult **res, struct core_error *err);

/* Claims the job for worker: when it is QUEUED, or RUNNING with lease_until < now,
 * it becomes RUNNING with lease_until = now + lease_ms, attempt + 1, started_at kept
 * from a first claim. On 1 *res holds the claimed row (TR_JOB_COLS; caller PQclears);
 * 0: not claimable (ended, cancelled, or another worker's live lease). */
int tr_q_job_claim(struct db_conn *c, const char *id, const char *worker, int64_t now, long lease_ms, PGresult **res,
		   struct core_error *err);
/* Renews worker's lease (lease_until = now + lease_ms) while the job is RUNNING under
 * worker, and reads cancel_requested into *cancel (may be NULL). 0: the lease is lost
 * (taken over, or the job ended): the worker must stop without writing more. */
int tr_q_job_heartbeat(struct db_conn *c, const char *id, const char *worker, int64_t now, long lease_ms, bool *cancel,
		       struct core_error *err);
/* Records progress and renews the lease, under the same condition as the heartbeat:
 * epochs finished, steps done, latest loss (NAN: leave as is), metrics (an object,
 * or NULL: leave as is), checkpoint (sha256 hex, or NULL: leave as is). 0: lease lost. */
int tr_q_job_progress(struct db_conn *c, const char *id, const char *worker, int epoch, int64_t step, double loss,
		      json_t *metrics, const char *checkpoint, int64_t now, long lease_ms, struct core_error *err);
/* Records the tracker run (and the sweep's parent run, may be NULL) once made, while
 * worker holds the lease. 0: lease lost. */
int tr_q_job_set_run(struct db_conn *c, const char *id, const char *worker, const char *run_id,
		     const char *parent_run_id, struct core_error *err);
/* Records the registered version (registered = true), while worker holds the lease. */
int tr_q_job_set_registered(struct db_conn *c, const char *id, const char *worker, const char *model_version,
			    struct core_error *err);
/* Ends the job (status SUCCEEDED | FAILED | CANCELLED, failure may be NULL, metrics
 * may be NULL: keep) while worker holds it (RUNNING under worker); ended_at = now,
 * lease cleared. 0: not ended here (lease lost, or already ended). */
int tr_q_job_finish(struct db_conn *c, const char *id, const char *worker, const char *status, const char *failure,
		    json_t *metrics, int64_t now, struct core_error *err);
/* *out = cancel_requested (false when the job is gone). 0 rows when there is none. */
int tr_q_job_cancel_requested(struct db_conn *c, const char *id, bool *out, struct core_error *err);
/* Puts every RUNNING job whose lease_until < now back to QUEUED (worker and lease
 * cleared) and returns their ids in *res (column 0; caller PQclears), so the caller
 * can write a training.requests event for each in the same transaction
 * (tr_ev_requested). */
int tr_q_jobs_requeue_expired(struct db_conn *c, int64_t now, PGresult **res, struct core_error *err);
/* Hands worker's RUNNING job back (QUEUED, worker and lease cleared) when the worker
 * shuts down, so another worker resumes it from its last checkpoint at once instead of
 * after the lease. 1 when handed back; 0 when worker no longer held it. */
int tr_q_job_release(struct db_conn *c, const char *id, const char *worker, struct core_error *err);
/* The API's cancel: a QUEUED job ends CANCELLED at once; a RUNNING one gets
 * cancel_requested = true (its worker stops at the next batch). Returns 1 when a row
 * changed; the caller has locked the job and checked its state. */
int tr_q_job_cancel_queued(struct db_conn *c, const char *id, int64_t now, struct core_error *err);
int tr_q_job_request_cancel(struct db_conn *c, const char *id, struct core_error *err);

/* Appends one log line to the job's events (level: "info" | "warn" | "error"); seq
 * is a sequence, so lines keep their order. 1 on success. */
int tr_q_job_event_append(struct db_conn *c, const char *id, const char *level, const char *line, int64_t at,
			  struct core_error *err);
/* Lines of the job with seq > after, oldest first, at most limit, in *res (seq, at,
 * level, line). */
int tr_q_job_events(struct db_conn *c, const char *id, int64_t after, long limit, PGresult **res,
		    struct core_error *err);

/* --- ev_jobs.c: events, through the outbox (inside the caller's transaction) --------
 * training.requests: lathe.training.requested, key = subject = job id, data {job_id}.
 * training.events:   lathe.training.job.started | .epoch | .succeeded | .failed |
 *                    .cancelled, key = subject = job id, data {job_id, ...}. */

#define TR_TOPIC_REQUESTS "training.requests"
#define TR_TOPIC_EVENTS   "training.events"

int tr_ev_requested(struct db_conn *c, const char *job_id, struct core_error *err);
/* kind: "started", "epoch", "succeeded", "failed", "cancelled"; data (may be NULL)
 * is an object whose members are added next to job_id; the reference is stolen. */
int tr_ev_job(struct db_conn *c, const char *job_id, const char *kind, json_t *data, struct core_error *err);

/* --- entities.c: JSON from rows ---------------------------------------------------- */

/* A Job object from row of res (TR_JOB_COLS from col 0), owned; NULL when the row
 * does not hold what the columns promise. */
json_t *tr_job_json(const PGresult *res, int row);
/* An event line {seq, at, level, line} from row of a tr_q_job_events result. */
json_t *tr_event_json(const PGresult *res, int row);

/* --- spec.c: the job spec (pure) ------------------------------------------------------
 * Field names are documented in the README and proto/openapi/trainer.yaml. Every
 * failure is CORE_EINVAL with a message naming the field ("model.type: unknown
 * family 'svm'"). */

enum tr_family { TR_MLP = 1, TR_CNN, TR_LOGREG, TR_LINREG };

#define TR_MAX_HIDDEN 16
#define TR_MAX_LAYERS 64

/* A parsed spec. Strings and JSON are borrowed from the spec object it was parsed
 * from (valid while that lives); absent optional strings are NULL. */
struct tr_spec {
	const char *dataset;       /* "name@ref" as given */
	char dataset_name[129];    /* before '@' */
	char dataset_ref[80];      /* after '@' (a number, id, id prefix or "latest"); "latest" when absent */
	const char *split_name;    /* split.name, or NULL */
	double fractions[3];       /* split.fractions (train, val, test); default 0.8 0.1 0.1 */
	uint64_t split_seed;       /* split.seed, default 0 */
	const char *target;        /* tabular label / target column, or NULL (image data) */
	json_t *features;          /* array of column names, or NULL (all but the target) */
	int image_size;            /* image.size; 0 = native */
	int image_channels;        /* image.channels; 1 or 3, default 1 */
	const char *model_type;    /* model.type as given */
	enum tr_family family;     /* model.type */
	int hidden[TR_MAX_HIDDEN]; /* mlp: model.hidden */
	int n_hidden;
	const char *activation; /* mlp: "relu" (default) | "tanh" | "sigmoid" */
	double dropout;         /* mlp: model.dropout in [0,1) */
	json_t *layers;         /* cnn: model.layers (validated) */
	const char *optimizer;  /* "adam" (default) | "sgd" */
	double lr, momentum, weight_decay, beta1, beta2, eps;
	int epochs, batch_size;
	uint64_t seed;
	bool early_stopping;
	const char *es_metric; /* val_loss | val_accuracy | ... */
	int es_patience;
	double es_min_delta;
	const char *experiment;                      /* default "Default" */
	const char *run_name;                        /* or NULL */
	const char *register_model, *register_alias; /* or NULL */
	json_t *sweep;                               /* validated, or NULL */
	const char *sweep_method;                    /* grid | random */
	int sweep_trials, sweep_parallelism;
	const char *sweep_metric, *sweep_goal; /* goal: max | min */
};

/* Parses and checks spec (an object) into *out. A sweep's every value is checked by
 * applying it to a copy of the spec. */
enum core_status tr_spec_parse(json_t *spec, struct tr_spec *out, struct core_error *err);
/* The model's layer list for k outputs (classes, or regression targets) into out
 * (cap entries; TR_MAX_LAYERS is always enough). *n gets the count. (spec_layers.c) */
struct ml_layer_spec;
enum core_status tr_spec_layers(const struct tr_spec *s, int k, struct ml_layer_spec *out, size_t cap, size_t *n,
				struct core_error *err);
/* Whether the spec is a regression (linear_regression). */
bool tr_spec_is_regression(const struct tr_spec *s);

/* --- dataset.c: the data registry, at submit time ------------------------------------ */

/* What the trainer needs to know of a dataset version. */
struct tr_dataset_info {
	char version_id[65];
	int64_t number;
	char format[16];        /* the registry's format: "csv", "images", "idx", ... */
	char label_column[256]; /* the version's label column (CSV), "" when none */
	bool image;             /* image data (shape from the profile) */
	int channels, height, width;
	int n_classes;  /* label classes, 0 when unknown */
	int n_features; /* tabular: input columns (after target/features) */
};
/* Checks spec against the data registry: the version exists and is READY, target
 * and features exist, the layer stack fits the input shape. *http_status: 400/404 (the
 * client's mistake, err says which), 503 (the registry did not answer), 0 on CORE_OK.
 * Makes blocking HTTP calls: never call it inside a transaction. */
enum core_status tr_dataset_check(const struct tr_settings *s, const struct tr_spec *spec, const char *request_id,
				  struct tr_dataset_info *out, int *http_status, struct core_error *err);

/* The pure half of the check: whether the spec's layer stack fits an input of
 * shape c x h x w (tabular: features x 1 x 1) with k outputs. CORE_EINVAL naming the
 * layer ("model.layers[2] (conv2d): kernel 5 is larger than its 3x3 input"). */
enum core_status tr_spec_check_fit(const struct tr_spec *s, int c, int h, int w, int k, struct core_error *err);
/* tr_spec_check_fit, then the net itself: tr_spec_layers through ml_net_new (libs/ml's
 * own shape rules), so what passes here is what the worker can build. (spec_layers.c) */
enum core_status tr_spec_build_check(const struct tr_spec *s, int c, int h, int w, int k, struct core_error *err);

/* --- mlflow_client.c, artifacts.c, reference.c (tr-mlflow) -------------------------
 * Every call: CORE_OK; CORE_EIO when the tracker/registry did not answer (refused,
 * timeout, 5xx, 408, 429): the caller retries with backoff; CORE_EINVAL with the peer's
 * message on a 4xx (or for arguments that cannot be sent). request_id is forwarded as
 * X-Request-Id (may be NULL). Every call may be repeated after a lost answer and
 * leaves what one call would. Blocking HTTP: never inside a transaction. */

/* Finds the run tagged lathe.job_id=job_id in experiment (created if missing; NULL or
 * "": "Default") or creates it (run_name or NULL, parent_run_id -> tag
 * mlflow.parentRunId, or NULL), logs params (a flat object: strings as they are, other
 * values JSON-encoded; may be NULL), the system tags (mlflow.source.name=lathe-trainer,
 * mlflow.source.type, mlflow.user, mlflow.runName), lathe.dataset = name@version_id
 * and the dataset input (digest: the version id's first 36 digits, MLflow's limit;
 * tag mlflow.data.context=training) when dataset_name and dataset_version_id are given.
 * job_id may not hold quotes or backslashes (MLflow's filters cannot quote them). */
enum core_status tr_mlflow_start_run(const struct tr_settings *s, const char *request_id, const char *job_id,
				     const char *experiment, const char *run_name, const char *parent_run_id,
				     json_t *params, const char *dataset_name, const char *dataset_version_id,
				     char run_id[64], struct core_error *err);
/* Logs metrics (name -> number, or "NaN" / "Infinity" / "-Infinity") at step (the
 * epoch) in log-batch requests. One point per key per step: when the first key already
 * has a point at step (a batch that landed before its answer was lost), nothing is
 * sent. */
enum core_status tr_mlflow_log_metrics(const struct tr_settings *s, const char *request_id, const char *run_id,
				       long step, json_t *metrics, struct core_error *err);
enum core_status tr_mlflow_set_tag(const struct tr_settings *s, const char *request_id, const char *run_id,
				   const char *key, const char *value, struct core_error *err);
/* status: FINISHED | FAILED | KILLED. */
enum core_status tr_mlflow_end_run(const struct tr_settings *s, const char *request_id, const char *run_id,
				   const char *status, struct core_error *err);
/* Creates model when missing, then finds the version of model made from run_id
 * (model-versions/search run_id) or creates it from runs:/<run_id>/model; sets alias
 * (when not NULL or "") to it. version gets its number. */
enum core_status tr_mlflow_register(const struct tr_settings *s, const char *request_id, const char *run_id,
				    const char *model, const char *alias, char version[32], struct core_error *err);
/* The run's artifact root as the artifact API names it ("<exp>/<run>/artifacts", from
 * the run's mlflow-artifacts: artifact_uri; malloc'd into *root). CORE_EINVAL when
 * the run keeps its artifacts somewhere the tracker does not serve. */
enum core_status tr_mlflow_artifact_root(const struct tr_settings *s, const char *request_id, const char *run_id,
					 char **root, struct core_error *err);
/* PUTs len bytes as <root>/<path> (path relative, '/'-separated). */
enum core_status tr_mlflow_put_artifact(const struct tr_settings *s, const char *request_id, const char *root,
					const char *path, const void *data, size_t len, struct core_error *err);

/* What a finished training leaves, for artifacts.c. */
struct ml_package;
struct ml_class_report;
struct ml_data;
struct tr_result {
	const struct ml_package *package;              /* the model (net + metadata) */
	const struct ml_class_report *report;          /* NULL for regression */
	const char *const *class_names;                /* k names or NULL */
	const double *loss, *val_loss, *acc, *val_acc; /* per epoch (acc, val_acc NULL for regression) */
	size_t epochs;
	const struct ml_data *val; /* the validation split, for reference.json */
	const float *val_probs;    /* the model's outputs on it: [val->n, k] */
	size_t k;
};
/* Uploads the run's artifacts: model/ (model.json, weights.safetensors: what the
 * registry's servability check looks for), charts/loss.png, charts/accuracy.png and
 * charts/confusion_matrix.png (classification), classification_report.json
 * (classification), reference.json. A repeat overwrites with the same bytes. */
enum core_status tr_artifacts_log(const struct tr_settings *s, const char *request_id, const char *run_id,
				  const struct tr_result *res, struct core_error *err);
/* reference.json: the drift monitor's reference for the model: the validation
 * inputs' profile (as the net saw them, and as clients send them: "columns", undoing
 * preprocessing, the tensors' `preprocessing` metadata; borrowed, may be NULL: no
 * "columns" then) and the model's predictions on them (see reference.c). Owned; NULL
 * for missing arguments or when memory ran out. */
json_t *tr_reference_build(const struct ml_data *val, const float *probs, size_t k, const char *const *class_names,
			   const json_t *preprocessing);

/* === tr-worker: data.c, worker.c, run_job.c, sweep.c ================================ */

#include "ml/nn.h" /* struct ml_data, ml_shape */

/* --- data.c: a job's tensors from the data registry ---------------------------------- */

/* One part of the data: its buffers (owned) and the ml_data over them. */
struct tr_part {
	float *x;
	int64_t *y; /* class ids (classification) */
	float *yr;  /* targets (regression) */
	struct ml_data d;
};

struct tr_data {
	struct tr_part train, val, test;
	bool val_is_test, test_is_val; /* a two-way split: one part serves as both */
	struct ml_shape shape;         /* one example's shape */
	size_t k;                      /* classes, or regression targets (1) */
	json_t *classes;               /* class names (strings) of a classification, else NULL */
	json_t *preprocessing;         /* the tensors' preprocessing metadata, as served */
	json_t *columns;               /* tabular regression without features: the columns */
	char dataset[129];             /* the dataset's name */
	char version_id[65];           /* the version's id (the tensors' metadata) */
};

/* Fetches the spec's train, val and test parts (making the fractions' split first).
 * Blocking HTTP with request_id as X-Request-Id: never inside a transaction.
 * Returns CORE_OK (free with tr_data_free); CORE_EIO when the data registry did not
 * answer (retry later); CORE_EINVAL naming what is wrong with the data (the job fails).
 * Nothing to free on failure. */
enum core_status tr_data_fetch(const struct tr_settings *s, const char *request_id, const struct tr_spec *spec,
			       struct tr_data *out, struct core_error *err);
void tr_data_free(struct tr_data *d);

/* --- worker.c: the job runners and the takeover -------------------------------------- */

#define TR_GROUP "trainer" /* the consumer group of training.requests */

/* The svc worker: starts WORKERS runner threads (each its own member of the group
 * `trainer`), and joins them on shutdown. */
void tr_worker_run(struct svc *svc, void *app);
/* The periodic task: RUNNING jobs whose lease expired go back to QUEUED with a fresh
 * training.requests event, in one transaction. */
void tr_worker_requeue(struct svc *svc, void *app);
/* Its period: JOB_LEASE_MS / 2 (at least 100 ms). */
long tr_worker_requeue_every(const void *app);

/* --- run_job.c: one claimed job --------------------------------------------------------- */

/* A running job, as its runner sees it. A sweep's trials share it from several threads
 * (sweep.c): what changes after the claim is atomic, so any of them may heartbeat, and
 * a lost lease or a cancel seen by one stops them all at their next batch. */
struct tr_jctx {
	struct svc *svc;
	struct tr_app *app;
	const char *worker; /* the worker column's value for this runner */
	const struct tr_job *job;
	_Atomic int64_t last_beat; /* ms of the last heartbeat */
	atomic_bool lost;          /* the lease is gone: write nothing more */
	atomic_bool cancel;        /* cancel_requested was seen */
};

enum tr_outcome { TR_DONE = 1, TR_FAILED, TR_CANCELLED, TR_LOST };

struct tr_sweep; /* sweep.c's shared state of a sweep's trials */

/* One model to train and log (a job, or a sweep's trial). */
struct tr_trial {
	const struct tr_spec *spec;
	json_t *spec_json; /* the spec the params come from */
	const struct tr_data *data;
	const char *run_key;       /* the run's lathe.job_id tag */
	const char *run_name;      /* may be NULL */
	const char *parent_run_id; /* a sweep's parent run, or NULL */
	bool checkpoints;          /* checkpoint every epoch in the job row; resume from it */
	int trial;                 /* the sweep's trial index, -1 for a job */
	const char *log_prefix;    /* "" or "trial 3: " for the job's log lines */
	const char *score_metric;  /* the final metric to put in score (NULL: val_loss) */
	struct tr_sweep *sweep;    /* the sweep this trial is one of, or NULL: see tr_sweep_progress_begin */
	/* Called once the run exists (run_id set); false: stop (lease lost). May be NULL. */
	bool (*on_run)(struct tr_jctx *j, struct tr_trial *tr);
	/* out */
	char run_id[64];
	double score;          /* score_metric at the end; NAN when none */
	json_t *final_metrics; /* owned by the caller on TR_DONE: last epoch's and test metrics */
};

/* Runs a claimed job to its end (or until its lease is lost). */
void tr_run_job(struct svc *svc, struct tr_app *app, const char *worker, const struct tr_job *job);
/* Trains and logs one model; err says why on TR_FAILED. The run ends FINISHED
 * (TR_DONE), FAILED or KILLED (cancelled); on TR_LOST nothing more is written. */
enum tr_outcome tr_train_one(struct tr_jctx *j, struct tr_trial *tr, struct core_error *err);
/* The batch callback of ml_trainer_epoch: heartbeat / cancel / shutdown (ctx: tr_jctx). */
bool tr_batch_cb(void *ctx, long step, float loss);
/* Renews the lease when HEARTBEAT_MS passed; true when the job must stop. */
bool tr_job_should_stop(struct tr_jctx *j);
/* Appends a line to the job's events (and the log). */
void tr_job_log(struct tr_jctx *j, const char *level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Every hyper-parameter of spec as a flat object of strings (owned). */
json_t *tr_job_params(json_t *spec_json, const struct tr_spec *s);
/* Records run_id (and parent) in the job row; false when the lease is lost. */
bool tr_job_record_run(struct tr_jctx *j, const char *run_id, const char *parent);
/* The tracker and registry calls, retried with backoff while they do not answer:
 * CORE_OK; CORE_EINVAL (refused: err says why); CORE_EIO (stopped: lease lost or
 * shutdown). */
struct tr_call_start {
	const char *run_key, *experiment, *run_name, *parent_run_id;
	json_t *params;
	const char *dataset, *version_id;
};
enum core_status tr_job_start_run(struct tr_jctx *j, const struct tr_call_start *st, char run_id[64],
				  struct core_error *err);
enum core_status tr_job_log_metrics(struct tr_jctx *j, const char *run_id, long step, json_t *metrics,
				    struct core_error *err);
enum core_status tr_job_set_tag(struct tr_jctx *j, const char *run_id, const char *key, const char *value,
				struct core_error *err);
/* Ends the run (status FINISHED | FAILED | KILLED); returns as the calls above. */
enum core_status tr_job_end_run(struct tr_jctx *j, const char *run_id, const char *status);
/* Registers run_id's model as the spec asks (nothing when it does not). */
enum core_status tr_job_register(struct tr_jctx *j, const struct tr_spec *s, const char *run_id, char version[32],
				 struct core_error *err);
/* Ends the job for outcome (SUCCEEDED with metrics and version, FAILED with err,
 * CANCELLED; nothing for TR_LOST), with its event and log line, in one transaction. */
void tr_job_end(struct tr_jctx *j, enum tr_outcome out, const struct core_error *err, json_t *metrics,
		const char *run_id, const char *version);

/* --- sweep.c: grid and random search ------------------------------------------------------ */

/* The trials' points of sweep ({method, space, trials}): an array of objects
 * {path: value} (owned). Pure. CORE_EINVAL for a bad space. */
enum core_status tr_sweep_points(json_t *sweep, uint64_t seed, json_t **out, struct core_error *err);
/* Whether score a beats b for the goal (a NaN never does; anything beats a NaN b). */
bool tr_sweep_better(double a, double b, bool maximize);
/* The best of the finished trials done (an array of {trial, run_id, score?, ...} in any
 * order): the best finite score for the goal, the lowest trial index among equal ones,
 * so the choice never depends on the order parallel trials ended in. Borrowed; NULL when
 * no trial has a finite score. Pure. */
json_t *tr_sweep_best(json_t *done, bool maximize);
/* Runs the job's sweep (data fetched), up to spec->sweep_parallelism trials at once,
 * and ends the job. */
void tr_run_sweep(struct tr_jctx *j, json_t *spec_json, const struct tr_spec *spec, const struct tr_data *data);
/* A trial's progress write (run_job.c) goes through these: begin takes the sweep's lock
 * and sets the sweep's members of the job's progress: metrics.trials (the finished
 * trials as of now), *epoch (trials finished) and *step (mini-batches of every trial,
 * trial_step being this trial's); end releases the lock after the write. The list is
 * built and written under one lock, so the last write always holds every finished
 * trial. */
struct tr_sweep;
void tr_sweep_progress_begin(struct tr_sweep *sw, int trial, int64_t trial_step, json_t *metrics, int *epoch,
			     int64_t *step);
void tr_sweep_progress_end(struct tr_sweep *sw);

/* === schedules: cron.c, q_schedules.c, h_schedules.c, schedules.c ============ * A schedule submits its job spec on a
 * cron expression (UTC) or when an event comes (a dataset version ready, a drift alert). Each firing is a row keyed
 * (schedule, fire_key): the due time in Unix ms as text, or the CloudEvent's id. Its insert (ON CONFLICT DO NOTHING)
 * and the job's are one transaction, so replicas and redelivered events fire once. A fired job that ends FAILED is
 * submitted again after backoff_ms x 2^(attempt-1), up to max_retries, by a guarded UPDATE of the firing. */

/* --- cron.c: five-field cron expressions in UTC (pure) --------------------------------- */

struct tr_cron {
	uint64_t minutes;          /* bit n: minute n */
	uint32_t hours, mdays;     /* bit n: hour n; day of month n (1..31) */
	uint16_t months;           /* bit n: month n (1..12) */
	uint8_t wdays;             /* bit n: weekday n (0 = Sunday) */
	bool mday_star, wday_star; /* the day field began with '*' (Vixie's rule) */
};
/* Parses text (5 fields, or @hourly @daily @weekly @monthly @yearly). CORE_EINVAL naming
 * the bad field ("cron: hour field '25': '25' is out of range 0-23"), also for an
 * expression that never fires ("0 0 30 2 *"). */
enum core_status tr_cron_parse(const char *text, struct tr_cron *out, struct core_error *err);
/* The first matching minute strictly after after_ms (Unix ms) into *out. CORE_ENOENT
 * when none comes within nine years (never, for a parsed expression). */
enum core_status tr_cron_next(const struct tr_cron *c, int64_t after_ms, int64_t *out);

/* --- h_jobs.c: the submit's writes, shared with firings ------------------------------ */

/* Writes a QUEUED job (spec_text, model_name or NULL), its first log line and its
 * training.requests event, inside the caller's transaction. >= 0 on success. */
int tr_job_enqueue(struct db_conn *c, const char *id, const char *spec_text, const char *model_name, const char *line,
		   int64_t now, struct core_error *err);

/* --- q_schedules.c: schedules and firings (one statement each, as q_jobs.c) ---------- */

/* Columns every schedule query selects, in this order. */
#define TR_SCHED_COLS                                                                                                  \
	"s.id, s.name, s.spec::text, s.cron, s.trigger::text, s.paused, s.next_due_at, s.max_retries, s.backoff_ms, "  \
	"s.created_at, s.updated_at"
enum {
	TR_SC_ID,
	TR_SC_NAME,
	TR_SC_SPEC,
	TR_SC_CRON,
	TR_SC_TRIGGER,
	TR_SC_PAUSED,
	TR_SC_NEXT,
	TR_SC_RETRIES,
	TR_SC_BACKOFF,
	TR_SC_CREATED,
	TR_SC_UPDATED
};

/* A schedule as written (strings borrowed; cron or trigger_json NULL; next_due_at < 0:
 * NULL). */
struct tr_sched_row {
	const char *id, *name, *spec_json, *cron, *trigger_json;
	bool paused;
	int64_t next_due_at;
	long max_retries;
	int64_t backoff_ms, created_at, updated_at;
};
/* 1 inserted; DB_CONSTRAINT when the name is taken. */
int tr_q_sched_insert(struct db_conn *c, const struct tr_sched_row *r, struct core_error *err);
/* Rewrites every column but id, name and created_at while updated_at is still
 * old_updated (1), else 0: changed meanwhile. */
int tr_q_sched_update(struct db_conn *c, const struct tr_sched_row *r, int64_t old_updated, struct core_error *err);
int tr_q_sched_get(struct db_conn *c, const char *id, PGresult **res, struct core_error *err);
int tr_q_sched_delete(struct db_conn *c, const char *id, struct core_error *err);
/* Newest first (created_at, id), after the keyset when after_id is not NULL. */
int tr_q_sched_list(struct db_conn *c, int64_t after_created, const char *after_id, long limit, PGresult **res,
		    struct core_error *err);
/* Unpaused cron schedules due at now: id, spec::text, cron, next_due_at, name. */
int tr_q_sched_due(struct db_conn *c, int64_t now, long limit, PGresult **res, struct core_error *err);
/* Moves next_due_at from due to next (0 when another replica did). */
int tr_q_sched_advance(struct db_conn *c, const char *id, int64_t due, int64_t next, struct core_error *err);
/* Unpaused schedules triggered by event (its trigger's key member = value), made at or
 * before event_ms: id, spec::text, name. */
int tr_q_sched_triggered(struct db_conn *c, const char *event, const char *key, const char *value, int64_t event_ms,
			 PGresult **res, struct core_error *err);
/* The firing (schedule_id, fire_key) with its first job (attempt 1); 1 when inserted, 0
 * when it was there already. firing_id: uuid hex, the listing's keyset. */
int tr_q_firing_insert(struct db_conn *c, const char *firing_id, const char *schedule_id, const char *fire_key,
		       const char *spec_json, const char *job_id, int64_t now, struct core_error *err);
/* Copies each QUEUED/RUNNING firing's last job's status onto it; a FAILED one with
 * retries left gets retry_at = ended_at + backoff_ms * 2^(attempt-1). */
int tr_q_firings_refresh(struct db_conn *c, struct core_error *err);
/* Firings whose retry is due at now (unpaused schedules): schedule_id, fire_key,
 * attempt, name. */
int tr_q_firings_retry_due(struct db_conn *c, int64_t now, long limit, PGresult **res, struct core_error *err);
/* The retry: attempt -> attempt + 1 with job_id appended, while attempt is still
 * attempt and its retry pending; RETURNING spec::text (1), else 0. */
int tr_q_firing_retry(struct db_conn *c, const char *schedule_id, const char *fire_key, int attempt, const char *job_id,
		      PGresult **res, struct core_error *err);
/* A page of the schedule's firings, newest first by (fired_at, id): id, fire_key,
 * fired_at, attempt, retry_at, jobs (JSON text [{job_id, attempt, status}]). */
int tr_q_firing_list(struct db_conn *c, const char *schedule_id, int64_t after_fired, const char *after_id, long limit,
		     PGresult **res, struct core_error *err);

/* --- h_schedules.c: the /v1/schedules resource ----------------------------------------- */

void tr_h_sched_create(struct http_request *req, void *app);
void tr_h_sched_list(struct http_request *req, void *app);
void tr_h_sched_get(struct http_request *req, void *app);
void tr_h_sched_patch(struct http_request *req, void *app);
void tr_h_sched_delete(struct http_request *req, void *app);
void tr_h_sched_pause(struct http_request *req, void *app);
void tr_h_sched_resume(struct http_request *req, void *app);
void tr_h_sched_firings(struct http_request *req, void *app);
extern const struct http_route tr_sched_routes[];

/* --- schedules.c: firing ----------------------------------------------------------------- */

#define TR_SCHED_GROUP "trainer-schedules" /* consumer group of datasets.events, drift.alerts */

/* Fires one schedule for fire_key with spec_json in its own transaction's body: the
 * firing row, and the job only when the row was new. *fired tells which. */
int tr_sched_fire(struct db_conn *c, const char *schedule_id, const char *name, const char *fire_key,
		  const char *spec_json, bool *fired, struct core_error *err);
/* The periodic task (SCHEDULE_TICK_MS): due cron schedules, then due retries. */
void tr_sched_tick(struct svc *svc, void *app);
long tr_sched_tick_every(const void *app);
/* The consumer (group SCHEDULE_GROUP) of datasets.events and drift.alerts. */
enum bus_handled tr_sched_on_event(struct svc *svc, void *app, const struct bus_message *m);
const char *tr_sched_group(const void *app);

/* === lineage: h_lineage.c, lineage.c, q_lineage.c =====================================
 * GET /v1/lineage: where a model version (or a prediction of it) came from, walked
 * across the services: the registry's version, the tracker's run, this trainer's job,
 * the data registry's version (files, split) and the drift monitor's reports; or,
 * backwards from a dataset version, the model versions trained on it. Every peer is
 * asked by blocking HTTP outside any transaction; a peer that does not answer leaves
 * "unavailable": "<reason>" in its node (or "<array>_unavailable" next to an array),
 * never a 5xx. */

#define TR_LINEAGE_FILES   20  /* manifest entries listed; files_total counts them all */
#define TR_LINEAGE_REPORTS 100 /* drift reports listed (newest first) */
#define TR_LINEAGE_MODELS  100 /* backwards: candidate jobs checked */

void tr_h_lineage(struct http_request *req, void *app);

/* lineage.c: the nodes, each from one peer. A node is an object (owned, never NULL);
 * when its peer did not answer, or answered something unusable, it holds
 * "unavailable": "<reason>". */

/* The registry's version of model, version being a number or an alias, into *node.
 * CORE_OK; CORE_ENOENT when the registry says there is no such model, version or
 * alias (err says which); CORE_EIO when it did not answer (*node then holds name,
 * version and "unavailable"). */
enum core_status tr_lineage_model_version(const struct tr_settings *s, const char *rid, const char *model,
					  const char *version, json_t **node, struct core_error *err);
/* The tracker's run run_id: info, params, latest metrics, the lathe.* tags, its UI url. */
json_t *tr_lineage_run(const struct tr_settings *s, const char *rid, const char *run_id);
/* The dataset version ref ("name@ref") with how the job split it (spec: the job's
 * spec, may be NULL), and its first TR_LINEAGE_FILES files into *files (owned; NULL
 * when the manifest could not be read) and their number into *files_total. *missing
 * (may be NULL) is set when the data registry answered that there is no such version. */
json_t *tr_lineage_dataset(const struct tr_settings *s, const char *rid, const char *ref, json_t *spec, json_t **files,
			   json_int_t *files_total, bool *missing);
/* The drift monitor's reports of model version (newest first, at most
 * TR_LINEAGE_REPORTS) into *reports (owned), their count and how many found the dataset
 * drifted. NULL when they could not be read, with *why set (malloc'd, the caller
 * frees it). */
json_t *tr_lineage_reports(const struct tr_settings *s, const char *rid, const char *model, const char *version,
			   json_int_t *total, json_int_t *drifted, char **why);
/* Whether the run run_id was trained on dataset version id version_id of name (its
 * lathe.dataset tag): 1 yes, 0 no, -1 the tracker did not answer (*why says so,
 * malloc'd). */
int tr_lineage_run_on(const struct tr_settings *s, const char *rid, const char *run_id, const char *name,
		      const char *version_id, char **why);
/* The split name a job's fractions and seed make at the data registry (data.c). */
void tr_split_name(const struct tr_spec *spec, char name[64]);

/* q_lineage.c: as q_jobs.c. */
/* The newest job that registered version of model (TR_JOB_COLS); 0 rows when none. */
int tr_q_lineage_job_of_version(struct db_conn *c, const char *model, const char *version, PGresult **res,
				struct core_error *err);
/* The newest jobs (at most limit) that registered a model version from dataset name
 * (the spec's dataset is "name" or "name@<any ref>"), TR_JOB_COLS. */
int tr_q_lineage_jobs_of_dataset(struct db_conn *c, const char *name, long limit, PGresult **res,
				 struct core_error *err);

/* === tr-promotion: champion / challenger evaluation ===================================
 *   policy.c       a model's promotion policy (parse, default) and the decision (pure)
 *   q_promo.c      statements on policies and evaluations (the claim is a lease, as jobs')
 *   entities.c     Policy and Evaluation JSON (its promotion section)
 *   promo_peer.c   the registry and tracker calls of promotion (aliases, version tags,
 *                  a version's run and its tags); blocking HTTP, never in a transaction
 *   ev_promo.c     training.events lathe.training.promotion.decided / lathe.training.rollback
 *   models_in.c    the models.events consumer (group PROMOTION_GROUP): a challenger
 *                  alias set or moved queues an evaluation in one transaction
 *   eval_measure.c a version's lineage, test split, package and scores
 *   evaluate.c     one evaluation: both packages on the challenger's test split (and the
 *                  champion's own), the decision, the MLflow run, the tags, the aliases
 *   promo_worker.c the periodic task that claims queued evaluations and records them
 *   h_policies.c, h_evaluations.c, h_rollback.c   the HTTP handlers */

#define TR_PROMO_GROUP      "trainer-promotion"
#define TR_PROMO_EXPERIMENT "lathe-promotion"
#define TR_MODELS_TOPIC     "models.events"

struct tr_policy {
	char metric[16]; /* accuracy | macro_f1 | log_loss */
	double min_improvement;
	double max_recall_drop;
	char mode[8]; /* auto | manual */
};

/* --- policy.c (pure) --- */
/* The policy of a model without one: accuracy, 0, 0.02, auto. */
void tr_policy_default(struct tr_policy *p);
/* Parses a PUT body into *p: every field optional (the default's value), unknown
 * fields refused. CORE_EINVAL naming the field ("min_improvement: must be a number >= 0"). */
enum core_status tr_policy_parse(json_t *body, struct tr_policy *p, struct core_error *err);
/* Whether higher is better for metric. */
bool tr_policy_higher_better(const char *metric);

/* One model's numbers on one split. */
struct tr_eval_scores {
	double accuracy, macro_f1, log_loss;
	const double *recall; /* k per-class recalls */
	size_t k;
	double batch_ms; /* wall time of one forward pass over the split */
};
/* The decision on the challenger's test split: champ NULL -> passes ("no champion").
 * Else passes iff the policy's metric improves by >= min_improvement (for log_loss a
 * decrease) and no class's recall falls by more than max_recall_drop. *passes gets the
 * verdict; reason (cap bytes) says why, with the numbers. mode manual does not change
 * the verdict; the caller records 'manual'. */
void tr_policy_judge(const struct tr_policy *p, const struct tr_eval_scores *champ, const struct tr_eval_scores *chal,
		     bool *passes, char *reason, size_t cap);
/* The score of metric in sc. */
double tr_eval_metric(const struct tr_eval_scores *sc, const char *metric);

/* --- q_promo.c --- */
#define TR_EVAL_COLS                                                                                                   \
	"e.id, e.model, e.challenger_version, e.champion_version, e.status, e.decision, e.reason, e.metrics::text, "   \
	"e.run_id, e.created_at, e.ended_at, e.attempt"
int tr_q_policy_get(struct db_conn *c, const char *model, PGresult **res, struct core_error *err);
int tr_q_policy_put(struct db_conn *c, const char *model, const struct tr_policy *p, int64_t now,
		    struct core_error *err);
int tr_q_policy_delete(struct db_conn *c, const char *model, struct core_error *err);
/* Reads a tr_q_policy_get row (or the default when res has none) into *p. */
void tr_policy_from_row(const PGresult *res, struct tr_policy *p);
/* Queues an evaluation; 0 when (model, challenger, champion) has one already. */
int tr_q_eval_insert(struct db_conn *c, const char *id, const char *model, const char *challenger, const char *champion,
		     int64_t now, struct core_error *err);
int tr_q_eval_find(struct db_conn *c, const char *model, const char *challenger, const char *champion, PGresult **res,
		   struct core_error *err);
int tr_q_eval_get(struct db_conn *c, const char *id, PGresult **res, struct core_error *err);
int tr_q_eval_list(struct db_conn *c, const char *model, int64_t after_created, const char *after_id, long limit,
		   PGresult **res, struct core_error *err);
/* Claims the oldest QUEUED evaluation, or a RUNNING one whose lease ran out. */
int tr_q_eval_claim(struct db_conn *c, const char *worker, int64_t now, long lease_ms, PGresult **res,
		    struct core_error *err);
/* Shortens worker's lease to at, so that the evaluation is claimed again then (a peer
 * did not answer). */
int tr_q_eval_retry_at(struct db_conn *c, const char *id, const char *worker, int64_t at, struct core_error *err);
/* Ends it (DONE with decision, or FAILED) while worker holds it. */
int tr_q_eval_finish(struct db_conn *c, const char *id, const char *worker, const char *status, const char *decision,
		     const char *reason, json_t *metrics, const char *run_id, int64_t now, struct core_error *err);

/* --- entities.c (promotion) --- */
json_t *tr_eval_json(const PGresult *res, int row);
json_t *tr_policy_json(const char *model, const struct tr_policy *p, bool stored);

/* --- promo_peer.c (blocking HTTP; CORE_EIO: retry later; CORE_EINVAL / CORE_ENOENT) --- */
/* The versions aliases champion, previous and challenger point at ("" for none). */
struct tr_aliases {
	char champion[32], previous[32], challenger[32];
};
enum core_status tr_peer_aliases(const struct tr_settings *s, const char *rid, const char *model,
				 struct tr_aliases *out, struct core_error *err);
/* Whether model has version (CORE_ENOENT when not), and its run id ("" for none). */
enum core_status tr_peer_version_run(const struct tr_settings *s, const char *rid, const char *model,
				     const char *version, char run_id[64], struct core_error *err);
/* A run's tags as an object of strings, key -> value (owned by the caller, empty when
 * the run has none or on an error). */
enum core_status tr_peer_run_tags(const struct tr_settings *s, const char *rid, const char *run_id, json_t **tags,
				  struct core_error *err);
enum core_status tr_peer_set_alias(const struct tr_settings *s, const char *rid, const char *model, const char *alias,
				   const char *version, struct core_error *err);
enum core_status tr_peer_delete_alias(const struct tr_settings *s, const char *rid, const char *model,
				      const char *alias, struct core_error *err);
enum core_status tr_peer_version_tag(const struct tr_settings *s, const char *rid, const char *model,
				     const char *version, const char *key, const char *value, struct core_error *err);

/* --- ev_promo.c --- */
/* lathe.training.promotion.decided (data: its members) and lathe.training.rollback on
 * training.events, key = subject = the model's name; data is stolen. */
int tr_ev_promotion(struct db_conn *c, const char *type, const char *model, json_t *data, struct core_error *err);

/* --- models_in.c --- */
enum bus_handled tr_models_in_handle(struct svc *svc, void *app, const struct bus_message *m);
/* PROMOTION_GROUP (the svc consumer's group_id_of). */
const char *tr_promo_group(const void *app);
/* Queues an evaluation of model's version against the champion of now (registry,
 * then one transaction). *created: a new row; *id its id (or the existing one's).
 * CORE_EIO: the registry or database did not answer. */
enum core_status tr_promo_queue(struct svc *svc, const char *rid, const char *model, const char *version, bool *created,
				char id[TR_JOB_ID_LEN + 1], struct core_error *err);

/* --- evaluate.c --- */
struct tr_eval_row {
	const char *id, *model, *challenger, *champion; /* champion NULL when none */
};
struct tr_eval_out {
	char decision[16]; /* promoted | rejected | manual */
	char reason[600];
	json_t *metrics; /* owned */
	char run_id[64];
	char dataset[200];
	char job_id[TR_JOB_ID_LEN + 1];
};
/* Runs one evaluation to its decision (aliases moved when promoted under mode auto).
 * CORE_EIO: try again later; CORE_EINVAL: it FAILED (err says why). */
enum core_status tr_evaluate(struct svc *svc, const struct tr_eval_row *e, struct tr_eval_out *out,
			     struct core_error *err);

/* --- eval_measure.c --- */
/* Where a version came from: its run and the run's lathe.job_id / lathe.dataset tags. */
struct tr_lineage {
	char run_id[64];
	char *job_id;  /* NULL: not the trainer's; a sweep trial's: the sweep's job */
	char *dataset; /* name@version id, or NULL */
};
enum core_status tr_lineage_get(const struct tr_settings *s, const char *model, const char *version,
				struct tr_lineage *out, struct core_error *err);
void tr_lineage_free(struct tr_lineage *l);
/* The job's data (its spec pinned to l->dataset); the test split is out->test. */
enum core_status tr_lineage_test_split(struct svc *svc, const struct tr_lineage *l, struct tr_data *out,
				       struct core_error *err);
struct ml_package;
/* The version's package, read (a classifier), fetched under BLOB_DIR/evaluations/<id>/. */
enum core_status tr_version_package(const struct tr_settings *s, const char *eval_id, const char *model,
				    const char *version, struct ml_package *out, struct core_error *err);
/* The package's report on d's test split and the wall time of that one forward pass. */
enum core_status tr_score(struct ml_package *pkg, const struct tr_data *d, struct ml_class_report *rep,
			  double *batch_ms, struct core_error *err);

/* --- promo_worker.c --- */
/* The periodic task: runs queued evaluations until none is left (every 500 ms when
 * WORKERS > 0; off in an API-only process). A claim holds an evaluation for
 * max(JOB_LEASE_MS, TR_EVAL_LEASE_MS) (the run is not interrupted to renew it); a peer
 * that did not answer has it claimed again after TR_EVAL_RETRY_MS. */
#define TR_EVAL_LEASE_MS 600000
#define TR_EVAL_RETRY_MS 5000
void tr_promo_run(struct svc *svc, void *app);
long tr_promo_every(const void *app);

/* --- handlers (routes.c: tr_promo_routes) --- */
extern const struct http_route tr_promo_routes[];
void tr_h_policy_get(struct http_request *req, void *app);
void tr_h_policy_put(struct http_request *req, void *app);
void tr_h_policy_delete(struct http_request *req, void *app);
void tr_h_eval_create(struct http_request *req, void *app);
void tr_h_eval_list(struct http_request *req, void *app);
void tr_h_eval_get(struct http_request *req, void *app);
void tr_h_rollback(struct http_request *req, void *app);

#endif
