/* The abort-on-exhaustion allocators for control-plane memory (see core/alloc.h for
 * the policy). Aborting is deliberate: a daemon out of memory for its own bookkeeping
 * cannot keep its promises, and the orchestrator restarts it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/log.h"

static void out_of_memory(size_t size)
{
	core_log(CORE_LOG_ERROR, "out of memory allocating %zu bytes", size);
	abort();
}

void *core_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		out_of_memory(size);
	return p;
}

void *core_xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		out_of_memory(count * size);
	return p;
}

void *core_xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (!p)
		out_of_memory(size);
	return p;
}

char *core_xstrdup(const char *s)
{
	return core_xstrndup(s, strlen(s));
}

char *core_xstrndup(const char *s, size_t n)
{
	char *p = core_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *core_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory(0);
	char *p = core_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
