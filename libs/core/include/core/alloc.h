/* Allocation policy, decided once (docs/style.md §14): small control-plane allocations whose size
 * the program chooses go through core_x*, which log and abort when memory is exhausted;
 * nothing sensible can continue then. Allocations whose size comes from a client or a
 * dataset use plain malloc and map failure to 413 or 503 at the call site. */
#ifndef CORE_ALLOC_H
#define CORE_ALLOC_H
#include <stddef.h>

void *core_xmalloc(size_t size);
void *core_xcalloc(size_t count, size_t size);
void *core_xrealloc(void *ptr, size_t size);
/* Returns a malloc'd copy of s; s must not be NULL. */
char *core_xstrdup(const char *s);
/* Returns a malloc'd copy of the first n bytes of s, NUL-terminated. */
char *core_xstrndup(const char *s, size_t n);
/* Returns a malloc'd formatted string. */
char *core_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
