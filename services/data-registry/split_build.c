/* Building a split of a version (face: dr.h, dr-split's section): reads the version's
 * items once through dr-ingest's iterator (data.h), assigns each distinct content to a
 * part (split.c, pure), and writes the items list into the blob store, one item a
 * line in the version's item order:
 *   {"items":[
 *   {"item":"<sha256 of the content>","class":"<class>"|null,"split":"<part>"},
 *   ...
 *   ]}
 * so the items route serves the blob as it is and the tensor export reads it in
 * lockstep with the iterator (one line per item, memory bounded by a line).
 * A previous version's split of the same name and arguments is read the same way into
 * a sorted key -> part table, and its items keep their part. Memory: 48 bytes per
 * item (key, class pointer, order, part) plus the distinct class names.
 * dr_split_original builds the predefined "original" split of an IDX version (train-*
 * files -> train, t10k-* -> test) for the profiler. Nothing here holds a database
 * connection while it reads blobs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/time.h"
#include "data.h"
#include "http/http.h"
#include "split_io.h"

/* --- class names, interned (many items share few names) ---------------------------- */

struct intern {
	char **slots;
	size_t cap, n;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static const char *intern(struct intern *t, const char *s)
{
	if (!s)
		return NULL;
	if (t->n * 2 >= t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **slots = core_xcalloc(cap, sizeof *slots);
		for (size_t i = 0; i < t->cap; i++)
			if (t->slots[i]) {
				size_t k = fnv(t->slots[i]) & (cap - 1);
				while (slots[k])
					k = (k + 1) & (cap - 1);
				slots[k] = t->slots[i];
			}
		free(t->slots);
		t->slots = slots;
		t->cap = cap;
	}
	size_t k = fnv(s) & (t->cap - 1);
	while (t->slots[k]) {
		if (strcmp(t->slots[k], s) == 0)
			return t->slots[k];
		k = (k + 1) & (t->cap - 1);
	}
	t->slots[k] = core_xstrdup(s);
	t->n++;
	return t->slots[k];
}

static void intern_free(struct intern *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->slots[i]);
	free(t->slots);
}

/* --- the items list ------------------------------------------------------------------ */

static void hex32(const uint8_t key[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 15];
	}
	out[64] = '\0';
}

static bool unhex32(const char *s, uint8_t key[32])
{
	if (!s || strlen(s) != 64)
		return false;
	for (int i = 0; i < 64; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return false;
		if (i % 2 == 0)
			key[i / 2] = (uint8_t)(v << 4);
		else
			key[i / 2] |= (uint8_t)v;
	}
	return true;
}

struct dr_split_reader {
	FILE *f;
	char *line;
	size_t cap;
	json_t *cur;
};

enum core_status dr_split_reader_open(struct blob_store *store, const char *sha, struct dr_split_reader **out,
				      struct core_error *err)
{
	int fd = -1;
	uint64_t size;
	*out = NULL;
	enum core_status rc = blob_open(store, sha, &fd, &size, err);
	if (rc != CORE_OK)
		return rc == CORE_ENOENT ? core_fail(err, CORE_EIO, "items list %s is missing from the store", sha)
					 : rc;
	struct dr_split_reader *r = core_xcalloc(1, sizeof *r);
	r->f = fdopen(fd, "r");
	if (!r->f) {
		close(fd);
		free(r);
		return core_fail(err, CORE_EIO, "fdopen: %s", strerror(errno));
	}
	/* the opening line */
	if (getline(&r->line, &r->cap, r->f) < 0 || strcmp(r->line, "{\"items\":[\n") != 0) {
		dr_split_reader_close(r);
		return core_fail(err, CORE_EIO, "items list %s is not one", sha);
	}
	*out = r;
	return CORE_OK;
}

