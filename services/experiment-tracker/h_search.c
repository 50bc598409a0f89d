/* h_search.c: MLflow's searches over HTTP: POST runs/search and GET|POST
 * experiments/search (routes in routes.c).
 *
 * Each handler is a straight line: arguments (jspec) -> checks in MLflow's words (400
 * INVALID_PARAMETER_VALUE) -> parse filter and order_by (filter_parse.c) -> compile ONE
 * parameterised query (filter_sql.c) -> run it in db_run_tx -> reply.
 *
 * runs/search runs its id query and et_runs_load (et.h, the tracking part's renderer)
 * in one REPEATABLE READ transaction, so the page's ids and the Run objects come from
 * one snapshot. Paging is MLflow's: LIMIT max_results OFFSET <token offset>, and a
 * next_page_token whenever the page came back full. experiments/search fetches
 * max_results + 1 and gives a token only when more exist.
 *
 * Both pages also stop at a byte budget (SEARCH_PAGE_MAX_BYTES, mlflow_page_take): the
 * runs are loaded a chunk of ids at a time, the experiments read through a cursor, so a
 * page cut short never loads what it will not answer, and its token is offset + the
 * rows answered.
 *
 * The compiled SQL differs per filter, so it cannot be a named db_stmt (names are
 * fixed per program); it runs as an unnamed statement through PQexecParams on the
 * pooled connection (search_exec below), with its parameters, never pasted. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "et.h"
#include "filter.h"
#include "http/jspec.h"

#define SEARCH_MAX_RESULTS     50000
#define SEARCH_DEFAULT_RESULTS 1000

/* What a search transaction found; seeded by the handler, reset by the callback. */
struct search_tx {
	const struct et_sql *q;
	struct core_error err;
	bool client_error; /* PostgreSQL refused a value the client gave (class 22) */
	json_t *items;     /* runs or experiments, owned by the handler */
	int64_t rows;      /* rows the id query returned (runs) */
	struct mlflow_page page;
	int64_t limit;    /* max_results */
	size_t max_bytes; /* SEARCH_PAGE_MAX_BYTES */
	bool more;        /* rows remain past the page */
};

/* Runs q on c through db_exec_dynamic (its shape depends on the filter; its values are
 * parameters). Returns the row count with *res_out set, or a negative db_status;
 * s->client_error is set when PostgreSQL refused a value the client gave (SQLSTATE
 * class 22, e.g. a LIKE pattern ending in '\'). */
static int search_exec(struct db_conn *c, struct search_tx *s, PGresult **res_out)
{
	int rc = db_exec_dynamic(c, s->q->text.data, (int)s->q->n_params, (const char *const *)s->q->params, res_out,
				 &s->err);
	if (rc == DB_HARD_ERROR && strncmp(db_conn_sqlstate(c), "22", 2) == 0)
		s->client_error = true;
	return rc;
}

static void reply_search_failure(struct http_request *req, int rc, const struct search_tx *s)
{
	if (s->client_error) {
		/* db's message reads "<what>: SQLSTATE 22xxx: <server's words>": keep the words */
		const char *m = strstr(s->err.message, "SQLSTATE ");
		m = m ? strstr(m, ": ") : NULL;
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Invalid search value: %s",
				 m ? m + 2 : s->err.message);
		return;
	}
	svc_reply_db_error(req, rc, &s->err);
}

/* Fills out[0..n) with the text of each element of arr (strings, or integers when
 * ints_ok), pointing into buf for integers. Replies 400 and returns false otherwise. */
static bool strings_or_reply(struct http_request *req, json_t *arr, const char *field, bool ints_ok, const char **out,
			     char (*buf)[24])
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v)) {
			out[i] = json_string_value(v);
		} else if (ints_ok && json_is_integer(v)) {
			snprintf(buf[i], sizeof buf[i], "%" PRId64, (int64_t)json_integer_value(v));
			out[i] = buf[i];
		} else {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "Invalid value for parameter '%s' supplied: element %zu is not a string",
					 field, i);
			return false;
		}
	}
	return true;
}

/* A view type given as a name or a number; absent keeps *view. */
static bool view_or_reply(struct http_request *req, json_t *v, const char *field, enum mlflow_view *view)
{
	char num[24];
	const char *text = NULL;
	if (!v)
		return true;
	if (json_is_string(v)) {
		text = json_string_value(v);
	} else if (json_is_integer(v)) {
		snprintf(num, sizeof num, "%" PRId64, (int64_t)json_integer_value(v));
		text = num;
	}
	struct core_error err;
	if (mlflow_view_parse(text, field, view, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
		return false;
	}
	return true;
}

/* --- runs/search ------------------------------------------------------------------ */

/* A JSON value's size in the reply. */
static size_t json_bytes(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT);
}

