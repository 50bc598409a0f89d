/* The model registry's private header (prefix mr_): its settings and state, and what
 * its files offer each other. Sections follow the files:
 *   main.c        settings table, start/stop, the svc_def
 *   routes.c      the one route table (MLflow's registry paths)
 *   h_models.c    registered-models/...: create, get, rename, update, delete, search,
 *                 get-latest-versions, set-tag, delete-tag
 *   h_aliases.c   registered-models/alias: set, delete, get
 *   h_versions.c  model-versions/...: create, get, update, delete, search,
 *                 transition-stage, get-download-uri, set-tag, delete-tag
 *   q_*.c         one function per SQL statement; the statement is named as the
 *                 function (mr_q_lock_model prepares "mr_q_lock_model")
 *   entities.c    MLflow JSON (RegisteredModel, ModelVersion) from query rows
 *   ev_models.c   models.events CloudEvents, written through the outbox
 *   servable.c    does a version's source hold a Lathe model package? (tracker call)
 *   servable_queue.c the pending checks, answered by a periodic task off the request path
 *   validate.c    MLflow's input rules: names, tags, aliases, stages, sources (pure;
 *                 name and length rules are libs/mlflow's)
 *   filter_sql.c  a search's one parameterised query, from libs/mlflow's filter tree
 *                 and the registry's order_by (pure)
 *   search_args.c the arguments and the page both searches share (page tokens are
 *                 libs/mlflow's)
 * Handlers receive the struct svc * as app; mr_app(svc) gives this service's state.
 * Every state change and its event are written in one db_run_tx transaction that
 * first row-locks the registered model, so one model's events are in commit order. */
#ifndef MR_H
#define MR_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "http/jspec.h"
#include "mlflow/filter.h"
#include "svc/svc.h"

/* --- state (main.c) ------------------------------------------------------------- */

struct mr_settings {
	char *tracker_url;       /* TRACKER_URL: the experiment tracker, for servability */
	long tracker_timeout_ms; /* TRACKER_TIMEOUT_MS */
	char *tracker_token;     /* TRACKER_TOKEN: sent as Bearer to the tracker, or NULL */
	long servable_attempts;  /* SERVABLE_CHECK_ATTEMPTS */
	long servable_retry_ms;  /* SERVABLE_RETRY_MS */
};

struct mr_app {
	struct mr_settings *settings; /* borrowed from svc */
};

static inline struct mr_app *mr_app(void *svc)
{
	return svc_app(svc);
}

/* --- routes and handlers ---------------------------------------------------------- */

extern const struct http_route mr_routes[];

void mr_h_model_create(struct http_request *req, void *app);
void mr_h_model_get(struct http_request *req, void *app);
void mr_h_model_rename(struct http_request *req, void *app);
void mr_h_model_update(struct http_request *req, void *app);
void mr_h_model_delete(struct http_request *req, void *app);
void mr_h_model_search(struct http_request *req, void *app);
void mr_h_model_latest_versions(struct http_request *req, void *app);
void mr_h_model_set_tag(struct http_request *req, void *app);
void mr_h_model_delete_tag(struct http_request *req, void *app);
void mr_h_alias_set(struct http_request *req, void *app);
void mr_h_alias_delete(struct http_request *req, void *app);
void mr_h_alias_get(struct http_request *req, void *app);
void mr_h_version_create(struct http_request *req, void *app);
void mr_h_version_get(struct http_request *req, void *app);
void mr_h_version_update(struct http_request *req, void *app);
void mr_h_version_delete(struct http_request *req, void *app);
void mr_h_version_search(struct http_request *req, void *app);
void mr_h_version_transition(struct http_request *req, void *app);
void mr_h_version_download_uri(struct http_request *req, void *app);
void mr_h_version_set_tag(struct http_request *req, void *app);
void mr_h_version_delete_tag(struct http_request *req, void *app);

/* --- transaction outcomes (entities.c) --------------------------------------------- */

