/* The splits and tensors routes (dr-split), a second table beside routes.c's
 * dr_routes, listed after it in svc_def.routes. Handlers in h_splits.c and
 * h_tensors.c. */
#include "dr.h"

#define VER "/v1/datasets/{name}/versions/{ref}"

const struct http_route dr_split_routes[] = {
	{.methods = HTTP_POST,
	 .pattern = VER "/splits",
	 .handler = dr_h_split_create,
	 .content_type = "application/json"},
	{.methods = HTTP_GET, .pattern = VER "/splits", .handler = dr_h_split_list},
	{.methods = HTTP_GET, .pattern = VER "/splits/{split}", .handler = dr_h_split_get},
	{.methods = HTTP_GET, .pattern = VER "/splits/{split}/items", .handler = dr_h_split_items},
	{.methods = HTTP_GET, .pattern = VER "/tensors", .handler = dr_h_tensors},
	{0},
};
