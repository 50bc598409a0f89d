/* The profiler: a periodic task that turns PENDING versions into READY (with a profile)
 * or FAILED (with the reason, naming the file), one version at a time, off the request
 * path.
 *
 * One transaction per version: claim the oldest PENDING version with
 * SELECT ... FOR NO KEY UPDATE SKIP LOCKED (the FOR UPDATE that lets other rows keep
 * referencing this one: a split or tensor row inserted meanwhile only needs KEY SHARE),
 * build its profile from its items (profile_build.c), store its JSON in the blob store, then lock the
 * dataset (so its events stay in commit order, as every other change does), set the
 * status and write version.ready or version.failed, and commit. Two daemons never
 * profile the same version (the row lock, skipped by the other); a daemon killed in the
 * middle loses its connection, PostgreSQL rolls the transaction back and the version is
 * PENDING again for the next run, here or elsewhere. The profile blob put before the
 * commit is then unreferenced and the collector's to remove after its grace period.
 *
 *   PENDING --profile built--> READY (profile_sha, ready_at)
 *   PENDING --items/decoder refuse a file--> FAILED (failure names it)
 *   PENDING --shutdown, crash, store or database error--> PENDING (next run)
 *
 * After a READY IDX version commits, its predefined "original" split is made
 * (dr-split's dr_split_original), outside the transaction: that is idempotent and also
 * made on first use, so a crash in between loses nothing. */
#include <string.h>

#include "core/log.h"
#include "core/time.h"
#include "db/db.h"
#include "dr.h"
#include "http/http.h"
#include "profile.h"

struct prof_ctx {
	struct svc *svc;
	struct dr_version_row row;
	char dataset[256];
	bool stopped; /* shutdown came mid-profile: rolled back, still PENDING */
	bool ready;   /* committed READY (else FAILED) */
	struct core_error err;
};

static const struct db_stmt claim_pending = {
	.name = "dr_prof_claim",
	.sql = "SELECT v.pk FROM versions v WHERE v.status = 'PENDING' ORDER BY v.pk LIMIT 1 "
	       "FOR NO KEY UPDATE SKIP LOCKED",
	.n_params = 0,
};

static const struct db_stmt set_ready = {
	.name = "dr_prof_set_ready",
	.sql = "UPDATE versions SET status = 'READY', profile_sha = $2, ready_at = $3::bigint, failure = NULL "
	       "WHERE pk = $1::bigint AND status = 'PENDING'",
	.n_params = 3,
};

static const struct db_stmt set_failed = {
	.name = "dr_prof_set_failed",
	.sql = "UPDATE versions SET status = 'FAILED', failure = $2 WHERE pk = $1::bigint AND status = 'PENDING'",
	.n_params = 2,
};

static bool stopping(void *cls)
{
	struct prof_ctx *x = cls;
	if (svc_stopping(x->svc))
		x->stopped = true;
	return x->stopped;
}

static int write_outcome(struct db_conn *c, struct prof_ctx *x, const char *profile_sha, const char *failure)
{
	int64_t dataset_id;
	int rc = dr_q_lock_dataset(c, x->dataset, &dataset_id, &x->err);
	if (rc <= 0)
		return rc < 0 ? rc : DB_HARD_ERROR; /* the version's row lock keeps its dataset */
	struct db_i64 pk, now;
	json_t *data = json_pack("{s:s, s:I, s:s}", "dataset", x->dataset, "number", (json_int_t)x->row.number, "id",
				 x->row.id);
	if (profile_sha) {
		const char *params[3] = {db_i64(&pk, x->row.pk), profile_sha, db_i64(&now, core_now_ms())};
		rc = db_exec(c, &set_ready, params, NULL, &x->err);
		json_object_set_new(data, "profile_sha", json_string(profile_sha));
	} else {
		const char *params[2] = {db_i64(&pk, x->row.pk), failure};
		rc = db_exec(c, &set_failed, params, NULL, &x->err);
		json_object_set_new(data, "failure", json_string(failure));
	}
	if (rc != 1) {
		json_decref(data);
		return rc < 0 ? rc : DB_HARD_ERROR;
	}
	return dr_ev_write(c, profile_sha ? "lathe.dataset.version.ready" : "lathe.dataset.version.failed", x->dataset,
			   data, &x->err);
}

