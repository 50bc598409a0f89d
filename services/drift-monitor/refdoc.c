/* A model's reference (face: dm.h, refdoc.c section): the reference.json the trainer
 * puts in every package (services/trainer/reference.c, format_version 2), read into the
 * columns a window compares with, in the space prediction events speak (what clients
 * send): its "columns" (tabular columns by name, or an image model's brightness and
 * contrast), each a numeric sample or counted categories, and the predictions (the
 * predicted class shares and the top probability's sample, or each regression output's
 * sample). Pure. A reference without "columns" (format 1: the net's preprocessed inputs
 * only) cannot be compared with events and is refused with a message that says so. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "stats/stats.h"
#include "dm.h"

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct dm_ref_label *)a)->label, ((const struct dm_ref_label *)b)->label);
}

/* A numeric sample [numbers] into c; non-numbers (null for NaN) are skipped. */
static enum core_status read_sample(json_t *arr, const char *where, struct dm_ref_col *c, struct core_error *err)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return core_fail(err, CORE_EINVAL, "reference.json: %s: no \"sample\" of values", where);
	c->sample = core_xmalloc(json_array_size(arr) * sizeof *c->sample);
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (json_is_number(v) && isfinite(json_number_value(v)))
			c->sample[c->n_sample++] = json_number_value(v);
	}
	if (c->n_sample == 0)
		return core_fail(err, CORE_EINVAL, "reference.json: %s: the sample holds no finite number", where);
	/* sorted once here: every window's report sorts its copy of the sample, and finds
	 * it sorted in one pass (no statistic depends on the order of its values) */
	return stats_sort_sample(c->sample, c->n_sample) == CORE_ENOMEM ? core_fail(err, CORE_ENOMEM, "out of memory")
									: CORE_OK;
}

/* {"label": count, ...} into c's categories, sorted bytewise. */
static enum core_status read_counts(json_t *obj, const char *where, struct dm_ref_col *c, struct core_error *err)
{
	if (!json_is_object(obj) || json_object_size(obj) == 0)
		return core_fail(err, CORE_EINVAL, "reference.json: %s: no value counts", where);
	c->cats = core_xcalloc(json_object_size(obj), sizeof *c->cats);
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return core_fail(err, CORE_EINVAL, "reference.json: %s: the count of '%.100s' is not a count",
					 where, k);
		if (json_integer_value(v) == 0)
			continue;
		c->cats[c->k++] = (struct dm_ref_label){core_xstrdup(k), (uint64_t)json_integer_value(v)};
	}
	if (c->k == 0)
		return core_fail(err, CORE_EINVAL, "reference.json: %s: every count is 0", where);
	qsort(c->cats, c->k, sizeof *c->cats, cmp_label);
	return CORE_OK;
}

static uint64_t count_of(json_t *o, const char *key, uint64_t dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : dflt;
}

/* One member of "columns" into c. */
static enum core_status read_column(json_t *o, size_t i, struct dm_ref_col *c, struct core_error *err)
{
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *type = json_string_value(json_object_get(o, "type"));
	char where[160];
	snprintf(where, sizeof where, "columns[%zu]", i);
	if (!name || !*name || strlen(name) > DM_NAME_MAX)
		return core_fail(err, CORE_EINVAL, "reference.json: %s: no name", where);
	snprintf(where, sizeof where, "column '%.100s'", name);
	c->name = core_xstrdup(name);
	c->missing = count_of(o, "missing", 0);
	enum core_status rc;
	if (type && strcmp(type, "numeric") == 0) {
		c->type = STATS_COLUMN_NUMERICAL;
		rc = read_sample(json_object_get(o, "sample"), where, c, err);
		c->count = count_of(o, "count", c->n_sample);
	} else if (type && strcmp(type, "categorical") == 0) {
		c->type = STATS_COLUMN_CATEGORICAL;
		rc = read_counts(json_object_get(o, "value_counts"), where, c, err);
		uint64_t n = 0;
		for (size_t j = 0; j < c->k; j++)
			n += c->cats[j].count;
		c->count = count_of(o, "count", n);
	} else {
		rc = core_fail(err, CORE_EINVAL, "reference.json: %s: type must be numeric or categorical", where);
	}
	return rc;
}

static struct dm_ref_col *add_col(struct dm_ref_col **cols, size_t *n)
{
	*cols = core_xrealloc(*cols, (*n + 1) * sizeof **cols);
	struct dm_ref_col *c = &(*cols)[(*n)++];
	*c = (struct dm_ref_col){0};
	return c;
}

