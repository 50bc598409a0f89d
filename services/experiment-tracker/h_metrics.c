/* Handlers for metric writes and reads (face: tracking.h): runs/log-metric,
 * runs/log-batch, metrics/get-history; and the batch writer that log-parameter and
 * set-tag share (a single write is a batch of one, so every write path is the same).
 *
 * A batch is parsed and validated whole (et_batch_validate) before anything is
 * written, then written in one transaction: lock the run row (404/400 if missing or
 * deleted), params (write-once check, insert), metrics (one multi-row statement), tags
 * (one statement). Each part is one statement whatever its size, so a 1000-metric
 * batch is one round trip for its metrics. Any failure rolls the whole batch back.
 *
 * get-history writes JSON text into a bounded buffer page by page from the database
 * (10000 points per query, keyset on seq), never a jansson tree of all points, and
 * hands the buffer to http_reply_stream without copying it. */
#include <inttypes.h>
#include <math.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tracking.h"

/* --- the batch writer -------------------------------------------------------------- */

struct batch_tx {
	struct et_batch *b;
	const char *p_keys, *p_values, *m_keys, *m_values, *m_ts, *m_steps, *t_keys, *t_values;
	enum et_outcome outcome;
	char detail[1024];
};

static int batch_tx_fn(struct db_conn *c, void *cls)
{
	struct batch_tx *t = cls;
	char stage[16];
	PGresult *res = NULL;
	t->outcome = ET_OK;
	int rc = et_q_runs_lock(c, t->b->run_id, stage, NULL);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		t->outcome = ET_RUN_NOT_FOUND;
		return DB_ROLLBACK;
	}
	if (strcmp(stage, "active") != 0) {
		t->outcome = ET_RUN_NOT_ACTIVE;
		return DB_ROLLBACK;
	}
	if (t->b->n_params) {
		rc = et_q_params_conflict(c, t->b->run_id, t->p_keys, t->p_values, &res);
		if (rc > 0) {
			snprintf(t->detail, sizeof t->detail,
				 "Changing param values is not allowed. Param with key='%s' "
				 "was already logged with value='%.300s' for run ID='%s'. Attempted logging new value "
				 "'%.300s'.",
				 db_get_text(res, 0, 0), db_get_text(res, 0, 1), t->b->run_id, db_get_text(res, 0, 2));
			t->outcome = ET_PARAM_CHANGED;
			rc = DB_ROLLBACK;
		}
		PQclear(res);
		if (rc < 0)
			return rc;
		if ((rc = et_q_params_insert(c, t->b->run_id, t->p_keys, t->p_values)) < 0)
			return rc;
	}
	if (t->b->n_metrics &&
	    (rc = et_q_metrics_insert(c, t->b->run_id, t->m_keys, t->m_values, t->m_ts, t->m_steps)) < 0)
		return rc;
	if (t->b->n_tags && (rc = et_q_tags_upsert(c, t->b->run_id, t->t_keys, t->t_values)) < 0)
		return rc;
	return 0;
}

void et_reply_outcome(struct http_request *req, enum et_outcome o, const char *id, const char *detail)
{
	switch (o) {
	case ET_RUN_NOT_FOUND:
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found", id);
		return;
	case ET_RUN_NOT_ACTIVE:
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "The run %s must be in the 'active' state. "
				 "Current state is deleted.",
				 id);
		return;
	case ET_EXP_NOT_FOUND:
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "No Experiment with id=%s exists", id);
		return;
	case ET_EXP_NOT_ACTIVE:
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "The experiment %s must be in the 'active' "
				 "state. Current state is deleted.",
				 id);
		return;
	case ET_NAME_TAKEN:
		http_reply_error(req, HTTP_EC_RESOURCE_ALREADY_EXISTS, "Experiment(name=%s) already exists.", id);
		return;
	case ET_PARAM_CHANGED:
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", detail);
		return;
	case ET_TAG_NOT_FOUND:
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "No tag with name: %s in run with id %s", detail,
				 id);
		return;
	case ET_OK:
		break;
	}
	http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "unexpected outcome %d", (int)o);
}

void et_batch_write_and_reply(struct http_request *req, void *app, struct et_batch *b)
{
	struct db_arr pk, pv, mk, mv, mt, ms, tk, tv;
	struct batch_tx t = {.b = b};
	struct core_error err = {{0}};
	db_arr_init(&pk), db_arr_init(&pv), db_arr_init(&mk), db_arr_init(&mv);
	db_arr_init(&mt), db_arr_init(&ms), db_arr_init(&tk), db_arr_init(&tv);
	for (size_t i = 0; i < b->n_params; i++) {
		db_arr_add_str(&pk, b->params[i].key, strlen(b->params[i].key));
		db_arr_add_str(&pv, b->params[i].value, b->params[i].value_len);
	}
	for (size_t i = 0; i < b->n_metrics; i++) {
		double v = b->metrics[i].value; /* MLflow stores +-Infinity as +-DBL_MAX */
		if (isinf(v))
			v = v > 0 ? DBL_MAX : -DBL_MAX;
		db_arr_add_str(&mk, b->metrics[i].key, strlen(b->metrics[i].key));
		db_arr_add_f64(&mv, v);
		db_arr_add_i64(&mt, b->metrics[i].timestamp);
		db_arr_add_i64(&ms, b->metrics[i].step);
	}
	for (size_t i = 0; i < b->n_tags; i++) {
		db_arr_add_str(&tk, b->tags[i].key, strlen(b->tags[i].key));
		db_arr_add_str(&tv, b->tags[i].value, b->tags[i].value_len);
	}
	t.p_keys = db_arr_end(&pk), t.p_values = db_arr_end(&pv);
	t.m_keys = db_arr_end(&mk), t.m_values = db_arr_end(&mv), t.m_ts = db_arr_end(&mt), t.m_steps = db_arr_end(&ms);
	t.t_keys = db_arr_end(&tk), t.t_values = db_arr_end(&tv);
	if (!t.p_keys || !t.p_values || !t.m_keys || !t.m_values || !t.m_ts || !t.m_steps || !t.t_keys || !t.t_values) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "batch too large to encode");
		goto out;
	}
	int rc = db_run_tx(svc_db(app), "log_batch", DB_READ_COMMITTED, batch_tx_fn, &t, &err);
	if (rc >= 0)
		http_reply_json(req, 200, json_object());
	else if (t.outcome != ET_OK)
		et_reply_outcome(req, t.outcome, b->run_id, t.detail);
	else
		svc_reply_db_error(req, rc, &err);
