/* The drift monitor's statements on reports, one function per statement, the statement
 * named as its function. Listings read the summary columns only: a report's document
 * (per-feature histograms) is opened by the get alone. Reports are written by the stream
 * (stream.c) when a window closes, in the transaction that restarts the window. */
#include <stdlib.h>
#include "core/fmt.h"
#include "http/http.h"
#include "dm.h"

static const struct db_stmt dm_q_report_get_stmt = {
	.name = "dm_q_report_get",
	.sql = "SELECT " DM_REPORT_COLS ", r.report::text FROM reports r WHERE r.id = $1",
	.n_params = 1,
};

int dm_q_report_get(struct db_conn *c, const char *id, PGresult **res, struct core_error *err)
{
	const char *params[1] = {id};
	return db_exec(c, &dm_q_report_get_stmt, params, res, err);
}

/* $1 monitor or NULL, $2 since or NULL, ($3, $4) the previous page's last row or NULL. */
static const struct db_stmt dm_q_report_list_stmt = {
	.name = "dm_q_report_list",
	.sql = "SELECT " DM_REPORT_COLS " FROM reports r WHERE ($1::text IS NULL OR r.monitor_id = $1) "
	       "AND ($2::bigint IS NULL OR r.created_at >= $2::bigint) "
	       "AND ($4::text IS NULL OR (r.created_at, r.id) < ($3::bigint, $4::text)) "
	       "ORDER BY r.created_at DESC, r.id DESC LIMIT $5::bigint",
	.n_params = 5,
};

int dm_q_report_list(struct db_conn *c, const char *monitor_id, int64_t since, const struct svc_page *page, long limit,
		     PGresult **res, struct core_error *err)
{
	struct db_i64 s, a, l;
	const char *params[5] = {monitor_id, since >= 0 ? db_i64(&s, since) : NULL,
				 page->after_id ? db_i64(&a, page->after_created) : NULL, page->after_id,
				 db_i64(&l, limit)};
	return db_exec(c, &dm_q_report_list_stmt, params, res, err);
}

static const struct db_stmt dm_q_report_insert_stmt = {
	.name = "dm_q_report_insert",
	.sql = "INSERT INTO reports (id, monitor_id, model, model_version, window_start, window_end, rows, "
	       "dataset_drift, share_of_drifted_columns, report, created_at) VALUES ($1, $2, $3, $4, $5::bigint, "
	       "$6::bigint, $7::bigint, $8::boolean, $9::float8, $10::jsonb, $11::bigint)",
	.n_params = 11,
};

int dm_q_report_insert(struct db_conn *c, const struct dm_report_row *r, struct core_error *err)
{
	struct db_i64 ws, we, n, at;
	char share[CORE_FMT_DOUBLE_MAX];
	core_fmt_double(r->share, 0, share);
	char *doc = http_json_text(r->doc, JSON_COMPACT, NULL);
	if (!doc) {
		core_fail(err, CORE_ENOMEM, "dm_q_report_insert: no memory for the report");
		return DB_HARD_ERROR;
	}
	const char *params[11] = {r->id,
				  r->monitor_id,
				  r->model,
				  r->version,
				  db_i64(&ws, r->window_start),
				  db_i64(&we, r->window_end),
				  db_i64(&n, r->rows),
				  r->dataset_drift ? "true" : "false",
				  share,
				  doc,
				  db_i64(&at, r->created_at)};
	int rc = db_exec(c, &dm_q_report_insert_stmt, params, NULL, err);
	free(doc);
	return rc;
}
