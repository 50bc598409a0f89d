/* A streaming CSV reader (face: core/csv.h) over libcsv: for the data registry's content
 * checks, items iterator and through it its profiler, splits and tensors; for the drift
 * monitor's inline CSV (core_csv_open_mem, the same reader over a buffer). RFC 4180 with libcsv's
 * strict mode (a stray quote is an error, an unterminated quoted field too); the first
 * row is the header and every row must have its width. libcsv pushes fields and row
 * ends through callbacks; the reader turns that into a pull interface by feeding it
 * one physical line at a time (so a row's line number is known) and queueing the rows
 * a piece completes: memory is the read buffer plus one row. A UTF-8 byte order mark
 * before the header is dropped, as spreadsheets write one. */
#include <csv.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/sha256.h"
#include "core/csv.h"

#define READ_CHUNK (16 * 1024)
/* The longest row accepted, in bytes of field content. */
#define ROW_MAX (64u * 1024 * 1024)

struct row {
	char *data; /* the fields, each NUL-terminated, one after the other */
	size_t n_fields;
	uint64_t line; /* the physical line the row ends on */
};

struct core_csv {
	int fd;          /* -1: the text is in memory */
	const char *mem; /* core_csv_open_mem's text, borrowed */
	size_t mem_len, mem_pos;
	char *name;
	struct csv_parser p;
	char buf[READ_CHUNK];
	size_t len, pos;
	bool eof, finished, first_read;
	uint64_t lines_done; /* '\n's fed so far */
	/* the row libcsv is building */
	char *fbuf;
	size_t flen, fcap, nf;
	bool too_long;
	/* rows completed and not yet handed out */
	struct row *q;
	size_t qhead, qlen, qcap;
	/* the row handed out last, and its field pointers */
	struct row cur;
	const char **fields;
	size_t fields_cap;
	char **header;
	size_t n_cols;
	uint64_t rows; /* data rows handed out */
};

/* RFC 4180: spaces belong to the field (libcsv trims them by default). */
static int no_space(unsigned char c)
{
	(void)c;
	return 0;
}

static void on_field(void *s, size_t len, void *data)
{
	struct core_csv *r = data;
	if (r->too_long)
		return;
	if (r->flen + len + 1 > ROW_MAX) {
		r->too_long = true;
		return;
	}
	if (r->flen + len + 1 > r->fcap) {
		while (r->flen + len + 1 > r->fcap)
			r->fcap = r->fcap ? 2 * r->fcap : 256;
		r->fbuf = core_xrealloc(r->fbuf, r->fcap);
	}
	if (len)
		memcpy(r->fbuf + r->flen, s, len);
	r->fbuf[r->flen + len] = '\0';
	r->flen += len + 1;
	r->nf++;
}

static void on_row(int c, void *data)
{
	(void)c;
	struct core_csv *r = data;
	if (r->qlen == r->qcap) {
		size_t cap = r->qcap ? 2 * r->qcap : 4;
		struct row *q = core_xcalloc(cap, sizeof *q);
		for (size_t i = 0; i < r->qlen; i++)
			q[i] = r->q[(r->qhead + i) % r->qcap];
		free(r->q);
		r->q = q;
		r->qcap = cap;
		r->qhead = 0;
	}
	struct row *w = &r->q[(r->qhead + r->qlen) % r->qcap];
	w->data = r->too_long ? NULL : core_xmalloc(r->flen ? r->flen : 1);
	if (w->data && r->flen)
		memcpy(w->data, r->fbuf, r->flen);
	w->n_fields = r->too_long ? SIZE_MAX : r->nf;
	w->line = r->lines_done + 1;
	r->qlen++;
	r->flen = r->nf = 0;
	r->too_long = false;
}

