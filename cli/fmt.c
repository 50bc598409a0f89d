/* Small formatting helpers the verbs share (face: cli.h): sizes in SI units as `du
 * --si` prints them, the server's millisecond times as UTC, and the error lines (a
 * failure, a usage mistake with where to read more), so every noun reports alike. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "cli.h"

void cli_errorf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("lathe: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int cli_fail(const struct core_error *err)
{
	cli_errorf("%s", err->message);
	return CLI_EXIT_FAIL;
}

int cli_usage_error(const char *noun, const char *verb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("lathe: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ntry 'lathe %s%s%s --help'\n", noun, verb ? " " : "", verb ? verb : "");
	return CLI_EXIT_USAGE;
}

const char *cli_fmt_bytes(uint64_t bytes, char *buf, size_t cap)
{
	static const char *const unit[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	double v = (double)bytes;
	unsigned u = 0;
	while (v >= 1000 && u < 5) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, cap, "%.1f %s", v, unit[u]);
	return buf;
}

const char *cli_fmt_ms(const json_t *ms, char *buf, size_t cap)
{
	if (!json_is_integer(ms)) {
		snprintf(buf, cap, "-");
		return buf;
	}
	time_t t = (time_t)(json_integer_value(ms) / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%d %H:%M:%SZ", &tm);
	return buf;
}
