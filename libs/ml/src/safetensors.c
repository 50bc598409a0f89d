/* The safetensors format (face: ml/safetensors.h): dtype names and sizes, the streamed
 * writer and the header reader. The writer lays the tensors out in the order given and
 * writes the whole header before any data, so the data can follow in chunks of any
 * size without the writer ever holding more than the header; it counts the bytes it
 * is given against the declared sizes, so a file it finishes is always complete. The
 * reader refuses anything the format does not allow (see ml_st_parse_header). */
#include "ml/safetensors.h"
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/alloc.h"

static const struct {
	enum ml_dtype d;
	const char *name;
	size_t size;
} dtypes[] = {
	{ML_DTYPE_BOOL, "BOOL", 1}, {ML_DTYPE_U8, "U8", 1},   {ML_DTYPE_I8, "I8", 1},     {ML_DTYPE_U16, "U16", 2},
	{ML_DTYPE_I16, "I16", 2},   {ML_DTYPE_F16, "F16", 2}, {ML_DTYPE_BF16, "BF16", 2}, {ML_DTYPE_U32, "U32", 4},
	{ML_DTYPE_I32, "I32", 4},   {ML_DTYPE_F32, "F32", 4}, {ML_DTYPE_U64, "U64", 8},   {ML_DTYPE_I64, "I64", 8},
	{ML_DTYPE_F64, "F64", 8},
};

size_t ml_dtype_size(enum ml_dtype d)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
		if (dtypes[i].d == d)
			return dtypes[i].size;
	return 0;
}

const char *ml_dtype_name(enum ml_dtype d)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
		if (dtypes[i].d == d)
			return dtypes[i].name;
	return NULL;
}

enum core_status ml_dtype_parse(const char *name, enum ml_dtype *out, struct core_error *err)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
		if (strcmp(dtypes[i].name, name) == 0) {
			*out = dtypes[i].d;
			return CORE_OK;
		}
	return core_fail(err, CORE_EINVAL, "unknown dtype '%s'", name);
}

/* Bytes of a tensor, or false when the count passes 2^63 (no file is that big). */
static bool tensor_bytes(enum ml_dtype d, size_t ndim, const uint64_t *shape, uint64_t *out)
{
	const uint64_t cap = (uint64_t)1 << 62;
	uint64_t n = ml_dtype_size(d);
	for (size_t i = 0; i < ndim; i++) {
		if (shape[i] != 0 && n > cap / shape[i])
			return false;
		n *= shape[i];
	}
	*out = n;
	return true;
}

/* --- writer ------------------------------------------------------------------------ */

struct ml_st_writer {
	ml_st_write_fn write;
	void *cls;
	size_t n;
	char **names; /* for messages */
	uint64_t *ends;
	uint64_t header_len;
	uint64_t total; /* data bytes declared */
	uint64_t done;  /* data bytes written */
};

void ml_st_writer_free(struct ml_st_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		free(w->names[i]);
	free(w->names);
	free(w->ends);
	free(w);
}

