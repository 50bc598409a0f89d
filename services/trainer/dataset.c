/* Submit-time checks against the data registry (DATA_REGISTRY_URL): the dataset
 * version a spec names exists and is READY, a tabular target and features are columns
 * of it, and the model's layers fit its input shape. Blocking HTTP (httpc_do) with the
 * DATA_REGISTRY_TIMEOUT_MS bound, made by the submit handler before its transaction and
 * never inside one. The client's mistakes are 400s naming the spec's field (the issue's
 * rule: a bad spec is refused at submit, never a FAILED job later); a registry that does
 * not answer (refused, timeout, 5xx) is a 503, the client may retry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/client.h"
#include "tr.h"

/* GETs {data registry}{path}. CORE_OK with *status and *doc (a JSON object, owned, or
 * NULL when the body was not one); CORE_EIO when the registry did not answer (503). */
static enum core_status registry_get(const struct tr_settings *s, const char *request_id, const char *path,
				     long *status, json_t **doc, struct core_error *err)
{
	const struct httpc_peer peer = {.name = "the data registry",
					.base_url = s->data_registry_url,
					.token = s->data_registry_token,
					.timeout_ms = s->data_registry_timeout_ms,
					.max_response = (size_t)64 << 20};
	return httpc_peer_json(&peer, "GET", path, NULL, request_id, status, doc, err);
}

static json_t *find_column(json_t *profile, const char *name)
{
	json_t *cols = json_object_get(profile, "columns"), *c;
	size_t i;
	json_array_foreach(cols, i, c)
	{
		const char *n = json_string_value(json_object_get(c, "name"));
		if (n && strcmp(n, name) == 0)
			return c;
	}
	return NULL;
}

/* Inputs one column gives the model: a number 1, a category its one-hot width. */
static int column_width(json_t *col)
{
	const char *type = json_string_value(json_object_get(col, "type"));
	json_t *d = json_object_get(col, "distinct");
	if (type && strcmp(type, "numeric") != 0 && json_is_integer(d) && json_integer_value(d) > 0)
		return (int)json_integer_value(d);
	return 1;
}

static enum core_status check_tabular(const struct tr_spec *spec, json_t *profile, struct tr_dataset_info *out,
				      struct core_error *err)
{
	json_t *target = find_column(profile, spec->target);
	if (!target)
		return core_fail(err, CORE_EINVAL, "target: column '%.200s' is not in dataset %s", spec->target,
				 spec->dataset);
	const char *ttype = json_string_value(json_object_get(target, "type"));
	if (tr_spec_is_regression(spec) && (!ttype || strcmp(ttype, "numeric") != 0))
		return core_fail(err, CORE_EINVAL, "target: column '%.200s' is %s, not numeric (linear_regression)",
				 spec->target, ttype ? ttype : "not typed");
	int width = 0;
	if (spec->features) {
		size_t i;
		json_t *f;
		json_array_foreach(spec->features, i, f)
		{
			json_t *col = find_column(profile, json_string_value(f));
			if (!col)
				return core_fail(err, CORE_EINVAL,
						 "features: [%zu] column '%.200s' is not in dataset %s", i,
						 json_string_value(f), spec->dataset);
			width += column_width(col);
		}
	} else {
		size_t i;
		json_t *col;
		json_array_foreach(json_object_get(profile, "columns"), i, col) if (col != target) width +=
			column_width(col);
	}
	if (width == 0)
		return core_fail(err, CORE_EINVAL, "features: dataset %s has no column besides the target",
				 spec->dataset);
	out->n_features = width;
	out->channels = width;
	out->height = out->width = 1;
	if (!tr_spec_is_regression(spec) && out->n_classes == 0)
		out->n_classes = column_width(target) > 1 ? column_width(target) : 2;
	return CORE_OK;
}

static int num_member(json_t *o, const char *dim, const char *stat)
{
	json_t *v = json_object_get(json_object_get(o, dim), stat);
	return json_is_number(v) ? (int)json_number_value(v) : 0;
}

static enum core_status check_image(const struct tr_spec *spec, json_t *profile, struct tr_dataset_info *out,
				    struct core_error *err)
{
	json_t *im = json_object_get(profile, "images");
	out->image = true;
	out->channels = spec->image_channels;
	if (spec->image_size) {
		out->height = out->width = spec->image_size;
	} else {
		int wmin = num_member(im, "width", "min"), wmax = num_member(im, "width", "max");
		int hmin = num_member(im, "height", "min"), hmax = num_member(im, "height", "max");
		if (wmin != wmax || hmin != hmax || wmin < 1 || hmin < 1)
			return core_fail(
				err, CORE_EINVAL,
				"image.size: the images of %s differ in size (%dx%d to %dx%d); give image.size",
				spec->dataset, wmin, hmin, wmax, hmax);
		out->width = wmin;
		out->height = hmin;
	}
	if (out->n_classes < 2)
		return core_fail(err, CORE_EINVAL, "dataset: %s has %d classes; a classifier needs at least 2",
				 spec->dataset, out->n_classes);
	return CORE_OK;
}