/* Feeds libcsv until a row is queued or the input ends. */
static enum core_status fill(struct core_csv *r, struct core_error *err)
{
	while (r->qlen == 0 && !r->finished) {
		if (r->pos == r->len) {
			if (r->eof) {
				if (csv_fini(&r->p, on_field, on_row, r) != 0)
					return core_fail(err, CORE_EINVAL,
							 "%.300s: line %llu: a quoted field never ends", r->name,
							 (unsigned long long)r->lines_done + 1);
				r->finished = true;
				break;
			}
			ssize_t n;
			if (r->fd < 0) {
				n = (ssize_t)(r->mem_len - r->mem_pos < sizeof r->buf ? r->mem_len - r->mem_pos
										      : sizeof r->buf);
				memcpy(r->buf, r->mem + r->mem_pos, (size_t)n);
				r->mem_pos += (size_t)n;
			} else {
				do
					n = read(r->fd, r->buf, sizeof r->buf);
				while (n < 0 && errno == EINTR);
			}
			if (n < 0)
				return core_fail(err, CORE_EIO, "%.300s: %s", r->name, strerror(errno));
			r->len = (size_t)n;
			r->pos = 0;
			r->eof = n == 0;
			if (!r->first_read) {
				r->first_read = true;
				if (r->len >= 3 && memcmp(r->buf, "\xef\xbb\xbf", 3) == 0)
					r->pos = 3;
			}
			continue;
		}
		char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		size_t piece = nl ? (size_t)(nl - (r->buf + r->pos)) + 1 : r->len - r->pos;
		if (csv_parse(&r->p, r->buf + r->pos, piece, on_field, on_row, r) != piece)
			return core_fail(err, CORE_EINVAL,
					 "%.300s: line %llu: %s (a quote inside an unquoted field, "
					 "or text after a closing quote)",
					 r->name, (unsigned long long)r->lines_done + 1,
					 csv_strerror(csv_error(&r->p)));
		r->pos += piece;
		if (nl)
			r->lines_done++;
	}
	return CORE_OK;
}

/* Takes the next queued row into r->cur: CORE_OK, CORE_ENOENT at the end. */
static enum core_status take(struct core_csv *r, struct core_error *err)
{
	free(r->cur.data);
	r->cur.data = NULL;
	enum core_status st = fill(r, err);
	if (st != CORE_OK)
		return st;
	if (r->qlen == 0)
		return CORE_ENOENT;
	r->cur = r->q[r->qhead];
	r->qhead = (r->qhead + 1) % r->qcap;
	r->qlen--;
	if (r->cur.n_fields == SIZE_MAX)
		return core_fail(err, CORE_EINVAL, "%.300s: line %llu: the row is longer than %u bytes", r->name,
				 (unsigned long long)r->cur.line, ROW_MAX);
	if (r->cur.n_fields > r->fields_cap) {
		r->fields_cap = r->cur.n_fields;
		r->fields = core_xrealloc(r->fields, r->fields_cap * sizeof *r->fields);
	}
	const char *s = r->cur.data;
	for (size_t i = 0; i < r->cur.n_fields; i++) {
		r->fields[i] = s;
		s += strlen(s) + 1;
	}
	return CORE_OK;
}

/* Opens r (fd or mem already set) and reads the header. */
static enum core_status open_reader(struct core_csv *r, const char *name, struct core_csv **out, struct core_error *err)
{
	r->name = core_xstrdup(name);
	if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
		free(r->name);
		free(r);
		return core_fail(err, CORE_ENOMEM, "libcsv: cannot start a parser");
	}
	csv_set_space_func(&r->p, no_space);
	enum core_status st = take(r, err);
	if (st == CORE_ENOENT)
		st = core_fail(err, CORE_EINVAL, "%.300s: no header row (the file is empty)", name);
	if (st != CORE_OK)
		goto fail;
	r->n_cols = r->cur.n_fields;
	r->header = core_xcalloc(r->n_cols, sizeof *r->header);
	for (size_t i = 0; i < r->n_cols; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(r->fields[i], r->fields[j]) == 0) {
				st = core_fail(err, CORE_EINVAL, "%.300s: the header names column '%.100s' twice", name,
					       r->fields[i]);
				goto fail;
			}
		}
		r->header[i] = core_xstrdup(r->fields[i]);
	}
	*out = r;
	return CORE_OK;
