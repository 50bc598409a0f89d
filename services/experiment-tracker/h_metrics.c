/* Handlers for metric writes and reads (face: et.h): runs/log-metric, runs/log-batch,
 * metrics/get-history. A batch is parsed and validated whole (et_batch_validate)
 * before anything is written, then handed to the batch writer (batch.c), which writes
 * it in one transaction.
 *
 * get-history writes JSON text into a bounded buffer page by page from the database
 * (10000 points per query, keyset on seq), never a jansson tree of all points, in one
 * read transaction, and hands the buffer to http_reply_stream without copying it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "et.h"

/* --- runs/log-metric ---------------------------------------------------------------- */

void et_h_metrics_log(struct http_request *req, void *app)
{
	const char *run_id = NULL, *run_uuid = NULL;
	struct et_metric m = {0};
	struct core_error err;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_REQ_STRING("key", &m.key),
		HTTP_JS_REQ_DOUBLE("value", &m.value),
		HTTP_JS_REQ_INT64("timestamp", &m.timestamp),
		HTTP_JS_OPT_INT64("step", &m.step, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	struct et_batch b = {.run_id = et_run_id_or_reply(req, run_id, run_uuid), .metrics = &m, .n_metrics = 1};
	if (!b.run_id)
		return;
	if (et_batch_validate(&b, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	et_batch_write_and_reply(req, app, &b);
}

/* --- runs/log-batch ----------------------------------------------------------------- */

/* Parses one array of {key, value} (params, tags) into kv (n entries). */
static enum core_status parse_kvs(json_t *arr, const char *what, struct et_kv *kv, struct core_error *err)
{
	size_t i;
	json_t *item;
	json_array_foreach(arr, i, item)
	{
		char where[48];
		snprintf(where, sizeof where, "%s[%zu]", what, i);
		kv[i].value = "";
		const struct http_jspec spec[] = {
			HTTP_JS_REQ_STRING("key", &kv[i].key),
			HTTP_JS_OPT_STRING("value", &kv[i].value, NULL),
			HTTP_JS_END,
		};
		if (http_jspec_parse_at(item, spec, where, err) != CORE_OK)
			return CORE_EINVAL;
		kv[i].value_len = strlen(kv[i].value);
	}
	return CORE_OK;
}

void et_h_metrics_log_batch(struct http_request *req, void *app)
{
	const char *run_id = NULL, *run_uuid = NULL;
	json_t *metrics = NULL, *params = NULL, *tags = NULL, *item;
	struct et_batch b = {0};
	struct core_error err;
	size_t i;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),  HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_OPT_ARRAY("metrics", &metrics, NULL), HTTP_JS_OPT_ARRAY("params", &params, NULL),
		HTTP_JS_OPT_ARRAY("tags", &tags, NULL),       HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (!(b.run_id = et_run_id_or_reply(req, run_id, run_uuid)))
		return;
	b.n_metrics = metrics ? json_array_size(metrics) : 0;
	b.n_params = params ? json_array_size(params) : 0;
	b.n_tags = tags ? json_array_size(tags) : 0;
	/* limits first: nothing is allocated for an oversized batch */
	struct et_batch counts = {.n_metrics = b.n_metrics, .n_params = b.n_params, .n_tags = b.n_tags};
	if (et_batch_check_limits(&counts, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	b.metrics = core_xcalloc(b.n_metrics + 1, sizeof *b.metrics);
	b.params = core_xcalloc(b.n_params + 1, sizeof *b.params);
	b.tags = core_xcalloc(b.n_tags + 1, sizeof *b.tags);
	enum core_status rc = CORE_OK;
	json_array_foreach(metrics, i, item)
	{
		char where[48];
		snprintf(where, sizeof where, "metrics[%zu]", i);
		struct et_metric *m = &b.metrics[i];
		const struct http_jspec mspec[] = {
			HTTP_JS_REQ_STRING("key", &m->key),
			HTTP_JS_REQ_DOUBLE("value", &m->value),
			HTTP_JS_REQ_INT64("timestamp", &m->timestamp),
			HTTP_JS_OPT_INT64("step", &m->step, NULL),
			HTTP_JS_END,
		};
		if ((rc = http_jspec_parse_at(item, mspec, where, &err)) != CORE_OK)
			break;
	}
	if (rc == CORE_OK && params)
		rc = parse_kvs(params, "params", b.params, &err);
	if (rc == CORE_OK && tags)
		rc = parse_kvs(tags, "tags", b.tags, &err);
	if (rc == CORE_OK)
		rc = et_batch_validate(&b, &err);
	if (rc != CORE_OK)
		http_reply_invalid(req, &err);
	else
		et_batch_write_and_reply(req, app, &b);
	free(b.metrics);
	free(b.params);
	free(b.tags);
}

/* --- metrics/get-history ------------------------------------------------------------- */

#define HISTORY_CHUNK     10000
#define HISTORY_MAX_BYTES ((size_t)512 << 20)

struct history_body {
	char *data;
	size_t len;
};

static ssize_t history_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct history_body *h = cls;
	if (pos >= h->len)
		return 0;
	size_t n = h->len - (size_t)pos < max ? h->len - (size_t)pos : max;
	memcpy(buf, h->data + pos, n);
	return (ssize_t)n;
}

static void history_free(void *cls)
{
	struct history_body *h = cls;
	free(h->data);
	free(h);
}

/* Appends one point as JSON; CORE_OK or the buffer's failure. */
static enum core_status append_point(struct core_buf *out, const PGresult *res, int row, bool first)
{
	enum core_status rc = core_buf_append_str(out, first ? "{\"key\":\"" : ",{\"key\":\"");
	if (rc == CORE_OK)
		rc = core_buf_append_json_escaped(out, db_get_text(res, row, 0));
	if (rc == CORE_OK)
		rc = core_buf_append_str(out, "\",\"value\":");
	if (rc == CORE_OK)
		rc = et_json_pg_double(out, db_get_text(res, row, 1));
	if (rc == CORE_OK)
		rc = core_buf_printf(out, ",\"timestamp\":%s,\"step\":%s}", db_get_text(res, row, 2),
				     db_get_text(res, row, 3));
	return rc;
}

/* One history page, read in one transaction; the answer is left in out. */
struct history_tx {
	const char *run_id, *key;
	int64_t first_after, max_results;
	bool has_max;
	struct core_buf *out;
	struct svc_fail f;
	struct core_error err;
};

static int history_tx_fn(struct db_conn *c, void *cls)
{
	struct history_tx *t = cls;
	PGresult *res = NULL;
	int64_t after = t->first_after, left = t->has_max ? t->max_results : INT64_MAX, n = 0;
	bool more = false;
	core_buf_reset(t->out);
	int rc = et_q_runs_exists(c, t->run_id, &t->err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return et_fail_no_run(&t->f, t->run_id);
	enum core_status brc = core_buf_append_str(t->out, "{\"metrics\":[");
	while (brc == CORE_OK) {
		int64_t want = left <= HISTORY_CHUNK ? left + 1 : HISTORY_CHUNK;
		if ((rc = et_q_metrics_history(c, t->run_id, t->key, after, want, &res, &t->err)) < 0)
			return rc;
		int rows = rc;
		for (int i = 0; i < rows && brc == CORE_OK; i++) {
			if (left == 0) {
				more = true;
				break;
			}
			brc = append_point(t->out, res, i, n == 0);
			db_get_int64(res, i, 4, &after, NULL);
			n++;
			left--;
		}
		PQclear(res);
		res = NULL;
		if (more || rows < want || left == 0)
			break;
	}
	if (brc == CORE_OK) {
		if (n == 0)
			core_buf_reset(t->out), brc = core_buf_append_str(t->out, "{");
		else
			brc = core_buf_append_str(t->out, "]");
	}
	if (brc == CORE_OK && more)
		brc = core_buf_printf(t->out, "%s\"next_page_token\":\"%" PRId64 "\"", n ? "," : "", after);
	if (brc == CORE_OK)
		brc = core_buf_append_str(t->out, "}");
	if (brc != CORE_OK)
		return svc_fail(&t->f, HTTP_EC_INVALID_PARAMETER_VALUE,
				"metric history too large for one answer: page it with max_results");
	return 0;
}

void et_h_metrics_history(struct http_request *req, void *app)
{
	const char *run_id = NULL, *run_uuid = NULL, *token = NULL;
	struct core_buf out;
	struct history_tx t = {.out = &out, .max_results = -1};
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_REQ_STRING("metric_key", &t.key),
		HTTP_JS_OPT_INT64("max_results", &t.max_results, &t.has_max),
		HTTP_JS_OPT_STRING("page_token", &token, NULL),
		HTTP_JS_END,
	};
	core_buf_init(&out, HISTORY_MAX_BYTES);
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		goto out;
	if (!(t.run_id = et_run_id_or_reply(req, run_id, run_uuid)))
		goto out;
	if (t.has_max && t.max_results <= 0) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Invalid value %" PRId64 " for parameter "
				 "'max_results' supplied. It must be a positive integer.",
				 t.max_results);
		goto out;
	}
	if (token) {
		char *end;
		long long v = strtoll(token, &end, 10);
		if (*token < '0' || *token > '9' || *end != '\0' || v < 0) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Invalid page token '%.100s'", token);
			goto out;
		}
		t.first_after = v;
	}
	if (svc_run_tx_or_reply(req, app, "get_metric_history", DB_REPEATABLE_READ, history_tx_fn, &t, &t.f) < 0)
		goto out;
	struct history_body *h = core_xmalloc(sizeof *h);
	h->data = core_buf_steal(&out, &h->len);
	http_reply_stream(req, 200, "application/json", (int64_t)h->len, history_read, h, history_free);
out:
	core_buf_free(&out);
}
