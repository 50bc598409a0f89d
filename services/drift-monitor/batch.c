/* Batch drift (face: dm.h, batch.c section): Evidently's everyday use, "do these two
 * data sets differ?", on two CSV texts (sent inline, or fetched from the data registry
 * by dataset.c). Pure: no I/O, no database.
 *   1. dm_batch_parse checks the body (the overrides through dm_overrides_parse, so a
 *      batch accepts exactly what a monitor accepts; a dataset sample's "name@ref"
 *      through dm_dataset_ref_check);
 *   2. dm_batch_report reads both texts with the shared CSV reader (core/csv.h), one
 *      column at a time keeps its non-empty cells (an empty cell is missing, as
 *      Evidently drops NaN), decides num or cat, and hands the column to table.c,
 *      which picks the method, scores it and writes Evidently's data-drift row.
 * Memory: each sample's cells are copied once (the body's size bounds them:
 * DM_BATCH_MAX), plus one column's numbers and bins at a time. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include "core/alloc.h"
#include "core/csv.h"
#include "core/fmt.h"
#include "stats/distance.h"
#include "stats/drift.h"
#include "stats/stats.h"
#include "stats/stattest.h"
#include "dm.h"

static const char *const batch_members[] = {"reference", "current", "columns", "drift_share", NULL};
static const char *const sample_members[] = {"csv", "dataset", NULL};
static const char *const sample_names[2] = {"reference", "current"};

/* --- the body ------------------------------------------------------------------------ */

/* One sample: its inline text into *text and *len, or its "name@ref" into *dataset. */
static enum core_status parse_sample(json_t *s, const char *field, const char **text, size_t *len, const char **dataset,
				     struct core_error *err)
{
	enum core_status rc = dm_refuse_unknown(s, field, sample_members, err);
	if (rc != CORE_OK)
		return rc;
	json_t *csv = json_object_get(s, "csv"), *ds = json_object_get(s, "dataset");
	if (csv && ds)
		return core_fail(err, CORE_EINVAL, "%s: give csv or dataset, not both", field);
	if (ds) {
		char where[32];
		snprintf(where, sizeof where, "%s.dataset", field);
		if (!json_is_string(ds))
			return core_fail(err, CORE_EINVAL, "%s: must be a string \"<name>@<version>\"", where);
		*dataset = json_string_value(ds);
		return dm_dataset_ref_check(*dataset, where, err);
	}
	if (!csv)
		return http_jspec_missing(err, field, "csv");
	if (!json_is_string(csv))
		return core_fail(err, CORE_EINVAL, "%s.csv: must be a string (CSV text with a header row)", field);
	*text = json_string_value(csv);
	*len = json_string_length(csv);
	if (*len == 0)
		return core_fail(err, CORE_EINVAL, "%s.csv: is empty (CSV text with a header row)", field);
	return CORE_OK;
}

enum core_status dm_batch_parse(json_t *body, struct dm_batch *out, struct core_error *err)
{
	*out = (struct dm_batch){.drift_share = STATS_DRIFT_SHARE_DEFAULT};
	json_t *ref = NULL, *cur = NULL, *columns = NULL;
	bool has_share = false;
	double share = 0;
	const struct http_jspec spec[] = {HTTP_JS_REQ_OBJECT("reference", &ref), HTTP_JS_REQ_OBJECT("current", &cur),
					  HTTP_JS_OPT_OBJECT("columns", &columns, NULL),
					  HTTP_JS_OPT_DOUBLE("drift_share", &share, &has_share), HTTP_JS_END};
	enum core_status rc = http_jspec_parse(body, spec, err);
	if (rc == CORE_OK)
		rc = dm_refuse_unknown(body, NULL, batch_members, err);
	if (rc == CORE_OK)
		rc = parse_sample(ref, "reference", &out->ref_csv, &out->ref_len, &out->ref_dataset, err);
	if (rc == CORE_OK)
		rc = parse_sample(cur, "current", &out->cur_csv, &out->cur_len, &out->cur_dataset, err);
	if (rc == CORE_OK && has_share && !(isfinite(share) && share > 0 && share <= 1))
		rc = core_fail(err, CORE_EINVAL, "drift_share: must be a number > 0 and <= 1");
	if (rc == CORE_OK)
		rc = columns ? dm_overrides_parse(columns, "columns", &out->columns, err) : CORE_OK;
	if (rc != CORE_OK) {
		dm_batch_clear(out);
		return rc;
	}
	if (!out->columns)
		out->columns = json_object();
	if (has_share)
		out->drift_share = share;
	return CORE_OK;
}

