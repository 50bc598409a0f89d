/* The data registry's one route table (docs/style.md §8). JSON bodies must be
 * application/json. Blob PUTs take any Content-Type and stream to dr_blob_put_chunk;
 * version commits stream too (dr_version_create_chunk), since a JSON manifest may be
 * 256 MiB and an upload several GiB: the handler decides by Content-Type. Their
 * ceilings are settings, checked by the upload functions under the route's.
 * Scopes (with AUTH=on): GET read, POST/PUT/PATCH write (POST blobs/missing read),
 * DELETE of a dataset and the collector admin. Handlers: h_datasets.c, h_blobs.c,
 * h_versions.c, h_reads.c, h_admin.c. */
#include "dr.h"

#define DS   "/v1/datasets"
#define VER  DS "/{name}/versions/{ref}"
#define JSON "application/json"

const struct http_route dr_routes[] = {
	{.methods = HTTP_POST, .pattern = DS, .handler = dr_h_dataset_create, .content_type = JSON},
	{.methods = HTTP_GET, .pattern = DS, .handler = dr_h_dataset_list},
	{.methods = HTTP_GET, .pattern = DS "/{name}", .handler = dr_h_dataset_get},
	{.methods = HTTP_PATCH, .pattern = DS "/{name}", .handler = dr_h_dataset_update, .content_type = JSON},
	{.methods = HTTP_DELETE, .pattern = DS "/{name}", .handler = dr_h_dataset_delete, .scope = HTTP_SCOPE_ADMIN},
	{.methods = HTTP_POST,
	 .pattern = DS "/{name}/versions",
	 .handler = dr_h_version_create,
	 .upload = dr_version_create_chunk,
	 .body_limit = DR_STREAM_LIMIT},
	{.methods = HTTP_GET, .pattern = DS "/{name}/versions", .handler = dr_h_version_list},
	{.methods = HTTP_GET, .pattern = VER, .handler = dr_h_version_get},
	{.methods = HTTP_GET, .pattern = VER "/manifest", .handler = dr_h_version_manifest},
	{.methods = HTTP_GET, .pattern = VER "/files/{path*}", .handler = dr_h_version_file},
	{.methods = HTTP_GET, .pattern = VER "/profile", .handler = dr_h_version_profile},
	{.methods = HTTP_POST,
	 .pattern = "/v1/blobs/missing",
	 .handler = dr_h_blobs_missing,
	 .content_type = JSON,
	 .body_limit = 16 << 20,
	 .scope = HTTP_SCOPE_READ},
	{.methods = HTTP_PUT,
	 .pattern = "/v1/blobs/{sha256}",
	 .handler = dr_h_blob_put,
	 .upload = dr_blob_put_chunk,
	 .body_limit = DR_STREAM_LIMIT},
	{.methods = HTTP_GET, .pattern = "/v1/blobs/{sha256}", .handler = dr_h_blob_get},
	{.methods = HTTP_GET | HTTP_POST,
	 .pattern = "/v1/admin/gc",
	 .handler = dr_h_admin_gc,
	 .content_type = JSON,
	 .scope = HTTP_SCOPE_ADMIN},
	{0},
};
