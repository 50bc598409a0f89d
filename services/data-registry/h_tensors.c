/* GET .../versions/{ref}/tensors (face: dr.h, dr-split's section; route in
 * routes_splits.c): the safetensors file of (version, split part, options), computed
 * once (tensors.c) into the blob store, recorded in tensor_exports under a canonical
 * text of the options with their defaults filled in, and served from the store with
 * ETag and Range from then on. Also dr_reply_blob, the streamed blob reply with
 * single-range support that the split items route uses too.
 * Options: split (a part name), split_name (which split; needed only when several
 * splits of the version have that part), size (N or WxH), channels (1|3), normalize
 * (none|unit|meanstd, with mean= and std= lists), features (CSV columns), one_hot and
 * standardize (true|false). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/time.h"
#include "dr.h"

/* --- blob replies with ranges ---------------------------------------------------------- */

struct blob_read {
	int fd;
	uint64_t start;
};

static ssize_t blob_read_fn(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct blob_read *b = cls;
	ssize_t n;
	do
		n = pread(b->fd, buf, max, (off_t)(b->start + pos));
	while (n < 0 && errno == EINTR);
	return n;
}

static void blob_read_free(void *cls)
{
	struct blob_read *b = cls;
	close(b->fd);
	free(b);
}

/* Parses a single "bytes=a-b" / "a-" / "-n" range within size; false for anything
 * else (several ranges, other units, unsatisfiable), which gets the whole blob. */
static bool parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') || size == 0)
		return false;
	const char *p = h + 6;
	char *end;
	if (*p == '-') {
		errno = 0;
		unsigned long long n = strtoull(p + 1, &end, 10);
		if (errno || *end || end == p + 1 || n == 0)
			return false;
		*first = n >= size ? 0 : size - n;
		*last = size - 1;
		return true;
	}
	errno = 0;
	unsigned long long a = strtoull(p, &end, 10);
	if (errno || end == p || *end != '-' || a >= size)
		return false;
	p = end + 1;
	if (!*p) {
		*first = a;
		*last = size - 1;
		return true;
	}
	unsigned long long b = strtoull(p, &end, 10);
	if (errno || *end || b < a)
		return false;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return true;
}

static bool etag_matches(const char *inm, const char *etag)
{
	if (!inm)
		return false;
	if (strcmp(inm, "*") == 0)
		return true;
	return strstr(inm, etag) != NULL;
}

int dr_reply_blob_range(struct http_request *req, struct svc *svc, const char *sha, const char *content_type,
			bool ranges)
{
	int fd = -1;
	uint64_t size = 0;
	struct core_error err = {{0}};
	enum core_status st = blob_open(dr_blobs(svc), sha, &fd, &size, &err);
	if (st != CORE_OK)
		return http_reply_error_detail(req, HTTP_EC_DATA_LOSS, err.message, "A stored blob is missing");
	char etag[80];
	snprintf(etag, sizeof etag, "\"%s\"", sha);
	http_reply_header(req, "ETag", etag);
	if (ranges)
		http_reply_header(req, "Accept-Ranges", "bytes");
	if (etag_matches(http_request_header(req, "If-None-Match"), etag)) {
		close(fd);
		return http_reply_raw(req, 304, NULL, "", 0);
	}
	struct blob_read *b = core_xcalloc(1, sizeof *b);
	b->fd = fd;
	uint64_t first, last;
	const char *if_range = http_request_header(req, "If-Range");
	if (ranges && (!if_range || strcmp(if_range, etag) == 0) &&
	    parse_range(http_request_header(req, "Range"), size, &first, &last)) {
		char cr[96];
		snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, size);
		http_reply_header(req, "Content-Range", cr);
		b->start = first;
		return http_reply_stream(req, 206, content_type, (int64_t)(last - first + 1), blob_read_fn, b,
					 blob_read_free);
	}
	return http_reply_stream(req, 200, content_type, (int64_t)size, blob_read_fn, b, blob_read_free);
}

/* --- options ------------------------------------------------------------------------------ */

