/* The data registry's blob garbage collection (face: dr.h): GET /v1/admin/gc (always a
 * dry run: what would go) and POST /v1/admin/gc (removes unless dry_run is true). The
 * generic part (walk, grace period, locks, tmp sweep, dry-run accounting) is libs/blob's
 * blob_gc, driven by libs/svc's svc_blob_gc (shared with the tracker); the registry
 * supplies its references, asked one batch at a time, each batch in its own short
 * transaction: manifest files and profiles (dr_q_blobs_referenced), then what the
 * other parts own (dr_gc_refs_extra, gc_refs.c).
 *
 * Safety rests on blob.h's rule, which the commit path keeps: every key a version names
 * is touched (blob_touch) just before the transaction that records it (h_versions.c),
 * far within BLOB_GC_GRACE_S. */
#include <inttypes.h>
#include <string.h>
#include "core/time.h"
#include "dr.h"

/* The registry's references: manifest files and profiles, then the other parts'. */
static int refs(struct db_conn *c, const char *const *keys, size_t n, bool *referenced, struct core_error *err)
{
	int rc = dr_q_blobs_referenced(c, keys, n, referenced, err);
	if (rc >= 0)
		rc = dr_gc_refs_extra(c, keys, n, referenced, err);
	return rc;
}

void dr_h_admin_gc(struct http_request *req, void *app)
{
	bool dry_run = http_request_method(req) != HTTP_POST;
	const char *q = http_request_query(req, "dry_run");
	if (q && strcmp(q, "true") != 0 && strcmp(q, "false") != 0) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Invalid value '%.32s' for parameter 'dry_run'",
				 q);
		return;
	}
	if (http_request_method(req) == HTTP_GET && q && strcmp(q, "false") == 0) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "GET /v1/admin/gc is always a dry run: POST to collect");
		return;
	}
	if (http_request_method(req) == HTTP_POST) {
		const struct http_jspec spec[] = {HTTP_JS_OPT_BOOL("dry_run", &dry_run, NULL), HTTP_JS_END};
		if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
			return;
		if (q && strcmp(q, "true") == 0)
			dry_run = true;
	}
	struct dr_app *a = dr_app(app);
	const struct svc_gc g = {
		.tx_name = "dr_gc_refs",
		.refs = refs,
		.grace_s = a->settings->gc_grace_s,
		.tmp_age_s = a->settings->tmp_age_s,
		.dry_run = dry_run,
	};
	struct blob_gc_stats st;
	struct core_error err = {{0}};
	int64_t start = core_now_ms();
	int db_rc = 0;
	if (svc_blob_gc(app, a->blobs, &g, &st, &db_rc, &err) != CORE_OK) {
		if (db_rc < 0)
			svc_reply_db_error(req, db_rc, &err);
		else
			http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "blob storage error");
		return;
	}
	core_info("blob gc (%s): %" PRIu64 " blobs, %" PRIu64 " bytes %s; %" PRIu64 " partial uploads %s; %" PRIu64
		  " scanned, %" PRIu64 " referenced, %" PRIu64 " within the grace period; %" PRId64 " ms",
		  dry_run ? "dry run" : "requested", st.removed, st.removed_bytes, dry_run ? "would go" : "removed",
		  st.tmp_removed, dry_run ? "would go" : "removed", st.scanned, st.kept_referenced, st.kept_young,
		  core_now_ms() - start);
	http_reply_json(req, 200,
			json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "dry_run", dry_run, "scanned",
				  (json_int_t)st.scanned, "removed", (json_int_t)st.removed, "removed_bytes",
				  (json_int_t)st.removed_bytes, "kept_referenced", (json_int_t)st.kept_referenced,
				  "kept_recent", (json_int_t)st.kept_young, "tmp_removed", (json_int_t)st.tmp_removed,
				  "tmp_bytes", (json_int_t)st.tmp_bytes));
}
