/* The experiment tracker's private header (prefix et_): its settings and state, and
 * what its files offer each other. Sections follow the files:
 *   main.c          settings table, start/stop, the svc_def
 *   routes.c        the one route table (tracking, search, artifacts), /health, /version
 *   h_experiments.c experiments/...: create, get, get-by-name, delete, restore, update,
 *                   set-experiment-tag
 *   h_runs.c        runs/...: create, get, update, delete, restore, log-parameter,
 *                   set-tag, delete-tag
 *   h_metrics.c     runs/log-metric, runs/log-batch, metrics/get-history
 *   h_inputs.c      runs/log-inputs
 *   h_models.c      runs/log-model (the run's mlflow.log-model.history tag)
 *   h_search.c      runs/search, experiments/search (face: filter.h)
 *   h_artifacts.c   MLflow's proxied artifact API and artifacts/list (face: artifacts.h)
 *   h_admin.c       the blob store's garbage collection: admin/gc and the periodic task
 *   batch.c         the write path runs share: lock a run for writing, the batch writer,
 *                   and the client errors of tracking transactions (et_fail_*)
 *   entities.c      MLflow's Run objects from query rows; entity SQL is ET_SQL_* below
 *   encode.c        PostgreSQL float8 text as JSON numbers
 *   run_names.c     the random run names of runs/create
 *   validate.c      MLflow's input rules: keys, lengths, ids, run status (pure)
 *   latest.c        each key's latest point of a write batch (pure)
 *   q_*.c           one function per SQL statement, named as the statement; err last
 *   filter_sql.c    MLflow's search language (parsed by libs/mlflow) compiled to SQL
 *   artifact_path.c, q_artifacts.c  the artifact wing's pure paths and queries
 *                   (artifacts.h)
 * Handlers receive the struct svc * as app; et_app(svc) gives this service's state.
 * Handlers parse with jspec, validate whole requests before any write, and write in
 * one transaction (svc_run_tx_or_reply) that locks the run first; a client error found
 * inside it is an et_fail_* (a struct svc_fail) and the transaction rolls back. */
#ifndef ET_H
#define ET_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "blob/blob.h"
#include "core/buf.h"
#include "http/jspec.h"
#include "mlflow/names.h"
#include "svc/svc.h"

/* --- state (main.c) ------------------------------------------------------------- */

struct et_settings {
	char *blob_dir;     /* BLOB_DIR */
	long gc_interval_s; /* BLOB_GC_INTERVAL_S: 0 = no periodic collection */
	long gc_grace_s;    /* BLOB_GC_GRACE_S */
	long tmp_age_s;     /* BLOB_TMP_AGE_S */
};

struct et_app {
	struct et_settings *settings; /* borrowed from svc */
	struct blob_store *blobs;     /* owned */
};

static inline struct et_app *et_app(void *svc)
{
	return svc_app(svc);
}

/* --- routes.c ------------------------------------------------------------------- */

extern const struct http_route et_routes[];

/* --- h_admin.c ------------------------------------------------------------------ */

/* POST /api/2.0/lathe/admin/gc {"dry_run": bool (default false)}: one collection of the
 * blob store against the artifact rows' keys; answers its counts. */
void et_h_admin_gc(struct http_request *req, void *app);
/* The periodic task's body, run every BLOB_GC_INTERVAL_S (svc's task is off when 0). */
void et_gc_periodic(struct svc *svc, void *app);

/* --- limits (MLflow 2.12.2, mlflow/utils/validation.py) ----------------------------- */
#define ET_MAX_BATCH_METRICS     1000
#define ET_MAX_BATCH_PARAMS      100
#define ET_MAX_BATCH_TAGS        100
#define ET_MAX_BATCH_TOTAL       1000
#define ET_MAX_KEY_LEN           250
#define ET_MAX_PARAM_VALUE_LEN   6000
#define ET_MAX_TAG_VALUE_LEN     5000
#define ET_MAX_EXP_TAG_VALUE_LEN 5000
#define ET_RUN_NAME_TAG          "mlflow.runName"

/* --- entity SQL (q_*.c and filter_sql.c) ---------------------------------------------
 * SQL expressions that render the tracker's entities as MLflow's JSON, shared by the
 * fixed queries and the search compiler so that experiments/get and
 * experiments/search, runs/update and runs/search, answer the very same shape. */

/* The Experiment of experiments row alias e, as a json expression (unset omitted). */
#define ET_SQL_EXPERIMENT                                                                                              \
	"json_strip_nulls(json_build_object('experiment_id', e.experiment_id::text, 'name', e.name, "                  \
	"'artifact_location', e.artifact_location, 'lifecycle_stage', e.lifecycle_stage, 'last_update_time', "         \
	"e.last_update_time, 'creation_time', e.creation_time, 'tags', (SELECT json_agg(json_build_object("            \
	"'key', t.key, 'value', t.value) ORDER BY t.key) FROM experiment_tags t "                                      \
	"WHERE t.experiment_id = e.experiment_id)))"