struct opts {
	const char *part, *split_name;
	unsigned width, height, channels;
	enum img_norm norm;
	float mean[3], std[3];
	size_t n_mean, n_std;
	char **features;
	size_t n_features;
	bool one_hot, standardize;
	bool image_opts, tab_opts; /* which kinds were given */
};

static void opts_free(struct opts *o)
{
	for (size_t i = 0; i < o->n_features; i++)
		free(o->features[i]);
	free(o->features);
}

static bool parse_bool(const char *v, bool *out)
{
	if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return false;
	return true;
}

static bool parse_floats(const char *v, float *out, size_t *n)
{
	*n = 0;
	const char *p = v;
	while (*p && *n < 3) {
		char *end;
		errno = 0;
		double d = strtod(p, &end);
		if (end == p || errno || !(d == d) || d > 1e30 || d < -1e30)
			return false;
		out[(*n)++] = (float)d;
		if (*end == ',')
			end++;
		else if (*end)
			return false;
		p = end;
	}
	return *p == '\0' && *n > 0;
}

static enum core_status opts_parse(struct http_request *req, struct opts *o, struct core_error *err)
{
	memset(o, 0, sizeof *o);
	o->norm = IMG_NORM_UNIT;
	o->one_hot = true;
	const char *v;
	o->part = http_request_query(req, "split");
	o->split_name = http_request_query(req, "split_name");
	if (o->part && !*o->part)
		o->part = NULL;
	if (o->split_name && !o->part)
		return core_fail(err, CORE_EINVAL, "split_name needs split= (the part to export)");
	if ((v = http_request_query(req, "size"))) {
		unsigned w, h;
		char tail;
		int got = sscanf(v, "%ux%u%c", &w, &h, &tail);
		if (got == 1 && strchr(v, 'x') == NULL)
			h = w;
		else if (got != 2)
			return core_fail(err, CORE_EINVAL, "size must be N or WxH, got '%s'", v);
		if (w < 1 || h < 1 || w > 4096 || h > 4096)
			return core_fail(err, CORE_EINVAL, "size must be within 1..4096, got '%s'", v);
		o->width = w;
		o->height = h;
		o->image_opts = true;
	}
	if ((v = http_request_query(req, "channels"))) {
		if (strcmp(v, "1") != 0 && strcmp(v, "3") != 0)
			return core_fail(err, CORE_EINVAL, "channels must be 1 or 3, got '%s'", v);
		o->channels = (unsigned)(v[0] - '0');
		o->image_opts = true;
	}
	if ((v = http_request_query(req, "normalize"))) {
		if (strcmp(v, "none") == 0)
			o->norm = IMG_NORM_NONE;
		else if (strcmp(v, "unit") == 0)
			o->norm = IMG_NORM_UNIT;
		else if (strcmp(v, "meanstd") == 0)
			o->norm = IMG_NORM_MEANSTD;
		else
			return core_fail(err, CORE_EINVAL, "normalize must be none, unit or meanstd, got '%s'", v);
		o->image_opts = true;
	}
	const char *mean = http_request_query(req, "mean"), *std = http_request_query(req, "std");
	if (o->norm == IMG_NORM_MEANSTD) {
		if (!mean || !std || !parse_floats(mean, o->mean, &o->n_mean) || !parse_floats(std, o->std, &o->n_std))
			return core_fail(err, CORE_EINVAL,
					 "normalize=meanstd needs mean= and std=, 1 or 3 comma-separated numbers each");
		for (size_t i = 0; i < o->n_std; i++)
			if (!(o->std[i] > 0))
				return core_fail(err, CORE_EINVAL, "std must be > 0");
	} else if (mean || std) {
		return core_fail(err, CORE_EINVAL, "mean= and std= go with normalize=meanstd");
	}
	if ((v = http_request_query(req, "features"))) {
		char *copy = core_xstrdup(v), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			o->features = core_xrealloc(o->features, (o->n_features + 1) * sizeof *o->features);
			o->features[o->n_features++] = core_xstrdup(t);
		}
		free(copy);
		if (!o->n_features)
			return core_fail(err, CORE_EINVAL, "features must name at least one column");
		o->tab_opts = true;
	}
	if ((v = http_request_query(req, "one_hot"))) {
		if (!parse_bool(v, &o->one_hot))
			return core_fail(err, CORE_EINVAL, "one_hot must be true or false, got '%s'", v);
		o->tab_opts = true;
	}
	if ((v = http_request_query(req, "standardize"))) {
		if (!parse_bool(v, &o->standardize))
			return core_fail(err, CORE_EINVAL, "standardize must be true or false, got '%s'", v);
		o->tab_opts = true;
	}
	return CORE_OK;
}

