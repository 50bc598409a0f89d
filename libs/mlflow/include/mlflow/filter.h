/* mlflow/filter.h: MLflow's search language (mlflow/utils/search_utils.py, 2.12.2) as
 * pure functions: filter text -> a conjunction of checked clauses, order_by entries ->
 * sort keys, view-type names -> numbers. One lexer and parser for every search that
 * speaks it: the tracker's runs and experiments, the registry's registered models and
 * model versions. The services compile the trees into SQL themselves (user text only
 * ever travels as $n parameters); nothing here does I/O.
 *
 * Every failing call fills err with MLflow's message (the service answers 400
 * INVALID_PARAMETER_VALUE with it) and leaves nothing allocated in its output. */
#ifndef MLFLOW_FILTER_H
#define MLFLOW_FILTER_H
#include <stdbool.h>
#include <stddef.h>
#include "core/status.h"

/* What a search is over: the grammar differs (entities, attribute keys, types). */
enum mlflow_target {
	MLFLOW_TARGET_RUNS,        /* runs/search */
	MLFLOW_TARGET_EXPERIMENTS, /* experiments/search */
	MLFLOW_TARGET_MODELS,      /* registered-models/search */
	MLFLOW_TARGET_VERSIONS,    /* model-versions/search */
};

enum mlflow_entity { MLFLOW_ENT_METRIC, MLFLOW_ENT_PARAM, MLFLOW_ENT_TAG, MLFLOW_ENT_ATTR, MLFLOW_ENT_DATASET };

enum mlflow_cmp {
	MLFLOW_CMP_EQ,
	MLFLOW_CMP_NE,
	MLFLOW_CMP_LT,
	MLFLOW_CMP_LE,
	MLFLOW_CMP_GT,
	MLFLOW_CMP_GE,
	MLFLOW_CMP_LIKE,
	MLFLOW_CMP_ILIKE,
	MLFLOW_CMP_IN,
	MLFLOW_CMP_NOT_IN,
};

/* The SQL operator of a scalar comparison, spaced (" <> ", " ILIKE "); " = " for the
 * list comparisons, which a compiler writes as = ANY / <> ALL itself. */
const char *mlflow_cmp_sql(enum mlflow_cmp cmp);

enum mlflow_value_kind { MLFLOW_VAL_NUMBER, MLFLOW_VAL_STRING, MLFLOW_VAL_LIST };

/* One clause `<entity>.<key> <cmp> <value>`, checked against MLflow's type rules. */
struct mlflow_clause {
	enum mlflow_entity entity;
	char *key; /* unquoted; attribute aliases resolved (created ->
		      start_time, "run name" -> run_name); owned */
	enum mlflow_cmp cmp;
	enum mlflow_value_kind kind; /* NUMBER for metrics and numeric attributes, LIST for
					IN / NOT IN, STRING otherwise */
	char *value;                 /* NUMBER: the literal as written ("-1.5e3"; for the
					registry's version_number a decimal integer); STRING:
					the text between the quotes, as written; NULL for LIST;
					owned */
	char **list;                 /* LIST: the strings (version_number: integers); owned */
	size_t n_list;
};

struct mlflow_filter {
	struct mlflow_clause *clauses; /* owned */
	size_t n;
};

struct mlflow_order_key {
	enum mlflow_entity entity; /* METRIC, PARAM, TAG or ATTR */
	char *key;                 /* owned; created -> start_time */
	bool ascending;
};

struct mlflow_order {
	struct mlflow_order_key *keys; /* owned */
	size_t n;
};

/* MLflow's ViewType, numbered as in its protos. */
enum mlflow_view { MLFLOW_VIEW_ACTIVE_ONLY = 1, MLFLOW_VIEW_DELETED_ONLY = 2, MLFLOW_VIEW_ALL = 3 };

/* Bounds on a search's complexity, which MLflow itself does not have: PostgreSQL's
 * planning time grows with every clause (each is a join or EXISTS), so 80 clauses of
 * `params.lr LIKE '%'` cost 1.3 s of planning per query and let a few clients saturate
 * a daemon (measured: 8 clauses 0.1 s, 16 0.3 s, 32 0.8 s; superlinear). Real MLflow
 * filters hold a handful of clauses; a run_id IN list of a few thousand ids stays
 * within the length. Past a bound: CORE_EINVAL naming it (400). */
#define MLFLOW_FILTER_MAX_CLAUSES 20
#define MLFLOW_FILTER_MAX_BYTES   65536
#define MLFLOW_ORDER_MAX_KEYS     16

/* Parses a filter string (NULL or blank: no clauses).
 * out: [out] filled on success (free with mlflow_filter_free); zeroed on failure.
 * Returns CORE_OK, or CORE_EINVAL with MLflow's message in err ("Invalid clause(s) in
 * filter string: 'OR'", "Invalid attribute key 'x' specified. ...", ...), or naming the
 * bound a filter passed: "Invalid filter string: it holds more than 20 clauses (the
 * limit is 20)", "Invalid filter string: 70000 bytes long, the limit is 65536 bytes". */
enum core_status mlflow_filter_parse(enum mlflow_target target, const char *text, struct mlflow_filter *out,
				     struct core_error *err);
void mlflow_filter_free(struct mlflow_filter *f);

/* Parses the tracker's order_by entries ("metrics.acc DESC", "name", "tags.`a b` asc")
 * for MLFLOW_TARGET_RUNS or MLFLOW_TARGET_EXPERIMENTS. items: borrowed, n of them.
 * Rejects a key given twice ("`order_by` contains duplicate fields: ..."), and, for
 * experiments, anything but the attributes name, experiment_id, creation_time,
 * last_update_time. (The registry's order_by keys map onto fixed columns and stay in
 * the registry.) More than MLFLOW_ORDER_MAX_KEYS entries are refused, naming the limit.
 * out: [out] filled on success (free with mlflow_order_free); zeroed on failure.
 * Returns CORE_OK or CORE_EINVAL with MLflow's message in err. */
enum core_status mlflow_order_parse(enum mlflow_target target, const char *const *items, size_t n,
				    struct mlflow_order *out, struct core_error *err);
void mlflow_order_free(struct mlflow_order *o);

/* Parses a view type given as a name ("ACTIVE_ONLY", any case) or number (1..3).
 * Returns CORE_OK with *out set, or CORE_EINVAL (err names field). */
enum core_status mlflow_view_parse(const char *text, const char *field, enum mlflow_view *out, struct core_error *err);
#endif