/* The RunInfo of runs row alias r as a JSON expression (unset fields omitted). */
#define ET_SQL_RUN_INFO                                                                                                \
	"json_strip_nulls(json_build_object('run_uuid', r.run_id, 'run_id', r.run_id, 'run_name', r.run_name, "        \
	"'experiment_id', r.experiment_id::text, 'user_id', r.user_id, 'status', r.status, 'start_time', "             \
	"r.start_time, 'end_time', r.end_time, 'artifact_uri', r.artifact_uri, 'lifecycle_stage', "                    \
	"r.lifecycle_stage))"

/* --- encode.c --------------------------------------------------------------------- */

/* Appends PostgreSQL's float8 text (pg) as a JSON value: "NaN", "Infinity" and
 * "-Infinity" quoted, other values in their shortest exact form (core_fmt_double). */
enum core_status et_json_pg_double(struct core_buf *b, const char *pg);

/* --- validate.c: MLflow's rules ------------------------------------------------------ */

/* Key of a metric/param/tag: <= 250 characters, [/\w.\- ]*, a normalised relative path.
 * what: "metric", "param", "tag" (for messages). */
enum core_status et_validate_key(const char *what, const char *key, struct core_error *err);
/* An experiment id: 400 when it does not look like one (false, err set, *not_found
 * false); a well-formed id that cannot exist here (not an int64) gives false with
 * *not_found true. */
bool et_validate_experiment_id(const char *id, bool *not_found, struct core_error *err);
/* The run id of a request: run_id, else run_uuid. NULL when both are missing. */
const char *et_pick_run_id(const char *run_id, const char *run_uuid);
/* RunStatus from its name or number (JSON string or integer); NULL when invalid. */
const char *et_run_status_name(json_t *v);

/* A write batch: log-batch, and log-metric/log-parameter/set-tag as batches of one. */
struct et_metric {
	const char *key;
	double value;
	int64_t timestamp;
	int64_t step;
};
struct et_kv {
	const char *key;
	const char *value;
	size_t value_len; /* bytes of value kept (after MLflow's truncation) */
};
struct et_batch {
	const char *run_id;
	struct et_metric *metrics;
	size_t n_metrics;
	struct et_kv *params;
	size_t n_params;
	struct et_kv *tags;
	size_t n_tags;
};
/* --- latest.c: each key's latest point of a batch ----------------------------------------
 * et_metric_cmp orders points as latest_metrics does: by step, then timestamp, then
 * value (NaN above every number); < 0, 0 or > 0. et_batch_latest writes to idx_out
 * (room for b->n_metrics) the index of each key's greatest point, one per key in key
 * order (strcmp), and their count to n_out; of equal points, the last. CORE_ENOMEM. */
int et_metric_cmp(const struct et_metric *a, const struct et_metric *b);
enum core_status et_batch_latest(const struct et_batch *b, size_t *idx_out, size_t *n_out, struct core_error *err);

/* Checks only the counts of a batch against MLflow's limits (the arrays are not read). */
enum core_status et_batch_check_limits(const struct et_batch *b, struct core_error *err);
/* Checks a whole batch (limits, keys, values, duplicate params) and truncates
 * over-long param and tag values as MLflow does. CORE_EINVAL with MLflow's message. */
enum core_status et_batch_validate(struct et_batch *b, struct core_error *err);

/* --- batch.c: the write path ----------------------------------------------------------
 * The client errors a tracking transaction can find, in MLflow's words: each fills f
 * and returns DB_ROLLBACK, so a body can `return et_fail_no_run(f, id);`. Outside a
 * transaction, answer one with svc_reply_tx(req, DB_ROLLBACK, &f, NULL). */
int et_fail_no_run(struct svc_fail *f, const char *run_id);
int et_fail_run_not_active(struct svc_fail *f, const char *run_id);
int et_fail_no_experiment(struct svc_fail *f, const char *exp_id);
int et_fail_experiment_not_active(struct svc_fail *f, const char *exp_id);
int et_fail_experiment_name_taken(struct svc_fail *f, const char *name);

/* The run id of a request (run_id, else run_uuid: et_pick_run_id), or NULL after
 * having answered 400 "Missing value for required parameter 'run_id'...". */
const char *et_run_id_or_reply(struct http_request *req, const char *run_id, const char *run_uuid);

/* Locks run_id's row for writing (concurrent writers to one run serialise) and
 * requires the run to be active. exp_out: its experiment id (size 24), may be NULL.
 * Returns 1; DB_ROLLBACK with f filled (no such run, or deleted); or a negative
 * db_status with err filled. */
int et_run_lock_active(struct db_conn *c, const char *run_id, char exp_out[24], struct svc_fail *f,
		       struct core_error *err);

