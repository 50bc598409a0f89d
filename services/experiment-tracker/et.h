/* The experiment tracker's private header: its state, its settings, and what its
 * files offer each other. Sections follow the files:
 *   main.c        settings, start/stop, the route tables composed
 *   tracking      experiments, runs, params, metrics, tags, inputs (h_*.c, q_*.c)
 *   search        MLflow's filter language, parsed and compiled to SQL (filter*.c)
 *   artifacts     MLflow's proxied artifact API over the blob store (artifacts*.c)
 * Handlers receive the struct svc * as app; et_app(svc) gives this service's state. */
#ifndef ET_H
#define ET_H
#include <jansson.h>
#include "blob/blob.h"
#include "svc/svc.h"

/* --- state (main.c) ---------------------------------------------------------- */

struct et_settings {
	char *blob_dir; /* BLOB_DIR */
};

struct et_app {
	struct et_settings *settings; /* borrowed from svc */
	struct blob_store *blobs;     /* owned */
};

static inline struct et_app *et_app(void *svc)
{
	return svc_app(svc);
}

/* --- tracking: route table and run loading ------------------------------------ */

extern const struct http_route et_tracking_routes[];

/* Loads the full MLflow Run objects ({"info", "data", "inputs"}) of n runs, in the
 * order of run_ids, and appends them to runs_out (a JSON array, borrowed). A run id
 * that does not exist is skipped. Returns >= 0 (runs appended) or a negative
 * db_status with err filled. Does the work in a fixed number of queries whatever n is
 * (search pages hold up to 50000 runs). */
int et_runs_load(struct db_conn *c, const char *const *run_ids, size_t n, json_t *runs_out, struct core_error *err);

/* --- search ------------------------------------------------------------------- */

extern const struct http_route et_search_routes[];

/* --- artifacts ---------------------------------------------------------------- */

extern const struct http_route et_artifact_routes[];
#endif