enum core_status tr_dataset_check(const struct tr_settings *s, const struct tr_spec *spec, const char *request_id,
				  struct tr_dataset_info *out, int *http_status, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	*http_status = 400;
	long status = 0;
	json_t *ver = NULL, *prof = NULL;
	char path[400];
	snprintf(path, sizeof path, "/v1/datasets/%s/versions/%s", spec->dataset_name, spec->dataset_ref);
	enum core_status rc = registry_get(s, request_id, path, &status, &ver, err);
	if (rc != CORE_OK)
		goto unreachable;
	json_t *v = json_object_get(ver, "version");
	if (status == 404) {
		rc = core_fail(err, CORE_EINVAL, "dataset: '%.300s' does not exist in the data registry",
			       spec->dataset);
		goto out;
	}
	if (status != 200 || !json_is_object(v)) {
		const char *m = json_string_value(json_object_get(ver, "message"));
		rc = core_fail(err, CORE_EINVAL, "dataset: '%.300s': %s", spec->dataset,
			       m ? m : "the data registry refused it");
		goto out;
	}
	const char *vstatus = json_string_value(json_object_get(v, "status"));
	const char *id = json_string_value(json_object_get(v, "id"));
	const char *format = json_string_value(json_object_get(v, "format"));
	const char *label = json_string_value(json_object_get(v, "label_column"));
	if (!vstatus || strcmp(vstatus, "READY") != 0) {
		rc = core_fail(err, CORE_EINVAL, "dataset: '%.300s' is %s, not READY%s", spec->dataset,
			       vstatus ? vstatus : "in no state",
			       vstatus && strcmp(vstatus, "PENDING") == 0 ? " (being profiled; submit again shortly)"
									  : "");
		goto out;
	}
	if (!id || strlen(id) != 64 || !format) {
		rc = core_fail(err, CORE_EIO, "the data registry answered a version without id or format");
		goto unreachable;
	}
	snprintf(out->version_id, sizeof out->version_id, "%s", id);
	snprintf(out->format, sizeof out->format, "%s", format);
	snprintf(out->label_column, sizeof out->label_column, "%s", label ? label : "");
	json_t *num = json_object_get(v, "number");
	out->number = json_is_integer(num) ? json_integer_value(num) : 0;

	snprintf(path, sizeof path, "/v1/datasets/%s/versions/%s/profile", spec->dataset_name, id);
	if ((rc = registry_get(s, request_id, path, &status, &prof, err)) != CORE_OK)
		goto unreachable;
	if (status != 200 || !prof) {
		rc = core_fail(err, CORE_EINVAL, "dataset: '%.300s' has no profile (the data registry answered %ld)",
			       spec->dataset, status);
		goto out;
	}
	json_t *classes = json_object_get(prof, "classes");
	out->n_classes = json_is_array(classes) ? (int)json_array_size(classes) : 0;
	bool tabular = strcmp(format, "csv") == 0;
	if (tabular && !spec->target) {
		rc = core_fail(err, CORE_EINVAL, "target: required for tabular data (%s is a CSV dataset%s%s)",
			       spec->dataset, label ? "; its label column is " : "", label ? label : "");
		goto out;
	}
	if (!tabular && spec->target) {
		rc = core_fail(err, CORE_EINVAL, "target: %s is image data (%s), which has no columns", spec->dataset,
			       format);
		goto out;
	}
	if (tabular && label && spec->target && strcmp(spec->target, label) != 0 && !tr_spec_is_regression(spec))
		out->n_classes = 0; /* another column than the labelled one: its width decides */
	rc = tabular ? check_tabular(spec, prof, out, err) : check_image(spec, prof, out, err);
	if (rc != CORE_OK)
		goto out;
	int k = tr_spec_is_regression(spec) ? 1 : out->n_classes;
	rc = tr_spec_build_check(spec, out->channels, out->height, out->width, k, err);
	goto out;
unreachable:
	*http_status = 503;
out:
	if (rc == CORE_OK)
		*http_status = 0;
	json_decref(ver);
	json_decref(prof);
	return rc;
}