fail:
	core_csv_close(r);
	return st;
}

enum core_status core_csv_open(int fd, const char *name, struct core_csv **out, struct core_error *err)
{
	*out = NULL;
	struct core_csv *r = core_xcalloc(1, sizeof *r);
	r->fd = fd;
	return open_reader(r, name, out, err);
}

enum core_status core_csv_open_mem(const char *text, size_t len, const char *name, struct core_csv **out,
				   struct core_error *err)
{
	*out = NULL;
	struct core_csv *r = core_xcalloc(1, sizeof *r);
	r->fd = -1;
	r->mem = text;
	r->mem_len = len;
	return open_reader(r, name, out, err);
}

const char *const *core_csv_header(const struct core_csv *r, size_t *n)
{
	*n = r->n_cols;
	return (const char *const *)r->header;
}

enum core_status core_csv_next(struct core_csv *r, const char *const **fields, uint64_t *row, struct core_error *err)
{
	enum core_status st = take(r, err);
	if (st != CORE_OK)
		return st;
	r->rows++;
	if (r->cur.n_fields != r->n_cols)
		return core_fail(err, CORE_EINVAL, "%.300s: line %llu (row %llu) has %zu field%s, the header %zu",
				 r->name, (unsigned long long)r->cur.line, (unsigned long long)r->rows, r->cur.n_fields,
				 r->cur.n_fields == 1 ? "" : "s", r->n_cols);
	*fields = r->fields;
	*row = r->rows;
	return CORE_OK;
}

void core_csv_close(struct core_csv *r)
{
	if (!r)
		return;
	csv_free(&r->p);
	for (size_t i = 0; i < r->qlen; i++)
		free(r->q[(r->qhead + i) % r->qcap].data);
	free(r->q);
	free(r->cur.data);
	free(r->fields);
	free(r->fbuf);
	for (size_t i = 0; r->header && i < r->n_cols; i++)
		free(r->header[i]);
	free(r->header);
	free(r->name);
	free(r);
}

/* Writes fields joined as CSV through put (the one quoting rule the hash and the
 * writer share, so a row written is a row hashed). */
static void write_row(void (*put)(void *ctx, const char *p, size_t n), void *ctx, const char *const *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(ctx, ",", 1);
		const char *f = fields[i];
		if (!f[strcspn(f, ",\"\r\n")]) {
			put(ctx, f, strlen(f));
			continue;
		}
		put(ctx, "\"", 1);
		for (const char *q; (q = strchr(f, '"')); f = q + 1) {
			put(ctx, f, (size_t)(q - f) + 1);
			put(ctx, "\"", 1);
		}
		put(ctx, f, strlen(f));
		put(ctx, "\"", 1);
	}
}

static void put_sha(void *ctx, const char *p, size_t n)
{
	core_sha256_update(ctx, p, n);
}

void core_csv_hash_row(struct core_sha256 *ctx, const char *const *fields, size_t n)
{
	write_row(put_sha, ctx, fields, n);
}

/* A buffer being written and the first failure to grow it. */
struct buf_sink {
	struct core_buf *b;
	enum core_status rc;
};

static void put_buf(void *ctx, const char *p, size_t n)
{
	struct buf_sink *s = ctx;
	if (s->rc == CORE_OK)
		s->rc = core_buf_append(s->b, p, n);
}

enum core_status core_csv_append_row(struct core_buf *b, const char *const *fields, size_t n)
{
	size_t len = b->len;
	struct buf_sink s = {.b = b, .rc = CORE_OK};
	write_row(put_buf, &s, fields, n);
	put_buf(&s, "\n", 1);
	if (s.rc != CORE_OK) {
		b->len = len; /* no half row */
		if (b->data)
			b->data[len] = '\0';
	}
	return s.rc;
}
