/* A version's items, one at a time (face: data.h): what the profiler, splits and tensors
 * iterate over, whatever the format. Files are taken in the order given (manifest
 * order), each read from the blob store as it is reached and closed before the next:
 * an image file is read whole (bounded by DR_ITEM_MAX_FILE), an IDX images file and its
 * labels file are read in lockstep a record at a time, a CSV a row at a time. Also the
 * content checks of a one-request upload (dr_check_content), which read every file once
 * with the same readers, so an upload is refused for what the profiler would choke on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/sha256.h"
#include "core/csv.h"
#include "data.h"

struct dr_items {
	struct blob_store *store;
	enum dr_format fmt;
	const struct dr_manifest_file *files;
	size_t n, fi; /* fi: the file being read (or next to open) */
	char *label_column;
	bool open; /* files[fi] is open */
	/* csv */
	int fd;
	struct core_csv *csv;
	char **columns; /* the first file's header */
	size_t n_cols;
	size_t label_idx; /* SIZE_MAX: none */
	/* idx */
	struct dr_idx *img, *lab;
	int lab_fd;
	const char *lab_path;
	uint64_t record;
	char label[4];
	/* image-folder */
	uint8_t *bytes;
	char *cls;
};

static void hex_to_key(const char *hex, uint8_t key[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v = 0;
		for (int j = 0; j < 2; j++) {
			char c = hex[2 * i + j];
			v = v << 4 | (unsigned)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
		}
		key[i] = (uint8_t)v;
	}
}

static enum core_status key_of(const void *data, size_t n, uint8_t key[32], struct core_error *err)
{
	char hex[65];
	if (core_sha256_hex(data, n, hex) != CORE_OK)
		return core_fail(err, CORE_EIO, "sha256 failed");
	hex_to_key(hex, key);
	return CORE_OK;
}

/* Opens a file's blob: CORE_EIO naming the path when the store lacks it. */
static enum core_status open_blob(struct blob_store *store, const struct dr_manifest_file *f, int *fd, uint64_t *size,
				  struct core_error *err)
{
	enum core_status st = blob_open(store, f->sha256, fd, size, err);
	if (st != CORE_OK)
		return core_fail(err, CORE_EIO, "'%.300s': its blob %s cannot be read (%s)", f->path, f->sha256,
				 st == CORE_ENOENT ? "missing from the store" : "store error");
	return CORE_OK;
}

static const struct dr_manifest_file *find_file(const struct dr_manifest_file *files, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(files[i].path, path) == 0)
			return &files[i];
	}
	return NULL;
}

/* Closes whatever the current file holds open. */
static void close_current(struct dr_items *it)
{
	core_csv_close(it->csv);
	it->csv = NULL;
	dr_idx_close(it->img);
	dr_idx_close(it->lab);
	it->img = it->lab = NULL;
	if (it->fd >= 0)
		close(it->fd);
	if (it->lab_fd >= 0)
		close(it->lab_fd);
	it->fd = it->lab_fd = -1;
	free(it->bytes);
	free(it->cls);
	it->bytes = NULL;
	it->cls = NULL;
	it->open = false;
}

enum core_status dr_items_open(struct blob_store *store, enum dr_format fmt, const struct dr_manifest_file *files,
			       size_t n, const char *label_column, struct dr_items **out, struct core_error *err)
{
	*out = NULL;
	if (!dr_format_name(fmt))
		return core_fail(err, CORE_EINVAL, "unknown format");
	if (label_column && fmt != DR_FORMAT_CSV)
		return core_fail(err, CORE_EINVAL, "label_column applies to csv versions only, this one is %s",
				 dr_format_name(fmt));
	struct dr_items *it = core_xcalloc(1, sizeof *it);
	it->store = store;
	it->fmt = fmt;
	it->files = files;
	it->n = n;
	it->label_column = label_column ? core_xstrdup(label_column) : NULL;
	it->label_idx = SIZE_MAX;
	it->fd = it->lab_fd = -1;
	*out = it;
	return CORE_OK;
}