static json_t *header_json(const struct ml_st_tensor *tensors, size_t n, const struct ml_st_meta *meta, size_t n_meta,
			   uint64_t *ends, uint64_t *total, struct core_error *err)
{
	json_t *root = json_object();
	if (n_meta > 0) {
		json_t *m = json_object();
		json_object_set_new(root, "__metadata__", m);
		for (size_t i = 0; i < n_meta; i++) {
			if (!meta[i].key || !meta[i].value || json_object_get(m, meta[i].key)) {
				core_fail(err, CORE_EINVAL, "metadata key '%s' is missing or repeated",
					  meta[i].key ? meta[i].key : "");
				goto fail;
			}
			json_t *v = json_string(meta[i].value);
			if (!v) {
				core_fail(err, CORE_EINVAL, "metadata value of '%s' is not UTF-8", meta[i].key);
				goto fail;
			}
			if (json_object_set_new(m, meta[i].key, v) != 0) {
				core_fail(err, CORE_EINVAL, "metadata key '%s' is not UTF-8", meta[i].key);
				goto fail;
			}
		}
	}
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ml_st_tensor *t = &tensors[i];
		uint64_t bytes;
		if (!t->name || !*t->name || strcmp(t->name, "__metadata__") == 0 || json_object_get(root, t->name)) {
			core_fail(err, CORE_EINVAL, "tensor name '%s' is empty, reserved or repeated",
				  t->name ? t->name : "");
			goto fail;
		}
		if (!ml_dtype_name(t->dtype) || t->ndim > ML_ST_MAX_DIMS) {
			core_fail(err, CORE_EINVAL, "tensor '%s': unknown dtype or more than %d dimensions", t->name,
				  ML_ST_MAX_DIMS);
			goto fail;
		}
		if (!tensor_bytes(t->dtype, t->ndim, t->shape, &bytes) || off + bytes < off ||
		    off + bytes > ((uint64_t)1 << 62)) {
			core_fail(err, CORE_EINVAL, "tensor '%s' is too large", t->name);
			goto fail;
		}
		json_t *shape = json_array();
		for (size_t k = 0; k < t->ndim; k++)
			json_array_append_new(shape, json_integer((json_int_t)t->shape[k]));
		json_t *obj = json_pack("{s:s, s:o, s:[I,I]}", "dtype", ml_dtype_name(t->dtype), "shape", shape,
					"data_offsets", (json_int_t)off, (json_int_t)(off + bytes));
		if (!obj || json_object_set_new(root, t->name, obj) != 0) {
			core_fail(err, CORE_EINVAL, "tensor name '%s' is not UTF-8", t->name);
			goto fail;
		}
		off += bytes;
		ends[i] = off;
	}
	*total = off;
	return root;
fail:
	json_decref(root);
	return NULL;
}

enum core_status ml_st_writer_begin(const struct ml_st_tensor *tensors, size_t n, const struct ml_st_meta *meta,
				    size_t n_meta, ml_st_write_fn write, void *cls, struct ml_st_writer **out,
				    struct core_error *err)
{
	enum core_status rc = CORE_OK;
	struct ml_st_writer *w = core_xcalloc(1, sizeof *w);
	char *text = NULL;
	w->write = write;
	w->cls = cls;
	w->names = core_xcalloc(n ? n : 1, sizeof *w->names);
	w->ends = core_xcalloc(n ? n : 1, sizeof *w->ends);
	w->n = n;
	json_t *root = header_json(tensors, n, meta, n_meta, w->ends, &w->total, err);
	if (!root) {
		rc = CORE_EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		w->names[i] = core_xstrdup(tensors[i].name);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text) {
		rc = core_fail(err, CORE_ENOMEM, "safetensors header: out of memory");
		goto out;
	}
	/* Padded with spaces so that the data starts on an 8-byte boundary. */
	size_t len = strlen(text), padded = (len + 7) / 8 * 8;
	w->header_len = padded;
	unsigned char lenbytes[8];
	for (int i = 0; i < 8; i++)
		lenbytes[i] = (unsigned char)(padded >> (8 * i));
	static const char spaces[8] = "        ";
	if ((rc = write(cls, lenbytes, 8, err)) != CORE_OK || (rc = write(cls, text, len, err)) != CORE_OK ||
	    (padded > len && (rc = write(cls, spaces, padded - len, err)) != CORE_OK))
		goto out;
out:
	free(text);
	if (rc != CORE_OK) {
		ml_st_writer_free(w);
		w = NULL;
	}
	*out = w;
	return rc;
}

uint64_t ml_st_writer_file_size(const struct ml_st_writer *w)
{
	return 8 + w->header_len + w->total;
}

uint64_t ml_st_writer_header_len(const struct ml_st_writer *w)
{
	return w->header_len;
}

/* The tensor whose bytes come at data offset off. */
static const char *tensor_at(const struct ml_st_writer *w, uint64_t off)
{
	for (size_t i = 0; i < w->n; i++)
		if (off < w->ends[i])
			return w->names[i];
	return w->n ? w->names[w->n - 1] : "(none)";
}

enum core_status ml_st_writer_write(struct ml_st_writer *w, const void *data, size_t n, struct core_error *err)
{
	if (n > w->total - w->done)
		return core_fail(err, CORE_EINVAL, "safetensors: %zu bytes more than the %llu declared", n,
				 (unsigned long long)w->total);
	if (n == 0)
		return CORE_OK;
	enum core_status rc = w->write(w->cls, data, n, err);
	if (rc == CORE_OK)
		w->done += n;
	return rc;
}