/* Writes a validated batch (params, metrics, tags) all or nothing: one statement when
 * it has no params, else one transaction; answers the request itself (200 {} or the
 * error). */
void et_batch_write_and_reply(struct http_request *req, void *app, struct et_batch *b);

/* --- entities.c: Run objects ------------------------------------------------------------ */

/* Loads the full MLflow Run objects ({"info", "data", "inputs"}) of n runs, in the
 * order of run_ids, and appends them to runs_out (a JSON array, borrowed). A run id
 * that does not exist is skipped. Returns >= 0 (runs appended) or a negative
 * db_status with err filled. Does the work in a fixed number of queries whatever n is
 * (search pages hold up to 50000 runs). */
int et_runs_load(struct db_conn *c, const char *const *run_ids, size_t n, json_t *runs_out, struct core_error *err);
/* Appends the Run objects of rows laid out as et_q_runs_load_rows's (res borrowed) to
 * runs_out (borrowed). Returns the runs appended, or DB_HARD_ERROR with err filled when
 * a value cannot become JSON. */
int et_runs_from_rows(const PGresult *res, json_t *runs_out, struct core_error *err);

/* --- run_names.c ------------------------------------------------------------------------ */

/* A random "<adjective>-<animal>-<0..999>" name, as MLflow gives an unnamed run. */
void et_random_run_name(char out[64]);

/* --- q_runs.c --------------------------------------------------------------------------
 * Every q_ function takes a borrowed connection, fills err on failure, and returns a
 * db_status: the row count (>= 0) or negative. Result sets handed out are the
 * caller's to PQclear(). */

/* Locks run_id's row for writing; stage_out: "active"/"deleted" (copied, size 16),
 * exp_out: its experiment id (size 24), may be NULL. Returns 1, 0 (no such run) or < 0. */
int et_q_runs_lock(struct db_conn *c, const char *run_id, char stage_out[16], char exp_out[24], struct core_error *err);
/* The runs of the ids (text[] literal) as rows sorted by (ord, kind, key): per run
 * found, its runs row (kind 0), latest metrics (1), params (2), tags (3) and, when it
 * has any, its inputs object as JSON text (4); q_runs.c lists the columns. */
int et_q_runs_load_rows(struct db_conn *c, const char *ids_array, PGresult **res_out, struct core_error *err);
/* runs/create's write in one statement: share-locks experiment exp_id, inserts the run
 * when the experiment is active (named after the last mlflow.runName of the tags, else
 * run_name; artifact_uri under the experiment's location) and its tags (key/value text[]
 * literals, last duplicate wins). res_out: the new run as et_q_runs_load_rows rows (run
 * and tags); 0 rows when the experiment is missing or not active. */
int et_q_runs_create(struct db_conn *c, const char *run_id, const char *exp_id, const char *run_name,
		     const char *user_id, int64_t start_time, const char *tag_keys, const char *tag_values,
		     PGresult **res_out, struct core_error *err);
/* Sets status/end_time (NULL: unchanged); res_out: one row with the RunInfo JSON. */
int et_q_runs_update(struct db_conn *c, const char *run_id, const char *status, const char *end_time,
		     PGresult **res_out, struct core_error *err);
int et_q_runs_set_stage(struct db_conn *c, const char *run_id, bool deleted, int64_t now, struct core_error *err);
int et_q_runs_exists(struct db_conn *c, const char *run_id, struct core_error *err);

/* --- q_experiments.c ------------------------------------------------------------------- */
/* Experiment JSON by id (digits) or name: res_out row 0 col 0 JSON, col 1 stage. */
int et_q_experiments_get(struct db_conn *c, const char *id, PGresult **res_out, struct core_error *err);
int et_q_experiments_get_by_name(struct db_conn *c, const char *name, PGresult **res_out, struct core_error *err);
/* Inserts; id_out: the new id (size 24). DB_CONSTRAINT when the name is taken. */
int et_q_experiments_insert(struct db_conn *c, const char *name, const char *artifact_location, int64_t now,
			    char id_out[24], struct core_error *err);
/* Share-locks the row (no stage change meanwhile); stage_out (size 16) and location_out
 * (malloc'd, may be NULL). */
int et_q_experiments_lock(struct db_conn *c, const char *id, char stage_out[16], char **location_out,
			  struct core_error *err);
/* Locks the row for a writer (FOR UPDATE: a rename changes the unique name); stage_out
 * (size 16). Take it before writing the row, never after a share lock. */
int et_q_experiments_lock_for_update(struct db_conn *c, const char *id, char stage_out[16], struct core_error *err);
int et_q_experiments_set_stage(struct db_conn *c, const char *id, bool deleted, int64_t now, struct core_error *err);
int et_q_experiments_runs_set_stage(struct db_conn *c, const char *id, bool deleted, int64_t now,
				    struct core_error *err);
