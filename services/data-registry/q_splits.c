/* Queries on splits (migration 0003): one function per statement, named as the
 * function. Returns follow db_exec (row count or a negative db_status). */
#include <stdio.h>
#include <string.h>
#include "dr.h"

#define SPLIT_COLS                                                                                                     \
	"name, args, fractions::text, stratify, seed, counts::text, class_counts::text, items_sha, "                   \
	"item_count, created_at"

static const struct db_stmt insert_split = {
	.name = "dr_q_insert_split",
	.sql = "INSERT INTO splits (version_pk, name, args, fractions, stratify, seed, counts, class_counts, "
	       "items_sha, item_count, created_at) VALUES ($1::bigint, $2, $3, $4::jsonb, $5::boolean, $6::bigint, "
	       "$7::jsonb, $8::jsonb, $9, $10::bigint, $11::bigint) ON CONFLICT (version_pk, name) DO NOTHING",
	.n_params = 11,
};

int dr_q_insert_split(struct db_conn *c, const struct dr_split_row *s, struct core_error *err)
{
	struct db_i64 v, seed, n, t;
	const char *params[11] = {
		db_i64(&v, s->version_pk), s->name,   s->args,         s->fractions, s->stratify ? "true" : "false",
		db_i64(&seed, s->seed),    s->counts, s->class_counts, s->items_sha, db_i64(&n, s->item_count),
		db_i64(&t, s->created_at)};
	return db_exec(c, &insert_split, params, NULL, err);
}

static const struct db_stmt split_by_name = {
	.name = "dr_q_split_by_name",
	.sql = "SELECT " SPLIT_COLS " FROM splits WHERE version_pk = $1::bigint AND name = $2",
	.n_params = 2,
};

int dr_q_split_by_name(struct db_conn *c, int64_t version_pk, const char *name, PGresult **res_out,
		       struct core_error *err)
{
	struct db_i64 v;
	const char *params[2] = {db_i64(&v, version_pk), name};
	return db_exec(c, &split_by_name, params, res_out, err);
}

static const struct db_stmt list_splits = {
	.name = "dr_q_list_splits",
	.sql = "SELECT " SPLIT_COLS " FROM splits WHERE version_pk = $1::bigint ORDER BY name",
	.n_params = 1,
};

int dr_q_list_splits(struct db_conn *c, int64_t version_pk, PGresult **res_out, struct core_error *err)
{
	struct db_i64 v;
	const char *params[1] = {db_i64(&v, version_pk)};
	return db_exec(c, &list_splits, params, res_out, err);
}

/* The nearest ancestor (by parent ids, within the dataset) that has a split named
 * name: its args and items blob. */
static const struct db_stmt ancestor_split = {
	.name = "dr_q_ancestor_split",
	.sql = "WITH RECURSIVE anc(pk, parent, depth) AS ("
	       " SELECT v.pk, v.parent, 0 FROM versions v WHERE v.pk = $1::bigint"
	       " UNION ALL"
	       " SELECT p.pk, p.parent, a.depth + 1 FROM anc a"
	       " JOIN versions p ON p.dataset_id = $2::bigint AND p.id = a.parent WHERE a.depth < 100000)"
	       " SELECT s.args, s.items_sha FROM anc a JOIN splits s ON s.version_pk = a.pk AND s.name = $3"
	       " WHERE a.depth > 0 ORDER BY a.depth LIMIT 1",
	.n_params = 3,
};

int dr_q_ancestor_split(struct db_conn *c, int64_t version_pk, int64_t dataset_id, const char *name, PGresult **res_out,
			struct core_error *err)
{
	struct db_i64 v, d;
	const char *params[3] = {db_i64(&v, version_pk), db_i64(&d, dataset_id), name};
	return db_exec(c, &ancestor_split, params, res_out, err);
}

static const struct db_stmt split_refs = {
	.name = "dr_q_split_refs",
	.sql = "SELECT k FROM unnest($1::text[]) AS k WHERE EXISTS (SELECT 1 FROM splits WHERE items_sha = k) "
	       "OR EXISTS (SELECT 1 FROM tensor_exports WHERE blob_sha = k)",
	.n_params = 1,
};

int dr_q_split_blobs_referenced(struct db_conn *c, const char *const *keys, size_t n, bool *referenced,
				struct core_error *err)
{
	struct db_arr a;
	db_arr_init(&a);
	for (size_t i = 0; i < n; i++)
		db_arr_add_str(&a, keys[i], strlen(keys[i]));
	const char *lit = db_arr_end(&a);
	if (!lit) {
		db_arr_free(&a);
		core_fail(err, CORE_ENOMEM, "split refs: key list too large");
		return DB_HARD_ERROR;
	}
	const char *params[1] = {lit};
	PGresult *res = NULL;
	int rc = db_exec(c, &split_refs, params, &res, err);
	for (int r = 0; rc > 0 && r < PQntuples(res); r++) {
		const char *k = db_get_text(res, r, 0);
		for (size_t i = 0; i < n; i++)
			if (strcmp(keys[i], k) == 0)
				referenced[i] = true;
	}
	PQclear(res);
	db_arr_free(&a);
	return rc;
}