static int runs_tx(struct db_conn *c, void *cls)
{
	struct search_tx *s = cls;
	PGresult *res = NULL;
	json_array_clear(s->items);
	s->rows = 0;
	s->more = false;
	s->client_error = false;
	mlflow_page_init(&s->page, s->limit, s->max_bytes);
	int rc = search_exec(c, s, &res);
	if (rc <= 0) {
		PQclear(res);
		return rc;
	}
	s->rows = rc;
	s->more = rc == s->limit; /* MLflow's rule: a full page has a token */
	const char **ids = core_xcalloc((size_t)rc, sizeof *ids);
	for (int i = 0; i < rc; i++)
		ids[i] = PQgetvalue(res, i, 0);
	/* the runs a chunk of ids at a time, until the page's budget is spent */
	json_t *chunk = json_array();
	bool full = false;
	for (int64_t next = 0; next < s->rows && !full;) {
		int64_t k = mlflow_page_chunk(&s->page);
		if (k > s->rows - next)
			k = s->rows - next;
		json_array_clear(chunk);
		rc = et_runs_load(c, ids + next, (size_t)k, chunk, &s->err);
		if (rc < 0)
			break;
		size_t i;
		json_t *run;
		json_array_foreach(chunk, i, run)
		{
			if (!mlflow_page_take(&s->page, json_bytes(run))) {
				full = s->more = true;
				break;
			}
			json_array_append(s->items, run);
		}
		next += k;
	}
	json_decref(chunk);
	free(ids);
	PQclear(res);
	return rc < 0 ? rc : (int)json_array_size(s->items);
}