void dm_batch_clear(struct dm_batch *b)
{
	json_decref(b->columns);
	b->columns = NULL;
}

/* --- the samples --------------------------------------------------------------------- */

/* One column of one sample: its non-empty cells (copies) and its empty ones. */
struct cells {
	char **v;
	size_t n, cap;
	uint64_t missing;
};

struct sample {
	char **names; /* the header, copies */
	struct cells *cols;
	size_t n_cols;
	uint64_t rows;
};

static void sample_free(struct sample *s)
{
	for (size_t c = 0; c < s->n_cols; c++) {
		free(s->names[c]);
		for (size_t i = 0; s->cols && i < s->cols[c].n; i++)
			free(s->cols[c].v[i]);
		if (s->cols)
			free(s->cols[c].v);
	}
	free(s->names);
	free(s->cols);
	*s = (struct sample){0};
}

static void cells_add(struct cells *c, const char *value)
{
	if (!*value) {
		c->missing++;
		return;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = core_xrealloc(c->v, c->cap * sizeof *c->v);
	}
	c->v[c->n++] = core_xstrdup(value);
}

/* Reads one CSV text into *s (zeroed on failure). name: "reference" or "current",
 * which the reader's messages start with. */
static enum core_status read_sample(const char *text, size_t len, const char *name, struct sample *s,
				    struct core_error *err)
{
	struct core_csv *r = NULL;
	const char *const *fields;
	uint64_t row;
	enum core_status rc = core_csv_open_mem(text, len, name, &r, err);
	if (rc != CORE_OK)
		return rc;
	size_t n;
	const char *const *header = core_csv_header(r, &n);
	if (n > DM_FEATURES_MAX) {
		rc = core_fail(err, CORE_EINVAL, "%s: %zu columns, at most %d", name, n, DM_FEATURES_MAX);
		goto out;
	}
	s->n_cols = n;
	s->names = core_xcalloc(n, sizeof *s->names);
	s->cols = core_xcalloc(n, sizeof *s->cols);
	for (size_t c = 0; c < n; c++)
		s->names[c] = core_xstrdup(header[c]);
	while ((rc = core_csv_next(r, &fields, &row, err)) == CORE_OK) {
		for (size_t c = 0; c < n; c++)
			cells_add(&s->cols[c], fields[c]);
		s->rows = row;
	}
	if (rc == CORE_ENOENT)
		rc = CORE_OK;
out:
	core_csv_close(r);
	if (rc != CORE_OK)
		sample_free(s);
	return rc;
}

static ssize_t column_index(const struct sample *s, const char *name)
{
	for (size_t c = 0; c < s->n_cols; c++)
		if (strcmp(s->names[c], name) == 0)
			return (ssize_t)c;
	return -1;
}

