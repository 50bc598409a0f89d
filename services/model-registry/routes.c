/* The model registry's one route table (docs/style.md §8): MLflow's registry paths under
 * /api/2.0/mlflow/ (svc adds each /ajax-api/2.0/ twin, as MLflow serves both). Bodies
 * of POST/PATCH/DELETE must be application/json, as MLflow insists; DELETE carries a
 * JSON body. Handlers live in h_models.c, h_aliases.c and h_versions.c.
 * Scopes (with AUTH=on): GET needs read, POST/PATCH/DELETE write, except
 * get-latest-versions by POST (read) and the deletes of models and versions (admin);
 * tag and alias deletes are write. */
#include "mr.h"

#define RM   "/api/2.0/mlflow/registered-models/"
#define MV   "/api/2.0/mlflow/model-versions/"
#define JSON "application/json"

const struct http_route mr_routes[] = {
	{.methods = HTTP_POST, .pattern = RM "create", .handler = mr_h_model_create, .content_type = JSON},
	{.methods = HTTP_GET, .pattern = RM "get", .handler = mr_h_model_get},
	{.methods = HTTP_POST, .pattern = RM "rename", .handler = mr_h_model_rename, .content_type = JSON},
	{.methods = HTTP_PATCH, .pattern = RM "update", .handler = mr_h_model_update, .content_type = JSON},
	{.methods = HTTP_DELETE,
	 .pattern = RM "delete",
	 .handler = mr_h_model_delete,
	 .content_type = JSON,
	 .scope = HTTP_SCOPE_ADMIN},
	{.methods = HTTP_GET, .pattern = RM "search", .handler = mr_h_model_search},
	{.methods = HTTP_GET | HTTP_POST,
	 .pattern = RM "get-latest-versions",
	 .handler = mr_h_model_latest_versions,
	 .content_type = JSON,
	 .scope = HTTP_SCOPE_READ},
	{.methods = HTTP_POST, .pattern = RM "set-tag", .handler = mr_h_model_set_tag, .content_type = JSON},
	{.methods = HTTP_DELETE, .pattern = RM "delete-tag", .handler = mr_h_model_delete_tag, .content_type = JSON},
	{.methods = HTTP_POST, .pattern = RM "alias", .handler = mr_h_alias_set, .content_type = JSON},
	{.methods = HTTP_DELETE, .pattern = RM "alias", .handler = mr_h_alias_delete, .content_type = JSON},
	{.methods = HTTP_GET, .pattern = RM "alias", .handler = mr_h_alias_get},
	{.methods = HTTP_POST, .pattern = MV "create", .handler = mr_h_version_create, .content_type = JSON},
	{.methods = HTTP_GET, .pattern = MV "get", .handler = mr_h_version_get},
	{.methods = HTTP_PATCH, .pattern = MV "update", .handler = mr_h_version_update, .content_type = JSON},
	{.methods = HTTP_DELETE,
	 .pattern = MV "delete",
	 .handler = mr_h_version_delete,
	 .content_type = JSON,
	 .scope = HTTP_SCOPE_ADMIN},
	{.methods = HTTP_GET, .pattern = MV "search", .handler = mr_h_version_search},
	{.methods = HTTP_POST,
	 .pattern = MV "transition-stage",
	 .handler = mr_h_version_transition,
	 .content_type = JSON},
	{.methods = HTTP_GET, .pattern = MV "get-download-uri", .handler = mr_h_version_download_uri},
	{.methods = HTTP_POST, .pattern = MV "set-tag", .handler = mr_h_version_set_tag, .content_type = JSON},
	{.methods = HTTP_DELETE, .pattern = MV "delete-tag", .handler = mr_h_version_delete_tag, .content_type = JSON},
	{0},
};
