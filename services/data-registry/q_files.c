/* Queries on version_files (migration 0002): a version's manifest rows. A version may
 * hold a million files, so rows go in DR_FILES_CHUNK at a time, each chunk one INSERT
 * over three unnested arrays (one round trip per chunk, bounded literal size), and
 * come out a page at a time in path order (the primary key's order: C collation). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "dr.h"

static const struct db_stmt insert_files = {
	.name = "dr_q_insert_files",
	.sql = "INSERT INTO version_files (version_pk, path, sha256, size) "
	       "SELECT $1::bigint, p, s, z FROM unnest($2::text[], $3::text[], $4::bigint[]) AS f(p, s, z)",
	.n_params = 4,
};

int dr_q_insert_files(struct db_conn *c, int64_t version_pk, const struct dr_manifest_file *files, size_t n,
		      struct core_error *err)
{
	int total = 0;
	for (size_t at = 0; at < n; at += DR_FILES_CHUNK) {
		size_t m = n - at < DR_FILES_CHUNK ? n - at : DR_FILES_CHUNK;
		struct db_arr paths, shas, sizes;
		db_arr_init(&paths);
		db_arr_init(&shas);
		db_arr_init(&sizes);
		for (size_t i = at; i < at + m; i++) {
			db_arr_add_str(&paths, files[i].path, strlen(files[i].path));
			db_arr_add_str(&shas, files[i].sha256, 64);
			db_arr_add_i64(&sizes, (int64_t)files[i].size);
		}
		struct db_i64 v;
		const char *params[4] = {db_i64(&v, version_pk), db_arr_end(&paths), db_arr_end(&shas),
					 db_arr_end(&sizes)};
		int rc;
		if (!params[1] || !params[2] || !params[3]) {
			core_fail(err, CORE_ENOMEM, "dr_q_insert_files: array of %zu files too large", m);
			rc = DB_HARD_ERROR;
		} else {
			rc = db_exec(c, &insert_files, params, NULL, err);
		}
		db_arr_free(&paths);
		db_arr_free(&shas);
		db_arr_free(&sizes);
		if (rc < 0)
			return rc;
		total += rc;
	}
	return total;
}

static const struct db_stmt files_page = {
	.name = "dr_q_files_page",
	.sql = "SELECT path, sha256, size FROM version_files WHERE version_pk = $1::bigint AND path > $2 "
	       "ORDER BY path LIMIT $3::bigint",
	.n_params = 3,
};

int dr_q_files_page(struct db_conn *c, int64_t version_pk, const char *after, int64_t limit, PGresult **res_out,
		    struct core_error *err)
{
	struct db_i64 v, l;
	const char *params[3] = {db_i64(&v, version_pk), after ? after : "", db_i64(&l, limit)};
	return db_exec(c, &files_page, params, res_out, err);
}

static const struct db_stmt file_one = {
	.name = "dr_q_file",
	.sql = "SELECT sha256, size FROM version_files WHERE version_pk = $1::bigint AND path = $2",
	.n_params = 2,
};

int dr_q_file(struct db_conn *c, int64_t version_pk, const char *path, PGresult **res_out, struct core_error *err)
{
	struct db_i64 v;
	const char *params[2] = {db_i64(&v, version_pk), path};
	return db_exec(c, &file_one, params, res_out, err);
}

static const struct db_stmt version_files = {
	.name = "dr_q_version_files",
	.sql = "SELECT path, sha256, size FROM version_files WHERE version_pk = $1::bigint ORDER BY path",
	.n_params = 1,
};

int dr_q_version_files(struct db_conn *c, int64_t version_pk, struct dr_manifest_file **out, size_t *n,
		       struct core_error *err)
{
	struct db_i64 v;
	const char *params[1] = {db_i64(&v, version_pk)};
	PGresult *res = NULL;
	*out = NULL;
	*n = 0;
	int rc = db_exec(c, &version_files, params, &res, err);
	if (rc > 0) {
		struct dr_manifest_file *f = core_xcalloc((size_t)rc, sizeof *f);
		for (int i = 0; i < rc; i++) {
			f[i].path = core_xstrdup(db_get_text(res, i, 0));
			snprintf(f[i].sha256, sizeof f[i].sha256, "%s", db_get_text(res, i, 1));
			int64_t size = 0;
			db_get_int64(res, i, 2, &size, NULL);
			f[i].size = (uint64_t)size;
		}
		*out = f;
		*n = (size_t)rc;
	}
	PQclear(res);
	return rc;
}

static const struct db_stmt blobs_referenced = {
	.name = "dr_q_blobs_referenced",
	.sql = "SELECT k.i - 1 FROM unnest($1::text[]) WITH ORDINALITY AS k(key, i) "
	       "WHERE EXISTS (SELECT 1 FROM version_files f WHERE f.sha256 = k.key) "
	       "OR EXISTS (SELECT 1 FROM versions v WHERE v.profile_sha = k.key)",
	.n_params = 1,
};

int dr_q_blobs_referenced(struct db_conn *c, const char *const *keys, size_t n, bool *referenced,
			  struct core_error *err)
{
	struct db_arr a;
	db_arr_init(&a);
	for (size_t i = 0; i < n; i++)
		db_arr_add_str(&a, keys[i], strlen(keys[i]));
	const char *params[1] = {db_arr_end(&a)};
	PGresult *res = NULL;
	int rc;
	if (!params[0]) {
		core_fail(err, CORE_ENOMEM, "dr_q_blobs_referenced: %zu keys", n);
		rc = DB_HARD_ERROR;
	} else {
		rc = db_exec(c, &blobs_referenced, params, &res, err);
	}
	for (int r = 0; rc > 0 && r < rc; r++) {
		int64_t i = -1;
		if (db_get_int64(res, r, 0, &i, NULL) == CORE_OK && i >= 0 && (size_t)i < n)
			referenced[i] = true;
	}
	PQclear(res);
	db_arr_free(&a);
	return rc;
}