/* A transaction body that finds the client's request wrong records why with
 * svc_fail (svc.h) in its context's struct svc_fail and returns DB_ROLLBACK (so
 * db_run_tx rolls back without retrying); the handler then answers with
 * svc_run_tx_or_reply or svc_reply_tx. Each body's context also holds the struct
 * core_error its q_ calls fill. */

/* Replies 200 {"<key>": entity} after a transaction that loaded entity (borrowed), or
 * the transaction's failure (svc_reply_tx) when rc < 0 or nothing was loaded. */
void mr_reply_entity(struct http_request *req, const char *key, int rc, json_t *entity, const struct svc_fail *f,
		     const struct core_error *err);

/* Sets *f to "Registered Model with name=X not found" (404) and returns DB_ROLLBACK. */
int mr_fail_no_model(struct svc_fail *f, const char *name);
/* Sets *f to "Model Version (name=X, version=N) not found" (404), returns DB_ROLLBACK. */
int mr_fail_no_version(struct svc_fail *f, const char *name, int64_t version);

/* --- entities.c: MLflow JSON from rows -------------------------------------------- */

/* Columns every version query selects, in this order, from model_version_view. */
#define MR_VERSION_COLS                                                                                                \
	"v.name, v.version, v.creation_time, v.last_updated_time, v.current_stage, v.description, "                    \
	"v.source, v.run_id, v.run_link, v.status, v.tags, v.aliases, v.model_id"
/* Columns every model query selects, in this order, from registered_model_view. */
#define MR_MODEL_COLS "r.model_id, r.name, r.creation_time, r.last_updated_time, r.description, r.tags, r.aliases"

/* Returns a ModelVersion object built from row of res (MR_VERSION_COLS from col 0),
 * owned by the caller; NULL when the row does not hold what the columns promise. */
json_t *mr_version_json(const PGresult *res, int row);
/* Returns a RegisteredModel object (without latest_versions) from row (MR_MODEL_COLS). */
json_t *mr_model_json(const PGresult *res, int row);
/* The model_id column of a version row / a model row. */
int64_t mr_version_model_id(const PGresult *res, int row);
int64_t mr_model_row_id(const PGresult *res, int row);

/* Adds "latest_versions" to each RegisteredModel in models (borrowed JSON array whose
 * i-th entry has model id ids[i]), in one query. Returns >= 0 or a negative db_status. */
int mr_models_add_latest(struct db_conn *c, json_t *models, const int64_t *ids, size_t n, struct core_error *err);

/* Loads a RegisteredModel (with latest_versions) / a ModelVersion into *out (owned;
 * NULL when there is none). Returns >= 0 (0: none) or a negative db_status. */
int mr_load_model(struct db_conn *c, int64_t id, json_t **out, struct core_error *err);
int mr_load_version(struct db_conn *c, int64_t model_id, int64_t version, json_t **out, struct core_error *err);

/* Checks a request's tags array ([{key, value}], may be NULL) with MLflow's rules.
 * entity: "Registered model" or "Model version" (MLflow's messages name it). */
enum core_status mr_check_tags(const char *entity, json_t *tags, struct core_error *err);
/* A version argument given as a string ("3") or a number. */
enum core_status mr_version_arg(json_t *v, int64_t *out, struct core_error *err);

/* --- q_registered_models.c -------------------------------------------------------- */

struct mr_sql;

/* Each takes err last and fills it on failure; each returns the row count (>= 0) or a negative enum db_status; res_out,
 * when given, receives the PGresult (the caller PQclear()s it). */
int mr_q_insert_model(struct db_conn *c, const char *name, const char *description, int64_t now_ms, int64_t *id_out,
		      struct core_error *err);
/* Row-locks the model (FOR UPDATE) and gives its id. 0 rows: no such model. */
int mr_q_lock_model(struct db_conn *c, const char *name, int64_t *id_out, struct core_error *err);
/* Row-locks the model by id: 1 row (its name) or 0. */
int mr_q_lock_model_by_id(struct db_conn *c, int64_t id, PGresult **res_out, struct core_error *err);
/* Locks and bumps last_updated_time; gives the id. */
int mr_q_touch_model(struct db_conn *c, const char *name, int64_t now_ms, int64_t *id_out, struct core_error *err);
/* Takes the next version number (last_version + 1) and bumps last_updated_time. */
int mr_q_next_version(struct db_conn *c, const char *name, int64_t now_ms, int64_t *id_out, int64_t *version_out,
		      struct core_error *err);