enum core_status ml_st_writer_finish(struct ml_st_writer *w, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	if (w->done != w->total)
		rc = core_fail(err, CORE_EINVAL,
			       "safetensors: tensor '%s' incomplete (%llu of %llu data bytes written)",
			       tensor_at(w, w->done), (unsigned long long)w->done, (unsigned long long)w->total);
	ml_st_writer_free(w);
	return rc;
}

/* --- reader ------------------------------------------------------------------------ */

void ml_st_header_free(struct ml_st_header *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_tensors; i++)
		free(h->tensors[i].name);
	for (size_t i = 0; i < h->n_meta; i++) {
		free(h->meta[i].key);
		free(h->meta[i].value);
	}
	free(h->tensors);
	free(h->meta);
	memset(h, 0, sizeof *h);
}

static int by_begin(const void *a, const void *b)
{
	const struct ml_st_tensor *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON integer in [0, 2^62] into *out. */
static bool json_u64(json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > ((json_int_t)1 << 62))
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static enum core_status parse_tensor(const char *name, json_t *obj, struct ml_st_tensor *t, struct core_error *err)
{
	if (!json_is_object(obj))
		return core_fail(err, CORE_EINVAL, "safetensors header: '%s' is not an object", name);
	json_t *dt = json_object_get(obj, "dtype"), *shape = json_object_get(obj, "shape"),
	       *offs = json_object_get(obj, "data_offsets");
	if (json_object_size(obj) != 3 || !json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs) ||
	    json_array_size(offs) != 2)
		return core_fail(err, CORE_EINVAL,
				 "safetensors header: '%s' needs exactly dtype (string), shape (array) and "
				 "data_offsets ([begin, end])",
				 name);
	if (ml_dtype_parse(json_string_value(dt), &t->dtype, err) != CORE_OK)
		return core_fail(err, CORE_EINVAL, "safetensors header: '%s' has unknown dtype '%s'", name,
				 json_string_value(dt));
	if (json_array_size(shape) > ML_ST_MAX_DIMS)
		return core_fail(err, CORE_EINVAL, "safetensors header: '%s' has more than %d dimensions", name,
				 ML_ST_MAX_DIMS);
	t->ndim = json_array_size(shape);
	for (size_t k = 0; k < t->ndim; k++)
		if (!json_u64(json_array_get(shape, k), &t->shape[k]))
			return core_fail(err, CORE_EINVAL, "safetensors header: '%s' shape[%zu] is not a count", name,
					 k);
	if (!json_u64(json_array_get(offs, 0), &t->begin) || !json_u64(json_array_get(offs, 1), &t->end) ||
	    t->end < t->begin)
		return core_fail(err, CORE_EINVAL, "safetensors header: '%s' data_offsets are not [begin <= end]",
				 name);
	uint64_t bytes;
	if (!tensor_bytes(t->dtype, t->ndim, t->shape, &bytes) || bytes != t->end - t->begin)
		return core_fail(err, CORE_EINVAL,
				 "safetensors header: '%s' data_offsets span %llu bytes, its shape "
				 "and dtype need another count",
				 name, (unsigned long long)(t->end - t->begin));
	return CORE_OK;
}