/* The canonical text of the options, defaults filled in: equal requests share it. */
static char *options_key(const struct opts *o, enum dr_format fmt, const char *split_name)
{
	struct core_buf b;
	core_buf_init(&b, 1 << 20);
	core_buf_printf(&b, "v1;split_name=%s;split=%s", split_name ? split_name : "", o->part ? o->part : "");
	if (fmt == DR_FORMAT_CSV) {
		core_buf_append_str(&b, ";features=");
		for (size_t i = 0; i < o->n_features; i++) {
			core_buf_append_json_escaped(&b, o->features[i]);
			core_buf_append_str(&b, i + 1 < o->n_features ? "\x1f" : "");
		}
		core_buf_printf(&b, ";one_hot=%d;standardize=%d", o->one_hot, o->standardize);
	} else {
		core_buf_printf(&b, ";size=%ux%u;channels=%u;normalize=%d", o->width, o->height, o->channels, o->norm);
		if (o->norm == IMG_NORM_MEANSTD)
			for (size_t i = 0; i < 3; i++)
				core_buf_printf(&b, ";m%zu=%a;s%zu=%a", i, (double)o->mean[i], i, (double)o->std[i]);
	}
	return core_buf_steal(&b, NULL);
}

/* --- the request ------------------------------------------------------------------------------- */

struct tctx {
	const char *dataset, *ref;
	struct opts *o;
	struct dr_version_row row;
	char *split_name; /* the split used (owned) */
	char *key;        /* options key (owned) */
	char items_sha[65];
	int64_t n_items;
	bool has_train;
	json_t *classes; /* set of class names (object keys) */
	char export_sha[65];
	int64_t export_size;
	struct dr_manifest_file *files;
	size_t n_files;
	bool want_original; /* no split has the part, and the version is IDX: make "original" */
	struct svc_fail fail;
	struct core_error err;
};

static void tctx_reset(struct tctx *x)
{
	free(x->split_name);
	x->split_name = NULL;
	free(x->key);
	x->key = NULL;
	json_decref(x->classes);
	x->classes = NULL;
	dr_manifest_free(x->files, x->n_files);
	x->files = NULL;
	x->n_files = 0;
	x->export_sha[0] = x->items_sha[0] = '\0';
	x->n_items = 0;
	x->has_train = false;
	x->want_original = false;
}

/* Takes the split row r of res: its items list, the part's count, every class. */
static int take_split(struct tctx *x, const PGresult *res, int r)
{
	x->split_name = core_xstrdup(db_get_text(res, r, 0));
	snprintf(x->items_sha, sizeof x->items_sha, "%s", db_get_text(res, r, 7));
	json_t *counts = json_loads(db_get_text(res, r, 5), 0, NULL), *cc = json_loads(db_get_text(res, r, 6), 0, NULL);
	x->n_items = json_integer_value(json_object_get(counts, x->o->part));
	x->has_train = json_object_get(counts, "train") != NULL;
	x->classes = json_object();
	const char *k, *c;
	json_t *v, *w;
	json_object_foreach(cc, k, v)
	{
		json_object_foreach(v, c, w)
		{
			json_object_set(x->classes, c, json_true());
		}
	}
	json_decref(counts);
	json_decref(cc);
	return 1;
}

