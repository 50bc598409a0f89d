/* filter_sql.c: compiles a parsed search (filter.h) into ONE parameterised SQL query.
 * Pure: builds text and parameters, runs nothing (h_search.c does).
 *
 * The rule that keeps it safe: the SQL text is made only of this file's constants
 * (table and column names picked from fixed lists by the parsed entity and key,
 * operators from enum mlflow_cmp) and $n placeholders. Every piece of client text (keys,
 * values, lists, experiment ids, offsets) is a parameter.
 *
 * runs/search compiles to
 *   SELECT r.run_id FROM runs r
 *     LEFT JOIN latest_metrics o1 ON o1.run_id = r.run_id AND o1.key = $k   -- per
 *     ...                                     metric/param/tag sort key
 *   WHERE r.experiment_id = ANY($1::bigint[])     -- "= $1::bigint" for one id
 *     AND r.lifecycle_stage = 'active'
 *     AND EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.run_id
 *                 AND m.key = $2 AND m.value > $3::float8 AND m.value <> 'NaN')
 *     AND ...                                 -- one conjunct per clause
 *   ORDER BY <sort keys, missing values last, NaN after numbers>,
 *            r.start_time DESC, r.run_id      -- MLflow's tie-breakers
 *   LIMIT $n OFFSET $m
 * so a metric filter is answered from latest_metrics' primary key (run_id, key) or
 * its (key, value) index, and the page is cut by PostgreSQL, not here.
 *
 * Semantics, as MLflow's: a run lacking the key never matches a clause on it (also
 * for !=); NaN metrics match only != (IEEE: NaN compares false), although
 * PostgreSQL orders NaN above every number. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "filter.h"
#include "et.h"

void et_sql_init(struct et_sql *q)
{
	memset(q, 0, sizeof *q);
	core_buf_init(&q->text, 1 << 20);
}

void et_sql_free(struct et_sql *q)
{
	core_buf_free(&q->text);
	for (size_t i = 0; i < q->n_params; i++)
		free(q->params[i]);
	q->n_params = 0;
}

/* Compile state: the query and a sticky failure (text over its ceiling, too many
 * parameters), checked once at the end. */
struct cc {
	struct et_sql *q;
	bool full;
	unsigned joins; /* sort-key joins made: o1, o2, ... */
};

static void emit(struct cc *c, const char *s)
{
	if (core_buf_append_str(&c->q->text, s) != CORE_OK)
		c->full = true;
}

