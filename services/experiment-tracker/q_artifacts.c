/* The artifact queries (face: artifacts.h), one function per statement, named as its
 * function, its SQL next to the code that binds it. Table tracker.artifacts
 * (migrations/0003-artifacts.sql) holds one row per file and per directory, keyed by
 * (parent, name) so that a listing is one index range.
 * Paths given here are canonical (artifact_path.c). Upload and delete run these inside
 * one SERIALIZABLE transaction each (h_artifacts.c), so a tree being deleted while a
 * file is uploaded into it never leaves a file under a vanished directory. */
#include <stdlib.h>
#include <string.h>
#include "artifacts.h"
#include "core/alloc.h"

/* Every ancestor directory of $1 as (parent, name), inserted when missing; the
 * answer counts ancestors that already exist as files (the snapshot before the
 * insert, which is what matters: new rows are directories). */
static const struct db_stmt insert_dirs = {
	.name = "et_q_artifacts_insert_dirs",
	.sql = "WITH s AS (SELECT string_to_array($1::text, '/') AS seg), "
	       "anc AS (SELECT array_to_string(seg[1:i - 1], '/') AS parent, seg[i] AS name "
	       "        FROM s, generate_series(1, cardinality(seg) - 1) AS i), "
	       "ins AS (INSERT INTO artifacts (parent, name, is_dir, updated_time) "
	       "        SELECT parent, name, true, $2::bigint FROM anc "
	       "        ON CONFLICT (parent, name) DO NOTHING) "
	       "SELECT count(*) FROM artifacts a JOIN anc ON a.parent = anc.parent AND a.name = anc.name "
	       "WHERE NOT a.is_dir",
	.n_params = 2,
};

int et_q_artifacts_insert_dirs(struct db_conn *c, const char *path, int64_t now_ms, struct core_error *err)
{
	struct db_i64 now;
	const char *params[2] = {path, db_i64(&now, now_ms)};
	PGresult *res = NULL;
	int64_t files = 0;
	int rc = db_exec(c, &insert_dirs, params, &res, err);
	if (rc < 0)
		goto out;
	if (rc != 1 || db_get_int64(res, 0, 0, &files, err) != CORE_OK) {
		rc = DB_HARD_ERROR;
		goto out;
	}
	rc = files > 0 ? (int)(files > 1000 ? 1000 : files) : 0;
out:
	PQclear(res);
	return rc;
}

static const struct db_stmt upsert_file = {
	.name = "et_q_artifacts_upsert_file",
	.sql = "INSERT INTO artifacts (parent, name, is_dir, blob_key, file_size, updated_time) "
	       "VALUES ($1, $2, false, $3, $4::bigint, $5::bigint) "
	       "ON CONFLICT (parent, name) DO UPDATE SET blob_key = EXCLUDED.blob_key, "
	       "file_size = EXCLUDED.file_size, updated_time = EXCLUDED.updated_time "
	       "WHERE NOT artifacts.is_dir",
	.n_params = 5,
};

int et_q_artifacts_upsert_file(struct db_conn *c, const char *parent, const char *name, const char *blob_key,
			       uint64_t size, int64_t now_ms, struct core_error *err)
{
	struct db_i64 size_s, now;
	const char *params[5] = {parent, name, blob_key, db_i64(&size_s, (int64_t)size), db_i64(&now, now_ms)};
	return db_exec(c, &upsert_file, params, NULL, err);
}

static const struct db_stmt list = {
	.name = "et_q_artifacts_list",
	.sql = "SELECT name, is_dir, file_size FROM artifacts WHERE parent = $1 ORDER BY name",
	.n_params = 1,
};

int et_q_artifacts_list(struct db_conn *c, const char *dir, PGresult **res_out, struct core_error *err)
{
	const char *params[1] = {dir};
	return db_exec(c, &list, params, res_out, err);
}

static const struct db_stmt get = {
	.name = "et_q_artifacts_get",
	.sql = "SELECT is_dir, blob_key, file_size FROM artifacts WHERE parent = $1 AND name = $2",
	.n_params = 2,
};

int et_q_artifacts_get(struct db_conn *c, const char *parent, const char *name, PGresult **res_out,
		       struct core_error *err)
{
	const char *params[2] = {parent, name};
	return db_exec(c, &get, params, res_out, err);
}

/* The subtree is the byte range ["path/", "path0") of parent ('0' follows '/' in
 * ASCII; the column's collation is "C", so the primary key index serves the range). */
static const struct db_stmt delete_tree = {
	.name = "et_q_artifacts_delete_tree",
	.sql = "DELETE FROM artifacts WHERE (parent = $1::text AND name = $2::text) OR parent = $3::text "
	       "OR (parent >= $3::text || '/' AND parent < $3::text || '0')",
	.n_params = 3,
};

int et_q_artifacts_delete_tree(struct db_conn *c, const char *parent, const char *name, const char *path,
			       struct core_error *err)
{
	const char *params[3] = {parent, name, path};
	return db_exec(c, &delete_tree, params, NULL, err);
}

/* The batch's ordinals (1-based) whose key some file row names. One statement per
 * batch of the blob store's garbage collection. EXISTS per key rather than
 * "blob_key = ANY($1)": with 1000 keys the planner takes ANY for a scan of the whole
 * table (163 ms a batch over 200,000 rows, so a collection grows with the square of
 * the store), while EXISTS probes the partial index of 0006 once per key (3 ms). */
static const struct db_stmt referenced = {
	.name = "et_q_artifacts_referenced",
	.sql = "SELECT k.i FROM unnest($1::text[]) WITH ORDINALITY AS k(key, i) "
	       "WHERE EXISTS (SELECT 1 FROM artifacts a WHERE a.blob_key = k.key)",
	.n_params = 1,
};

int et_q_artifacts_referenced(struct db_conn *c, const char *const *keys, size_t n, bool *referenced_out,
			      struct core_error *err)
{
	struct db_arr arr;
	PGresult *res = NULL;
	db_arr_init(&arr);
	for (size_t i = 0; i < n; i++)
		db_arr_add_str(&arr, keys[i], strlen(keys[i]));
	const char *params[1] = {db_arr_end(&arr)};
	int rc = DB_HARD_ERROR;
	if (!params[0]) {
		core_fail(err, CORE_ENOMEM, "blob key batch too large");
		goto out;
	}
	rc = db_exec(c, &referenced, params, &res, err);
	for (int row = 0; row < rc; row++) {
		int64_t i = 0;
		if (db_get_int64(res, row, 0, &i, err) != CORE_OK || i < 1 || (uint64_t)i > n) {
			rc = DB_HARD_ERROR;
			goto out;
		}
		referenced_out[i - 1] = true;
	}
out:
	PQclear(res);
	db_arr_free(&arr);
	return rc;
}

/* tracker.runs belongs to the tracking part (0002-tracking.sql); this only reads it. */
static const struct db_stmt run_uri = {
	.name = "et_q_artifacts_run_uri",
	.sql = "SELECT artifact_uri FROM runs WHERE run_id = $1",
	.n_params = 1,
};

int et_q_artifacts_run_uri(struct db_conn *c, const char *run_id, char **uri_out, struct core_error *err)
{
	const char *params[1] = {run_id};
	PGresult *res = NULL;
	int rc = db_exec(c, &run_uri, params, &res, err);
	if (rc == 1) {
		const char *uri = db_get_text(res, 0, 0);
		*uri_out = core_xstrdup(uri ? uri : "");
	}
	PQclear(res);
	return rc;
}
