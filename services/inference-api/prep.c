/* Raw inputs -> the net's input, with the package's own preprocessing (ia.h's prep.c
 * section, prep.h): pixels through libs/img's img_preprocess_pixels_r, the function the
 * data registry's tensor export ran on the training images, and table rows through
 * libs/ml's ml_tabular_encode, the encoder the export ran on the training rows. So a
 * served input becomes exactly the tensor training saw, and no client reimplements
 * normalisation. ia_prep_compile turns the package's `preprocessing` metadata into the
 * model's fields once, at load. */
#include "prep.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "ml/tabular.h"

static enum core_status compile_image(struct ia_model *m, const json_t *pp, struct core_error *err)
{
	const json_t *size = json_object_get(pp, "size"), *ch = json_object_get(pp, "channels");
	const json_t *norm = json_object_get(pp, "normalize");
	if (!json_is_array(size) || json_array_size(size) != 2 || !json_is_integer(json_array_get(size, 0)) ||
	    !json_is_integer(json_array_get(size, 1)))
		return core_fail(err, CORE_EINVAL, "preprocessing: size must be [height, width]");
	json_int_t h = json_integer_value(json_array_get(size, 0)), w = json_integer_value(json_array_get(size, 1));
	json_int_t c = ch ? (json_is_integer(ch) ? json_integer_value(ch) : -1) : 1;
	if (h < 1 || w < 1 || h > 65535 || w > 65535)
		return core_fail(err, CORE_EINVAL, "preprocessing: size must be within 1..65535");
	if (c != 1 && c != 3)
		return core_fail(err, CORE_EINVAL, "preprocessing: channels must be 1 or 3");
	struct img_prep p = {.width = (unsigned)w, .height = (unsigned)h, .channels = (unsigned)c};
	const char *n = json_is_string(norm) ? json_string_value(norm) : norm ? "" : "none";
	if (strcmp(n, "none") == 0) {
		p.norm = IMG_NORM_NONE;
	} else if (strcmp(n, "unit") == 0) {
		p.norm = IMG_NORM_UNIT;
	} else if (strcmp(n, "meanstd") == 0) {
		p.norm = IMG_NORM_MEANSTD;
		const json_t *mean = json_object_get(pp, "mean"), *std = json_object_get(pp, "std");
		if (!json_is_array(mean) || !json_is_array(std) || json_array_size(mean) != (size_t)c ||
		    json_array_size(std) != (size_t)c)
			return core_fail(err, CORE_EINVAL,
					 "preprocessing: normalize meanstd needs mean and std of %d numbers each",
					 (int)c);
		for (json_int_t i = 0; i < c; i++) {
			const json_t *mv = json_array_get(mean, (size_t)i), *sv = json_array_get(std, (size_t)i);
			if (!json_is_number(mv) || !json_is_number(sv) || !(json_number_value(sv) > 0))
				return core_fail(err, CORE_EINVAL,
						 "preprocessing: mean must be numbers and std numbers > 0");
			p.mean[i] = (float)json_number_value(mv);
			p.std[i] = (float)json_number_value(sv);
		}
	} else {
		return core_fail(err, CORE_EINVAL, "preprocessing: normalize must be none, unit or meanstd");
	}
	m->kind = IA_INPUT_IMAGE;
	m->c = (unsigned)c;
	m->h = (unsigned)h;
	m->w = (unsigned)w;
	m->prep = p;
	m->n_raw = m->n_in = (size_t)c * (size_t)h * (size_t)w;
	return CORE_OK;
}

static enum core_status compile_tabular(struct ia_model *m, const json_t *pp, struct core_error *err)
{
	struct ml_tabular *t = core_xcalloc(1, sizeof *t);
	enum core_status rc = ml_tabular_compile(pp, t, err);
	if (rc != CORE_OK) {
		free(t);
		return rc;
	}
	m->kind = IA_INPUT_TABULAR;
	m->tab = t;
	m->n_columns = t->n_cols;
	m->columns = core_xcalloc(t->n_cols, sizeof *m->columns);
	for (size_t i = 0; i < t->n_cols; i++) {
		m->columns[i].name = core_xstrdup(t->cols[i].name);
		m->columns[i].numeric = t->cols[i].numeric;
	}
	m->n_raw = t->n_cols;
	m->n_in = t->width;
	return CORE_OK;
}

/* A package without preprocessing: n numeric columns "0".."n-1", taken as they are. */
static enum core_status compile_plain(struct ia_model *m, size_t n, struct core_error *err)
{
	json_t *cols = json_array();
	for (size_t i = 0; i < n; i++) {
		char name[24];
		snprintf(name, sizeof name, "%zu", i);
		json_array_append_new(cols, json_pack("{s:s, s:s, s:f, s:f}", "name", name, "type", "numeric", "mean",
						      0.0, "std", 1.0));
	}
	json_t *pp = json_pack("{s:o, s:b}", "columns", cols, "standardize", 0);
	enum core_status rc = compile_tabular(m, pp, err);
	json_decref(pp);
	return rc;
}