static void emitf(struct cc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emitf(struct cc *c, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		c->full = true;
	else
		emit(c, tmp);
}

/* Binds value (copied) as the next parameter and emits its placeholder with cast
 * (may be ""). */
static void bind(struct cc *c, const char *value, const char *cast)
{
	if (c->q->n_params == ET_SQL_MAX_PARAMS) {
		c->full = true;
		return;
	}
	c->q->params[c->q->n_params++] = core_xstrdup(value);
	emitf(c, "$%zu%s", c->q->n_params, cast);
}

static void bind_int(struct cc *c, int64_t v, const char *cast)
{
	struct db_i64 s;
	bind(c, db_i64(&s, v), cast);
}

/* Binds a list as one PostgreSQL array literal, cast to type. */
static void bind_array(struct cc *c, const char *const *items, size_t n, const char *cast)
{
	struct db_arr a;
	db_arr_init(&a);
	for (size_t i = 0; i < n; i++)
		db_arr_add_str(&a, items[i], strlen(items[i]));
	const char *text = db_arr_end(&a);
	if (text)
		bind(c, text, cast);
	else
		c->full = true;
	db_arr_free(&a);
}

/* Emits `<col> <cmp> <value>` for a string or list clause. */
static void string_test(struct cc *c, const char *col, const struct mlflow_clause *cl)
{
	if (cl->cmp == MLFLOW_CMP_IN || cl->cmp == MLFLOW_CMP_NOT_IN) {
		emitf(c, "%s%s = ANY(", cl->cmp == MLFLOW_CMP_NOT_IN ? "NOT " : "", col);
		bind_array(c, (const char *const *)cl->list, cl->n_list, "::text[]");
		emit(c, ")");
		return;
	}
	emit(c, col);
	emit(c, mlflow_cmp_sql(cl->cmp));
	bind(c, cl->value ? cl->value : "", "");
}

/* The runs column of an attribute key; NULL for a key that is not one. */
static const char *run_column(const char *key)
{
	static const char *const cols[][2] = {
		{"run_id", "r.run_id"},     {"run_name", "r.run_name"},         {"status", "r.status"},
		{"user_id", "r.user_id"},   {"artifact_uri", "r.artifact_uri"}, {"start_time", "r.start_time"},
		{"end_time", "r.end_time"},
	};
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
		if (strcmp(cols[i][0], key) == 0)
			return cols[i][1];
	return NULL;
}

static const char *experiment_column(const char *key)
{
	static const char *const cols[][2] = {
		{"name", "e.name"},
		{"experiment_id", "e.experiment_id"},
		{"creation_time", "e.creation_time"},
		{"last_update_time", "e.last_update_time"},
	};
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
		if (strcmp(cols[i][0], key) == 0)
			return cols[i][1];
	return NULL;
}

static enum core_status run_clause(struct cc *c, const struct mlflow_clause *cl, struct core_error *err)
{
	emit(c, " AND ");
	switch (cl->entity) {
	case MLFLOW_ENT_METRIC:
		emit(c, "EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.run_id AND m.key = ");
		bind(c, cl->key, "");
		emit(c, " AND m.value");
		emit(c, mlflow_cmp_sql(cl->cmp));
		bind(c, cl->value, "::float8");
		if (cl->cmp == MLFLOW_CMP_GT || cl->cmp == MLFLOW_CMP_GE)
			emit(c, " AND m.value <> 'NaN'::float8");
		emit(c, ")");
		return CORE_OK;
	case MLFLOW_ENT_PARAM:
	case MLFLOW_ENT_TAG:
		emitf(c, "EXISTS (SELECT 1 FROM %s x WHERE x.run_id = r.run_id AND x.key = ",
		      cl->entity == MLFLOW_ENT_PARAM ? "params" : "tags");
		bind(c, cl->key, "");
		emit(c, " AND ");
		string_test(c, "x.value", cl);
		emit(c, ")");
		return CORE_OK;
	case MLFLOW_ENT_ATTR: {
		const char *col = run_column(cl->key);
		if (!col)
			return core_fail(err, CORE_EINVAL, "Invalid attribute key '%s' specified", cl->key);
		if (cl->kind == MLFLOW_VAL_NUMBER) {
			emit(c, col);
			emit(c, mlflow_cmp_sql(cl->cmp));
			bind(c, cl->value, "::numeric");
		} else {
			string_test(c, col, cl);
		}
		return CORE_OK;
	}
	case MLFLOW_ENT_DATASET:
		if (strcmp(cl->key, "context") == 0) {
			emit(c, "EXISTS (SELECT 1 FROM inputs i JOIN input_tags t ON t.input_id = i.input_id "
				"WHERE i.run_id = r.run_id AND t.key = 'mlflow.data.context' AND ");
			string_test(c, "t.value", cl);
		} else {
			emit(c, "EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_id = i.dataset_id "
				"WHERE i.run_id = r.run_id AND ");
			string_test(c, strcmp(cl->key, "digest") == 0 ? "d.digest" : "d.name", cl);
		}
		emit(c, ")");
		return CORE_OK;
	}
	return core_fail(err, CORE_EINVAL, "Invalid search expression type");
}

/* Whether s is a decimal experiment id (what the bigint column can hold). */
static bool is_decimal_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static void view_test(struct cc *c, const char *col, enum mlflow_view view)
{
	if (view == MLFLOW_VIEW_DELETED_ONLY)
		emitf(c, "%s = 'deleted'", col);
	else if (view == MLFLOW_VIEW_ALL)
		emitf(c, "%s IN ('active', 'deleted')", col);
	else
		emitf(c, "%s = 'active'", col);
}

static enum core_status finish(struct cc *c, struct core_error *err)
{
	if (c->full)
		return core_fail(err, CORE_EINVAL,
				 "Search is too complex: more than %d values or a query over %zu bytes",
				 ET_SQL_MAX_PARAMS, c->q->text.max);
	return CORE_OK;
}

enum core_status et_sql_runs(const struct et_runs_query *q, struct et_sql *out, struct core_error *err)
{
	struct cc c = {.q = out};
	enum core_status rc = CORE_OK;
	const struct mlflow_order_key *keys = q->order ? q->order->keys : NULL;
	size_t n_keys = q->order ? q->order->n : 0;

	emit(&c, "SELECT r.run_id FROM runs r");
	/* one LEFT JOIN per metric/param/tag sort key: runs lacking it stay, with NULL */
	for (size_t i = 0; i < n_keys; i++) {
		static const char *const tables[] = {[MLFLOW_ENT_METRIC] = "latest_metrics",
						     [MLFLOW_ENT_PARAM] = "params",
						     [MLFLOW_ENT_TAG] = "tags"};
		if (keys[i].entity == MLFLOW_ENT_ATTR || keys[i].entity == MLFLOW_ENT_DATASET)
			continue;
		emitf(&c, " LEFT JOIN %s o%zu ON o%zu.run_id = r.run_id AND o%zu.key = ", tables[keys[i].entity], i, i,
		      i);
		bind(&c, keys[i].key, "");
	}

	/* experiments: decimal ids only (others match nothing, as no experiment has them) */
	const char **ids = core_xcalloc(q->n_experiment_ids + 1, sizeof *ids);
	size_t n_ids = 0;
	for (size_t i = 0; i < q->n_experiment_ids; i++)
		if (is_decimal_id(q->experiment_ids[i]))
			ids[n_ids++] = q->experiment_ids[i];
	if (n_ids == 1) { /* the common case: equality lets runs_by_experiment give the order */
		emit(&c, " WHERE r.experiment_id = ");
		bind(&c, ids[0], "::bigint");
	} else {
		emit(&c, " WHERE r.experiment_id = ANY(");
		bind_array(&c, ids, n_ids, "::bigint[]");
		emit(&c, ")");
	}
	free(ids);
	emit(&c, " AND ");
	view_test(&c, "r.lifecycle_stage", q->view);

	for (size_t i = 0; q->filter && i < q->filter->n && rc == CORE_OK; i++)
		rc = run_clause(&c, &q->filter->clauses[i], err);
	if (rc != CORE_OK)
		return rc;

	emit(&c, " ORDER BY ");
	bool by_start = false, by_id = false;
	for (size_t i = 0; i < n_keys; i++) {
		const char *dir = keys[i].ascending ? "ASC" : "DESC";
		if (keys[i].entity == MLFLOW_ENT_METRIC) {
			emitf(&c,
			      "CASE WHEN o%zu.value IS NULL THEN 2 WHEN o%zu.value = 'NaN'::float8 THEN 1 ELSE 0 END, "
			      "o%zu.value %s, ",
			      i, i, i, dir);
		} else if (keys[i].entity == MLFLOW_ENT_PARAM || keys[i].entity == MLFLOW_ENT_TAG) {
			emitf(&c, "o%zu.value IS NULL, o%zu.value %s, ", i, i, dir);
		} else {
			const char *col = run_column(keys[i].key);
			if (!col)
				return core_fail(err, CORE_EINVAL, "Invalid order_by key '%s'", keys[i].key);
			by_start |= strcmp(keys[i].key, "start_time") == 0;
			by_id |= strcmp(keys[i].key, "run_id") == 0;
			emitf(&c, "%s IS NULL, %s %s, ", col, col, dir);
		}
	}
	if (!by_start)
		emit(&c, "r.start_time DESC, ");
	emit(&c, by_id ? "r.run_id" : "r.run_id ASC");
	emit(&c, " LIMIT ");
	bind_int(&c, q->limit, "::bigint");
	emit(&c, " OFFSET ");
	bind_int(&c, q->offset, "::bigint");
	return finish(&c, err);
}

enum core_status et_sql_experiments(const struct et_experiments_query *q, struct et_sql *out, struct core_error *err)
{
	struct cc c = {.q = out};
	emit(&c, "SELECT " ET_SQL_EXPERIMENT "::text FROM experiments e WHERE ");
	view_test(&c, "e.lifecycle_stage", q->view);
	for (size_t i = 0; q->filter && i < q->filter->n; i++) {
		const struct mlflow_clause *cl = &q->filter->clauses[i];
		emit(&c, " AND ");
		if (cl->entity == MLFLOW_ENT_TAG) {
			emit(&c, "EXISTS (SELECT 1 FROM experiment_tags x WHERE x.experiment_id = e.experiment_id "
				 "AND x.key = ");
			bind(&c, cl->key, "");
			emit(&c, " AND ");
			string_test(&c, "x.value", cl);
			emit(&c, ")");
			continue;
		}
		const char *col = cl->entity == MLFLOW_ENT_ATTR ? experiment_column(cl->key) : NULL;
		if (!col || strcmp(cl->key, "experiment_id") == 0)
			return core_fail(err, CORE_EINVAL, "Invalid attribute key '%s' specified", cl->key);
		if (cl->kind == MLFLOW_VAL_NUMBER) {
			emit(&c, col);
			emit(&c, mlflow_cmp_sql(cl->cmp));
			bind(&c, cl->value, "::numeric");
		} else {
			string_test(&c, col, cl);
		}
	}
	emit(&c, " ORDER BY ");
	if (!q->order || q->order->n == 0) {
		emit(&c, "e.creation_time DESC, e.experiment_id ASC");
	} else {
		bool by_id = false;
		for (size_t i = 0; i < q->order->n; i++) {
			const struct mlflow_order_key *k = &q->order->keys[i];
			const char *col = k->entity == MLFLOW_ENT_ATTR ? experiment_column(k->key) : NULL;
			if (!col)
				return core_fail(err, CORE_EINVAL, "Invalid order_by key '%s'", k->key);
			by_id |= strcmp(k->key, "experiment_id") == 0;
			emitf(&c, "%s%s %s", i ? ", " : "", col, k->ascending ? "ASC" : "DESC");
		}
		if (!by_id) /* MLflow's SQL store breaks ties by id, descending */
			emit(&c, ", e.experiment_id DESC");
	}
	emit(&c, " LIMIT ");
	bind_int(&c, q->limit, "::bigint");
	emit(&c, " OFFSET ");
	bind_int(&c, q->offset, "::bigint");
	return finish(&c, err);
}
