/* Tensor export (face: dr.h, dr-split's section): one safetensors file (libs/ml) per
 * (version, split part, options), written straight into a blob writer:
 *   x  F32 [N, C, H, W] for images (image-folder through img_preprocess, IDX records
 *      through img_preprocess_pixels: the one preprocessing path the inference API
 *      calls too), F32 [N, F] for CSV rows
 *   y  I64 [N]: the index of the item's class in the metadata's "classes" (-1 without)
 * N and every shape are known before the first data byte: N from the split's counts
 * (or a counting pass when no split is named), image size from the options or the
 * first image, CSV widths from a first pass over the training part, which also gives
 * the standardisation mean/std (population, as scikit-learn's StandardScaler), the
 * one-hot vocabularies and the missing-value fills (the training mean), all recorded
 * in the metadata's "preprocessing". Items are selected by reading the split's items
 * list in lockstep with the items iterator (same order, keys checked). Memory: one
 * item, the vocabularies, and a 1 MiB write buffer. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "data.h"
#include "http/http.h"
#include "split_io.h"
#include "img/img.h"
#include "ml/safetensors.h"
#include "ml/tabular.h"

#define VOCAB_MAX 1000 /* categories of one column before it is refused */

/* --- buffered writes into the blob ----------------------------------------------------- */

struct sink {
	struct blob_writer *w;
	char *buf;
	size_t len;
};

#define SINK_CAP ((size_t)1 << 20)

static enum core_status sink_flush(struct sink *s, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	if (s->len)
		rc = blob_writer_write(s->w, s->buf, s->len, err);
	s->len = 0;
	return rc;
}

static enum core_status sink_write(void *cls, const void *data, size_t n, struct core_error *err)
{
	struct sink *s = cls;
	const char *p = data;
	while (n) {
		size_t k = SINK_CAP - s->len < n ? SINK_CAP - s->len : n;
		memcpy(s->buf + s->len, p, k);
		s->len += k;
		p += k;
		n -= k;
		if (s->len == SINK_CAP) {
			enum core_status rc = sink_flush(s, err);
			if (rc != CORE_OK)
				return rc;
		}
	}
	return CORE_OK;
}

/* --- item selection: the iterator, filtered by the items list ---------------------------- */

struct sel {
	struct dr_items *it;
	struct dr_split_reader *list; /* NULL: every item */
	const char *part;
};

static enum core_status sel_open(struct blob_store *store, const struct dr_tensor_job *job, const char *part,
				 struct sel *s, struct core_error *err)
{
	memset(s, 0, sizeof *s);
	s->part = part;
	enum core_status rc = dr_items_open(store, job->format, job->files, job->n_files,
					    job->format == DR_FORMAT_CSV ? job->label_column : NULL, &s->it, err);
	if (rc == CORE_OK && part)
		rc = dr_split_reader_open(store, job->items_sha, &s->list, err);
	return rc;
}

/* The next item of the part: CORE_OK, CORE_ENOENT at the end, or a failure. */
static enum core_status sel_next(struct sel *s, struct dr_item *item, struct core_error *err)
{
	for (;;) {
		enum core_status rc = dr_items_next(s->it, item, err);
		if (rc != CORE_OK || !s->list)
			return rc;
		uint8_t key[32];
		const char *cls, *part;
		rc = dr_split_reader_next(s->list, key, &cls, &part, err);
		if (rc != CORE_OK || memcmp(key, item->key, 32) != 0)
			return core_fail(err, CORE_EIO, "the split's items list does not match the version's items");
		if (strcmp(part, s->part) == 0)
			return CORE_OK;
	}
}

static void sel_close(struct sel *s)
{
	dr_items_close(s->it);
	dr_split_reader_close(s->list);
}

/* --- classes ----------------------------------------------------------------------------- */