static int find_tx(struct db_conn *c, void *cls)
{
	struct tctx *x = cls;
	tctx_reset(x);
	int rc = dr_resolve_version(c, x->dataset, x->ref, &x->row, &x->fail, &x->err);
	if (rc <= 0)
		return rc;
	if (strcmp(x->row.status, "FAILED") == 0)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_CONFLICT, "Version %lld of '%s' failed: it has no items",
				(long long)x->row.number, x->dataset);
	if (x->o->part) {
		PGresult *res = NULL;
		if (x->o->split_name) {
			rc = dr_q_split_by_name(c, x->row.pk, x->o->split_name, &res, &x->err);
			if (rc == 0 && x->row.format == DR_FORMAT_IDX && strcmp(x->o->split_name, "original") == 0) {
				/* the profiler makes it just after READY: a client as quick as that
				 * must not see a 404 for a split that is predefined */
				PQclear(res);
				x->want_original = true;
				return 1;
			}
			if (rc == 0) {
				PQclear(res);
				return svc_fail(&x->fail, HTTP_EC_RESOURCE_DOES_NOT_EXIST,
						"Split '%s' not found in version %lld of '%s'", x->o->split_name,
						(long long)x->row.number, x->dataset);
			}
		} else {
			rc = dr_q_list_splits(c, x->row.pk, &res, &x->err);
		}
		if (rc < 0) {
			PQclear(res);
			return rc;
		}
		int found = -1, n_found = 0;
		struct core_buf names;
		core_buf_init(&names, 4096);
		for (int r = 0; r < rc; r++) {
			json_t *counts = json_loads(db_get_text(res, r, 5), 0, NULL);
			if (json_object_get(counts, x->o->part)) {
				found = r;
				core_buf_printf(&names, "%s'%s'", n_found++ ? ", " : "", db_get_text(res, r, 0));
			}
			json_decref(counts);
		}
		if (n_found == 1)
			take_split(x, res, found);
		PQclear(res);
		if (n_found > 1) {
			svc_fail(&x->fail, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Several splits have a part '%s' (%s): name one with split_name=", x->o->part,
				 names.data);
			core_buf_free(&names);
			return DB_ROLLBACK;
		}
		core_buf_free(&names);
		if (n_found == 0) {
			if (!x->o->split_name && x->row.format == DR_FORMAT_IDX) {
				x->want_original = true;
				return 1;
			}
			return svc_fail(&x->fail, HTTP_EC_RESOURCE_DOES_NOT_EXIST,
					"No split of version %lld of '%s' has a part '%s'", (long long)x->row.number,
					x->dataset, x->o->part);
		}
	}
	x->key = options_key(x->o, x->row.format, x->split_name);
	rc = dr_q_tensor_export(c, x->row.pk, x->key, x->export_sha, &x->export_size, &x->err);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return 1;
	if ((rc = dr_q_version_files(c, x->row.pk, &x->files, &x->n_files, &x->err)) < 0)
		return rc;
	return 1;
}

static int record_tx(struct db_conn *c, void *cls)
{
	struct tctx *x = cls;
	return dr_q_insert_tensor_export(c, x->row.pk, x->key, x->export_sha, x->export_size, core_now_ms(), &x->err);
}

/* Counts the version's items and gathers their classes (no split named). */
static enum core_status count_items(struct svc *svc, struct tctx *x, struct core_error *err)
{
	uint64_t n = 0;
	x->classes = json_object();
	enum core_status rc =
		dr_tensor_count(dr_blobs(svc), x->row.format, x->files, x->n_files,
				x->row.format == DR_FORMAT_CSV && x->row.has_label_column ? x->row.label_column : NULL,
				&n, x->classes, err);
	x->n_items = (int64_t)n;
	return rc;
}

static void reply_failure(struct http_request *req, enum core_status st, const struct core_error *err)
{
	if (st == CORE_EINVAL)
		http_reply_invalid(req, err);
	else if (st == CORE_ELIMIT)
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err->message);
	else
		http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err->message, "Could not export the tensors");
}

