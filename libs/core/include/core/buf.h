/* A growable byte buffer with a ceiling (docs/style.md §14): hitting the ceiling is an error
 * (CORE_ELIMIT, which HTTP maps to 413), not a reallocation. The contents are always
 * NUL-terminated so text can be used in place. The buffer owns its data until stolen.
 *
 *   struct core_buf b;
 *   core_buf_init(&b, 1 << 20);
 *   if (core_buf_append(&b, p, n) != CORE_OK) ...;
 *   core_buf_free(&b);
 */
#ifndef CORE_BUF_H
#define CORE_BUF_H
#include <stddef.h>
#include "core/status.h"

struct core_buf {
	char *data; /* NULL until the first append; then NUL-terminated */
	size_t len; /* bytes used, not counting the NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* ceiling on len */
};

void core_buf_init(struct core_buf *b, size_t max);

/* Appends n bytes. CORE_ELIMIT when len would pass max, CORE_ENOMEM when allocation
 * fails; on failure the buffer is unchanged. */
enum core_status core_buf_append(struct core_buf *b, const void *data, size_t n);
enum core_status core_buf_append_str(struct core_buf *b, const char *s);
enum core_status core_buf_printf(struct core_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as the body of a JSON string (escapes quotes, backslashes, controls). */
enum core_status core_buf_append_json_escaped(struct core_buf *b, const char *s);

/* Empties the buffer, keeping its allocation. */
void core_buf_reset(struct core_buf *b);

/* Returns the data (caller frees; never NULL: an empty buffer gives "") and leaves the
 * buffer empty. *len_out, when not NULL, gets the length. */
char *core_buf_steal(struct core_buf *b, size_t *len_out);

void core_buf_free(struct core_buf *b);
#endif
