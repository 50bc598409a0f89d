/* Status codes shared by core and the libraries built on it, and the error record that
 * carries a human-readable message out of a failed call. */
#ifndef CORE_STATUS_H
#define CORE_STATUS_H
#include <stddef.h>

enum core_status {
	CORE_OK = 0,
	CORE_EINVAL, /* bad input: the caller (or its client) must change it */
	CORE_ENOMEM, /* allocation failed: a size came from outside and was too big */
	CORE_ELIMIT, /* a declared ceiling was hit (buffer max, body limit): map to 413 */
	CORE_ENOENT, /* a named thing does not exist */
	CORE_EIO,    /* the operating system refused (see the message for errno) */
};

/* A failed call writes why into this; callers may pass NULL when they do not care. */
struct core_error {
	char message[512];
};

/* Returns a static name for the status ("CORE_EINVAL"). */
const char *core_strerror(enum core_status status);

/* Formats a message into err (when err is not NULL) and returns status, so a failure
 * reads `return core_fail(err, CORE_EINVAL, "PORT must be a number, got '%s'", v);`. */
enum core_status core_fail(struct core_error *err, enum core_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#endif