/* Appends "'a', 'b'" of the names of from that to lacks into buf. */
static size_t list_absent(const struct sample *from, const struct sample *to, char *buf, size_t size)
{
	size_t n = 0, len = 0;
	buf[0] = '\0';
	for (size_t c = 0; c < from->n_cols; c++) {
		if (column_index(to, from->names[c]) >= 0)
			continue;
		if (len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s'%.100s'", n ? ", " : "", from->names[c]);
		n++;
	}
	return n;
}

/* Both headers must name the same columns (in any order): Evidently compares columns
 * by name, and a column on one side only has nothing to compare with. */
static enum core_status check_headers(const struct sample *ref, const struct sample *cur, struct core_error *err)
{
	char missing[300], extra[300];
	size_t n_missing = list_absent(ref, cur, missing, sizeof missing);
	size_t n_extra = list_absent(cur, ref, extra, sizeof extra);
	if (n_missing == 0 && n_extra == 0)
		return CORE_OK;
	return core_fail(err, CORE_EINVAL, "current: the columns differ from the reference's:%s%s%s%s%s",
			 n_missing ? " missing " : "", missing, n_missing && n_extra ? ";" : "",
			 n_extra ? " extra " : "", extra);
}

/* --- one column ---------------------------------------------------------------------- */

/* A cell as a finite number, as pandas would read the column as numbers: the whole cell,
 * no leading space, no hexadecimal. */
static bool read_number(const char *s, double *out)
{
	if (isspace((unsigned char)*s) || strpbrk(s, "xX"))
		return false;
	char *end;
	errno = 0;
	double v = core_strtod(s, &end);
	if (*end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* The cells as numbers into *out (malloc'd), or false when one is not a finite number. */
static bool numbers(const struct cells *c, double **out)
{
	*out = core_xmalloc((c->n ? c->n : 1) * sizeof **out);
	for (size_t i = 0; i < c->n; i++) {
		if (!read_number(c->v[i], &(*out)[i])) {
			free(*out);
			*out = NULL;
			return false;
		}
	}
	return true;
}

/* --- the report ------------------------------------------------------------------------ */

/* One column of the two samples as the table wants it: numbers when every cell of
 * both reads as one, else categories counted over both. *c owns what it points at. */
static enum core_status column_of(const char *name, const struct cells *ref, const struct cells *cur, struct dm_col *c,
				  struct stats_bins *cats, double *num[2], struct core_error *err)
{
	const struct cells *cl[2] = {ref, cur};
	*c = (struct dm_col){.name = name, .type = STATS_COLUMN_NUMERICAL};
	for (int s = 0; s < 2; s++) {
		c->missing[s] = cl[s]->missing;
		if (cl[s]->n == 0)
			return core_fail(err, CORE_EINVAL,
					 "column '%.100s': no values in the %s (every cell is empty), nothing to "
					 "compare",
					 name, sample_names[s]);
	}
	for (int s = 0; s < 2 && c->type == STATS_COLUMN_NUMERICAL; s++)
		if (!numbers(cl[s], &num[s]))
			c->type = STATS_COLUMN_CATEGORICAL;
	if (c->type == STATS_COLUMN_NUMERICAL) {
		for (int s = 0; s < 2; s++) {
			c->num[s] = num[s];
			c->n_num[s] = cl[s]->n;
		}
		return CORE_OK;
	}
	enum core_status rc =
		stats_bins_categorical((const char *const *)ref->v, ref->n, (const char *const *)cur->v, cur->n, cats);
	if (rc != CORE_OK)
		return core_fail(err, rc, "column '%.100s': cannot count its categories (%s)", name, core_strerror(rc));
	c->cats = cats;
	for (int s = 0; s < 2; s++) {
		c->cells[s] = (const char *const *)cl[s]->v;
		c->n_cells[s] = cl[s]->n;
	}
	return CORE_OK;
}

enum core_status dm_batch_report(const struct dm_batch *b, json_t **report, struct core_error *err)
{
	struct sample smp[2] = {{0}, {0}};
	json_t *rows = json_array();
	size_t n_drifted = 0;
	*report = NULL;
	enum core_status rc = read_sample(b->ref_csv, b->ref_len, sample_names[0], &smp[0], err);
	if (rc == CORE_OK)
		rc = read_sample(b->cur_csv, b->cur_len, sample_names[1], &smp[1], err);
	if (rc == CORE_OK)
		rc = check_headers(&smp[0], &smp[1], err);
	const char *key;
	json_t *v;
	json_object_foreach(b->columns, key, v)
	{
		if (rc == CORE_OK && column_index(&smp[0], key) < 0)
			rc = core_fail(err, CORE_EINVAL, "columns.%.100s: no such column in the CSV", key);
	}
	/* Columns in the reference's order, as Evidently lists them. */
	for (size_t i = 0; rc == CORE_OK && i < smp[0].n_cols; i++) {
		const char *name = smp[0].names[i];
		struct dm_col c;
		struct stats_bins cats = {0};
		double *num[2] = {NULL, NULL};
		json_t *row = NULL;
		bool drifted = false;
		rc = column_of(name, &smp[0].cols[i], &smp[1].cols[column_index(&smp[1], name)], &c, &cats, num, err);
		if (rc == CORE_OK)
			rc = dm_col_report(&c, json_object_get(b->columns, name), "columns", &row, &drifted, err);
		free(num[0]);
		free(num[1]);
		stats_bins_free(&cats);
		if (rc == CORE_OK) {
			json_array_append_new(rows, row);
			n_drifted += drifted;
		}
	}
	if (rc != CORE_OK)
		goto out;
	*report = dm_table(rows, n_drifted, b->drift_share);
	rows = NULL;
	if (!*report)
		rc = core_fail(err, CORE_ENOMEM, "the report cannot be built (out of memory)");
out:
	json_decref(rows);
	sample_free(&smp[0]);
	sample_free(&smp[1]);
	return rc;
}
