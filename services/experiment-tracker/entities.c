/* MLflow's Run objects ({"info", "data", "inputs"}) from query rows (face: et.h): the
 * one place the tracker renders Runs, for runs/create, runs/get and runs/search. One
 * statement serves any number of runs (et_q_runs_load_rows, the ids passed as one
 * text[] parameter) and returns plain columns, from which the Runs are built here:
 * cheaper than PostgreSQL building JSON text that the daemon would parse again.
 *
 * The values become exactly the JSON the former json_build_object text decoded to:
 * strings as they are, bigints as integers, float8 as jansson reads PostgreSQL's text
 * (an integer when it has no '.', 'e' or 'E'; non-finite values as strings), and SQL
 * NULLs omitted (json_strip_nulls). Experiments and RunInfo alone are rendered by
 * PostgreSQL (ET_SQL_EXPERIMENT, ET_SQL_RUN_INFO in et.h). */
#include <stdlib.h>
#include <string.h>
#include "et.h"

/* A float8 in PostgreSQL's text as the JSON value json_build_object + json_loads gave. */
static json_t *pg_float8(const char *s)
{
	if (strcmp(s, "NaN") == 0 || strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0)
		return json_string(s);
	if (strpbrk(s, ".eE"))
		return json_real(strtod(s, NULL));
	return json_integer(strtoll(s, NULL, 10));
}

/* Sets key to the value at (row, col) as a JSON string ('s'), integer ('i') or float8
 * ('f', pg_float8), unless it is SQL NULL (omitted). Returns false when the value could
 * not be made (invalid UTF-8, no memory). */
static bool set_col(json_t *obj, const char *key, const PGresult *res, int row, int col, int kind)
{
	if (PQgetisnull(res, row, col))
		return true;
	const char *s = PQgetvalue(res, row, col);
	json_t *v = kind == 's'   ? json_stringn(s, (size_t)PQgetlength(res, row, col))
		    : kind == 'i' ? json_integer(strtoll(s, NULL, 10))
				  : pg_float8(s);
	return v && json_object_set_new(obj, key, v) == 0;
}

/* One run being assembled: info, then the data arrays in the order the rows bring them. */
struct run_parts {
	json_t *info, *metrics, *params, *tags, *inputs;
};

static void parts_clear(struct run_parts *p)
{
	json_decref(p->info), json_decref(p->metrics), json_decref(p->params), json_decref(p->tags);
	json_decref(p->inputs);
	*p = (struct run_parts){0};
}

/* Appends {"info", "data", "inputs"} to out and clears p; nothing when p has no info. */
static bool parts_flush(struct run_parts *p, json_t *out, int *count)
{
	bool ok = true;
	if (p->info) {
		json_t *data = json_object();
		if (p->metrics)
			ok &= json_object_set(data, "metrics", p->metrics) == 0;
		if (p->params)
			ok &= json_object_set(data, "params", p->params) == 0;
		if (p->tags)
			ok &= json_object_set(data, "tags", p->tags) == 0;
		json_t *inputs = p->inputs ? json_incref(p->inputs) : json_object();
		json_t *run = json_pack("{s:O,s:o,s:o}", "info", p->info, "data", data, "inputs", inputs);
		ok &= run && json_array_append_new(out, run) == 0;
		(*count)++;
	}
	parts_clear(p);
	return ok;
}

/* Appends {"key": k, "value": v, ...} of a kind 1-3 row to *arr (made on first use). */
static bool add_entry(json_t **arr, const PGresult *res, int row, bool metric)
{
	json_t *e = json_object();
	bool ok = set_col(e, "key", res, row, 2, 's') && set_col(e, "value", res, row, 3, metric ? 'f' : 's');
	if (metric)
		ok = ok && set_col(e, "timestamp", res, row, 4, 'i') && set_col(e, "step", res, row, 5, 'i');
	if (!*arr)
		*arr = json_array();
	return json_array_append_new(*arr, e) == 0 && ok;
}

static bool add_info(struct run_parts *p, const PGresult *res, int row)
{
	static const struct {
		const char *key;
		int col, kind;
	} fields[] = {
		{"run_uuid", 2, 's'},         {"run_id", 2, 's'},   {"run_name", 3, 's'},
		{"experiment_id", 4, 's'},    {"user_id", 5, 's'},  {"status", 6, 's'},
		{"start_time", 7, 'i'},       {"end_time", 8, 'i'}, {"artifact_uri", 9, 's'},
		{"lifecycle_stage", 10, 's'},
	};
	p->info = json_object();
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!set_col(p->info, fields[i].key, res, row, fields[i].col, fields[i].kind))
			return false;
	return true;
}

int et_runs_from_rows(const PGresult *res, json_t *runs_out, struct core_error *err)
{
	struct run_parts p = {0};
	int count = 0, rows = PQntuples(res);
	const char *cur = NULL; /* ord of the run being assembled (text, borrowed from res) */
	bool ok = true;
	for (int i = 0; i < rows && ok; i++) {
		const char *ord = PQgetvalue(res, i, 0);
		if (!cur || strcmp(cur, ord) != 0) {
			ok = parts_flush(&p, runs_out, &count);
			cur = ord;
		}
		int kind = (int)strtol(PQgetvalue(res, i, 1), NULL, 10);
		if (kind == 0)
			ok = add_info(&p, res, i);
		else if (!p.info)
			continue; /* cannot happen (one snapshot): a row of a run that was not found */
		else if (kind == 1)
			ok = add_entry(&p.metrics, res, i, true);
		else if (kind == 2)
			ok = add_entry(&p.params, res, i, false);
		else if (kind == 3)
			ok = add_entry(&p.tags, res, i, false);
		else if (kind == 4)
			ok = (p.inputs = json_loads(PQgetvalue(res, i, 3), 0, NULL)) != NULL;
	}
	if (ok)
		ok = parts_flush(&p, runs_out, &count);
	parts_clear(&p);
	if (!ok) {
		core_fail(err, CORE_EINVAL, "building run JSON: a value is not valid UTF-8 or memory ran out");
		return DB_HARD_ERROR;
	}
	return count;
}

int et_runs_load(struct db_conn *c, const char *const *run_ids, size_t n, json_t *runs_out, struct core_error *err)
{
	struct db_arr ids;
	PGresult *res = NULL;
	int rc = 0;
	if (n == 0)
		return 0;
	db_arr_init(&ids);
	for (size_t i = 0; i < n; i++)
		db_arr_add_str(&ids, run_ids[i], strlen(run_ids[i]));
	const char *lit = db_arr_end(&ids);
	if (!lit) {
		core_fail(err, CORE_ELIMIT, "too many run ids to load");
		rc = DB_HARD_ERROR;
		goto out;
	}
	rc = et_q_runs_load_rows(c, lit, &res, err);
	if (rc >= 0)
		rc = et_runs_from_rows(res, runs_out, err);
out:
	PQclear(res);
	db_arr_free(&ids);
	return rc;
}
