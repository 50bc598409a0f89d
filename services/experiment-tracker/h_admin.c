/* The tracker's blob garbage collection (face: et.h): the admin route
 * POST /api/2.0/lathe/admin/gc and the periodic task that runs the same collection
 * every BLOB_GC_INTERVAL_S. The generic part (walk, grace period, locks, tmp sweep,
 * dry-run accounting) is libs/blob's blob_gc, driven by libs/svc's svc_blob_gc; the
 * tracker supplies its references: the blob keys of its artifact rows, asked one batch
 * at a time, each batch one statement (et_q_artifacts_referenced) in its own short
 * transaction, so a collection holds no transaction open while it walks the disk.
 *
 * Safety rests on blob.h's rule, which the upload path keeps: the artifact row naming
 * a freshly committed blob is written right after the commit (h_artifacts.c), far
 * within BLOB_GC_GRACE_S. Collections are serialised by the store (DIR/gc.lock), so the
 * route and the periodic task may overlap: the second waits for the first. */
#include <inttypes.h>
#include <string.h>
#include "artifacts.h"
#include "core/time.h"
#include "et.h"

/* Runs one collection with the tracker's settings; logs what it did. */
static enum core_status run_gc(struct svc *svc, bool dry_run, const char *why, struct blob_gc_stats *st, int *db_rc,
			       struct core_error *err)
{
	struct et_app *app = et_app(svc);
	const struct svc_gc g = {
		.tx_name = "blob_gc_refs",
		.refs = et_q_artifacts_referenced,
		.grace_s = app->settings->gc_grace_s,
		.tmp_age_s = app->settings->tmp_age_s,
		.dry_run = dry_run,
	};
	int64_t start = core_now_ms();
	enum core_status rc = svc_blob_gc(svc, app->blobs, &g, st, db_rc, err);
	if (rc != CORE_OK)
		return rc;
	core_info("blob gc (%s%s): %" PRIu64 " blobs, %" PRIu64 " bytes %s; %" PRIu64 " partial uploads, %" PRIu64
		  " bytes %s; %" PRIu64 " scanned, %" PRIu64 " referenced, %" PRIu64
		  " within the grace period%s; %" PRId64 " ms",
		  why, dry_run ? ", dry run" : "", st->removed, st->removed_bytes, dry_run ? "would go" : "removed",
		  st->tmp_removed, st->tmp_bytes, dry_run ? "would go" : "removed", st->scanned, st->kept_referenced,
		  st->kept_young, st->cancelled ? "; cut short by shutdown" : "", core_now_ms() - start);
	return CORE_OK;
}

void et_h_admin_gc(struct http_request *req, void *app)
{
	bool dry_run = false;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_BOOL("dry_run", &dry_run, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	struct blob_gc_stats st;
	struct core_error err = {{0}};
	int db_rc = 0;
	if (run_gc(app, dry_run, "requested", &st, &db_rc, &err) != CORE_OK) {
		if (db_rc < 0)
			svc_reply_db_error(req, db_rc, &err);
		else
			http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "artifact storage error");
		return;
	}
	http_reply_json(req, 200,
			json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "dry_run", dry_run, "removed",
				  (json_int_t)st.removed, "bytes", (json_int_t)st.removed_bytes, "tmp_removed",
				  (json_int_t)st.tmp_removed, "tmp_bytes", (json_int_t)st.tmp_bytes, "scanned",
				  (json_int_t)st.scanned, "kept_referenced", (json_int_t)st.kept_referenced,
				  "kept_recent", (json_int_t)st.kept_young));
}

void et_gc_periodic(struct svc *svc, void *app_ptr)
{
	struct et_app *app = app_ptr;
	struct blob_gc_stats st;
	struct core_error err = {{0}};
	int db_rc = 0;
	if (run_gc(svc, false, "periodic", &st, &db_rc, &err) != CORE_OK)
		core_warn("blob gc (periodic) failed, next try in %ld s: %s", app->settings->gc_interval_s,
			  err.message);
}