enum core_status dr_split_reader_next(struct dr_split_reader *r, uint8_t key[32], const char **cls, const char **part,
				      struct core_error *err)
{
	json_decref(r->cur);
	r->cur = NULL;
	ssize_t len = getline(&r->line, &r->cap, r->f);
	if (len < 0 || strcmp(r->line, "]}\n") == 0)
		return CORE_ENOENT;
	while (len > 0 && (r->line[len - 1] == '\n' || r->line[len - 1] == ','))
		r->line[--len] = '\0';
	r->cur = json_loadb(r->line, (size_t)len, 0, NULL);
	json_t *k = json_object_get(r->cur, "item"), *c = json_object_get(r->cur, "class"),
	       *p = json_object_get(r->cur, "split");
	if (!unhex32(json_string_value(k), key) || !json_is_string(p) || (c && !json_is_null(c) && !json_is_string(c)))
		return core_fail(err, CORE_EIO, "items list: malformed line");
	*cls = json_string_value(c);
	*part = json_string_value(p);
	return CORE_OK;
}

void dr_split_reader_close(struct dr_split_reader *r)
{
	if (!r)
		return;
	json_decref(r->cur);
	if (r->f)
		fclose(r->f);
	free(r->line);
	free(r);
}

/* Buffered blob writes. */
struct out {
	struct blob_writer *w;
	struct core_buf b;
};

static enum core_status out_flush(struct out *o, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	if (o->b.len)
		rc = blob_writer_write(o->w, o->b.data, o->b.len, err);
	core_buf_reset(&o->b);
	return rc;
}

static enum core_status out_item(struct out *o, const uint8_t key[32], const char *cls, const char *part, bool first,
				 struct core_error *err)
{
	char hex[65];
	hex32(key, hex);
	if (!first)
		core_buf_append_str(&o->b, ",\n");
	core_buf_printf(&o->b, "{\"item\":\"%s\",\"class\":", hex);
	if (cls) {
		core_buf_append_str(&o->b, "\"");
		core_buf_append_json_escaped(&o->b, cls);
		core_buf_append_str(&o->b, "\"");
	} else {
		core_buf_append_str(&o->b, "null");
	}
	core_buf_printf(&o->b, ",\"split\":\"%s\"}", part);
	return o->b.len >= 60000 ? out_flush(o, err) : CORE_OK;
}

/* --- building ------------------------------------------------------------------------ */

static int by_key(const void *a, const void *b)
{
	return memcmp(((const struct dr_split_item *)a)->key, ((const struct dr_split_item *)b)->key, 32);
}

/* Sets uniq[i].split from the previous items list (uniq sorted by key). */
static enum core_status load_previous(struct blob_store *store, const char *sha, const struct dr_split_spec *spec,
				      struct dr_split_item *uniq, size_t n, struct core_error *err)
{
	struct dr_split_reader *r = NULL;
	enum core_status rc = dr_split_reader_open(store, sha, &r, err);
	if (rc != CORE_OK)
		return rc;
	struct dr_split_item probe;
	const char *cls, *part;
	while ((rc = dr_split_reader_next(r, probe.key, &cls, &part, err)) == CORE_OK) {
		struct dr_split_item *hit = bsearch(&probe, uniq, n, sizeof *uniq, by_key);
		if (!hit)
			continue;
		for (size_t s = 0; s < spec->n; s++)
			if (strcmp(spec->names[s], part) == 0)
				hit->split = (int)s;
	}
	dr_split_reader_close(r);
	return rc == CORE_ENOENT ? CORE_OK : rc;
}

/* The part of an IDX item in the original split: t10k-* / test-* files are the test
 * set, every other file the training set. */
static int original_part(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return strncmp(base, "t10k", 4) == 0 || strncmp(base, "test", 4) == 0 ? 1 : 0;
}