out:
	db_arr_free(&pk), db_arr_free(&pv), db_arr_free(&mk), db_arr_free(&mv);
	db_arr_free(&mt), db_arr_free(&ms), db_arr_free(&tk), db_arr_free(&tv);
}

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
	struct et_batch b = {.run_id = et_pick_run_id(run_id, run_uuid), .metrics = &m, .n_metrics = 1};
	if (!b.run_id) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Missing value for required parameter 'run_id'. "
				 "See the API docs for more information about request parameters.");
		return;
	}
	if (et_batch_validate(&b, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
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
	b.run_id = et_pick_run_id(run_id, run_uuid);
	if (!b.run_id) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Missing value for required parameter 'run_id'. "
				 "See the API docs for more information about request parameters.");
		return;
	}
	b.n_metrics = metrics ? json_array_size(metrics) : 0;
	b.n_params = params ? json_array_size(params) : 0;
	b.n_tags = tags ? json_array_size(tags) : 0;
	/* limits first: nothing is allocated for an oversized batch */
	struct et_batch counts = {.n_metrics = b.n_metrics, .n_params = b.n_params, .n_tags = b.n_tags};
	if (et_batch_check_limits(&counts, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
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
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
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

void et_h_metrics_history(struct http_request *req, void *app)
{
	const char *run_id = NULL, *run_uuid = NULL, *key = NULL, *token = NULL;
	int64_t max_results = -1, after = 0;
	bool has_max = false;
	struct core_error err = {{0}};
	struct core_buf out;
	struct db_conn *c = NULL;
	PGresult *res = NULL;
	int rc;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_REQ_STRING("metric_key", &key),
		HTTP_JS_OPT_INT64("max_results", &max_results, &has_max),
		HTTP_JS_OPT_STRING("page_token", &token, NULL),
		HTTP_JS_END,
	};
	core_buf_init(&out, HISTORY_MAX_BYTES);
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		goto out;
	const char *rid = et_pick_run_id(run_id, run_uuid);
	if (!rid) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Missing value for required parameter 'run_id'. "
				 "See the API docs for more information about request parameters.");
		goto out;
	}
	if (has_max && max_results <= 0) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Invalid value %" PRId64 " for parameter "
				 "'max_results' supplied. It must be a positive integer.",
				 max_results);
		goto out;
	}
	if (token) {
		char *end;
		long long v = strtoll(token, &end, 10);
		if (*token < '0' || *token > '9' || *end != '\0' || v < 0) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Invalid page token '%.100s'", token);
			goto out;
		}
		after = v;
	}
	c = db_acquire(svc_db(app), &err);
	if (!c) {
		svc_reply_db_error(req, DB_UNAVAILABLE, &err);
		goto out;
	}
	if ((rc = et_q_runs_exists(c, rid)) <= 0) {
		if (rc == 0)
			et_reply_outcome(req, ET_RUN_NOT_FOUND, rid, NULL);
		else
			svc_reply_db_error(req, rc, &err);
		goto out;
	}
	int64_t left = has_max ? max_results : INT64_MAX, n = 0;
	bool more = false;
	enum core_status brc = core_buf_append_str(&out, "{\"metrics\":[");
	while (brc == CORE_OK) {
		int64_t want = left <= HISTORY_CHUNK ? left + 1 : HISTORY_CHUNK;
		rc = et_q_metrics_history(c, rid, key, after, want, &res);
		if (rc < 0) {
			svc_reply_db_error(req, rc, &err);
			goto out;
		}
		int rows = rc;
		for (int i = 0; i < rows && brc == CORE_OK; i++) {
			if (left == 0) {
				more = true;
				break;
			}
			brc = append_point(&out, res, i, n == 0);
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
			core_buf_reset(&out), brc = core_buf_append_str(&out, "{");
		else
			brc = core_buf_append_str(&out, "]");
	}
	if (brc == CORE_OK && more)
		brc = core_buf_printf(&out, "%s\"next_page_token\":\"%" PRId64 "\"", n ? "," : "", after);
	if (brc == CORE_OK)
		brc = core_buf_append_str(&out, "}");
	if (brc != CORE_OK) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "metric history too large for one answer: page it "
				 "with max_results");
		goto out;
	}
	struct history_body *h = core_xmalloc(sizeof *h);
	h->data = core_buf_steal(&out, &h->len);
	http_reply_stream(req, 200, "application/json", (int64_t)h->len, history_read, h, history_free);
out:
	PQclear(res);
	db_release(c);
	core_buf_free(&out);
}
