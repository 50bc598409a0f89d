/* The tracking part's private header: what h_*.c (handlers), q_*.c (one function per
 * SQL statement), validate.c (MLflow's input rules) and encode.c (PostgreSQL array
 * literals, JSON numbers) offer each other. tracking_routes.c ties the handlers into
 * et_tracking_routes and implements et_runs_load (et.h) on q_runs_load_json.
 *
 * Conventions: q_* functions take a borrowed connection and return a db_status (row
 * count >= 0, or negative); where they return JSON it is text built by PostgreSQL
 * (json_build_object), except runs_load_rows, whose plain columns et_runs_load turns
 * into Run objects in C. Handlers parse with jspec, validate
 * whole requests before any write, and write in one db_run_tx. */
#ifndef ET_TRACKING_H
#define ET_TRACKING_H
#include <stdbool.h>
#include <stdint.h>
#include "core/buf.h"
#include "et.h"
#include "sql_json.h"
#include "http/jspec.h"

/* --- limits (mlflow-api.md section 7) ------------------------------------------ */
#define ET_MAX_BATCH_METRICS     1000
#define ET_MAX_BATCH_PARAMS      100
#define ET_MAX_BATCH_TAGS        100
#define ET_MAX_BATCH_TOTAL       1000
#define ET_MAX_KEY_LEN           250
#define ET_MAX_PARAM_VALUE_LEN   6000
#define ET_MAX_TAG_VALUE_LEN     5000
#define ET_MAX_EXP_TAG_VALUE_LEN 5000
#define ET_RUN_NAME_TAG          "mlflow.runName"

/* --- encode.c -------------------------------------------------------------------- */

/* Appends PostgreSQL's float8 text (pg) as a JSON value: "NaN", "Infinity" and
 * "-Infinity" quoted, other values as they are (PostgreSQL prints valid JSON numbers). */
enum core_status et_json_pg_double(struct core_buf *b, const char *pg);

/* --- validate.c: MLflow's rules --------------------------------------------------- */

/* Key of a metric/param/tag: <= 250 characters, [/\w.\- ]*, a normalised relative path.
 * what: "metric", "param", "tag" (for messages). */
enum core_status et_validate_key(const char *what, const char *key, struct core_error *err);
/* Characters (code points) of a UTF-8 string. */
size_t et_utf8_chars(const char *s);
/* Byte length of the first max characters of s (all of s when shorter). */
size_t et_utf8_prefix(const char *s, size_t max_chars);
/* An experiment id: 400 when it does not look like one (false, err set, *not_found
 * false); a well-formed id that cannot exist here (not an int64) gives false with
 * *not_found true. */
bool et_validate_experiment_id(const char *id, bool *not_found, struct core_error *err);
/* The run id of a request: run_id, else run_uuid. NULL when both are missing. */
const char *et_pick_run_id(const char *run_id, const char *run_uuid);
/* RunStatus from its name or number (JSON string or integer); NULL when invalid. */
const char *et_run_status_name(json_t *v);

/* --- a write batch: log-batch, and log-metric/log-parameter/set-tag as batches of one */
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
/* Checks only the counts of a batch against MLflow's limits (the arrays are not read). */
enum core_status et_batch_check_limits(const struct et_batch *b, struct core_error *err);
/* Checks a whole batch (limits, keys, values, duplicate params) and truncates
 * over-long param and tag values as MLflow does. CORE_EINVAL with MLflow's message. */
enum core_status et_batch_validate(struct et_batch *b, struct core_error *err);

/* What a write transaction found that the client must hear about. */
enum et_outcome {
	ET_OK = 0,
	ET_RUN_NOT_FOUND,
	ET_RUN_NOT_ACTIVE,
	ET_EXP_NOT_FOUND,
	ET_EXP_NOT_ACTIVE,
	ET_NAME_TAKEN,
	ET_PARAM_CHANGED,
	ET_TAG_NOT_FOUND,
};
/* Writes a validated batch (params, metrics, tags) in one transaction; answers the
 * request itself (200 {} or the error). */
void et_batch_write_and_reply(struct http_request *req, void *app, struct et_batch *b);
/* Replies the client error for outcome (run/experiment id and detail for messages). */
void et_reply_outcome(struct http_request *req, enum et_outcome o, const char *id, const char *detail);

/* --- q_runs.c ---------------------------------------------------------------------- */
/* Locks run_id's row for writing; stage_out: "active"/"deleted" (copied, size 16),
 * exp_out: its experiment id (size 24), may be NULL. Returns 1, 0 (no such run) or < 0. */
