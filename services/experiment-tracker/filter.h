/* filter.h: the tracker's searches. MLflow's search language itself (filter and
 * order_by parsing, view types, page tokens) is libs/mlflow's; this wing compiles its
 * trees:
 *
 *   libs/mlflow     filter text  -> struct mlflow_filter (a conjunction of clauses)
 *                   order_by list -> struct mlflow_order (sort keys)
 *                   page tokens  <-> offsets (base64 of {"offset": N}, as MLflow)
 *   filter_sql.c    filter + order + scope -> ONE parameterised SQL query: user text
 *                   (keys, values, ids) only ever travels as $n parameters
 *
 * Call order in h_search.c: mlflow_filter_parse, mlflow_order_parse,
 * mlflow_page_token_decode, et_sql_runs (or et_sql_experiments), run the query,
 * mlflow_page_token_encode. Every failing call fills err with MLflow's message (the
 * handler answers 400 INVALID_PARAMETER_VALUE with it). */
#ifndef ET_FILTER_H
#define ET_FILTER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/status.h"
#include "mlflow/filter.h"
#include "mlflow/token.h"

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
	const struct mlflow_filter *filter; /* borrowed, may be NULL */
	const struct mlflow_order *order;   /* borrowed, may be NULL */
	const char *const *experiment_ids;  /* borrowed; ids that are not decimal
					       integers match nothing */
	size_t n_experiment_ids;
	enum mlflow_view view;
	int64_t offset; /* rows to skip */
	int64_t limit;  /* rows to return */
};

/* experiments/search: the query returns one column, MLflow's Experiment message as
 * JSON text (tags sorted by key, omitted when none), limit rows at most. */
struct et_experiments_query {
	const struct mlflow_filter *filter;
	const struct mlflow_order *order;
	enum mlflow_view view;
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

/* --- handlers (h_search.c), routed by routes.c -------------------------------------- */

struct http_request;
void et_h_search_runs(struct http_request *req, void *app);        /* POST runs/search */
void et_h_search_experiments(struct http_request *req, void *app); /* GET|POST experiments/search */
#endif
