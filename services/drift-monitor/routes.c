/* The drift monitor's one route table (docs/style.md §8). Bodies must be
 * application/json (anything else: 415, the svc_def's content_type_error). Reports are
 * read here; the window slice writes them. Scopes (with AUTH=on): GET read, POST and
 * PATCH write, DELETE of a monitor admin (it takes the monitor's reports with it).
 * POST /v1/drift (batch drift of two inline CSV samples) reads no database.
 * Handlers: h_monitors.c, h_reports.c, h_drift.c. */
#include "dm.h"

#define MONITORS "/v1/monitors"
#define REPORTS  "/v1/reports"
#define DRIFT    "/v1/drift"
#define JSON     "application/json"

const struct http_route dm_routes[] = {
	{.methods = HTTP_POST,
	 .pattern = MONITORS,
	 .handler = dm_h_monitor_create,
	 .content_type = JSON,
	 .body_limit = DM_SPEC_MAX},
	{.methods = HTTP_GET, .pattern = MONITORS, .handler = dm_h_monitor_list},
	{.methods = HTTP_GET, .pattern = MONITORS "/{id}", .handler = dm_h_monitor_get},
	{.methods = HTTP_PATCH,
	 .pattern = MONITORS "/{id}",
	 .handler = dm_h_monitor_patch,
	 .content_type = JSON,
	 .body_limit = DM_SPEC_MAX},
	{.methods = HTTP_DELETE,
	 .pattern = MONITORS "/{id}",
	 .handler = dm_h_monitor_delete,
	 .scope = HTTP_SCOPE_ADMIN},
	{.methods = HTTP_GET, .pattern = REPORTS, .handler = dm_h_report_list},
	{.methods = HTTP_GET, .pattern = REPORTS "/{id}", .handler = dm_h_report_get},
	/* A batch computes and stores nothing, so reading scope would do; but it can take
	 * seconds of CPU on DM_BATCH_MAX of CSV, so it asks for write, as a POST does. */
	{.methods = HTTP_POST,
	 .pattern = DRIFT,
	 .handler = dm_h_drift,
	 .content_type = JSON,
	 .body_limit = DM_BATCH_MAX},
	{0},
};