enum core_status dr_split_build(struct blob_store *store, const struct dr_split_job *job, struct dr_split_result *res,
				struct core_error *err)
{
	enum core_status rc;
	struct dr_items *it = NULL;
	struct intern names = {0};
	struct dr_split_item *occ = NULL, *uniq = NULL;
	size_t n = 0, cap = 0, n_uniq = 0;
	struct out o = {0};
	memset(res, 0, sizeof *res);
	core_buf_init(&o.b, 1 << 20);
	const struct dr_split_spec *spec = &job->spec;

	if ((rc = dr_items_open(store, job->format, job->files, job->n_files,
				job->format == DR_FORMAT_CSV ? job->label_column : NULL, &it, err)) != CORE_OK)
		goto out;
	struct dr_item item;
	while ((rc = dr_items_next(it, &item, err)) == CORE_OK) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			occ = core_xrealloc(occ, cap * sizeof *occ);
		}
		memcpy(occ[n].key, item.key, 32);
		occ[n].cls = intern(&names, item.cls);
		occ[n].seq = n;
		occ[n].split = job->original ? original_part(item.path) : -1;
		n++;
	}
	if (rc != CORE_ENOENT)
		goto out;
	rc = CORE_OK;

	/* One entry per distinct content, sorted by key for the lookups below. */
	uniq = core_xcalloc(n ? n : 1, sizeof *uniq);
	memcpy(uniq, occ, n * sizeof *uniq);
	n_uniq = n;
	if (!job->original) {
		dr_split_dedup(uniq, &n_uniq);
		for (size_t i = 0; i < n_uniq; i++)
			uniq[i].split = -1;
		qsort(uniq, n_uniq, sizeof *uniq, by_key);
		if (job->previous_items[0] &&
		    (rc = load_previous(store, job->previous_items, spec, uniq, n_uniq, err)) != CORE_OK)
			goto out;
		if ((rc = dr_split_assign(spec, uniq, n_uniq, err)) != CORE_OK)
			goto out;
		qsort(uniq, n_uniq, sizeof *uniq, by_key);
	}

	/* The list, and the counts per part and class (rows of the list). */
	res->counts = json_object();
	res->class_counts = json_object();
	for (size_t s = 0; s < spec->n; s++) {
		json_object_set_new(res->counts, spec->names[s], json_integer(0));
		json_object_set_new(res->class_counts, spec->names[s], json_object());
	}
	if ((rc = blob_writer_new(store, &o.w, err)) != CORE_OK)
		goto out;
	core_buf_append_str(&o.b, "{\"items\":[\n");
	for (size_t i = 0; i < n; i++) {
		int part = occ[i].split;
		if (!job->original) {
			struct dr_split_item *hit = bsearch(&occ[i], uniq, n_uniq, sizeof *uniq, by_key);
			part = hit->split;
		}
		const char *pname = spec->names[part];
		json_t *cnt = json_object_get(res->counts, pname);
		json_integer_set(cnt, json_integer_value(cnt) + 1);
		if (occ[i].cls) {
			json_t *cc = json_object_get(res->class_counts, pname), *v = json_object_get(cc, occ[i].cls);
			if (v)
				json_integer_set(v, json_integer_value(v) + 1);
			else
				json_object_set_new(cc, occ[i].cls, json_integer(1));
		}
		if ((rc = out_item(&o, occ[i].key, occ[i].cls, pname, i == 0, err)) != CORE_OK)
			goto out;
	}
	core_buf_append_str(&o.b, n ? "\n]}\n" : "]}\n");
	if ((rc = out_flush(&o, err)) != CORE_OK)
		goto out;
	rc = blob_writer_commit(o.w, res->items_sha, err);
	o.w = NULL;
	res->item_count = (int64_t)n;
out:
	blob_writer_abort(o.w);
	core_buf_free(&o.b);
	dr_items_close(it);
	free(occ);
	free(uniq);
	intern_free(&names);
	if (rc != CORE_OK) {
		json_decref(res->counts);
		json_decref(res->class_counts);
		res->counts = res->class_counts = NULL;
	}
	return rc;
}