/* One version: 0 when none is PENDING, 1 when one was profiled (READY or FAILED). */
static int profile_tx(struct db_conn *c, void *cls)
{
	struct prof_ctx *x = cls;
	PGresult *res = NULL;
	struct dr_manifest_file *files = NULL;
	size_t n = 0;
	json_t *profile = NULL;
	char *text = NULL;
	x->stopped = x->ready = false;

	int rc = db_exec(c, &claim_pending, NULL, &res, &x->err);
	if (rc <= 0)
		goto out;
	int64_t pk = 0;
	db_get_int64(res, 0, 0, &pk, NULL);
	PQclear(res);
	res = NULL;
	if ((rc = dr_q_version_by_pk(c, pk, &res, &x->err)) != 1) {
		rc = rc < 0 ? rc : DB_HARD_ERROR;
		goto out;
	}
	dr_version_row_fill(res, 0, &x->row);
	snprintf(x->dataset, sizeof x->dataset, "%s", db_get_text(res, 0, 0));
	if ((rc = dr_q_version_files(c, pk, &files, &n, &x->err)) < 0)
		goto out;

	struct core_error perr = {{0}};
	enum core_status st = dr_prof_build(dr_blobs(x->svc), x->row.format, files, n,
					    x->row.has_label_column ? x->row.label_column : NULL, x->row.id, stopping,
					    x, &profile, &perr);
	if (x->stopped) {
		rc = DB_ROLLBACK;
		goto out;
	}
	if (st != CORE_OK) {
		core_info("profiler: version %lld of '%s' FAILED: %s", (long long)x->row.number, x->dataset,
			  perr.message);
		rc = write_outcome(c, x, NULL, perr.message);
		goto out;
	}
	size_t len = 0;
	char key[BLOB_KEY_LEN + 1];
	text = http_json_text(profile, JSON_COMPACT, &len);
	if (!text || blob_put(dr_blobs(x->svc), text, len, key, &x->err) != CORE_OK) {
		if (!text)
			core_fail(&x->err, CORE_ENOMEM, "could not write the profile as JSON");
		rc = DB_HARD_ERROR;
		goto out;
	}
	if ((rc = write_outcome(c, x, key, NULL)) >= 0)
		x->ready = true;
out:
	PQclear(res);
	dr_manifest_free(files, n);
	json_decref(profile);
	free(text);
	return rc < 0 ? rc : (rc == 0 ? 0 : 1);
}

static void profile_run(struct svc *svc, void *app)
{
	(void)app;
	while (!svc_stopping(svc)) {
		struct prof_ctx x = {.svc = svc};
		int rc = db_run_tx(svc_db(svc), "dr_profile", DB_READ_COMMITTED, profile_tx, &x, &x.err);
		if (rc == 0 || x.stopped)
			return;
		if (rc < 0) {
			/* the store or the database: the version stays PENDING for the next run */
			core_error("profiler: version %lld of '%s' left PENDING: %s", (long long)x.row.number,
				   x.dataset, x.err.message);
			return;
		}
		core_info("profiler: version %lld of '%s' is %s", (long long)x.row.number, x.dataset,
			  x.ready ? "READY" : "FAILED");
		struct core_error serr = {{0}};
		if (x.ready && x.row.format == DR_FORMAT_IDX && dr_split_original(svc, x.row.pk, &serr) != CORE_OK)
			core_warn(
				"profiler: the original split of version %lld of '%s' (made on first use instead): %s",
				(long long)x.row.number, x.dataset, serr.message);
	}
}

/* PROFILE_POLL_MS; 0 leaves the task off. */
static long poll_ms(const void *app)
{
	const struct dr_app *a = app;
	return a->settings->profile_poll_ms;
}

const struct svc_periodic_def dr_prof_periodic[] = {
	{.name = "profiler", .every_ms_of = poll_ms, .run = profile_run},
	{0},
};
