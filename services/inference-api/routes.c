/* The inference API's one route table: the Open Inference Protocol v2 (KServe, Triton,
 * MLServer) under /v2/, MLflow's scoring protocol (/invocations, /ping, /health,
 * /version and the per-model /v2/models/{m}/invocations), the image upload under
 * /v1/models/, and Triton's repository extension. Errors under /v2/ and /v1/models/
 * answer {"error": "..."} (main.c's prefixes) except the per-model invocations row,
 * which answers MLflow's JSON as bare /invocations does. Body limits of the routes that
 * take tensors or images come from settings (ia_routes_limits). */
#include "ia.h"

#define GET    (HTTP_GET | HTTP_HEAD)
#define MODEL  "/v2/models/{model}"
#define MODELV "/v2/models/{model}/versions/{version}"

/* Slots whose body limits ia_routes_limits fills. */
enum { R_INFER = 9, R_INFER_V, R_INVOC_M, R_INVOC, R_PREDICT };

struct http_route ia_routes[] = {
	{.methods = GET, .pattern = "/v2", .handler = ia_h_server_meta},
	{.methods = GET, .pattern = "/v2/health/live", .handler = ia_h_live, .unqueued = true},
	{.methods = GET, .pattern = "/v2/health/ready", .handler = ia_h_ready, .unqueued = true},
	{.methods = GET, .pattern = MODEL, .handler = ia_h_model_meta},
	{.methods = GET, .pattern = MODELV, .handler = ia_h_model_meta},
	{.methods = GET, .pattern = MODEL "/ready", .handler = ia_h_model_ready},
	{.methods = GET, .pattern = MODELV "/ready", .handler = ia_h_model_ready},
	{.methods = GET | HTTP_POST, .pattern = "/v2/repository/index", .handler = ia_h_repo_index},
	{.methods = HTTP_POST,
	 .pattern = "/v2/repository/models/{model}/load",
	 .handler = ia_h_repo_load,
	 .slow = true},
	[R_INFER] = {.methods = HTTP_POST, .pattern = MODEL "/infer", .handler = ia_h_infer},
	[R_INFER_V] = {.methods = HTTP_POST, .pattern = MODELV "/infer", .handler = ia_h_infer},
	[R_INVOC_M] = {.methods = HTTP_POST,
		       .pattern = MODEL "/invocations",
		       .handler = ia_h_invocations,
		       .errors = HTTP_ERRORS_MLFLOW},
	[R_INVOC] = {.methods = HTTP_POST, .pattern = "/invocations", .handler = ia_h_invocations},
	/* an image as the body (image/png, image/jpeg) or as a form's file field */
	[R_PREDICT] = {.methods = HTTP_POST,
		       .pattern = "/v1/models/{model}/predict",
		       .handler = ia_h_predict,
		       .multipart = true,
		       .multipart_or_body = true},
	{.methods = HTTP_POST,
	 .pattern = "/v2/repository/models/{model}/unload",
	 .handler = ia_h_repo_unload,
	 .slow = true},
	{.methods = GET, .pattern = "/ping", .handler = ia_h_ping},
	{.methods = GET, .pattern = "/health", .handler = ia_h_health},
	{.methods = GET, .pattern = "/version", .handler = ia_h_version},
	{0},
};

void ia_routes_limits(const struct ia_settings *s)
{
	ia_routes[R_INFER].body_limit = (size_t)s->infer_max_bytes;
	ia_routes[R_INFER_V].body_limit = (size_t)s->infer_max_bytes;
	ia_routes[R_INVOC_M].body_limit = (size_t)s->infer_max_bytes;
	ia_routes[R_INVOC].body_limit = (size_t)s->infer_max_bytes;
	/* a multipart upload carries its boundaries and part headers besides the image */
	ia_routes[R_PREDICT].body_limit = (size_t)s->image_max_bytes + 65536;
}