enum core_status ml_st_parse_header(const char *json, size_t len, uint64_t file_size, struct ml_st_header *out,
				    struct core_error *err)
{
	enum core_status rc = CORE_OK;
	json_t *root = NULL;
	memset(out, 0, sizeof *out);
	out->header_len = len;
	out->data_start = 8 + (uint64_t)len;
	if (len == 0 || json[0] != '{' || out->data_start > file_size) {
		rc = core_fail(err, CORE_EINVAL, "safetensors header: %s",
			       out->data_start > file_size ? "longer than the file" : "not a JSON object");
		goto out;
	}
	json_error_t jerr;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		rc = core_fail(err, CORE_EINVAL, "safetensors header: not a JSON object (%s)",
			       root ? "another JSON value" : jerr.text);
		goto out;
	}
	json_t *meta = json_object_get(root, "__metadata__");
	if (meta && !json_is_object(meta)) {
		rc = core_fail(err, CORE_EINVAL, "safetensors header: __metadata__ is not an object");
		goto out;
	}
	size_t n_meta = meta ? json_object_size(meta) : 0, n_t = json_object_size(root) - (meta ? 1 : 0);
	out->meta = core_xcalloc(n_meta ? n_meta : 1, sizeof *out->meta);
	out->tensors = core_xcalloc(n_t ? n_t : 1, sizeof *out->tensors);
	const char *k;
	json_t *v;
	json_object_foreach(meta, k, v)
	{
		if (!json_is_string(v)) {
			rc = core_fail(err, CORE_EINVAL, "safetensors header: metadata '%s' is not a string", k);
			goto out;
		}
		out->meta[out->n_meta].key = core_xstrdup(k);
		out->meta[out->n_meta].value = core_xstrdup(json_string_value(v));
		out->n_meta++;
	}
	json_object_foreach(root, k, v)
	{
		if (strcmp(k, "__metadata__") == 0)
			continue;
		struct ml_st_tensor *t = &out->tensors[out->n_tensors];
		if ((rc = parse_tensor(k, v, t, err)) != CORE_OK)
			goto out;
		t->name = core_xstrdup(k);
		out->n_tensors++;
	}
	qsort(out->tensors, out->n_tensors, sizeof *out->tensors, by_begin);
	uint64_t at = 0, data_len = file_size - out->data_start;
	for (size_t i = 0; i < out->n_tensors; i++) {
		if (out->tensors[i].begin != at) {
			rc = core_fail(err, CORE_EINVAL,
				       "safetensors header: tensor '%s' starts at %llu, not %llu "
				       "(data must be contiguous)",
				       out->tensors[i].name, (unsigned long long)out->tensors[i].begin,
				       (unsigned long long)at);
			goto out;
		}
		at = out->tensors[i].end;
	}
	if (at != data_len)
		rc = core_fail(err, CORE_EINVAL,
			       "safetensors header: the tensors cover %llu data bytes, the file has %llu",
			       (unsigned long long)at, (unsigned long long)data_len);
out:
	json_decref(root);
	if (rc != CORE_OK)
		ml_st_header_free(out);
	return rc;
}

enum core_status ml_st_read_header(int fd, struct ml_st_header *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	struct stat st;
	unsigned char lb[8];
	if (fstat(fd, &st) != 0)
		return core_fail(err, CORE_EIO, "safetensors: fstat: %s", strerror(errno));
	if (pread(fd, lb, 8, 0) != 8)
		return core_fail(err, CORE_EINVAL, "safetensors: shorter than its 8-byte header length");
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | lb[i];
	if (n > ML_ST_MAX_HEADER || n > (uint64_t)st.st_size - 8)
		return core_fail(err, CORE_EINVAL,
				 "safetensors: header length %llu is above the bound or past the file",
				 (unsigned long long)n);
	char *buf = malloc(n ? n : 1);
	if (!buf)
		return core_fail(err, CORE_ENOMEM, "safetensors: no memory for a %llu-byte header",
				 (unsigned long long)n);
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, (off_t)(8 + got));
		if (r <= 0) {
			free(buf);
			return core_fail(err, CORE_EIO, "safetensors: read: %s",
					 r < 0 ? strerror(errno) : "short file");
		}
		got += (size_t)r;
	}
	enum core_status rc = ml_st_parse_header(buf, n, (uint64_t)st.st_size, out, err);
	free(buf);
	return rc;
}

const struct ml_st_tensor *ml_st_header_tensor(const struct ml_st_header *h, const char *name)
{
	for (size_t i = 0; i < h->n_tensors; i++)
		if (strcmp(h->tensors[i].name, name) == 0)
			return &h->tensors[i];
	return NULL;
}

const char *ml_st_header_meta(const struct ml_st_header *h, const char *key)
{
	for (size_t i = 0; i < h->n_meta; i++)
		if (strcmp(h->meta[i].key, key) == 0)
			return h->meta[i].value;
	return NULL;
}