void dr_h_tensors(struct http_request *req, void *app)
{
	struct svc *svc = app;
	struct opts o;
	struct core_error err = {{0}};
	struct tctx x = {.dataset = http_request_param(req, "name"), .ref = http_request_param(req, "ref"), .o = &o};
	const char **classes = NULL;
	if (opts_parse(req, &o, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		goto out;
	}
	int rc = svc_run_tx_or_reply(req, svc, "dr_tensors_find", DB_READ_COMMITTED, find_tx, &x, &x.fail);
	if (rc < 0)
		goto out;
	if (x.want_original) {
		enum core_status st = dr_split_original(svc, x.row.pk, &err);
		if (st != CORE_OK) {
			reply_failure(req, st, &err);
			goto out;
		}
		rc = svc_run_tx_or_reply(req, svc, "dr_tensors_find", DB_READ_COMMITTED, find_tx, &x, &x.fail);
		if (rc < 0)
			goto out;
		if (x.want_original) {
			http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST,
					 "No split of version %lld of '%s' has a part '%s'", (long long)x.row.number,
					 x.dataset, o.part);
			goto out;
		}
	}
	if ((x.row.format == DR_FORMAT_CSV && o.image_opts) || (x.row.format != DR_FORMAT_CSV && o.tab_opts)) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s",
				 x.row.format == DR_FORMAT_CSV
					 ? "size, channels and normalize apply to images, not to a CSV version"
					 : "features, one_hot and standardize apply to CSV versions");
		goto out;
	}
	if (o.norm == IMG_NORM_MEANSTD) {
		unsigned c = o.channels ? o.channels : x.row.format == DR_FORMAT_IDX ? 1 : 3;
		if ((o.n_mean != 1 && o.n_mean != c) || (o.n_std != 1 && o.n_std != c)) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "mean= and std= need 1 or %u numbers each", c);
			goto out;
		}
	}
	if (!x.export_sha[0]) {
		enum core_status st = CORE_OK;
		if (!o.part)
			st = count_items(svc, &x, &err);
		size_t n_classes = json_object_size(x.classes), k = 0;
		classes = core_xcalloc(n_classes ? n_classes : 1, sizeof *classes);
		const char *name;
		json_t *v;
		json_object_foreach(x.classes, name, v)
		{
			classes[k++] = name;
		}
		dr_tensor_sort_classes(classes, n_classes);
		struct dr_tensor_job job = {
			.dataset = x.dataset,
			.version_id = x.row.id,
			.format = x.row.format,
			.files = x.files,
			.n_files = x.n_files,
			.label_column = x.row.has_label_column ? x.row.label_column : NULL,
			.split_name = x.split_name,
			.part = o.part,
			.items_sha = x.items_sha,
			.fit_part = o.part ? (x.has_train ? "train" : o.part) : NULL,
			.n_items = (uint64_t)x.n_items,
			.classes = classes,
			.n_classes = n_classes,
			.features = (const char *const *)o.features,
			.n_features = o.n_features,
			.one_hot = o.one_hot,
			.standardize = o.standardize,
		};
		job.prep.width = o.width;
		job.prep.height = o.height;
		job.prep.channels = o.channels;
		job.prep.norm = o.norm;
		for (int i = 0; i < 3; i++) {
			job.prep.mean[i] = o.mean[o.n_mean == 1 ? 0 : i];
			job.prep.std[i] = o.std[o.n_std == 1 ? 0 : i];
		}
		uint64_t size = 0;
		if (st == CORE_OK)
			st = dr_tensor_export(dr_blobs(svc), &job, x.export_sha, &size, &err);
		if (st != CORE_OK) {
			reply_failure(req, st, &err);
			goto out;
		}
		x.export_size = (int64_t)size;
		if (svc_run_tx_or_reply(req, svc, "dr_tensors_record", DB_READ_COMMITTED, record_tx, &x, &x.fail) < 0)
			goto out;
	}
	dr_reply_blob_range(req, svc, x.export_sha, "application/octet-stream", true);
out:
	free(classes);
	tctx_reset(&x);
	opts_free(&o);
}
