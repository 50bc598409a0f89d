/* The registry's searches as ONE parameterised query each, compiled from libs/mlflow's
 * filter tree (mlflow_filter_parse with MLFLOW_TARGET_MODELS / _VERSIONS), as the
 * tracker compiles its own:
 *
 *   SELECT <MR_MODEL_COLS> FROM registered_model_view r
 *   WHERE r.name LIKE $1                                   -- attribute clauses
 *     AND EXISTS (SELECT 1 FROM registered_model_tags t   -- one per tag clause
 *                 WHERE t.model_id = r.model_id AND t.key = $2 AND t.value = $3)
 *   ORDER BY <order_by, from fixed pieces>, r.name COLLATE "C" ASC  -- tie-breaker
 *   LIMIT $4::bigint OFFSET $5::bigint
 *
 * Model versions read model_version_view v (name, run_id, source_path -> v.source,
 * version_number -> v.version as bigint; IN lists as = ANY($n::text[]) or
 * ::bigint[]) and break ties by name ASC, version DESC. Client text only ever travels
 * as $n parameters; the SQL text is built from fixed pieces, so db_exec_dynamic runs
 * it. Pure; unit-tested in tests/unit/registry. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mr.h"

void mr_sql_init(struct mr_sql *q)
{
	memset(q, 0, sizeof *q);
	core_buf_init(&q->text, 1 << 20);
}

void mr_sql_free(struct mr_sql *q)
{
	core_buf_free(&q->text);
	for (size_t i = 0; i < q->n_params; i++)
		free(q->params[i]);
	q->n_params = 0;
}

/* Compile state: the query and a sticky failure (text over its ceiling, too many
 * parameters), checked once at the end. */
struct cc {
	struct mr_sql *q;
	bool full;
};

static void emit(struct cc *c, const char *s)
{
	if (core_buf_append_str(&c->q->text, s) != CORE_OK)
		c->full = true;
}

/* Binds value (copied) as the next $n and writes "$n" plus cast ("::bigint", or ""). */
static void bind(struct cc *c, const char *value, const char *cast)
{
	if (c->q->n_params == MR_SQL_MAX_PARAMS) {
		c->full = true;
		return;
	}
	c->q->params[c->q->n_params++] = core_xstrdup(value);
	if (core_buf_printf(&c->q->text, "$%zu%s", c->q->n_params, cast) != CORE_OK)
		c->full = true;
}

/* Binds a clause's list as one array literal ($n::text[] or $n::bigint[]). */
static void bind_list(struct cc *c, const struct mlflow_clause *cl, const char *cast)
{
	struct db_arr a;
	db_arr_init(&a);
	for (size_t i = 0; i < cl->n_list; i++)
		db_arr_add_str(&a, cl->list[i], strlen(cl->list[i]));
	const char *text = db_arr_end(&a);
	if (text)
		bind(c, text, cast);
	else
		c->full = true;
	db_arr_free(&a);
}

/* "<lhs> <cmp> <value>" for one clause's value; cast for numbers ("::bigint"). */
static void compare(struct cc *c, const char *lhs, const struct mlflow_clause *cl, const char *cast)
{
	if (cl->kind == MLFLOW_VAL_LIST) {
		emit(c, cl->cmp == MLFLOW_CMP_NOT_IN ? "NOT (" : "(");
		emit(c, lhs);
		emit(c, " = ANY(");
		bind_list(c, cl, *cast ? "::bigint[]" : "::text[]");
		emit(c, "))");
		return;
	}
	emit(c, lhs);
	emit(c, mlflow_cmp_sql(cl->cmp));
	bind(c, cl->value, cast);
}

static const char *version_column(const char *key)
{
	if (strcmp(key, "run_id") == 0)
		return "v.run_id";
	if (strcmp(key, "source_path") == 0)
		return "v.source";
	if (strcmp(key, "version_number") == 0)
		return "v.version";
	return "v.name";
}

static void clause(struct cc *c, enum mr_search_kind kind, const struct mlflow_clause *cl)
{
	bool models = kind == MR_SEARCH_MODELS;
	if (cl->entity == MLFLOW_ENT_TAG) {
		emit(c,
		     models ? "EXISTS (SELECT 1 FROM registered_model_tags t WHERE t.model_id = r.model_id AND t.key = "
			    : "EXISTS (SELECT 1 FROM model_version_tags t WHERE t.model_id = v.model_id "
			      "AND t.version = v.version AND t.key = ");
		bind(c, cl->key, "");
		emit(c, " AND ");
		compare(c, "t.value", cl, "");
		emit(c, ")");
		return;
	}
	const char *col = models ? "r.name" : version_column(cl->key);
	compare(c, col, cl, strcmp(col, "v.version") == 0 ? "::bigint" : "");
}

enum core_status mr_sql_search(enum mr_search_kind kind, const struct mlflow_filter *f, const char *order_sql,
			       int64_t limit, int64_t offset, struct mr_sql *out, struct core_error *err)
{
	struct cc c = {.q = out};
	struct db_i64 l, o;
	emit(&c, kind == MR_SEARCH_MODELS ? "SELECT " MR_MODEL_COLS " FROM registered_model_view r"
					  : "SELECT " MR_VERSION_COLS " FROM model_version_view v");
	for (size_t i = 0; f && i < f->n; i++) {
		emit(&c, i == 0 ? " WHERE " : " AND ");
		clause(&c, kind, &f->clauses[i]);
	}
	emit(&c, " ORDER BY ");
	emit(&c, order_sql);
	emit(&c, " LIMIT ");
	bind(&c, db_i64(&l, limit), "::bigint");
	emit(&c, " OFFSET ");
	bind(&c, db_i64(&o, offset), "::bigint");
	if (c.full)
		return core_fail(err, CORE_EINVAL, "The search filter is too large (at most %d values)",
				 MR_SQL_MAX_PARAMS - 2);
	return CORE_OK;
}

