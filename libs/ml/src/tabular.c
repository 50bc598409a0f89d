/* The tabular encoder (ml/tabular.h): compiles the data registry's `preprocessing`
 * metadata once and encodes rows of raw cells with it. The data registry's tensor export
 * and the inference API both encode through ml_tabular_encode, so the two cannot drift
 * apart (the training/serving skew this file exists to prevent). Numbers are computed
 * in double and stored as float, as the export always did. */
#include "ml/tabular.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"

bool ml_tabular_missing_text(const char *v)
{
	return !*v || strcmp(v, "NA") == 0 || strcmp(v, "N/A") == 0 || strcmp(v, "NaN") == 0 || strcmp(v, "nan") == 0 ||
	       strcmp(v, "null") == 0;
}

bool ml_tabular_number_text(const char *v, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (end == v || *end || errno == ERANGE || !isfinite(d))
		return false;
	*out = d;
	return true;
}

static int cmp_by_text(const void *a, const void *b, void *vocab)
{
	char **v = vocab;
	return strcmp(v[*(const size_t *)a], v[*(const size_t *)b]);
}

/* The vocabulary index of text, or -1. */
static long find_text(const struct ml_tab_column *c, const char *text)
{
	size_t lo = 0, hi = c->n_vocab;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(c->vocab[c->by_text[mid]], text);
		if (d == 0)
			return (long)c->by_text[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The vocabulary index of the first entry equal to num as a number, or -1. */
static long find_number(const struct ml_tab_column *c, double num)
{
	for (size_t k = 0; k < c->n_vocab; k++)
		if (c->vocab_num[k] == num)
			return (long)k;
	return -1;
}

static enum core_status get_number(const json_t *col, size_t i, const char *key, bool required, double dflt,
				   double *out, struct core_error *err)
{
	const json_t *v = json_object_get(col, key);
	if (!v && !required) {
		*out = dflt;
		return CORE_OK;
	}
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return core_fail(err, CORE_EINVAL, "columns[%zu]: %s must be a finite number", i, key);
	*out = json_number_value(v);
	return CORE_OK;
}

static enum core_status compile_column(const json_t *col, size_t i, struct ml_tab_column *c, struct core_error *err)
{
	const json_t *name = json_object_get(col, "name"), *type = json_object_get(col, "type");
	if (!json_is_object(col) || !json_is_string(name) || !*json_string_value(name))
		return core_fail(err, CORE_EINVAL, "columns[%zu]: an object with a non-empty name", i);
	c->name = core_xstrdup(json_string_value(name));
	if (!json_is_string(type))
		return core_fail(err, CORE_EINVAL, "columns[%zu]: type must be numeric or categorical", i);
	if (strcmp(json_string_value(type), "numeric") == 0) {
		c->numeric = true;
		enum core_status rc;
		if ((rc = get_number(col, i, "mean", true, 0, &c->mean, err)) != CORE_OK ||
		    (rc = get_number(col, i, "std", false, 1, &c->std, err)) != CORE_OK ||
		    (rc = get_number(col, i, "fill", false, c->mean, &c->fill, err)) != CORE_OK)
			return rc;
		if (c->std < 0)
			return core_fail(err, CORE_EINVAL, "columns[%zu]: std must be >= 0", i);
		return CORE_OK;
	}
	if (strcmp(json_string_value(type), "categorical") != 0)
		return core_fail(err, CORE_EINVAL, "columns[%zu]: type must be numeric or categorical, got '%s'", i,
				 json_string_value(type));
	const json_t *voc = json_object_get(col, "vocabulary");
	if (!json_is_array(voc))
		return core_fail(err, CORE_EINVAL, "columns[%zu]: vocabulary must be an array of strings", i);
	size_t n = json_array_size(voc);
	c->vocab = core_xcalloc(n ? n : 1, sizeof *c->vocab);
	c->by_text = core_xcalloc(n ? n : 1, sizeof *c->by_text);
	c->vocab_num = core_xcalloc(n ? n : 1, sizeof *c->vocab_num);
	for (size_t k = 0; k < n; k++) {
		const json_t *e = json_array_get(voc, k);
		if (!json_is_string(e))
			return core_fail(err, CORE_EINVAL, "columns[%zu]: vocabulary[%zu] must be a string", i, k);
		c->vocab[k] = core_xstrdup(json_string_value(e));
		c->n_vocab = k + 1;
		c->by_text[k] = k;
		if (!ml_tabular_number_text(c->vocab[k], &c->vocab_num[k]))
			c->vocab_num[k] = NAN;
	}
	qsort_r(c->by_text, n, sizeof *c->by_text, cmp_by_text, c->vocab);
	for (size_t k = 1; k < n; k++)
		if (strcmp(c->vocab[c->by_text[k - 1]], c->vocab[c->by_text[k]]) == 0)
			return core_fail(err, CORE_EINVAL, "columns[%zu]: vocabulary has '%s' twice", i,
					 c->vocab[c->by_text[k]]);
	return CORE_OK;
}

static enum core_status get_bool(const json_t *prep, const char *key, bool dflt, bool *out, struct core_error *err)
{
	const json_t *v = json_object_get(prep, key);
	if (!v || json_is_null(v)) {
		*out = dflt;
		return CORE_OK;
	}
	if (!json_is_boolean(v))
		return core_fail(err, CORE_EINVAL, "%s must be true or false", key);
	*out = json_is_true(v);
	return CORE_OK;
}

enum core_status ml_tabular_compile(const json_t *prep, struct ml_tabular *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	enum core_status rc;
	const json_t *cols = json_object_get(prep, "columns");
	if (!json_is_object(prep) || !json_is_array(cols) || !json_array_size(cols))
		return core_fail(err, CORE_EINVAL, "preprocessing: columns must be a non-empty array");
	/* the data registry's defaults: one_hot=true, standardize=false */
	if ((rc = get_bool(prep, "one_hot", true, &out->one_hot, err)) != CORE_OK ||
	    (rc = get_bool(prep, "standardize", false, &out->standardize, err)) != CORE_OK)
		goto fail;
	size_t n = json_array_size(cols);
	out->cols = core_xcalloc(n, sizeof *out->cols);
	out->n_cols = n;
	for (size_t i = 0; i < n; i++) {
		struct ml_tab_column *c = &out->cols[i];
		if ((rc = compile_column(json_array_get(cols, i), i, c, err)) != CORE_OK)
			goto fail;
		for (size_t k = 0; k < i; k++)
			if (strcmp(out->cols[k].name, c->name) == 0) {
				rc = core_fail(err, CORE_EINVAL, "columns[%zu]: '%s' is named twice", i, c->name);
				goto fail;
			}
		out->width += c->numeric || !out->one_hot ? 1 : c->n_vocab;
	}
	if (!out->width) {
		rc = core_fail(err, CORE_EINVAL, "preprocessing: the columns encode to no feature");
		goto fail;
	}
	return CORE_OK;
fail:
	ml_tabular_free(out);
	return rc;
}

void ml_tabular_free(struct ml_tabular *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_cols; i++) {
		struct ml_tab_column *c = &t->cols[i];
		for (size_t k = 0; k < c->n_vocab; k++)
			free(c->vocab[k]);
		free(c->vocab);
		free(c->by_text);
		free(c->vocab_num);
		free(c->name);
	}
	free(t->cols);
	memset(t, 0, sizeof *t);
}

enum core_status ml_tabular_encode(const struct ml_tabular *t, const struct ml_tab_value *row, bool strict, float *out,
				   size_t *bad_col, struct core_error *err)
{
	size_t o = 0;
	for (size_t i = 0; i < t->n_cols; i++) {
		const struct ml_tab_column *c = &t->cols[i];
		const struct ml_tab_value *v = &row[i];
		bool miss = v->kind == ML_TAB_MISSING || (v->kind == ML_TAB_TEXT && ml_tabular_missing_text(v->text));
		if (c->numeric) {
			double d = c->fill;
			bool ok = true;
			if (miss)
				;
			else if (v->kind == ML_TAB_NUMBER && isfinite(v->num))
				d = v->num;
			else if (v->kind == ML_TAB_TEXT && ml_tabular_number_text(v->text, &d))
				;
			else
				ok = false;
			if (!ok) {
				if (strict) {
					if (bad_col)
						*bad_col = i;
					if (v->kind == ML_TAB_TEXT)
						return core_fail(err, CORE_EINVAL,
								 "column '%s': '%.64s' is not a number", c->name,
								 v->text);
					return core_fail(err, CORE_EINVAL, "column '%s': the value is not finite",
							 c->name);
				}
				d = c->fill;
			}
			if (t->standardize)
				d = (d - c->mean) / (c->std > 0 ? c->std : 1);
			out[o++] = (float)d;
			continue;
		}
		long k = -1;
		if (miss)
			;
		else if (v->kind == ML_TAB_TEXT)
			k = find_text(c, v->text);
		else
			k = find_number(c, v->num);
		if (t->one_hot) {
			for (size_t j = 0; j < c->n_vocab; j++)
				out[o + j] = (long)j == k ? 1.0f : 0.0f;
			o += c->n_vocab;
		} else {
			out[o++] = (float)k;
		}
	}
	return CORE_OK;
}