int et_q_runs_lock(struct db_conn *c, const char *run_id, char stage_out[16], char exp_out[24]);
/* The runs of the ids (text[] literal) as rows sorted by (ord, kind, key): per run
 * found, its runs row (kind 0), latest metrics (1), params (2), tags (3) and, when it
 * has any, its inputs object as JSON text (4); q_runs.c lists the columns. */
int et_q_runs_load_rows(struct db_conn *c, const char *ids_array, PGresult **res_out, struct core_error *err);
/* Appends the Run objects of rows laid out as et_q_runs_load_rows's (res borrowed) to
 * runs_out (borrowed). Returns the runs appended, or DB_HARD_ERROR with err filled when
 * a value cannot become JSON. (tracking_routes.c) */
int et_runs_from_rows(const PGresult *res, json_t *runs_out, struct core_error *err);
/* runs/create's write in one statement: share-locks experiment exp_id, inserts the run
 * when the experiment is active (named after the last mlflow.runName of the tags, else
 * run_name; artifact_uri under the experiment's location) and its tags (key/value text[]
 * literals, last duplicate wins). res_out: the new run as et_q_runs_load_rows rows (run
 * and tags); 0 rows when the experiment is missing or not active. */
int et_q_runs_create(struct db_conn *c, const char *run_id, const char *exp_id, const char *run_name,
		     const char *user_id, int64_t start_time, const char *tag_keys, const char *tag_values,
		     PGresult **res_out);
/* Sets status/end_time (NULL: unchanged); res_out: one row with the RunInfo JSON. */
int et_q_runs_update(struct db_conn *c, const char *run_id, const char *status, const char *end_time,
		     PGresult **res_out);
int et_q_runs_set_stage(struct db_conn *c, const char *run_id, bool deleted, int64_t now);
int et_q_runs_exists(struct db_conn *c, const char *run_id);

/* --- q_experiments.c --------------------------------------------------------------- */
/* Experiment JSON by id (digits) or name: res_out row 0 col 0 JSON, col 1 stage. */
int et_q_experiments_get(struct db_conn *c, const char *id, PGresult **res_out);
int et_q_experiments_get_by_name(struct db_conn *c, const char *name, PGresult **res_out);
/* Inserts; id_out: the new id (size 24). DB_CONSTRAINT when the name is taken. */
int et_q_experiments_insert(struct db_conn *c, const char *name, const char *artifact_location, int64_t now,
			    char id_out[24]);
/* Share-locks the row (no stage change meanwhile); stage_out (size 16) and location_out (malloc'd, may be NULL). */
int et_q_experiments_lock(struct db_conn *c, const char *id, char stage_out[16], char **location_out);
int et_q_experiments_set_stage(struct db_conn *c, const char *id, bool deleted, int64_t now);
int et_q_experiments_runs_set_stage(struct db_conn *c, const char *id, bool deleted, int64_t now);
int et_q_experiments_rename(struct db_conn *c, const char *id, const char *name, int64_t now);
/* Upserts tags from key/value text[] literals (last duplicate wins). */
int et_q_experiment_tags_upsert(struct db_conn *c, const char *id, const char *keys, const char *values);

/* --- q_params.c, q_tags.c, q_metrics.c, q_inputs.c ---------------------------------- */
/* First param of keys/values that exists with another value: res_out key, old, new. */
int et_q_params_conflict(struct db_conn *c, const char *run_id, const char *keys, const char *values,
			 PGresult **res_out);
int et_q_params_insert(struct db_conn *c, const char *run_id, const char *keys, const char *values);
/* Upserts tags (last duplicate wins); a mlflow.runName tag renames the run. */
int et_q_tags_upsert(struct db_conn *c, const char *run_id, const char *keys, const char *values);
int et_q_tags_delete(struct db_conn *c, const char *run_id, const char *key);
/* Appends points (deduplicated) and moves each key's latest value. */
int et_q_metrics_insert(struct db_conn *c, const char *run_id, const char *keys, const char *values,
			const char *timestamps, const char *steps);
/* Up to limit points of a history after seq after_seq: key, value, timestamp, step, seq. */
int et_q_metrics_history(struct db_conn *c, const char *run_id, const char *key, int64_t after_seq, int64_t limit,
			 PGresult **res_out);
/* log-inputs: datasets (one per (experiment, name, digest)), then inputs and their tags
 * (input tags are given as parallel arrays with the 1-based dataset index). */
int et_q_inputs_datasets_insert(struct db_conn *c, const char *exp_id, const char *names, const char *digests,
				const char *source_types, const char *sources, const char *schemas,
				const char *profiles);
int et_q_inputs_insert(struct db_conn *c, const char *run_id, const char *exp_id, const char *names,
		       const char *digests, const char *tag_idx, const char *tag_keys, const char *tag_values);

/* --- handlers ------------------------------------------------------------------- */
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
#endif