void et_h_search_runs(struct http_request *req, void *app)
{
	json_t *exp_ids = NULL, *order_by = NULL, *view_v = NULL;
	const char *filter_text = NULL, *page_token = NULL;
	int64_t max_results = SEARCH_DEFAULT_RESULTS;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_ARRAY("experiment_ids", &exp_ids, NULL),
		HTTP_JS_OPT_STRING("filter", &filter_text, NULL),
		HTTP_JS_OPT_ANY("run_view_type", &view_v, NULL),
		HTTP_JS_OPT_INT64("max_results", &max_results, NULL),
		HTTP_JS_OPT_ARRAY("order_by", &order_by, NULL),
		HTTP_JS_OPT_STRING("page_token", &page_token, NULL),
		HTTP_JS_END,
	};
	struct mlflow_filter filter = {0};
	struct mlflow_order order = {0};
	struct et_sql q;
	struct search_tx s = {.q = &q};
	const char **ids = NULL, **orders = NULL;
	char(*id_buf)[24] = NULL;
	struct core_error err;
	int64_t offset = 0;
	enum mlflow_view view = MLFLOW_VIEW_ACTIVE_ONLY;
	et_sql_init(&q);

	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		goto out;
	if (mlflow_check_max_results(max_results, SEARCH_MAX_RESULTS, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		goto out;
	}
	if (!view_or_reply(req, view_v, "run_view_type", &view))
		goto out;
	size_t n_ids = exp_ids ? json_array_size(exp_ids) : 0;
	size_t n_orders = order_by ? json_array_size(order_by) : 0;
	ids = core_xcalloc(n_ids + 1, sizeof *ids);
	id_buf = core_xcalloc(n_ids + 1, sizeof *id_buf);
	orders = core_xcalloc(n_orders + 1, sizeof *orders);
	if ((exp_ids && !strings_or_reply(req, exp_ids, "experiment_ids", true, ids, id_buf)) ||
	    (order_by && !strings_or_reply(req, order_by, "order_by", false, orders, id_buf)))
		goto out;
	if (mlflow_filter_parse(MLFLOW_TARGET_RUNS, filter_text, &filter, &err) != CORE_OK ||
	    mlflow_order_parse(MLFLOW_TARGET_RUNS, orders, n_orders, &order, &err) != CORE_OK ||
	    mlflow_page_token_decode(page_token, &offset, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
		goto out;
	}
	struct et_runs_query rq = {.filter = &filter,
				   .order = &order,
				   .experiment_ids = ids,
				   .n_experiment_ids = n_ids,
				   .view = view,
				   .offset = offset,
				   .limit = max_results};
	if (et_sql_runs(&rq, &q, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
		goto out;
	}

	s.items = json_array();
	s.limit = max_results;
	s.max_bytes = (size_t)svc_settings(app)->search_page_max_bytes;
	int rc = db_run_tx(svc_db(app), "search_runs", DB_REPEATABLE_READ, runs_tx, &s, &s.err);
	if (rc < 0) {
		reply_search_failure(req, rc, &s);
		goto out;
	}
	json_t *body = json_object();
	if (json_array_size(s.items) > 0)
		json_object_set(body, "runs", s.items);
	if (s.more) {
		char tok[64];
		mlflow_page_token_encode(offset + (int64_t)json_array_size(s.items), tok);
		json_object_set_new(body, "next_page_token", json_string(tok));
	}
	http_reply_json(req, 200, body);
out:
	json_decref(s.items);
	et_sql_free(&q);
	mlflow_order_free(&order);
	mlflow_filter_free(&filter);
	free(orders);
	free(id_buf);
	free(ids);
}

/* --- experiments/search ------------------------------------------------------------- */

/* Appends the experiments of res (one JSON text per row) the page takes; *full when
 * it took no more. Returns 0 or DB_HARD_ERROR. */
static int take_experiments(struct search_tx *s, const PGresult *res, bool *full)
{
	for (int i = 0; i < PQntuples(res); i++) {
		if (!mlflow_page_take(&s->page, (size_t)PQgetlength(res, i, 0))) {
			*full = s->more = true; /* the limit+1'th row exists, or the budget cut */
			return 0;
		}
		json_error_t jerr;
		json_t *e = json_loads(PQgetvalue(res, i, 0), 0, &jerr);
		if (!e) {
			core_fail(&s->err, CORE_EINVAL, "decoding experiment JSON: %s", jerr.text);
			return DB_HARD_ERROR;
		}
		json_array_append_new(s->items, e);
	}
	return 0;
}

static int experiments_tx(struct db_conn *c, void *cls)
{
	struct search_tx *s = cls;
	json_array_clear(s->items);
	s->more = false;
	s->client_error = false;
	mlflow_page_init(&s->page, s->limit, s->max_bytes);
	int rc = db_cursor_open(c, s->q->text.data, (int)s->q->n_params, (const char *const *)s->q->params, &s->err);
	bool full = false;
	while (rc >= 0 && !full) {
		PGresult *res = NULL;
		int want = mlflow_page_chunk(&s->page);
		rc = db_cursor_fetch(c, want, &res, &s->err);
		if (rc >= 0)
			rc = take_experiments(s, res, &full);
		if (rc >= 0 && PQntuples(res) < want)
			full = true; /* the rows ran out */
		PQclear(res);
	}
	if (rc == DB_HARD_ERROR && strncmp(db_conn_sqlstate(c), "22", 2) == 0)
		s->client_error = true;
	return rc < 0 ? rc : 0;
}

void et_h_search_experiments(struct http_request *req, void *app)
{
	json_t *order_by = NULL, *view_v = NULL;
	const char *filter_text = NULL, *page_token = NULL;
	int64_t max_results = SEARCH_DEFAULT_RESULTS;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_INT64("max_results", &max_results, NULL),
		HTTP_JS_OPT_STRING("page_token", &page_token, NULL),
		HTTP_JS_OPT_STRING("filter", &filter_text, NULL),
		HTTP_JS_OPT_ARRAY("order_by", &order_by, NULL),
		HTTP_JS_OPT_ANY("view_type", &view_v, NULL),
		HTTP_JS_END,
	};
	struct mlflow_filter filter = {0};
	struct mlflow_order order = {0};
	struct et_sql q;
	struct search_tx s = {.q = &q};
	const char **orders = NULL;
	struct core_error err;
	int64_t offset = 0;
	enum mlflow_view view = MLFLOW_VIEW_ACTIVE_ONLY;
	et_sql_init(&q);

	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		goto out;
	if (mlflow_check_max_results(max_results, SEARCH_MAX_RESULTS, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		goto out;
	}
	if (!view_or_reply(req, view_v, "view_type", &view))
		goto out;
	size_t n_orders = order_by ? json_array_size(order_by) : 0;
	orders = core_xcalloc(n_orders + 1, sizeof *orders);
	if (order_by && !strings_or_reply(req, order_by, "order_by", false, orders, NULL))
		goto out;
	if (mlflow_filter_parse(MLFLOW_TARGET_EXPERIMENTS, filter_text, &filter, &err) != CORE_OK ||
	    mlflow_order_parse(MLFLOW_TARGET_EXPERIMENTS, orders, n_orders, &order, &err) != CORE_OK ||
	    mlflow_page_token_decode(page_token, &offset, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
		goto out;
	}
	struct et_experiments_query eq = {
		.filter = &filter, .order = &order, .view = view, .offset = offset, .limit = max_results + 1};
	if (et_sql_experiments(&eq, &q, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
		goto out;
	}

	s.items = json_array();
	s.limit = max_results;
	s.max_bytes = (size_t)svc_settings(app)->search_page_max_bytes;
	int rc = db_run_tx(svc_db(app), "search_experiments", DB_READ_COMMITTED, experiments_tx, &s, &s.err);
	if (rc < 0) {
		reply_search_failure(req, rc, &s);
		goto out;
	}
	json_t *body = json_object();
	if (s.more) {
		char tok[64];
		mlflow_page_token_encode(offset + (int64_t)json_array_size(s.items), tok);
		json_object_set_new(body, "next_page_token", json_string(tok));
	}
	if (json_array_size(s.items) > 0)
		json_object_set(body, "experiments", s.items);
	http_reply_json(req, 200, body);
out:
	json_decref(s.items);
	et_sql_free(&q);
	mlflow_order_free(&order);
	mlflow_filter_free(&filter);
	free(orders);
}