int et_q_experiments_rename(struct db_conn *c, const char *id, const char *name, int64_t now, struct core_error *err);
/* Upserts tags from key/value text[] literals (last duplicate wins). */
int et_q_experiment_tags_upsert(struct db_conn *c, const char *id, const char *keys, const char *values,
				struct core_error *err);

/* --- q_params.c, q_tags.c, q_metrics.c, q_inputs.c ------------------------------------ */
/* First param of keys/values that exists with another value: res_out key, old, new. */
int et_q_params_conflict(struct db_conn *c, const char *run_id, const char *keys, const char *values,
			 PGresult **res_out, struct core_error *err);
int et_q_params_insert(struct db_conn *c, const char *run_id, const char *keys, const char *values,
		       struct core_error *err);
/* Upserts tags (last duplicate wins); a mlflow.runName tag renames the run. */
int et_q_tags_upsert(struct db_conn *c, const char *run_id, const char *keys, const char *values,
		     struct core_error *err);
/* et_q_tags_upsert with the run's lock and check in the same statement: returns 1 with
 * the run's lifecycle stage in stage_out (nothing written unless "active"), 0 when
 * there is no such run, or a negative db_status. Runs without BEGIN or in a transaction. */
int et_q_tags_log(struct db_conn *c, const char *run_id, const char *keys, const char *values, char stage_out[16],
		  struct core_error *err);
int et_q_tags_delete(struct db_conn *c, const char *run_id, const char *key, struct core_error *err);
/* The value of one tag of a run: res_out one row (value) or none. */
int et_q_tags_get(struct db_conn *c, const char *run_id, const char *key, PGresult **res_out, struct core_error *err);
/* Points as statement parameters: keys a text[] literal (db_arr), then values, timestamps
 * and steps as binary float8[] and bigint[] (db_barr) of len bytes. */
struct et_q_points {
	const char *keys, *values, *timestamps, *steps;
	int values_len, timestamps_len, steps_len;
};
/* Locks the run row and, when the run is active, appends the points (deduplicated; n of
 * them) and moves each key's latest value to the batch's latest point of that key
 * (latest: et_batch_latest's), when greater, in one statement. Returns 1 with the run's
 * lifecycle stage in stage_out (nothing written unless "active"), 0 when there is no
 * such run, or a negative db_status. Runs without BEGIN (DB_AUTOCOMMIT) or in a
 * transaction. */
int et_q_metrics_log(struct db_conn *c, const char *run_id, size_t n, const struct et_q_points *points,
		     const struct et_q_points *latest, char stage_out[16], struct core_error *err);
/* Up to limit points of a history after seq after_seq: key, value, timestamp, step, seq. */
int et_q_metrics_history(struct db_conn *c, const char *run_id, const char *key, int64_t after_seq, int64_t limit,
			 PGresult **res_out, struct core_error *err);
/* log-inputs: datasets (one per (experiment, name, digest)), then inputs and their tags
 * (input tags are given as parallel arrays with the 1-based dataset index). */
int et_q_inputs_datasets_insert(struct db_conn *c, const char *exp_id, const char *names, const char *digests,
				const char *source_types, const char *sources, const char *schemas,
				const char *profiles, struct core_error *err);
int et_q_inputs_insert(struct db_conn *c, const char *run_id, const char *exp_id, const char *names,
		       const char *digests, const char *tag_idx, const char *tag_keys, const char *tag_values,
		       struct core_error *err);

/* --- handlers (h_*.c) ------------------------------------------------------------------ */
void et_h_experiments_create(struct http_request *req, void *app);
void et_h_experiments_get(struct http_request *req, void *app);
void et_h_experiments_get_by_name(struct http_request *req, void *app);
void et_h_experiments_delete(struct http_request *req, void *app);
void et_h_experiments_restore(struct http_request *req, void *app);
void et_h_experiments_update(struct http_request *req, void *app);
void et_h_experiments_set_tag(struct http_request *req, void *app);
void et_h_runs_create(struct http_request *req, void *app);
void et_h_runs_get(struct http_request *req, void *app);
void et_h_runs_update(struct http_request *req, void *app);
void et_h_runs_delete(struct http_request *req, void *app);
void et_h_runs_restore(struct http_request *req, void *app);
void et_h_runs_set_tag(struct http_request *req, void *app);
void et_h_runs_delete_tag(struct http_request *req, void *app);
void et_h_runs_log_parameter(struct http_request *req, void *app);
void et_h_metrics_log(struct http_request *req, void *app);
void et_h_metrics_log_batch(struct http_request *req, void *app);
void et_h_metrics_history(struct http_request *req, void *app);
void et_h_inputs_log(struct http_request *req, void *app);
void et_h_models_log(struct http_request *req, void *app);
#endif
