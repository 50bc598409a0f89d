/* The artifact routes of the experiment tracker (et_artifact_routes, et.h): MLflow's
 * proxied artifact API and the tracking-side artifacts/list. Only /api/2.0/ patterns:
 * svc adds the /ajax-api/2.0/ twins. Handlers are in artifacts.c. Uploads stream to
 * et_artifact_upload_chunk (never buffered) under a 5 GiB ceiling and take any
 * Content-Type, as MLflow's client sends a guessed one. */
#include "artifacts.h"
#include "et.h"

#define ARTIFACTS "/api/2.0/mlflow-artifacts/artifacts"
#define MPU       "/api/2.0/mlflow-artifacts/mpu"

/* The largest artifact one PUT may carry. */
#define ET_ARTIFACT_BODY_LIMIT ((size_t)5 << 30)

const struct http_route et_artifact_routes[] = {
	{.methods = HTTP_GET, .pattern = ARTIFACTS, .handler = et_h_artifact_list},
	{.methods = HTTP_GET, .pattern = ARTIFACTS "/{path*}", .handler = et_h_artifact_download},
	{.methods = HTTP_PUT,
	 .pattern = ARTIFACTS "/{path*}",
	 .handler = et_h_artifact_upload,
	 .upload = et_artifact_upload_chunk,
	 .body_limit = ET_ARTIFACT_BODY_LIMIT},
	{.methods = HTTP_DELETE, .pattern = ARTIFACTS "/{path*}", .handler = et_h_artifact_delete},
	{.methods = HTTP_POST, .pattern = MPU "/create/{path*}", .handler = et_h_artifact_mpu},
	{.methods = HTTP_POST, .pattern = MPU "/complete/{path*}", .handler = et_h_artifact_mpu},
	{.methods = HTTP_POST, .pattern = MPU "/abort/{path*}", .handler = et_h_artifact_mpu},
	{.methods = HTTP_GET, .pattern = "/api/2.0/mlflow/artifacts/list", .handler = et_h_run_artifacts_list},
	{0},
};