enum core_status ia_prep_compile(struct ia_model *m, struct core_error *err)
{
	if (!m->pkg.net)
		return core_fail(err, CORE_EINVAL, "the package has no net");
	struct ml_shape in = ml_net_input(m->pkg.net);
	size_t want = (size_t)in.c * (size_t)in.h * (size_t)in.w;
	const json_t *pp = m->pkg.preprocessing;
	enum core_status rc;
	if (json_is_object(pp) && json_object_get(pp, "size"))
		rc = compile_image(m, pp, err);
	else if (json_is_object(pp) && json_object_get(pp, "columns"))
		rc = compile_tabular(m, pp, err);
	else if (!pp || json_is_null(pp) || json_is_object(pp))
		rc = compile_plain(m, want, err);
	else
		rc = core_fail(err, CORE_EINVAL, "preprocessing must be an object or null");
	if (rc == CORE_OK && m->n_in != want) {
		rc = core_fail(err, CORE_EINVAL,
			       "preprocessing gives %zu values per input, the net takes %zu (%dx%dx%d)", m->n_in, want,
			       in.c, in.h, in.w);
	}
	if (rc != CORE_OK)
		ia_prep_free(m);
	return rc;
}

void ia_prep_free(struct ia_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_columns; i++)
		free(m->columns[i].name);
	free(m->columns);
	m->columns = NULL;
	m->n_columns = 0;
	if (m->tab) {
		ml_tabular_free(m->tab);
		free(m->tab);
		m->tab = NULL;
	}
	m->n_in = m->n_raw = 0;
}

/* Pixels arrive as numbers (JSON, CSV, FP32 tensors) but were 8-bit integers when the
 * training tensors were made: a value that is not one is refused rather than rounded or
 * clipped, because the net would then see something no training image could give. */
enum core_status ia_prep_pixels(const struct ia_model *m, const float *raw, size_t n, float *x, struct core_error *err)
{
	if (m->kind != IA_INPUT_IMAGE)
		return core_fail(err, CORE_EINVAL, "model '%s' takes table rows, not pixels", m->name);
	size_t hw = (size_t)m->h * m->w, per = hw * m->c;
	uint8_t *px = core_xmalloc(per);
	struct img_resizer *rz = n > 1 ? img_resizer_new() : NULL;
	struct img_image im = {.width = m->w, .height = m->h, .channels = m->c, .pixels = px};
	enum core_status rc = CORE_OK;
	for (size_t i = 0; i < n && rc == CORE_OK; i++) {
		const float *r = raw + i * per;
		/* CHW in, HWC for libs/img (its decoded images' layout); one pass without
		 * branches (out-of-range values are zeroed before the int conversion), and
		 * only a bad row is read again for its first bad value */
		bool bad = false;
		for (size_t c = 0; c < m->c; c++)
			for (size_t k = 0; k < hw; k++) {
				float v = r[c * hw + k];
				bool in = v >= 0 && v <= 255;
				float cv = in ? v : 0.0f;
				int iv = (int)cv;
				bad |= !in || cv != (float)iv;
				px[k * m->c + c] = (uint8_t)iv;
			}
		for (size_t k = 0; bad && k < per; k++) {
			float v = r[k];
			if (!(v >= 0 && v <= 255) || v != (float)(int)v) {
				rc = core_fail(err, CORE_EINVAL,
					       "row %zu: value %zu is %g: pixel values are integers 0..255", i, k,
					       (double)v);
				break;
			}
		}
		if (rc == CORE_OK)
			rc = img_preprocess_pixels_r(rz, &im, &m->prep, x + i * m->n_in, err);
	}
	img_resizer_free(rz);
	free(px);
	return rc;
}

enum core_status ia_prep_rows(const struct ia_model *m, const struct ia_cell *cells, size_t n, float *x,
			      struct core_error *err)
{
	if (m->kind != IA_INPUT_TABULAR || !m->tab)
		return core_fail(err, CORE_EINVAL, "model '%s' takes images, not table rows", m->name);
	const struct ml_tabular *t = m->tab;
	struct ml_tab_value *row = core_xcalloc(t->n_cols ? t->n_cols : 1, sizeof *row);
	enum core_status rc = CORE_OK;
	for (size_t i = 0; i < n && rc == CORE_OK; i++) {
		const struct ia_cell *c = cells + i * t->n_cols;
		for (size_t j = 0; j < t->n_cols; j++) {
			if (c[j].is_null)
				row[j] = (struct ml_tab_value){.kind = ML_TAB_MISSING};
			else if (c[j].is_str)
				row[j] = (struct ml_tab_value){.kind = ML_TAB_TEXT, .text = c[j].str ? c[j].str : ""};
			else
				row[j] = (struct ml_tab_value){.kind = ML_TAB_NUMBER, .num = c[j].num};
		}
		if ((rc = ml_tabular_encode(t, row, true, x + i * t->width, NULL, err)) != CORE_OK)
			rc = core_fail(err, CORE_EINVAL, "row %zu: %s", i, err ? err->message : "");
	}
	free(row);
	return rc;
}
