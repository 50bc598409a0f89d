/* Status names and the error-record helper every failing core call uses to say why. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/status.h"

const char *core_strerror(enum core_status status)
{
	switch (status) {
	case CORE_OK:
		return "CORE_OK";
	case CORE_EINVAL:
		return "CORE_EINVAL";
	case CORE_ENOMEM:
		return "CORE_ENOMEM";
	case CORE_ELIMIT:
		return "CORE_ELIMIT";
	case CORE_ENOENT:
		return "CORE_ENOENT";
	case CORE_EIO:
		return "CORE_EIO";
	}
	return "CORE_UNKNOWN";
}

enum core_status core_fail(struct core_error *err, enum core_status status, const char *fmt, ...)
{
	if (err) {
		/* through a copy: callers prefix a message with err->message itself as an
		 * argument ("%s part: %s", ..., err->message), and vsnprintf must not read
		 * what it is overwriting */
		char msg[sizeof err->message];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		memcpy(err->message, msg, sizeof msg);
	}
	return status;
}
