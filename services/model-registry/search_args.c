/* What the two registry searches (registered-models/search, model-versions/search)
 * share: their arguments (filter, max_results, order_by, page_token), parsed and
 * validated once (filter and page token by libs/mlflow, the query by filter_sql.c),
 * the rows of a page, streamed through a cursor until the page is full by count or by
 * its byte budget (SEARCH_PAGE_MAX_BYTES), and the page they answer ({"<items>": [...],
 * "next_page_token"}).
 * The handlers in h_models.c and h_versions.c keep only what differs: the query and
 * how a row becomes JSON. Face: mr.h. */
#include <stdlib.h>
#include <string.h>
#include "mlflow/token.h"
#include "mr.h"

enum http_parse_result mr_search_args_parse_or_reply(struct http_request *req, enum mr_search_kind kind,
						     int64_t default_limit, int64_t max_limit,
						     struct mr_search_args *out)
{
	struct core_error err = {{0}};
	const char *filter = NULL, *page_token = NULL;
	json_t *order_by = NULL;
	const char **orders = NULL;
	enum http_parse_result result = HTTP_PARSE_REPLIED;
	memset(out, 0, sizeof *out);
	mr_sql_init(&out->sql);
	out->limit = default_limit;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("filter", &filter, NULL),
		HTTP_JS_OPT_INT64("max_results", &out->limit, NULL),
		HTTP_JS_OPT_ARRAY("order_by", &order_by, NULL),
		HTTP_JS_OPT_STRING("page_token", &page_token, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		goto out;
	if (mlflow_check_max_results(out->limit, max_limit, &err) != CORE_OK)
		goto invalid;
	size_t n_order = json_array_size(order_by);
	orders = core_xcalloc(n_order + 1, sizeof *orders);
	for (size_t i = 0; i < n_order; i++) {
		orders[i] = json_string_value(json_array_get(order_by, i));
		if (!orders[i]) {
			core_fail(&err, CORE_EINVAL, "order_by entries must be strings");
			goto invalid;
		}
	}
	char order_sql[512];
	if (mlflow_filter_parse(kind == MR_SEARCH_MODELS ? MLFLOW_TARGET_MODELS : MLFLOW_TARGET_VERSIONS, filter,
				&out->filter, &err) != CORE_OK ||
	    mr_order_parse(orders, n_order, kind, order_sql, sizeof order_sql, &err) != CORE_OK ||
	    mlflow_page_token_decode(page_token, &out->offset, &err) != CORE_OK ||
	    mr_sql_search(kind, &out->filter, order_sql, out->limit + 1, out->offset, &out->sql, &err) != CORE_OK)
		goto invalid;
	result = HTTP_PARSE_OK;
	goto out;
invalid:
	http_reply_invalid(req, &err);
out:
	if (result != HTTP_PARSE_OK)
		mr_search_args_free(out);
	free(orders);
	return result;
}

void mr_search_args_free(struct mr_search_args *a)
{
	mlflow_filter_free(&a->filter);
	mr_sql_free(&a->sql);
}

/* A row's weight in the reply: its values, plus a little for keys and quoting. */
static size_t row_bytes(const PGresult *res, int row)
{
	size_t n = 0;
	for (int col = 0; col < PQnfields(res); col++)
		n += (size_t)PQgetlength(res, row, col) + 16;
	return n;
}

int mr_search_stream(struct db_conn *c, const struct mr_search_args *a, size_t max_bytes, mr_search_row_fn take,
		     void *cls, bool *more, struct core_error *err)
{
	struct mlflow_page page;
	mlflow_page_init(&page, a->limit, max_bytes);
	*more = false;
	int rc = db_cursor_open(c, a->sql.text.data, (int)a->sql.n_params, (const char *const *)a->sql.params, err);
	while (rc >= 0) {
		int want = mlflow_page_chunk(&page);
		PGresult *res = NULL;
		rc = db_cursor_fetch(c, want, &res, err);
		if (rc < 0) {
			PQclear(res);
			break;
		}
		int got = PQntuples(res);
		bool full = false;
		for (int r = 0; r < got && !full; r++) {
			if (mlflow_page_take(&page, row_bytes(res, r)))
				take(res, r, cls);
			else
				full = *more = true; /* by count: the limit+1'th row exists; by budget: cut */
		}
		PQclear(res);
		if (full || got < want)
			break;
	}
	if (rc >= 0)
		rc = db_cursor_close(c, err);
	return rc < 0 ? rc : 0;
}

void mr_reply_search_page(struct http_request *req, const char *items_key, json_t *items, bool more,
			  const struct mr_search_args *a)
{
	json_t *body = json_object();
	if (json_array_size(items) > 0)
		json_object_set(body, items_key, items);
	if (more) {
		/* where this page stopped: its row count, or earlier when the budget cut it */
		char token[64];
		mlflow_page_token_encode(a->offset + (int64_t)json_array_size(items), token);
		json_object_set_new(body, "next_page_token", json_string(token));
	}
	http_reply_json(req, 200, body);
}