int mr_q_rename_model(struct db_conn *c, int64_t id, const char *new_name, int64_t now_ms, struct core_error *err);
int mr_q_update_model_description(struct db_conn *c, int64_t id, const char *description, int64_t now_ms,
				  struct core_error *err);
int mr_q_delete_model(struct db_conn *c, int64_t id, struct core_error *err);
int mr_q_select_model(struct db_conn *c, int64_t id, PGresult **res_out, struct core_error *err);
/* The model's id by name, without a lock (reads). 0 rows: no such model. */
int mr_q_model_id(struct db_conn *c, const char *name, int64_t *id_out, struct core_error *err);
int mr_q_set_model_tag(struct db_conn *c, int64_t id, const char *key, const char *value, struct core_error *err);
int mr_q_delete_model_tag(struct db_conn *c, int64_t id, const char *key, struct core_error *err);

/* --- q_model_versions.c ----------------------------------------------------------- */

int mr_q_insert_version(struct db_conn *c, int64_t model_id, int64_t version, int64_t now_ms, const char *source,
			const char *run_id, const char *run_link, const char *description, struct core_error *err);
int mr_q_select_version(struct db_conn *c, int64_t model_id, int64_t version, PGresult **res_out,
			struct core_error *err);
/* By name, no lock (reads). */
int mr_q_select_version_by_name(struct db_conn *c, const char *name, int64_t version, PGresult **res_out,
				struct core_error *err);
/* Locks the version row; gives its stage. 0 rows: none. */
int mr_q_lock_version(struct db_conn *c, int64_t model_id, int64_t version, char stage_out[16], struct core_error *err);
int mr_q_update_version_description(struct db_conn *c, int64_t model_id, int64_t version, const char *description,
				    int64_t now_ms, struct core_error *err);
int mr_q_set_version_stage(struct db_conn *c, int64_t model_id, int64_t version, const char *stage, int64_t now_ms,
			   struct core_error *err);
/* Moves the other versions in stage to Archived; res_out: (version, source, run_id)
 * of each, ascending. */
int mr_q_archive_stage(struct db_conn *c, int64_t model_id, int64_t keep_version, const char *stage, int64_t now_ms,
		       PGresult **res_out, struct core_error *err);
int mr_q_delete_version(struct db_conn *c, int64_t model_id, int64_t version, struct core_error *err);
int mr_q_touch_versions(struct db_conn *c, int64_t model_id, int64_t now_ms, struct core_error *err);
/* Every version of a model (numbers ascending). */
int mr_q_model_versions(struct db_conn *c, int64_t model_id, PGresult **res_out, struct core_error *err);
/* The newest version per stage of each model in ids (array literal), in MLflow's order. */
int mr_q_latest_versions(struct db_conn *c, const char *ids_array, PGresult **res_out, struct core_error *err);
int mr_q_set_version_tag(struct db_conn *c, int64_t model_id, int64_t version, const char *key, const char *value,
			 struct core_error *err);
int mr_q_delete_version_tag(struct db_conn *c, int64_t model_id, int64_t version, const char *key,
			    struct core_error *err);
/* servable_checks (0004): a pending check due at due_ms; the due ones claimed (rows
 * model_id, version, attempts (after this claim), source, request_id; next_at pushed to
 * lease_until_ms); another attempt scheduled; a check removed (0 rows: the version is
 * gone, or another replica answered it). */
int mr_q_insert_servable_check(struct db_conn *c, int64_t model_id, int64_t version, int64_t due_ms,
			       const char *request_id, struct core_error *err);
int mr_q_claim_servable_checks(struct db_conn *c, int64_t now_ms, int64_t lease_until_ms, int limit, PGresult **res_out,
			       struct core_error *err);