/* Opens files[fi] as a CSV and checks its header against the first one's. */
static enum core_status open_csv(struct dr_items *it, struct core_error *err)
{
	const struct dr_manifest_file *f = &it->files[it->fi];
	enum core_status st = open_blob(it->store, f, &it->fd, &(uint64_t){0}, err);
	if (st != CORE_OK)
		return st;
	if ((st = core_csv_open(it->fd, f->path, &it->csv, err)) != CORE_OK)
		return st;
	size_t n;
	const char *const *h = core_csv_header(it->csv, &n);
	if (!it->columns) {
		it->n_cols = n;
		it->columns = core_xcalloc(n, sizeof *it->columns);
		for (size_t i = 0; i < n; i++) {
			it->columns[i] = core_xstrdup(h[i]);
			if (it->label_column && strcmp(h[i], it->label_column) == 0)
				it->label_idx = i;
		}
		if (it->label_column && it->label_idx == SIZE_MAX)
			return core_fail(err, CORE_EINVAL, "%.300s: the header has no label column '%.100s'", f->path,
					 it->label_column);
		return CORE_OK;
	}
	bool same = n == it->n_cols;
	for (size_t i = 0; same && i < n; i++)
		same = strcmp(h[i], it->columns[i]) == 0;
	if (!same)
		return core_fail(err, CORE_EINVAL, "%.300s: its header differs from that of '%.300s'", f->path,
				 it->files[0].path);
	return CORE_OK;
}

/* Opens files[fi] as IDX; *skip when it is not an images file (3 dims). */
static enum core_status open_idx(struct dr_items *it, bool *skip, struct core_error *err)
{
	const struct dr_manifest_file *f = &it->files[it->fi];
	enum core_status st = open_blob(it->store, f, &it->fd, &(uint64_t){0}, err);
	if (st != CORE_OK || (st = dr_idx_open(it->fd, f->path, &it->img, err)) != CORE_OK)
		return st;
	const struct dr_idx_header *h = dr_idx_header(it->img);
	*skip = h->ndims != 3;
	it->record = 0;
	if (*skip)
		return CORE_OK;
	char *lp = dr_idx_labels_name(f->path);
	const struct dr_manifest_file *lf = lp ? find_file(it->files, it->n, lp) : NULL;
	free(lp);
	if (!lf)
		return CORE_OK; /* no labels: items without a class */
	if ((st = open_blob(it->store, lf, &it->lab_fd, &(uint64_t){0}, err)) != CORE_OK ||
	    (st = dr_idx_open(it->lab_fd, lf->path, &it->lab, err)) != CORE_OK)
		return st;
	it->lab_path = lf->path;
	const struct dr_idx_header *lh = dr_idx_header(it->lab);
	if (lh->ndims != 1 || lh->count != h->count)
		return core_fail(err, CORE_EINVAL,
				 "'%.300s' has %llu images but its labels file '%.300s' has %llu labels%s", f->path,
				 (unsigned long long)h->count, lf->path, (unsigned long long)lh->count,
				 lh->ndims != 1 ? " (and is not 1-dimensional)" : "");
	return CORE_OK;
}

