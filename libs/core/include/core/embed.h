/* Files embedded into a binary at build time by tools/embed (SQL migrations), so a
 * daemon needs nothing beside it at run time. Arrays of these end with name == NULL. */
#ifndef CORE_EMBED_H
#define CORE_EMBED_H
#include <stddef.h>

struct core_embedded_file {
	const char *name;          /* base name, e.g. "0001-init.sql" */
	const unsigned char *data; /* len bytes followed by a NUL */
	size_t len;
};
#endif