int mr_q_reschedule_servable_check(struct db_conn *c, int64_t model_id, int64_t version, int64_t due_ms,
				   struct core_error *err);
int mr_q_delete_servable_check(struct db_conn *c, int64_t model_id, int64_t version, struct core_error *err);

/* --- q_aliases.c ------------------------------------------------------------------ */

/* The version alias points to: 1 row (version) or 0. */
int mr_q_alias_version(struct db_conn *c, int64_t model_id, const char *alias, int64_t *version_out,
		       struct core_error *err);
int mr_q_upsert_alias(struct db_conn *c, int64_t model_id, const char *alias, int64_t version, struct core_error *err);
int mr_q_delete_alias(struct db_conn *c, int64_t model_id, const char *alias, struct core_error *err);
/* The aliases of one version (alias names ascending). */
int mr_q_version_aliases(struct db_conn *c, int64_t model_id, int64_t version, PGresult **res_out,
			 struct core_error *err);

/* --- ev_models.c ------------------------------------------------------------------ */

#define MR_TOPIC     "models.events"
#define MR_EV_SOURCE "lathe/model-registry"

/* Writes one models.events CloudEvent of type (e.g. "lathe.model.version.created")
 * about model name (subject and key) into the outbox, inside the caller's transaction.
 * data: stolen. Returns DB_ONE_RESULT or a negative db_status. */
int mr_ev_write(struct db_conn *c, const char *type, const char *name, json_t *data, struct core_error *err);

/* --- servable.c ------------------------------------------------------------------- */

#define MR_TAG_SERVABLE        "lathe.servable"
#define MR_TAG_SERVABLE_REASON "lathe.servable_reason"

struct mr_servable {
	bool servable;
	bool unreachable; /* the tracker gave no answer (timeout, refused, 5xx): ask again */
	char reason[300]; /* why not, "" when servable */
};

/* Whether source's servability is known without asking the tracker (TRACKER_URL
 * unset, or a source the tracker does not serve): then true with *out filled (not
 * servable, with the reason). false: the tracker must be asked (mr_servable_check).
 * No I/O: model-versions/create calls it. */
bool mr_servable_local(const struct mr_settings *s, const char *source, struct mr_servable *out);

/* Looks for a Lathe model package (model.json + weights.safetensors) at source through
 * the tracker's artifact API (GET {TRACKER_URL}/api/2.0/mlflow-artifacts/artifacts?path=).
 * Never fails: a foreign source or an odd answer makes a "false" with a reason; no
 * answer sets out->unreachable too. Blocks up to tracker_timeout_ms per call (two
 * calls for runs:/ sources); call it outside any transaction and off the request path.
 * request_id: forwarded to the tracker; may be NULL. */
void mr_servable_check(const struct mr_settings *s, const char *source, const char *request_id,
		       struct mr_servable *out);

/* --- servable_queue.c: the pending checks, answered off the request path ---------- */

/* The periodic task (main.c): claims the due servable_checks rows, asks the tracker
 * for each, and records the answer (tags, the lathe.model.version.servable_checked
 * event) or, when the tracker did not answer, schedules another attempt (SERVABLE_RETRY_MS,
 * doubling, at most SERVABLE_CHECK_ATTEMPTS; the last gives "not servable: the tracker
 * could not be reached"). */
void mr_servable_run(struct svc *svc, void *app);

/* In the creating transaction: records a version whose check is pending (tag
 * lathe.servable = "pending", a servable_checks row due now). request_id: the
 * registration's, forwarded to the tracker when the check is made; may be NULL. */
int mr_servable_enqueue(struct db_conn *c, int64_t model_id, int64_t version, const char *request_id,
			struct core_error *err);

/* --- validate.c (pure) ------------------------------------------------------------ */

