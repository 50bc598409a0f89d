/* The experiment tracker's one route table: MLflow's tracking RPCs and searches under
 * /api/2.0/mlflow/, its proxied artifact API under /api/2.0/mlflow-artifacts/,
 * MLflow's /health and /version (svc adds each /ajax-api/2.0/ twin, as MLflow serves
 * both), and Lathe's own operations under /api/2.0/lathe/ (admin/gc: it deletes, so
 * admin scope). Handlers live in h_*.c. JSON bodies must say application/json, as MLflow
 * insists; artifact uploads take any Content-Type (MLflow's client sends a guessed
 * one) and stream to et_artifact_upload_chunk, never buffered, under a 5 GiB ceiling.
 * The order is the one `--routes` prints and the contract test compares.
 * Scopes (with AUTH=on): GET needs read, POST/PUT write, except the searches (POST,
 * read) and the deletes of experiments, runs and artifacts (admin); restores, tag
 * deletes and artifact overwrites are write. /health is open, as MLflow's is. */
#include <string.h>
#include "artifacts.h"
#include "et.h"
#include "filter.h"

#define MLFLOW_VERSION "2.12.2"

#define API       "/api/2.0/mlflow/"
#define ARTIFACTS "/api/2.0/mlflow-artifacts/artifacts"
#define MPU       "/api/2.0/mlflow-artifacts/mpu"
#define LATHE     "/api/2.0/lathe/"
#define JSON      "application/json"

/* log-batch and log-inputs carry up to 1000 entries of up to 6000 characters. */
#define BATCH_BODY_LIMIT ((size_t)16 << 20)
/* The largest artifact one PUT may carry. */
#define ARTIFACT_BODY_LIMIT ((size_t)5 << 30)

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

#define POST_JSON(p, h)                                                                                                \
	{                                                                                                              \
		.methods = HTTP_POST, .pattern = API p, .handler = (h), .content_type = JSON                           \
	}
#define GET(p, h)                                                                                                      \
	{                                                                                                              \
		.methods = HTTP_GET, .pattern = API p, .handler = (h)                                                  \
	}
/* A POST that deletes what cannot be re-created as it was: admin scope (a token's
 * scope, libs/http/README.md "Authentication"); every other POST needs write. */
#define POST_ADMIN(p, h)                                                                                               \
	{                                                                                                              \
		.methods = HTTP_POST, .pattern = API p, .handler = (h), .content_type = JSON,                          \
		.scope = HTTP_SCOPE_ADMIN                                                                              \
	}

const struct http_route et_routes[] = {
	/* tracking: h_experiments.c, h_runs.c, h_metrics.c, h_inputs.c, h_models.c */
	POST_JSON("experiments/create", et_h_experiments_create),
	GET("experiments/get", et_h_experiments_get),
	GET("experiments/get-by-name", et_h_experiments_get_by_name),
	POST_ADMIN("experiments/delete", et_h_experiments_delete),
	POST_JSON("experiments/restore", et_h_experiments_restore),
	POST_JSON("experiments/update", et_h_experiments_update),
	POST_JSON("experiments/set-experiment-tag", et_h_experiments_set_tag),
	POST_JSON("runs/create", et_h_runs_create),
	GET("runs/get", et_h_runs_get),
	POST_JSON("runs/update", et_h_runs_update),
	POST_ADMIN("runs/delete", et_h_runs_delete),
	POST_JSON("runs/restore", et_h_runs_restore),
	POST_JSON("runs/log-metric", et_h_metrics_log),
	POST_JSON("runs/log-parameter", et_h_runs_log_parameter),
	POST_JSON("runs/set-tag", et_h_runs_set_tag),
	POST_JSON("runs/delete-tag", et_h_runs_delete_tag),
	{.methods = HTTP_POST,
	 .pattern = API "runs/log-batch",
	 .handler = et_h_metrics_log_batch,
	 .content_type = JSON,
	 .body_limit = BATCH_BODY_LIMIT},
	{.methods = HTTP_POST,
	 .pattern = API "runs/log-inputs",
	 .handler = et_h_inputs_log,
	 .content_type = JSON,
	 .body_limit = BATCH_BODY_LIMIT},
	POST_JSON("runs/log-model", et_h_models_log),
	GET("metrics/get-history", et_h_metrics_history),
	{.methods = HTTP_GET, .pattern = "/health", .handler = h_health, .scope = HTTP_SCOPE_PUBLIC, .unqueued = true},
	{.methods = HTTP_GET, .pattern = "/version", .handler = h_version},
	/* search: h_search.c */
	/* searches only read, whatever their method */
	{.methods = HTTP_POST,
	 .pattern = API "runs/search",
	 .handler = et_h_search_runs,
	 .content_type = JSON,
	 .scope = HTTP_SCOPE_READ},
	{.methods = HTTP_GET | HTTP_POST,
	 .pattern = API "experiments/search",
	 .handler = et_h_search_experiments,
	 .content_type = JSON,
	 .scope = HTTP_SCOPE_READ},
	/* artifacts: h_artifacts.c */
	{.methods = HTTP_GET, .pattern = ARTIFACTS, .handler = et_h_artifact_list},
	{.methods = HTTP_GET, .pattern = ARTIFACTS "/{path*}", .handler = et_h_artifact_download},
	{.methods = HTTP_PUT,
	 .pattern = ARTIFACTS "/{path*}",
	 .handler = et_h_artifact_upload,
	 .upload = et_artifact_upload_chunk,
	 .body_limit = ARTIFACT_BODY_LIMIT},
	{.methods = HTTP_DELETE,
	 .pattern = ARTIFACTS "/{path*}",
	 .handler = et_h_artifact_delete,
	 .scope = HTTP_SCOPE_ADMIN},
	{.methods = HTTP_POST, .pattern = MPU "/create/{path*}", .handler = et_h_artifact_mpu},
	{.methods = HTTP_POST, .pattern = MPU "/complete/{path*}", .handler = et_h_artifact_mpu},
	{.methods = HTTP_POST, .pattern = MPU "/abort/{path*}", .handler = et_h_artifact_mpu},
	GET("artifacts/list", et_h_run_artifacts_list),
	/* Lathe's own: h_admin.c; it deletes blobs, so admin */
	{.methods = HTTP_POST,
	 .pattern = LATHE "admin/gc",
	 .handler = et_h_admin_gc,
	 .content_type = JSON,
	 .scope = HTTP_SCOPE_ADMIN},
	{0},
};