static enum core_status open_image(struct dr_items *it, struct core_error *err)
{
	const struct dr_manifest_file *f = &it->files[it->fi];
	uint64_t size;
	enum core_status st = open_blob(it->store, f, &it->fd, &size, err);
	if (st != CORE_OK)
		return st;
	if (size > DR_ITEM_MAX_FILE)
		return core_fail(err, CORE_EINVAL, "'%.300s' is larger than the %u bytes an image file may have",
				 f->path, DR_ITEM_MAX_FILE);
	it->bytes = malloc(size ? size : 1);
	if (!it->bytes)
		return core_fail(err, CORE_ENOMEM, "'%.300s': no memory for %llu bytes", f->path,
				 (unsigned long long)size);
	for (uint64_t got = 0; got < size;) {
		ssize_t r = read(it->fd, it->bytes + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return core_fail(err, CORE_EIO, "'%.300s': reading its blob: %s", f->path,
					 r < 0 ? strerror(errno) : "short file");
		got += (uint64_t)r;
	}
	const char *slash = strrchr(f->path, '/');
	if (!slash)
		return core_fail(err, CORE_EINVAL, "'%.300s' is in no class folder", f->path);
	const char *start = slash;
	while (start > f->path && start[-1] != '/')
		start--;
	it->cls = core_xstrndup(start, (size_t)(slash - start));
	return CORE_OK;
}

enum core_status dr_items_next(struct dr_items *it, struct dr_item *item, struct core_error *err)
{
	memset(item, 0, sizeof *item);
	for (;;) {
		if (!it->open) {
			close_current(it);
			if (it->fi == it->n)
				return CORE_ENOENT;
			it->open = true;
			enum core_status st = CORE_OK;
			bool skip = false;
			if (it->fmt == DR_FORMAT_CSV)
				st = open_csv(it, err);
			else if (it->fmt == DR_FORMAT_IDX)
				st = open_idx(it, &skip, err);
			else
				st = open_image(it, err);
			if (st != CORE_OK)
				return st;
			if (skip) {
				it->open = false;
				it->fi++;
				continue;
			}
		}
		const struct dr_manifest_file *f = &it->files[it->fi];
		item->path = f->path;
		if (it->fmt == DR_FORMAT_IMAGE_FOLDER) {
			hex_to_key(f->sha256, item->key);
			item->cls = it->cls;
			item->bytes = it->bytes;
			item->len = (size_t)f->size;
			it->open = false; /* closed (and freed) on the next call */
			it->fi++;
			return CORE_OK;
		}
		if (it->fmt == DR_FORMAT_CSV) {
			const char *const *fields;
			uint64_t row;
			enum core_status st = core_csv_next(it->csv, &fields, &row, err);
			if (st == CORE_ENOENT) {
				it->open = false;
				it->fi++;
				continue;
			}
			if (st != CORE_OK)
				return st;
			struct core_sha256 *h = core_sha256_new();
			if (!h)
				return core_fail(err, CORE_EIO, "sha256 failed");
			core_csv_hash_row(h, fields, it->n_cols);
			char hex[65];
			core_sha256_finish_hex(h, hex);
			hex_to_key(hex, item->key);
			item->index = row - 1;
			item->fields = fields;
			item->n_fields = it->n_cols;
			item->cls = it->label_idx == SIZE_MAX ? NULL : fields[it->label_idx];
			return CORE_OK;
		}
		/* idx */
		const uint8_t *rec;
		enum core_status st = dr_idx_next(it->img, &rec, err);
		if (st == CORE_ENOENT) {
			const uint8_t *extra;
			if (it->lab && (st = dr_idx_next(it->lab, &extra, err)) != CORE_ENOENT)
				return st == CORE_OK ? core_fail(err, CORE_EINVAL, "%.300s: more labels than images",
								 it->lab_path)
						     : st;
			it->open = false;
			it->fi++;
			continue;
		}
		if (st != CORE_OK)
			return st;
		const struct dr_idx_header *h = dr_idx_header(it->img);
		if ((st = key_of(rec, h->record_size, item->key, err)) != CORE_OK)
			return st;
		if (it->lab) {
			const uint8_t *lab;
			if ((st = dr_idx_next(it->lab, &lab, err)) != CORE_OK)
				return st == CORE_ENOENT ? core_fail(err, CORE_EINVAL,
								     "%.300s: fewer labels than images", it->lab_path)
							 : st;
			snprintf(it->label, sizeof it->label, "%u", lab[0]);
			item->cls = it->label;
		}
		item->index = it->record++;
		item->pixels = rec;
		item->h = h->dims[1];
		item->w = h->dims[2];
		return CORE_OK;
	}
}

const char *const *dr_items_columns(const struct dr_items *it, size_t *n)
{
	*n = it->n_cols;
	return (const char *const *)it->columns;
}

void dr_items_close(struct dr_items *it)
{
	if (!it)
		return;
	close_current(it);
	for (size_t i = 0; it->columns && i < it->n_cols; i++)
		free(it->columns[i]);
	free(it->columns);
	free(it->label_column);
	free(it);
}

/* --- content checks -------------------------------------------------------------- */

/* Reads an IDX file to its end (length and gzip trailer checked); its header in *h. */
static enum core_status idx_read_all(struct blob_store *store, const struct dr_manifest_file *f,
				     struct dr_idx_header *h, struct core_error *err)
{
	int fd = -1;
	struct dr_idx *r = NULL;
	enum core_status st = open_blob(store, f, &fd, &(uint64_t){0}, err);
	if (st == CORE_OK && (st = dr_idx_open(fd, f->path, &r, err)) == CORE_OK) {
		*h = *dr_idx_header(r);
		const uint8_t *rec;
		while ((st = dr_idx_next(r, &rec, err)) == CORE_OK)
			;
		if (st == CORE_ENOENT)
			st = CORE_OK;
	}
	dr_idx_close(r);
	if (fd >= 0)
		close(fd);
	return st;
}

static enum core_status check_idx(struct blob_store *store, const struct dr_manifest_file *files, size_t n,
				  struct core_error *err)
{
	for (size_t i = 0; i < n; i++) {
		struct dr_idx_header h, lh;
		enum core_status st = idx_read_all(store, &files[i], &h, err);
		if (st != CORE_OK)
			return st;
		if (h.ndims == 3) {
			char *lp = dr_idx_labels_name(files[i].path);
			const struct dr_manifest_file *lf = lp ? find_file(files, n, lp) : NULL;
			if (!lf) {
				st = core_fail(err, CORE_EINVAL, "'%.300s' has no labels file%s%.300s%s", files[i].path,
					       lp ? " ('" : "", lp ? lp : "", lp ? "')" : "");
				free(lp);
				return st;
			}
			free(lp);
			if ((st = idx_read_all(store, lf, &lh, err)) != CORE_OK)
				return st;
			if (lh.ndims != 1 || lh.count != h.count)
				return core_fail(err, CORE_EINVAL,
						 "'%.300s' has %llu images but '%.300s' has %llu labels", files[i].path,
						 (unsigned long long)h.count, lf->path,
						 (unsigned long long)(lh.ndims == 1 ? lh.count : 0));
		} else if (h.ndims == 1) {
			bool paired = false;
			for (size_t j = 0; j < n && !paired; j++) {
				char *lp = dr_idx_labels_name(files[j].path);
				paired = lp && strcmp(lp, files[i].path) == 0;
				free(lp);
			}
			if (!paired)
				return core_fail(err, CORE_EINVAL,
						 "'%.300s' is a labels file without its images file (*-images-idx3-*)",
						 files[i].path);
		} else {
			return core_fail(err, CORE_EINVAL,
					 "'%.300s' has %u dimensions: IDX images have 3 (count, rows, columns), "
					 "labels 1",
					 files[i].path, h.ndims);
		}
	}
	return CORE_OK;
}

static enum core_status check_images(struct blob_store *store, const struct dr_manifest_file *files, size_t n,
				     struct core_error *err)
{
	for (size_t i = 0; i < n; i++) {
		int fd;
		enum core_status st = open_blob(store, &files[i], &fd, &(uint64_t){0}, err);
		if (st != CORE_OK)
			return st;
		struct img_info info;
		st = dr_image_probe(fd, files[i].path, &info, err);
		close(fd);
		if (st != CORE_OK)
			return st;
	}
	return CORE_OK;
}

enum core_status dr_check_content(struct blob_store *store, enum dr_format fmt, const struct dr_manifest_file *files,
				  size_t n, const char *label_column, struct core_error *err)
{
	enum core_status st = dr_format_check(fmt, files, n, err);
	if (st != CORE_OK)
		return st;
	if (fmt == DR_FORMAT_IDX)
		return label_column ? core_fail(err, CORE_EINVAL, "label_column applies to csv versions only")
				    : check_idx(store, files, n, err);
	if (fmt == DR_FORMAT_IMAGE_FOLDER)
		return label_column ? core_fail(err, CORE_EINVAL, "label_column applies to csv versions only")
				    : check_images(store, files, n, err);
	/* csv: the iterator checks headers, the label column and every row's width */
	struct dr_items *it;
	if ((st = dr_items_open(store, fmt, files, n, label_column, &it, err)) != CORE_OK)
		return st;
	struct dr_item item;
	while ((st = dr_items_next(it, &item, err)) == CORE_OK)
		;
	dr_items_close(it);
	return st == CORE_ENOENT ? CORE_OK : st;
}
