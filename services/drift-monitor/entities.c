/* The drift monitor's entities from rows: the Monitor (DM_MONITOR_COLS) and the Report
 * (DM_REPORT_COLS, plus its document for a get) the API answers with. The one place
 * either becomes JSON, so create, get, list and patch answer the same shape. A row that
 * cannot be read (a NULL where the schema forbids one, a document that is not JSON) is
 * NULL here and a 500 for the handler: the schema's CHECKs make it a bug, not input. */
#include <math.h>
#include <stdlib.h>
#include "dm.h"

/* An integer column into *out; false when NULL or not an integer. */
static bool col_i64(const PGresult *res, int row, int col, int64_t *out)
{
	return db_get_int64(res, row, col, out, NULL) == CORE_OK;
}

/* A JSON object column (jsonb as text), owned; NULL when it is not one. */
static json_t *col_object(const PGresult *res, int row, int col)
{
	const char *text = db_get_text(res, row, col);
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;
	if (!json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

static bool col_double(const PGresult *res, int row, int col, double *out)
{
	const char *text = db_get_text(res, row, col);
	char *end = NULL;
	*out = text ? strtod(text, &end) : NAN;
	return text && *end == '\0' && isfinite(*out);
}

json_t *dm_monitor_json(const PGresult *res, int row)
{
	const char *id = db_get_text(res, row, 0), *model = db_get_text(res, row, 1);
	const char *policy = db_get_text(res, row, 6);
	int64_t size = 0, seconds = 0, cooldown = 0, created = 0, updated = 0;
	double share = 0;
	bool by_rows = col_i64(res, row, 2, &size), by_time = col_i64(res, row, 3, &seconds);
	json_t *features = col_object(res, row, 4);
	if (!id || !model || !policy || by_rows == by_time || !features || !col_double(res, row, 5, &share) ||
	    !col_i64(res, row, 7, &cooldown) || !col_i64(res, row, 8, &created) || !col_i64(res, row, 9, &updated)) {
		json_decref(features);
		return NULL;
	}
	json_t *window = by_rows ? json_pack("{s:I}", "size", (json_int_t)size)
				 : json_pack("{s:I}", "seconds", (json_int_t)seconds);
	return json_pack("{s:s, s:s, s:o, s:o, s:f, s:{s:s, s:I}, s:I, s:I}", "id", id, "model", model, "window",
			 window, "features", features, "drift_share", share, "alert", "policy", policy,
			 "cooldown_seconds", (json_int_t)cooldown, "created_at", (json_int_t)created, "updated_at",
			 (json_int_t)updated);
}

json_t *dm_report_json(const PGresult *res, int row, bool with_document)
{
	const char *id = db_get_text(res, row, 0), *monitor = db_get_text(res, row, 1);
	const char *model = db_get_text(res, row, 2), *version = db_get_text(res, row, 3);
	const char *drift = db_get_text(res, row, 7);
	int64_t start = 0, end = 0, rows = 0, created = 0;
	double share = 0;
	if (!id || !monitor || !model || !version || !drift || !col_i64(res, row, 4, &start) ||
	    !col_i64(res, row, 5, &end) || !col_i64(res, row, 6, &rows) || !col_double(res, row, 8, &share) ||
	    !col_i64(res, row, 9, &created))
		return NULL;
	json_t *document = with_document ? col_object(res, row, 10) : NULL;
	if (with_document && !document)
		return NULL;
	json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:{s:I, s:I, s:I}, s:b, s:f, s:I}", "id", id, "monitor_id", monitor,
			      "model", model, "model_version", version, "window", "start", (json_int_t)start, "end",
			      (json_int_t)end, "rows", (json_int_t)rows, "dataset_drift", drift[0] == 't',
			      "share_of_drifted_columns", share, "created_at", (json_int_t)created);
	if (document)
		json_object_set_new(r, "result", document);
	return r;
}

int dm_page_collect(int rc, const PGresult *res, const struct svc_page *page, json_t *(*render)(const PGresult *, int),
		    int created_col, json_t *items, char **next, struct core_error *err)
{
	for (int i = 0; i < rc && i < page->limit; i++) {
		json_t *one = render(res, i);
		if (!one) {
			core_fail(err, CORE_EINVAL, "row %d of the page: unreadable", i);
			return DB_HARD_ERROR;
		}
		json_array_append_new(items, one);
	}
	if (rc > page->limit) {
		int last = (int)page->limit - 1;
		*next = svc_page_token(db_get_text(res, last, created_col), db_get_text(res, last, 0));
	}
	return rc;
}

void dm_reply_page(struct http_request *req, const char *key, json_t *items, const char *next)
{
	json_t *body = json_pack("{s:O}", key, items);
	if (next)
		json_object_set_new(body, "next_page_token", json_string(next));
	http_reply_json(req, 200, body);
}

void dm_reply_entity(struct http_request *req, unsigned status, const char *key, int rc, json_t *entity,
		     const struct svc_fail *f, const struct core_error *err)
{
	if (rc < 0 || !entity) {
		json_decref(entity);
		svc_reply_tx(req, rc < 0 ? rc : DB_HARD_ERROR, f, err);
		return;
	}
	http_reply_json(req, status, json_pack("{s:o}", key, entity));
}

int dm_fail_no_monitor(struct svc_fail *f, const char *id)
{
	return svc_fail(f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Monitor '%.64s' not found", id);
}

int dm_fail_no_report(struct svc_fail *f, const char *id)
{
	return svc_fail(f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Report '%.64s' not found", id);
}
