/* The search part's route table: MLflow's run and experiment searches under
 * /api/2.0/mlflow/ (svc adds the /ajax-api/2.0/ twins). Handlers are in h_search.c;
 * the language they accept is filter_parse.c's, compiled to SQL by filter_sql.c. */
#include "et.h"
#include "filter.h"

const struct http_route et_search_routes[] = {
	{.methods = HTTP_POST,
	 .pattern = "/api/2.0/mlflow/runs/search",
	 .handler = et_h_search_runs,
	 .content_type = "application/json"},
	{.methods = HTTP_GET | HTTP_POST,
	 .pattern = "/api/2.0/mlflow/experiments/search",
	 .handler = et_h_search_experiments,
	 .content_type = "application/json"},
	{0},
};