/* Each returns CORE_OK, or CORE_EINVAL with MLflow's message in err. */
enum core_status mr_check_model_name(const char *name, struct core_error *err);
/* entity: "Registered model" or "Model version" ("Model version key '...' had length"). */
enum core_status mr_check_tag(const char *entity, const char *key, const char *value, struct core_error *err);
enum core_status mr_check_tag_key(const char *entity, const char *key, struct core_error *err);
enum core_status mr_check_alias(const char *alias, struct core_error *err);
/* Parses a version number ("3"); out: [out]. */
enum core_status mr_check_version(const char *text, int64_t *out, struct core_error *err);
/* Canonical stage for a name in any case ("production" -> "Production"). */
enum core_status mr_check_stage(const char *stage, const char **canonical, struct core_error *err);
enum core_status mr_check_source(const char *source, const char *run_id, struct core_error *err);

/* --- filter_sql.c (pure): the searches' one parameterised query -------------------- */

enum mr_search_kind { MR_SEARCH_MODELS, MR_SEARCH_VERSIONS };

#define MR_SQL_MAX_PARAMS 256

/* A compiled search: SQL text with $1..$n and the n text parameters it binds (owned).
 * Initialise with mr_sql_init; release with mr_sql_free (also after a failure). */
struct mr_sql {
	struct core_buf text;
	char *params[MR_SQL_MAX_PARAMS];
	size_t n_params;
};
void mr_sql_init(struct mr_sql *q);
void mr_sql_free(struct mr_sql *q);

/* Turns order_by entries into an ORDER BY text built from fixed pieces only (client
 * text never reaches the SQL), with MLflow's tie-breakers appended (models: name ASC;
 * versions: name ASC, version DESC). sql: [out] buffer. */
enum core_status mr_order_parse(const char *const *order_by, size_t n, enum mr_search_kind kind, char *sql,
				size_t sql_size, struct core_error *err);

/* Compiles a parsed filter (libs/mlflow's tree, may be NULL), an ORDER BY text from
 * mr_order_parse, limit and offset into out (initialised, empty): a query selecting
 * MR_MODEL_COLS from registered_model_view r, or MR_VERSION_COLS from
 * model_version_view v. Returns CORE_OK, or CORE_EINVAL when it would need more than
 * MR_SQL_MAX_PARAMS parameters. */
enum core_status mr_sql_search(enum mr_search_kind kind, const struct mlflow_filter *f, const char *order_sql,
			       int64_t limit, int64_t offset, struct mr_sql *out, struct core_error *err);

/* --- search_args.c: what both searches share ----------------------------------------- */

struct mr_search_args {
	struct mlflow_filter filter;
	int64_t limit, offset;
	struct mr_sql sql; /* the page's query, asking for limit + 1 rows (is there more?) */
};

/* Parses and validates filter, max_results (1..max_limit, default_limit when absent),
 * order_by and page_token, and compiles the query. On a client mistake replies 400
 * INVALID_PARAMETER_VALUE and returns HTTP_PARSE_REPLIED (nothing to free); on
 * HTTP_PARSE_OK the caller frees *out with mr_search_args_free. */
enum http_parse_result mr_search_args_parse_or_reply(struct http_request *req, enum mr_search_kind kind,
						     int64_t default_limit, int64_t max_limit,
						     struct mr_search_args *out);
void mr_search_args_free(struct mr_search_args *a);

/* Replies 200 {"<items_key>": items (left out when empty), "next_page_token" (offset +
 * the items answered, when
 * more)}. items: borrowed JSON array. */
void mr_reply_search_page(struct http_request *req, const char *items_key, json_t *items, bool more,
			  const struct mr_search_args *a);

/* Takes one row of a search's result (res and row borrowed for the call). */
typedef void (*mr_search_row_fn)(const PGresult *res, int row, void *cls);

/* Inside the search's transaction: runs a->sql through a cursor and hands take() each
 * row the page accepts, in order, fetching in chunks so a page cut by max_bytes (its
 * budget, SEARCH_PAGE_MAX_BYTES) never reads the rows it will not answer. *more: rows
 * remain past the page (the token is then offset + rows taken). Returns 0 or a
 * negative db_status. */
int mr_search_stream(struct db_conn *c, const struct mr_search_args *a, size_t max_bytes, mr_search_row_fn take,
		     void *cls, bool *more, struct core_error *err);
#endif
