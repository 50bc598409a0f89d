/* filter.h: MLflow's search language for the tracker, as pure functions (no I/O).
 *
 *   filter_parse.c  filter text  -> struct et_filter (a conjunction of clauses)
 *                   order_by list -> struct et_order (sort keys)
 *                   page tokens  <-> offsets (base64 of {"offset": N}, as MLflow)
 *   filter_sql.c    filter + order + scope -> ONE parameterised SQL query: user text
 *                   (keys, values, ids) only ever travels as $n parameters
 *
 * Call order in h_search.c: et_filter_parse, et_order_parse, et_page_token_decode,
 * et_sql_runs (or et_sql_experiments), run the query, et_page_token_encode.
 * Every failing call fills err with MLflow's message (the handler answers 400
 * INVALID_PARAMETER_VALUE with it) and leaves nothing allocated in its output. */
#ifndef ET_FILTER_H
#define ET_FILTER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/status.h"

/* What a search is over: the grammar differs (entities, attribute keys). */
enum et_target { ET_TARGET_RUNS, ET_TARGET_EXPERIMENTS };

enum et_entity { ET_ENT_METRIC, ET_ENT_PARAM, ET_ENT_TAG, ET_ENT_ATTR, ET_ENT_DATASET };

enum et_cmp {
	ET_CMP_EQ,
	ET_CMP_NE,
	ET_CMP_LT,
	ET_CMP_LE,
	ET_CMP_GT,
	ET_CMP_GE,
	ET_CMP_LIKE,
	ET_CMP_ILIKE,
	ET_CMP_IN,
	ET_CMP_NOT_IN,
};

enum et_value_kind { ET_VAL_NUMBER, ET_VAL_STRING, ET_VAL_LIST };

/* One clause `<entity>.<key> <cmp> <value>`, checked against MLflow's type rules. */
struct et_clause {
	enum et_entity entity;
	char *key; /* unquoted; attribute aliases resolved (created ->
		      start_time, "run name" -> run_name); owned */
	enum et_cmp cmp;
	enum et_value_kind kind; /* NUMBER for metrics and numeric attributes, LIST for
				    IN / NOT IN, STRING otherwise */
	char *value;             /* NUMBER: the literal as written ("-1.5e3"); STRING: the
				    text between the quotes; NULL for LIST; owned */
	char **list;             /* LIST: the strings; owned */
	size_t n_list;
};

struct et_filter {
	struct et_clause *clauses; /* owned */
	size_t n;
};

struct et_order_key {
	enum et_entity entity; /* METRIC, PARAM, TAG or ATTR */
	char *key;             /* owned; created -> start_time */
	bool ascending;
};

struct et_order {
	struct et_order_key *keys; /* owned */
	size_t n;
};

/* MLflow's ViewType, numbered as in its protos. */
enum et_view { ET_VIEW_ACTIVE_ONLY = 1, ET_VIEW_DELETED_ONLY = 2, ET_VIEW_ALL = 3 };

/* Parses a filter string (NULL or blank: no clauses).
 * out: [out] filled on success (free with et_filter_free); zeroed on failure.
 * Returns CORE_OK, or CORE_EINVAL with MLflow's message in err ("Invalid clause(s) in
 * filter string: 'OR'", "Invalid attribute key 'x' specified. ...", ...). */
enum core_status et_filter_parse(enum et_target target, const char *text, struct et_filter *out,
				 struct core_error *err);
void et_filter_free(struct et_filter *f);

/* Parses order_by entries ("metrics.acc DESC", "name", "tags.`a b` asc"). items:
 * borrowed, n of them. Rejects a key given twice ("`order_by` contains duplicate
 * fields: ..."), and, for experiments, anything but the attributes name,
 * experiment_id, creation_time, last_update_time.
 * out: [out] filled on success (free with et_order_free); zeroed on failure.
 * Returns CORE_OK or CORE_EINVAL with MLflow's message in err. */
enum core_status et_order_parse(enum et_target target, const char *const *items, size_t n, struct et_order *out,
				struct core_error *err);
void et_order_free(struct et_order *o);

/* Parses a view type given as a name ("ACTIVE_ONLY", any case) or number (1..3).
 * Returns CORE_OK with *out set, or CORE_EINVAL (err names field). */
enum core_status et_view_parse(const char *text, const char *field, enum et_view *out, struct core_error *err);

/* Page tokens: base64 of the JSON {"offset": N}, byte for byte what MLflow makes.
 * encode: writes the NUL-terminated token into out (64 bytes always suffice).
 * decode: NULL or "" gives offset 0; otherwise returns CORE_OK with *offset >= 1, or
 * CORE_EINVAL with MLflow's message ("Invalid page token, could not base64-decode",
 * ...). */
void et_page_token_encode(int64_t offset, char out[64]);
enum core_status et_page_token_decode(const char *token, int64_t *offset, struct core_error *err);

/* --- SQL (filter_sql.c) ------------------------------------------------------- */

#define ET_SQL_MAX_PARAMS 256

/* A compiled query: SQL text with $1..$n placeholders and the n text parameters it
 * binds, every one of them owned. Initialise with et_sql_init, release with
 * et_sql_free (also after a failed compile). */
struct et_sql {
	struct core_buf text;
	char *params[ET_SQL_MAX_PARAMS];
	size_t n_params;
};

void et_sql_init(struct et_sql *q);
void et_sql_free(struct et_sql *q);

/* runs/search: the query returns one column, run_id, of the page's runs in order. */
struct et_runs_query {
	const struct et_filter *filter;    /* borrowed, may be NULL */
	const struct et_order *order;      /* borrowed, may be NULL */
	const char *const *experiment_ids; /* borrowed; ids that are not decimal
					      integers match nothing */
	size_t n_experiment_ids;
	enum et_view view;
	int64_t offset; /* rows to skip */
	int64_t limit;  /* rows to return */
};

/* experiments/search: the query returns one column, MLflow's Experiment message as
 * JSON text (tags sorted by key, omitted when none), limit rows at most. */
struct et_experiments_query {
	const struct et_filter *filter;
	const struct et_order *order;
	enum et_view view;
	int64_t offset;
	int64_t limit;
};

/* Compile q into out (initialised by the caller, empty).
 * Returns CORE_OK; CORE_EINVAL when the filter or order cannot be compiled for the
 * target (a clause that parsing for another target allowed) or the query needs more
 * than ET_SQL_MAX_PARAMS parameters (err says which); out is then partly filled and
 * must still be freed. */
enum core_status et_sql_runs(const struct et_runs_query *q, struct et_sql *out, struct core_error *err);
enum core_status et_sql_experiments(const struct et_experiments_query *q, struct et_sql *out, struct core_error *err);

/* --- handlers (h_search.c), routed by search_routes.c ---------------------------- */

struct http_request;
void et_h_search_runs(struct http_request *req, void *app);        /* POST runs/search */
void et_h_search_experiments(struct http_request *req, void *app); /* GET|POST experiments/search */
#endif
