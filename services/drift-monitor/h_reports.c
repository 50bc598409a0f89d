/* The reports resource, read-only here: a closed window's report is written by the
 * window slice. What its operations promise:
 * - list is newest first in keyset pages (svc_page_parse), of one monitor (?monitor=, an
 *   unknown monitor is a 404 rather than an empty page, so a mistyped id is not read as
 *   "no drift yet") and from a time on (?since=, Unix ms, on created_at); it answers
 *   the summary of each report, never the documents;
 * - get answers the summary and the whole document (as "result"); an unknown id is a
 *   404. The same report is a page for people (html.c) at {id}.html, or when Accept
 *   prefers text/html to application/json (a browser's does; no Accept, * / * and
 *   application/json get JSON). The router's {id} fills a whole segment, so ".html" is
 *   taken off here; errors stay JSON either way. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "dm.h"

/* --- list ------------------------------------------------------------------------- */

struct list_ctx {
	const char *monitor;
	int64_t since; /* -1: none */
	struct svc_page page;
	json_t *items;
	char *next; /* the token after this page when more remain, owned */
	struct svc_fail fail;
	struct core_error err;
};

static json_t *report_summary(const PGresult *res, int row)
{
	return dm_report_json(res, row, false);
}

static int list_tx(struct db_conn *c, void *cls)
{
	struct list_ctx *x = cls;
	json_array_clear(x->items);
	free(x->next);
	x->next = NULL;
	PGresult *res = NULL;
	int rc = 1;
	if (x->monitor) {
		rc = dm_q_monitor_get(c, x->monitor, &res, &x->err);
		PQclear(res);
		res = NULL;
		if (rc == 0)
			return dm_fail_no_monitor(&x->fail, x->monitor);
	}
	if (rc > 0)
		rc = dm_q_report_list(c, x->monitor, x->since, &x->page, x->page.limit + 1, &res, &x->err);
	rc = dm_page_collect(rc, res, &x->page, report_summary, 9, x->items, &x->next, &x->err);
	PQclear(res);
	return rc < 0 ? rc : 0;
}

void dm_h_report_list(struct http_request *req, void *app)
{
	struct list_ctx x = {.monitor = http_request_query(req, "monitor"), .since = -1};
	struct core_error err = {{0}};
	const char *since = http_request_query(req, "since");
	if (svc_page_parse(http_request_query(req, "max_results"), http_request_query(req, "page_token"), &x.page,
			   &err) != CORE_OK ||
	    (since && *since && svc_ms_param("since", since, &x.since, &err) != CORE_OK)) {
		http_reply_invalid(req, &err);
		return;
	}
	if (x.monitor && !*x.monitor)
		x.monitor = NULL;
	x.items = json_array();
	if (svc_run_tx_or_reply(req, app, "dm_h_report_list", DB_READ_COMMITTED, list_tx, &x, &x.fail) >= 0)
		dm_reply_page(req, "reports", x.items, x.next);
	json_decref(x.items);
	free(x.next);
}

/* --- get -------------------------------------------------------------------------- */

struct get_ctx {
	const char *id;
	json_t *out;
	struct svc_fail fail;
	struct core_error err;
};

static int get_tx(struct db_conn *c, void *cls)
{
	struct get_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	PGresult *res = NULL;
	int rc = dm_q_report_get(c, x->id, &res, &x->err);
	if (rc > 0)
		x->out = dm_report_json(res, 0, true);
	PQclear(res);
	if (rc == 0)
		return dm_fail_no_report(&x->fail, x->id);
	return rc;
}

/* Whether the request asks for the page: *id (malloc'd) gets the report id, without
 * the ".html" that asks for it in the path. */
static bool wants_html(struct http_request *req, char **id)
{
	const char *param = http_request_param(req, "id"), *suffix = ".html";
	size_t n = strlen(param), k = strlen(suffix);
	if (n > k && strcmp(param + n - k, suffix) == 0) {
		*id = core_xstrndup(param, n - k);
		return true;
	}
	*id = core_xstrdup(param);
	const char *accept = http_request_header(req, "Accept");
	return http_accept_quality(accept, "text/html") > http_accept_quality(accept, "application/json");
}

/* Replies the report (stolen) as its page. The policy lets the page use its inline
 * style and nothing else (no script runs, nothing is fetched), whatever a document
 * holds. */
static void reply_html(struct http_request *req, json_t *report)
{
	struct core_buf page;
	core_buf_init(&page, DM_HTML_MAX);
	enum core_status rc = dm_report_html(report, &page);
	json_decref(report);
	if (rc == CORE_OK) {
		http_reply_header(req, "Content-Security-Policy",
				  "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
		http_reply_header(req, "X-Content-Type-Options", "nosniff");
		http_reply_raw(req, 200, "text/html; charset=utf-8", page.data, page.len);
	} else {
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "The report's page cannot be made: %s",
				 core_strerror(rc));
	}
	core_buf_free(&page);
}

void dm_h_report_get(struct http_request *req, void *app)
{
	char *id = NULL;
	bool html = wants_html(req, &id);
	struct get_ctx x = {.id = id};
	http_reply_header(req, "Vary", "Accept");
	int rc = svc_run_tx_or_reply(req, app, "dm_h_report_get", DB_READ_COMMITTED, get_tx, &x, &x.fail);
	if (rc >= 0 && html && x.out)
		reply_html(req, x.out);
	else if (rc >= 0)
		dm_reply_entity(req, 200, "report", rc, x.out, &x.fail, &x.err);
	else
		json_decref(x.out);
	free(id);
}