/* --- order_by --------------------------------------------------------------------- */

struct order_key {
	const char *name; /* as the client writes it */
	char letter;      /* identifies the column (duplicates, tie-breakers) */
	const char *column;
};

static const struct order_key model_keys[] = {
	{"name", 'n', "r.name COLLATE \"C\""},
	{"timestamp", 'u', "r.last_updated_time"},
	{"last_updated_timestamp", 'u', "r.last_updated_time"},
	{"creation_timestamp", 'c', "r.creation_time"},
	{NULL, 0, NULL},
};

static const struct order_key version_keys[] = {
	{"name", 'n', "v.name COLLATE \"C\""},          {"version_number", 'v', "v.version"},
	{"timestamp", 'u', "v.last_updated_time"},      {"last_updated_timestamp", 'u', "v.last_updated_time"},
	{"creation_timestamp", 'c', "v.creation_time"}, {NULL, 0, NULL},
};

static const struct order_key *find_key(const struct order_key *keys, const char *name, size_t len)
{
	for (const struct order_key *k = keys; k->name; k++)
		if (strlen(k->name) == len && strncmp(k->name, name, len) == 0)
			return k;
	return NULL;
}

static const struct order_key *find_letter(const struct order_key *keys, char letter)
{
	for (const struct order_key *k = keys; k->name; k++)
		if (k->letter == letter)
			return k;
	return NULL;
}

/* Appends "column ASC|DESC"; false when the buffer is full. */
static bool add_order(struct core_buf *sql, const struct order_key *k, bool asc)
{
	return (sql->len == 0 || core_buf_append_str(sql, ", ") == CORE_OK) &&
	       core_buf_printf(sql, "%s %s", k->column, asc ? "ASC" : "DESC") == CORE_OK;
}

enum core_status mr_order_parse(const char *const *order_by, size_t n, enum mr_search_kind kind, char *sql,
				size_t sql_size, struct core_error *err)
{
	const struct order_key *keys = kind == MR_SEARCH_MODELS ? model_keys : version_keys;
	struct core_buf sb;
	char seen[8] = "";
	size_t n_seen = 0;
	enum core_status rc = CORE_OK;

	core_buf_init(&sb, sql_size - 1);
	for (size_t i = 0; i < n; i++) {
		const char *p = order_by[i];
		while (isspace((unsigned char)*p))
			p++;
		const char *start = p;
		if (*p == '`') {
			start = ++p;
			while (*p && *p != '`')
				p++;
		} else {
			while (*p && !isspace((unsigned char)*p))
				p++;
		}
		size_t len = (size_t)(p - start);
		if (*p == '`')
			p++;
		/* "attribute.name" is accepted as "name" */
		if (len > 10 && strncmp(start, "attribute.", 10) == 0) {
			start += 10;
			len -= 10;
		}
		while (isspace((unsigned char)*p))
			p++;
		bool asc = true;
		if (strcasecmp(p, "DESC") == 0 || strncasecmp(p, "DESC ", 5) == 0)
			asc = false, p += 4;
		else if (strcasecmp(p, "ASC") == 0 || strncasecmp(p, "ASC ", 4) == 0)
			p += 3;
		while (isspace((unsigned char)*p))
			p++;
		const struct order_key *k = find_key(keys, start, len);
		if (*p || len == 0) {
			rc = core_fail(err, CORE_EINVAL, "Invalid order_by clause '%s'. Could not be parsed.",
				       order_by[i]);
			goto out;
		}
		if (!k) {
			rc = core_fail(err, CORE_EINVAL, "Invalid order by key '%.*s' specified. Valid keys are %s",
				       (int)len, start,
				       kind == MR_SEARCH_MODELS
					       ? "'['name', 'last_updated_timestamp', 'creation_timestamp']'"
					       : "'['name', 'version_number', 'last_updated_timestamp', "
						 "'creation_timestamp']'");
			goto out;
		}
		if (strchr(seen, k->letter)) {
			rc = core_fail(err, CORE_EINVAL, "`order_by` contains duplicate fields: %s", order_by[i]);
			goto out;
		}
		seen[n_seen++] = k->letter;
		if (!add_order(&sb, k, asc)) {
			rc = core_fail(err, CORE_EINVAL, "order_by too long");
			goto out;
		}
	}
	/* MLflow's tie-breakers */
	if (!strchr(seen, 'n') && !add_order(&sb, find_letter(keys, 'n'), true))
		rc = core_fail(err, CORE_EINVAL, "order_by too long");
	if (rc == CORE_OK && kind == MR_SEARCH_VERSIONS && !strchr(seen, 'v') &&
	    !add_order(&sb, find_letter(keys, 'v'), false))
		rc = core_fail(err, CORE_EINVAL, "order_by too long");
	if (rc == CORE_OK)
		snprintf(sql, sql_size, "%s", sb.data ? sb.data : "");
out:
	core_buf_free(&sb);
	return rc;
}
