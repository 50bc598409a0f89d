/* The tracking part of the experiment tracker: its route table (MLflow's tracking
 * RPCs under /api/2.0/mlflow/; svc adds the /ajax-api/2.0/ twins), MLflow's /health
 * and /version, and et_runs_load (et.h), which runs/get, runs/create and the search
 * part use to render Run objects: one statement for any number of runs
 * (q_runs.c: et_runs_load_json, run ids passed as one text[] parameter), each Run's
 * JSON assembled by PostgreSQL and decoded here. Handlers live in h_*.c. */
#include <string.h>
#include "tracking.h"

#define MLFLOW_VERSION "2.12.2"
#define BATCH_BODY_LIMIT ((size_t)16 << 20)

static void h_health(struct http_request *req, void *app)
{
	(void)app;
	http_reply_raw(req, 200, "text/plain; charset=utf-8", "OK", 2);
}

static void h_version(struct http_request *req, void *app)
{
	(void)app;
	http_reply_raw(req, 200, "text/plain; charset=utf-8", MLFLOW_VERSION, strlen(MLFLOW_VERSION));
}

#define API "/api/2.0/mlflow/"
#define POST_JSON(p, h) {.methods = HTTP_POST, .pattern = API p, .handler = (h), .content_type = "application/json"}
#define GET(p, h) {.methods = HTTP_GET, .pattern = API p, .handler = (h)}

const struct http_route et_tracking_routes[] = {
	POST_JSON("experiments/create", et_h_experiments_create),
	GET("experiments/get", et_h_experiments_get),
	GET("experiments/get-by-name", et_h_experiments_get_by_name),
	POST_JSON("experiments/delete", et_h_experiments_delete),
	POST_JSON("experiments/restore", et_h_experiments_restore),
	POST_JSON("experiments/update", et_h_experiments_update),
	POST_JSON("experiments/set-experiment-tag", et_h_experiments_set_tag),
	POST_JSON("runs/create", et_h_runs_create),
	GET("runs/get", et_h_runs_get),
	POST_JSON("runs/update", et_h_runs_update),
	POST_JSON("runs/delete", et_h_runs_delete),
	POST_JSON("runs/restore", et_h_runs_restore),
	POST_JSON("runs/log-metric", et_h_metrics_log),
	POST_JSON("runs/log-parameter", et_h_runs_log_parameter),
	POST_JSON("runs/set-tag", et_h_runs_set_tag),
	POST_JSON("runs/delete-tag", et_h_runs_delete_tag),
	{.methods = HTTP_POST, .pattern = API "runs/log-batch", .handler = et_h_metrics_log_batch,
	 .content_type = "application/json", .body_limit = BATCH_BODY_LIMIT},
	{.methods = HTTP_POST, .pattern = API "runs/log-inputs", .handler = et_h_inputs_log,
	 .content_type = "application/json", .body_limit = BATCH_BODY_LIMIT},
	GET("metrics/get-history", et_h_metrics_history),
	{.methods = HTTP_GET, .pattern = "/health", .handler = h_health},
	{.methods = HTTP_GET, .pattern = "/version", .handler = h_version},
	{0},
};

int et_runs_load(struct db_conn *c, const char *const *run_ids, size_t n, json_t *runs_out, struct core_error *err)
{
	struct et_arr ids;
	PGresult *res = NULL;
	int rc = 0;
	if (n == 0)
		return 0;
	et_arr_init(&ids);
	for (size_t i = 0; i < n; i++)
		et_arr_add_str(&ids, run_ids[i], strlen(run_ids[i]));
	const char *lit = et_arr_end(&ids);
	if (!lit) {
		core_fail(err, CORE_ELIMIT, "too many run ids to load");
		rc = DB_HARD_ERROR;
		goto out;
	}
	rc = et_q_runs_load_json(c, lit, &res, err);
	if (rc < 0)
		goto out;
	for (int i = 0; i < rc; i++) {
		json_error_t jerr;
		json_t *run = json_loads(db_get_text(res, i, 0), 0, &jerr);
		if (!run) {
			core_fail(err, CORE_EINVAL, "decoding run JSON: %s", jerr.text);
			rc = DB_HARD_ERROR;
			goto out;
		}
		json_array_append_new(runs_out, run);
	}
out:
	PQclear(res);
	et_arr_free(&ids);
	return rc;
}