/* The predictions: a classifier's class shares ("label") and top probability
 * ("confidence"), or a regressor's outputs ("output_<i>"). Absent predictions leave
 * none (the report then has no prediction drift). */
static enum core_status read_predictions(json_t *p, struct dm_ref *r, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	const char *task = json_string_value(json_object_get(p, "task"));
	if (!task)
		return CORE_OK;
	if (strcmp(task, "classification") == 0) {
		json_t *classes = json_object_get(p, "classes"), *counts = json_object();
		size_t i;
		json_t *cl;
		json_array_foreach(classes, i, cl)
		{
			const char *name = json_string_value(json_object_get(cl, "name"));
			if (name)
				json_object_set(counts, name, json_object_get(cl, "count"));
		}
		struct dm_ref_col *c = add_col(&r->pred, &r->n_pred);
		c->name = core_xstrdup("label");
		c->type = STATS_COLUMN_CATEGORICAL;
		rc = read_counts(counts, "predictions.classes", c, err);
		json_decref(counts);
		for (size_t j = 0; rc == CORE_OK && j < c->k; j++)
			c->count += c->cats[j].count;
		json_t *conf = json_object_get(p, "confidence");
		if (rc == CORE_OK && json_object_get(conf, "sample")) {
			c = add_col(&r->pred, &r->n_pred);
			c->name = core_xstrdup("confidence");
			c->type = STATS_COLUMN_NUMERICAL;
			rc = read_sample(json_object_get(conf, "sample"), "predictions.confidence", c, err);
			c->count = c->n_sample;
		}
	} else if (strcmp(task, "regression") == 0) {
		size_t i;
		json_t *o;
		json_array_foreach(json_object_get(p, "outputs"), i, o)
		{
			if (rc != CORE_OK || !json_object_get(o, "sample"))
				continue;
			struct dm_ref_col *c = add_col(&r->pred, &r->n_pred);
			c->name = core_xasprintf("output_%zu", i);
			c->type = STATS_COLUMN_NUMERICAL;
			rc = read_sample(json_object_get(o, "sample"), c->name, c, err);
			c->count = count_of(o, "count", c->n_sample);
		}
	}
	return rc;
}

enum core_status dm_ref_parse(json_t *doc, struct dm_ref *out, struct core_error *err)
{
	*out = (struct dm_ref){0};
	enum core_status rc = CORE_OK;
	json_t *in = json_object_get(doc, "input"), *cols = json_object_get(doc, "columns");
	if (!json_is_array(cols) || json_array_size(cols) == 0) {
		rc = core_fail(err, CORE_EINVAL,
			       "reference.json has no \"columns\" (format_version 2: the inputs as clients send "
			       "them); retrain the model with this trainer to get one");
		goto out;
	}
	if (json_array_size(cols) > DM_FEATURES_MAX) {
		rc = core_fail(err, CORE_EINVAL, "reference.json: %zu columns, at most %d", json_array_size(cols),
			       DM_FEATURES_MAX);
		goto out;
	}
	const char *kind = json_string_value(json_object_get(in, "kind"));
	out->image = kind && strcmp(kind, "image") == 0;
	size_t i;
	json_t *o;
	json_array_foreach(cols, i, o)
	{
		if (rc == CORE_OK)
			rc = read_column(o, i, add_col(&out->cols, &out->n_cols), err);
	}
	for (size_t a = 0; rc == CORE_OK && a < out->n_cols; a++)
		for (size_t b = a + 1; rc == CORE_OK && b < out->n_cols; b++)
			if (strcmp(out->cols[a].name, out->cols[b].name) == 0)
				rc = core_fail(err, CORE_EINVAL, "reference.json: column '%.100s' twice",
					       out->cols[a].name);
	if (rc == CORE_OK)
		rc = read_predictions(json_object_get(doc, "predictions"), out, err);
out:
	if (rc != CORE_OK)
		dm_ref_free(out);
	return rc;
}

static void col_free(struct dm_ref_col *c)
{
	free(c->name);
	free(c->sample);
	for (size_t j = 0; j < c->k; j++)
		free(c->cats[j].label);
	free(c->cats);
}

void dm_ref_free(struct dm_ref *r)
{
	for (size_t i = 0; i < r->n_cols; i++)
		col_free(&r->cols[i]);
	for (size_t i = 0; i < r->n_pred; i++)
		col_free(&r->pred[i]);
	free(r->cols);
	free(r->pred);
	*r = (struct dm_ref){0};
}
