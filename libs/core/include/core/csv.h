/* A streaming RFC 4180 reader over libcsv (strict quoting), shared by the data
 * registry (files of a dataset version) and the drift monitor (CSV sent inline in a
 * request). Callers link -lcsv. */
#ifndef CORE_CSV_H
#define CORE_CSV_H
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

/* A streaming RFC 4180 reader (libcsv, strict quoting): the first row is the header;
 * every later row must have the header's width. Memory: a 16 KiB read buffer plus the
 * rows that buffer completes. Blank lines are skipped. */
struct core_csv;

/* Opens a reader over fd (borrowed: the caller closes it after core_csv_close); name is
 * the file's path for messages (copied). Reads the header: CORE_EINVAL when the file
 * has no header row, a header field is empty or repeated, or the quoting is broken. */
enum core_status core_csv_open(int fd, const char *name, struct core_csv **out, struct core_error *err);
/* The header's fields (valid until core_csv_close). */
const char *const *core_csv_header(const struct core_csv *r, size_t *n);
/* The next row: CORE_OK with *fields (n_fields = the header's width, NUL-terminated,
 * valid until the next call), CORE_ENOENT at the end, CORE_EINVAL for a row whose
 * width differs from the header's or broken quoting ("<file>: line L (row R) has 3
 * fields, the header 4"), CORE_EIO when fd cannot be read. *row is the 1-based data
 * row number (the header not counted). */
enum core_status core_csv_next(struct core_csv *r, const char *const **fields, uint64_t *row, struct core_error *err);
void core_csv_close(struct core_csv *r);

/* Writes fields joined as CSV (RFC 4180: ',' between fields; a field holding ',', '"',
 * CR or LF quoted with '"' and its '"' doubled; no line end) into the sha256 context.
 * This is the content a CSV item's key hashes. */
struct core_sha256;
void core_csv_hash_row(struct core_sha256 *ctx, const char *const *fields, size_t n);
/* Appends the same text and a '\n' to b: a row the reader reads back as fields (the
 * drift monitor joins a dataset version's CSV files this way). CORE_OK, or
 * core_buf_append's failure (CORE_ELIMIT, CORE_ENOMEM) with b as it was. */
struct core_buf;
enum core_status core_csv_append_row(struct core_buf *b, const char *const *fields, size_t n);

/* The same reader over len bytes of text in memory (borrowed: it must outlive the
 * reader), for CSV that arrives in a request body rather than a file. */
enum core_status core_csv_open_mem(const char *text, size_t len, const char *name, struct core_csv **out,
				   struct core_error *err);
#endif
