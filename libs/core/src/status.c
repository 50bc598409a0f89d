/* Status names and the error-record helper every failing core call uses to say why. */
#include <stdarg.h>
#include <stdio.h>
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
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return status;
}