static bool all_digits(const char *s)
{
	if (!*s || strlen(s) > 18)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static int cmp_class(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	if (all_digits(x) && all_digits(y)) {
		long long i = strtoll(x, NULL, 10), j = strtoll(y, NULL, 10);
		if (i != j)
			return i < j ? -1 : 1;
	}
	return strcmp(x, y);
}

/* The index of cls in the sorted classes, or -1. */
static int64_t class_index(const struct dr_tensor_job *job, const char *cls)
{
	if (!cls)
		return -1;
	size_t lo = 0, hi = job->n_classes;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cmp_class(&cls, &job->classes[mid]);
		if (c == 0)
			return (int64_t)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

void dr_tensor_sort_classes(const char **classes, size_t n)
{
	qsort(classes, n, sizeof *classes, cmp_class);
}

/* --- tabular columns --------------------------------------------------------------------- */

struct col {
	size_t field;   /* index in the CSV header */
	char *name;     /* owned: the header dies with its iterator */
	bool numeric;   /* every non-missing training value is a number */
	uint64_t count; /* non-missing numeric values */
	double mean, m2, std;
	char **vocab; /* categorical: sorted distinct training values */
	size_t n_vocab, cap_vocab;
};

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void vocab_add(struct col *c, const char *v)
{
	char *key = (char *)v;
	if (c->n_vocab && bsearch(&key, c->vocab, c->n_vocab, sizeof *c->vocab, cmp_strp))
		return;
	if (c->n_vocab == c->cap_vocab) {
		c->cap_vocab = c->cap_vocab ? c->cap_vocab * 2 : 16;
		c->vocab = core_xrealloc(c->vocab, c->cap_vocab * sizeof *c->vocab);
	}
	size_t at = 0;
	while (at < c->n_vocab && strcmp(c->vocab[at], v) < 0)
		at++;
	memmove(c->vocab + at + 1, c->vocab + at, (c->n_vocab - at) * sizeof *c->vocab);
	c->vocab[at] = core_xstrdup(v);
	c->n_vocab++;
}

/* Output width of a column. */
static size_t col_width(const struct col *c, bool one_hot)
{
	return c->numeric || !one_hot ? 1 : c->n_vocab;
}

/* --- the export ---------------------------------------------------------------------------- */

struct exp {
	const struct dr_tensor_job *job;
	struct blob_store *store;
	struct col *cols;
	size_t n_cols, width;
	struct ml_tabular tab; /* compiled from the metadata written: the encoder */
	struct ml_tab_value *cells;
};

static void cols_free(struct exp *e)
{
	for (size_t i = 0; i < e->n_cols; i++) {
		for (size_t k = 0; k < e->cols[i].n_vocab; k++)
			free(e->cols[i].vocab[k]);
		free(e->cols[i].vocab);
		free(e->cols[i].name);
	}
	free(e->cols);
	ml_tabular_free(&e->tab);
	free(e->cells);
}

/* Picks the feature columns (job->features, else every column but the label) from the
 * CSV header. */
static enum core_status pick_columns(struct exp *e, const char *const *header, size_t n, struct core_error *err)
{
	const struct dr_tensor_job *job = e->job;
	e->cols = core_xcalloc(n ? n : 1, sizeof *e->cols);
	if (job->n_features) {
		for (size_t f = 0; f < job->n_features; f++) {
			size_t i = 0;
			while (i < n && strcmp(header[i], job->features[f]) != 0)
				i++;
			if (i == n)
				return core_fail(err, CORE_EINVAL, "features: no column '%s'", job->features[f]);
			if (job->label_column && strcmp(header[i], job->label_column) == 0)
				return core_fail(err, CORE_EINVAL, "features: '%s' is the label column", header[i]);
			for (size_t k = 0; k < e->n_cols; k++)
				if (e->cols[k].field == i)
					return core_fail(err, CORE_EINVAL, "features: '%s' is named twice", header[i]);
			e->cols[e->n_cols].field = i;
			e->cols[e->n_cols++].name = core_xstrdup(job->features[f]);
		}
		return CORE_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (!job->label_column || strcmp(header[i], job->label_column) != 0) {
			e->cols[e->n_cols].field = i;
			e->cols[e->n_cols++].name = core_xstrdup(header[i]);
		}
	if (!e->n_cols)
		return core_fail(err, CORE_EINVAL, "the CSV has no feature column");
	return CORE_OK;
}

/* First pass over the training part: column types, statistics, vocabularies. */
static enum core_status fit_columns(struct exp *e, struct core_error *err)
{
	struct sel s;
	struct dr_item item;
	enum core_status rc = sel_open(e->store, e->job, e->job->fit_part, &s, err);
	while (rc == CORE_OK && (rc = sel_next(&s, &item, err)) == CORE_OK) {
		if (!e->cols) {
			size_t n;
			const char *const *header = dr_items_columns(s.it, &n);
			if ((rc = pick_columns(e, header, n, err)) != CORE_OK)
				break;
			for (size_t i = 0; i < e->n_cols; i++)
				e->cols[i].numeric = true;
		}
		for (size_t i = 0; i < e->n_cols; i++) {
			struct col *c = &e->cols[i];
			const char *v = item.fields[c->field];
			double d;
			if (ml_tabular_missing_text(v))
				continue;
			if (c->numeric && ml_tabular_number_text(v, &d)) {
				c->count++;
				double delta = d - c->mean;
				c->mean += delta / (double)c->count;
				c->m2 += delta * (d - c->mean);
			} else {
				c->numeric = false;
			}
			if (c->n_vocab <= VOCAB_MAX)
				vocab_add(c, v);
		}
	}
	sel_close(&s);
	if (rc != CORE_ENOENT)
		return rc;
	if (!e->cols)
		return core_fail(err, CORE_EINVAL, "the part '%s' used for fitting has no rows",
				 e->job->fit_part ? e->job->fit_part : "(all)");
	e->width = 0;
	for (size_t i = 0; i < e->n_cols; i++) {
		struct col *c = &e->cols[i];
		if (c->numeric) {
			for (size_t k = 0; k < c->n_vocab; k++)
				free(c->vocab[k]);
			c->n_vocab = 0;
			c->std = c->count ? sqrt(c->m2 / (double)c->count) : 0;
		} else if (c->n_vocab > VOCAB_MAX) {
			return core_fail(err, CORE_EINVAL,
					 "column '%s' has more than %d categories: leave it out of features=", c->name,
					 VOCAB_MAX);
		}
		e->width += col_width(c, e->job->one_hot);
	}
	return CORE_OK;
}

/* One CSV row through the model's encoder (ml/tabular.h): the inference API encodes
 * the rows it serves with the same function, compiled from the same metadata. Not
 * strict: a numeric column's stray text takes the fill. */
static void fill_row(const struct exp *e, const struct dr_item *item, struct ml_tab_value *cells, float *out)
{
	for (size_t i = 0; i < e->n_cols; i++)
		cells[i] = (struct ml_tab_value){.kind = ML_TAB_TEXT, .text = item->fields[e->cols[i].field]};
	ml_tabular_encode(&e->tab, cells, false, out, NULL, NULL);
}

/* The metadata's "features" and the tabular part of "preprocessing". */
static void tabular_meta(const struct exp *e, json_t *features, json_t *prep)
{
	json_t *cols = json_array();
	for (size_t i = 0; i < e->n_cols; i++) {
		const struct col *c = &e->cols[i];
		json_t *d = json_pack("{s:s, s:s}", "name", c->name, "type", c->numeric ? "numeric" : "categorical");
		if (c->numeric) {
			json_array_append_new(features, json_string(c->name));
			json_object_set_new(d, "mean", json_real(c->mean));
			json_object_set_new(d, "std", json_real(c->std));
			json_object_set_new(d, "fill", json_real(c->mean));
		} else {
			json_t *voc = json_array();
			for (size_t k = 0; k < c->n_vocab; k++) {
				json_array_append_new(voc, json_string(c->vocab[k]));
				if (e->job->one_hot) {
					char *f = core_xasprintf("%s=%s", c->name, c->vocab[k]);
					json_array_append_new(features, json_string(f));
					free(f);
				}
			}
			if (!e->job->one_hot)
				json_array_append_new(features, json_string(c->name));
			json_object_set_new(d, "vocabulary", voc);
		}
		json_array_append_new(cols, d);
	}
	json_object_set_new(prep, "columns", cols);
	json_object_set_new(prep, "one_hot", json_boolean(e->job->one_hot));
	json_object_set_new(prep, "standardize", json_boolean(e->job->standardize));
	json_object_set_new(prep, "std_ddof", json_integer(0));
	json_object_set_new(prep, "fit_split", e->job->fit_part ? json_string(e->job->fit_part) : json_null());
	json_object_set_new(prep, "missing", json_string("numeric: the fit split's mean; categorical: all zeros"));
}

/* The image shape: from the options, else the first item's own size. */
static enum core_status image_shape(struct exp *e, unsigned *c, unsigned *h, unsigned *w, struct core_error *err)
{
	const struct dr_tensor_job *job = e->job;
	*c = job->prep.channels ? job->prep.channels : (job->format == DR_FORMAT_IDX ? 1 : 3);
	if (job->prep.width) {
		*w = job->prep.width;
		*h = job->prep.height;
		return CORE_OK;
	}
	struct sel s;
	struct dr_item item;
	enum core_status rc = sel_open(e->store, job, job->part, &s, err);
	if (rc == CORE_OK)
		rc = sel_next(&s, &item, err);
	if (rc == CORE_OK) {
		if (job->format == DR_FORMAT_IDX) {
			*w = item.w;
			*h = item.h;
		} else {
			struct img_info info;
			rc = img_probe(item.bytes, item.len, &info, err);
			if (rc != CORE_OK)
				core_fail(err, CORE_EINVAL, "%s: %s", item.path, err ? err->message : "");
			*w = info.width;
			*h = info.height;
		}
	} else if (rc == CORE_ENOENT) {
		*w = *h = 1; /* no items: any shape holds none */
		rc = CORE_OK;
	}
	sel_close(&s);
	return rc;
}

static enum core_status write_meta(const struct dr_tensor_job *job, json_t *prep, json_t *features,
				   struct ml_st_meta *m, size_t *n)
{
	json_t *classes = json_array();
	for (size_t i = 0; i < job->n_classes; i++)
		json_array_append_new(classes, json_string(job->classes[i]));
	size_t k = 0;
	m[k++] = (struct ml_st_meta){core_xstrdup("dataset"), core_xstrdup(job->dataset)};
	m[k++] = (struct ml_st_meta){core_xstrdup("version"), core_xstrdup(job->version_id)};
	m[k++] = (struct ml_st_meta){core_xstrdup("split"), core_xstrdup(job->part ? job->part : "")};
	m[k++] = (struct ml_st_meta){core_xstrdup("split_name"), core_xstrdup(job->split_name ? job->split_name : "")};
	m[k++] = (struct ml_st_meta){core_xstrdup("format"), core_xstrdup(dr_format_name(job->format))};
	m[k++] = (struct ml_st_meta){core_xstrdup("classes"), http_json_text(classes, JSON_COMPACT, NULL)};
	if (features)
		m[k++] = (struct ml_st_meta){core_xstrdup("features"), http_json_text(features, JSON_COMPACT, NULL)};
	m[k++] = (struct ml_st_meta){core_xstrdup("preprocessing"), http_json_text(prep, JSON_COMPACT, NULL)};
	json_decref(classes);
	*n = k;
	for (size_t i = 0; i < k; i++)
		if (!m[i].value)
			return CORE_ENOMEM;
	return CORE_OK;
}

/* y in item order: the class indices of the part's items. */
static enum core_status write_y(struct blob_store *store, const struct dr_tensor_job *job, struct ml_st_writer *w,
				struct core_error *err)
{
	enum core_status rc;
	int64_t y;
	if (job->part) {
		struct dr_split_reader *r = NULL;
		uint8_t key[32];
		const char *cls, *part;
		if ((rc = dr_split_reader_open(store, job->items_sha, &r, err)) != CORE_OK)
			return rc;
		uint64_t done = 0;
		while (done < job->n_items && (rc = dr_split_reader_next(r, key, &cls, &part, err)) == CORE_OK) {
			if (strcmp(part, job->part) != 0)
				continue;
			y = class_index(job, cls);
			if ((rc = ml_st_writer_write(w, &y, sizeof y, err)) != CORE_OK)
				break;
			done++;
		}
		dr_split_reader_close(r);
		return rc == CORE_ENOENT ? CORE_OK : rc;
	}
	struct sel s;
	struct dr_item item;
	rc = sel_open(store, job, NULL, &s, err);
	while (rc == CORE_OK && (rc = sel_next(&s, &item, err)) == CORE_OK) {
		y = class_index(job, item.cls);
		rc = ml_st_writer_write(w, &y, sizeof y, err);
	}
	sel_close(&s);
	return rc == CORE_ENOENT ? CORE_OK : rc;
}

enum core_status dr_tensor_export(struct blob_store *store, const struct dr_tensor_job *job, char sha_out[65],
				  uint64_t *size_out, struct core_error *err)
{
	struct exp e = {.job = job, .store = store};
	struct sink sk = {.buf = core_xmalloc(SINK_CAP)};
	struct ml_st_writer *w = NULL;
	struct ml_st_meta meta[8] = {{0}};
	size_t n_meta = 0;
	json_t *prep = json_object(), *features = NULL;
	float *x = NULL;
	struct img_resizer *rz = NULL;
	struct sel s = {0};
	bool sel_opened = false;
	unsigned c = 0, h = 0, wd = 0;
	size_t per_item;
	enum core_status rc;

	if (job->format == DR_FORMAT_CSV) {
		if ((rc = fit_columns(&e, err)) != CORE_OK)
			goto out;
		features = json_array();
		tabular_meta(&e, features, prep);
		if ((rc = ml_tabular_compile(prep, &e.tab, err)) != CORE_OK)
			goto out;
		if (e.tab.width != e.width) {
			rc = core_fail(err, CORE_EIO, "tabular encoder: %zu features, the columns give %zu",
				       e.tab.width, e.width);
			goto out;
		}
		e.cells = core_xcalloc(e.n_cols, sizeof *e.cells);
		per_item = e.width;
	} else {
		if ((rc = image_shape(&e, &c, &h, &wd, err)) != CORE_OK)
			goto out;
		static const char *const norms[] = {"none", "unit", "meanstd"};
		json_object_set_new(prep, "size", json_pack("[i,i]", (int)h, (int)wd));
		json_object_set_new(prep, "channels", json_integer(c));
		json_object_set_new(prep, "normalize", json_string(norms[job->prep.norm]));
		json_object_set_new(prep, "resize", json_string("bilinear (antialiased, as PIL's Image.BILINEAR)"));
		json_object_set_new(prep, "layout", json_string("NCHW"));
		if (job->prep.norm == IMG_NORM_MEANSTD) {
			json_t *mean = json_array(), *std = json_array();
			for (unsigned i = 0; i < c; i++) {
				json_array_append_new(mean, json_real(job->prep.mean[i]));
				json_array_append_new(std, json_real(job->prep.std[i]));
			}
			json_object_set_new(prep, "mean", mean);
			json_object_set_new(prep, "std", std);
		}
		per_item = (size_t)c * h * wd;
	}
	if ((rc = write_meta(job, prep, features, meta, &n_meta)) != CORE_OK) {
		rc = core_fail(err, CORE_ENOMEM, "tensor metadata: out of memory");
		goto out;
	}
	struct ml_st_tensor t[2] = {
		{.name = "x", .dtype = ML_DTYPE_F32},
		{.name = "y", .dtype = ML_DTYPE_I64, .ndim = 1, .shape = {job->n_items}},
	};
	if (job->format == DR_FORMAT_CSV) {
		t[0].ndim = 2;
		t[0].shape[0] = job->n_items;
		t[0].shape[1] = e.width;
	} else {
		t[0].ndim = 4;
		t[0].shape[0] = job->n_items;
		t[0].shape[1] = c;
		t[0].shape[2] = h;
		t[0].shape[3] = wd;
	}
	if ((rc = blob_writer_new(store, &sk.w, err)) != CORE_OK)
		goto out;
	if ((rc = ml_st_writer_begin(t, 2, meta, n_meta, sink_write, &sk, &w, err)) != CORE_OK)
		goto out;
	x = core_xcalloc(per_item ? per_item : 1, sizeof *x);
	/* one resizer for the whole export: its coefficients are computed once, not per image */
	rz = img_resizer_new();
	struct img_prep p = job->prep;
	p.width = wd;
	p.height = h;
	p.channels = c;
	/* x: one item at a time */
	if ((rc = sel_open(store, job, job->part, &s, err)) != CORE_OK)
		goto out;
	sel_opened = true;
	uint64_t done = 0;
	struct dr_item item;
	/* The part's items are all there once n_items are written: the rest of the version
	 * need not be read (Fashion-MNIST's t10k files come before train's). */
	while (done < job->n_items && (rc = sel_next(&s, &item, err)) == CORE_OK) {
		if (job->format == DR_FORMAT_CSV) {
			fill_row(&e, &item, e.cells, x);
		} else if (job->format == DR_FORMAT_IDX) {
			struct img_image im = {
				.width = item.w, .height = item.h, .channels = 1, .pixels = (uint8_t *)item.pixels};
			rc = img_preprocess_pixels_r(rz, &im, &p, x, err);
		} else {
			if (!job->prep.width) {
				/* no size= given: every image must have the first one's */
				struct img_info info;
				if (img_probe(item.bytes, item.len, &info, err) == CORE_OK &&
				    (info.width != wd || info.height != h)) {
					rc = core_fail(
						err, CORE_EINVAL,
						"images differ in size (%s is %ux%u, the first %ux%u): give size=",
						item.path, info.width, info.height, wd, h);
					goto out;
				}
			}
			rc = img_preprocess_r(rz, item.bytes, item.len, NULL, &p, x, err);
		}
		if (rc != CORE_OK) {
			char msg[sizeof err->message];
			snprintf(msg, sizeof msg, "%s", err->message);
			rc = core_fail(err, rc == CORE_ENOMEM ? CORE_ENOMEM : CORE_EINVAL, "%s: %s", item.path, msg);
			goto out;
		}
		if ((rc = ml_st_writer_write(w, x, per_item * sizeof *x, err)) != CORE_OK)
			goto out;
		done++;
	}
	if (rc != CORE_OK && rc != CORE_ENOENT)
		goto out;
	sel_close(&s);
	sel_opened = false;
	if (done != job->n_items) {
		rc = core_fail(err, CORE_EIO, "the split counts %llu items, the version has %llu",
			       (unsigned long long)job->n_items, (unsigned long long)done);
		goto out;
	}
	/* y: from the items list (the iterator again when no split is named) */
	if ((rc = write_y(store, job, w, err)) != CORE_OK)
		goto out;
	rc = ml_st_writer_finish(w, err);
	w = NULL;
	if (rc != CORE_OK || (rc = sink_flush(&sk, err)) != CORE_OK)
		goto out;
	*size_out = blob_writer_size(sk.w);
	rc = blob_writer_commit(sk.w, sha_out, err);
	sk.w = NULL;
out:
	if (sel_opened)
		sel_close(&s);
	ml_st_writer_free(w);
	blob_writer_abort(sk.w);
	free(sk.buf);
	free(x);
	img_resizer_free(rz);
	for (size_t i = 0; i < n_meta; i++) {
		free(meta[i].key);
		free(meta[i].value);
	}
	json_decref(prep);
	json_decref(features);
	cols_free(&e);
	return rc;
}

enum core_status dr_tensor_count(struct blob_store *store, enum dr_format format, const struct dr_manifest_file *files,
				 size_t n_files, const char *label_column, uint64_t *n_items, json_t *classes,
				 struct core_error *err)
{
	struct dr_items *it = NULL;
	struct dr_item item;
	*n_items = 0;
	enum core_status rc = dr_items_open(store, format, files, n_files, label_column, &it, err);
	while (rc == CORE_OK && (rc = dr_items_next(it, &item, err)) == CORE_OK) {
		(*n_items)++;
		if (item.cls && !json_object_get(classes, item.cls))
			json_object_set_new(classes, item.cls, json_true());
	}
	dr_items_close(it);
	return rc == CORE_ENOENT ? CORE_OK : rc;
}
