/* The trainer's one route table (docs/style.md §8). Submits must be application/json
 * (anything else: 400 INVALID_PARAMETER_VALUE, the svc_def's content_type_error); the
 * events route streams (h_jobs.c). Scopes (with AUTH=on): GET read, POST write. */
#include "tr.h"

#define JOBS "/v1/jobs"
#define JSON "application/json"

const struct http_route tr_routes[] = {
	{.methods = HTTP_POST,
	 .pattern = JOBS,
	 .handler = tr_h_job_submit,
	 .content_type = JSON,
	 .body_limit = TR_SPEC_MAX},
	{.methods = HTTP_GET, .pattern = JOBS, .handler = tr_h_job_list},
	{.methods = HTTP_GET, .pattern = JOBS "/{id}", .handler = tr_h_job_get},
	{.methods = HTTP_POST, .pattern = JOBS "/{id}/cancel", .handler = tr_h_job_cancel},
	{.methods = HTTP_GET, .pattern = JOBS "/{id}/events", .handler = tr_h_job_events},
	{.methods = HTTP_GET, .pattern = "/v1/lineage", .handler = tr_h_lineage},
	{0},
};

/* Promotion (tr.h, tr-promotion): policies, evaluations, rollback. PUT needs JSON. */
const struct http_route tr_promo_routes[] = {
	{.methods = HTTP_GET, .pattern = "/v1/policies/{model}", .handler = tr_h_policy_get},
	{.methods = HTTP_PUT,
	 .pattern = "/v1/policies/{model}",
	 .handler = tr_h_policy_put,
	 .content_type = JSON,
	 .body_limit = 65536},
	{.methods = HTTP_DELETE, .pattern = "/v1/policies/{model}", .handler = tr_h_policy_delete},
	{.methods = HTTP_POST,
	 .pattern = "/v1/evaluations",
	 .handler = tr_h_eval_create,
	 .content_type = JSON,
	 .body_limit = 65536},
	{.methods = HTTP_GET, .pattern = "/v1/evaluations", .handler = tr_h_eval_list},
	{.methods = HTTP_GET, .pattern = "/v1/evaluations/{id}", .handler = tr_h_eval_get},
	{.methods = HTTP_POST, .pattern = "/v1/models/{model}/rollback", .handler = tr_h_rollback},
	{0},
};

/* The schedules (h_schedules.c): their own table, so this part's routes stay together. */
#define SCHEDULES "/v1/schedules"

const struct http_route tr_sched_routes[] = {
	{.methods = HTTP_POST,
	 .pattern = SCHEDULES,
	 .handler = tr_h_sched_create,
	 .content_type = JSON,
	 .body_limit = TR_SPEC_MAX},
	{.methods = HTTP_GET, .pattern = SCHEDULES, .handler = tr_h_sched_list},
	{.methods = HTTP_GET, .pattern = SCHEDULES "/{id}", .handler = tr_h_sched_get},
	{.methods = HTTP_PATCH,
	 .pattern = SCHEDULES "/{id}",
	 .handler = tr_h_sched_patch,
	 .content_type = JSON,
	 .body_limit = TR_SPEC_MAX},
	{.methods = HTTP_DELETE, .pattern = SCHEDULES "/{id}", .handler = tr_h_sched_delete},
	{.methods = HTTP_POST, .pattern = SCHEDULES "/{id}/pause", .handler = tr_h_sched_pause},
	{.methods = HTTP_POST, .pattern = SCHEDULES "/{id}/resume", .handler = tr_h_sched_resume},
	{.methods = HTTP_GET, .pattern = SCHEDULES "/{id}/firings", .handler = tr_h_sched_firings},
	{0},
};
