/* What the two registry searches (registered-models/search, model-versions/search)
 * share: their arguments (filter, max_results, order_by, page_token), parsed and
 * validated once, and the page they answer ({"<items>": [...], "next_page_token"}).
 * The handlers in h_models.c and h_versions.c keep only what differs: the query and
 * how a row becomes JSON. Face: mr.h. */
#include <stdlib.h>
#include <string.h>
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
	out->limit = default_limit;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("filter", &filter, NULL),
		HTTP_JS_OPT_INT64("max_results", &out->limit, NULL),
		HTTP_JS_OPT_ARRAY("order_by", &order_by, NULL),
		HTTP_JS_OPT_STRING("page_token", &page_token, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return HTTP_PARSE_REPLIED;
	if (out->limit > max_limit || out->limit < 1) {
		http_reply_error(
			req, HTTP_EC_INVALID_PARAMETER_VALUE,
			"Invalid value for request parameter max_results. It must be at most %lld, but got value %lld",
			(long long)max_limit, (long long)out->limit);
		return HTTP_PARSE_REPLIED;
	}
	size_t n_order = json_array_size(order_by);
	orders = core_xcalloc(n_order + 1, sizeof *orders);
	for (size_t i = 0; i < n_order; i++) {
		orders[i] = json_string_value(json_array_get(order_by, i));
		if (!orders[i]) {
			core_fail(&err, CORE_EINVAL, "order_by entries must be strings");
			goto invalid;
		}
	}
	if (mr_filter_parse(filter, kind, &out->filter, &err) != CORE_OK ||
	    mr_order_parse(orders, n_order, kind, out->order_sql, sizeof out->order_sql, out->shape, sizeof out->shape,
			   &err) != CORE_OK ||
	    mr_page_token_parse(page_token, &out->offset, &err) != CORE_OK)
		goto invalid;
	result = HTTP_PARSE_OK;
	goto out;
invalid:
	http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
	mr_search_args_free(out);
out:
	free(orders);
	return result;
}

void mr_search_args_free(struct mr_search_args *a)
{
	mr_filter_free(&a->filter);
}

void mr_reply_search_page(struct http_request *req, const char *items_key, json_t *items, bool more,
			  const struct mr_search_args *a)
{
	json_t *body = json_object();
	if (json_array_size(items) > 0)
		json_object_set(body, items_key, items);
	if (more) {
		char *token = mr_page_token(a->offset + a->limit);
		json_object_set_new(body, "next_page_token", json_string(token));
		free(token);
	}
	http_reply_json(req, 200, body);
}
