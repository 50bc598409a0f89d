/* Numbers as text, written once: every place a double becomes text (JSON replies, log
 * fields, PostgreSQL's float8 re-spelt) goes through core_fmt_double, so one value
 * reads the same everywhere; core_strtod reads text back on hot paths. */
#ifndef CORE_FMT_H
#define CORE_FMT_H
#include <stddef.h>

/* Bytes core_fmt_double may write, NUL included ("-2.2250738585072014e-308"). */
#define CORE_FMT_DOUBLE_MAX 32

enum core_fmt_flags {
	/* JSON's spelling of a real, as jansson writes one: a ".0" when the digits alone
	 * would read back as an integer ("3.0", "-0.0"), and exponents without '+' or
	 * leading zeros ("1e300", "1e-7"). Without it: printf's %g spelling ("3", "1e+300"). */
	CORE_FMT_JSON_REAL = 1,
};

/* Writes v as the shortest decimal that strtod reads back as exactly v ("0.93", not
 * "0.93000000000000005"; "5e-324"), choosing, among the shortest, the one nearest v
 * (%.Ng correctly rounded). NaN and infinities are written as printf writes them
 * ("nan", "inf", "-inf"): JSON has no spelling for them, the caller decides.
 *   out   [out] at least CORE_FMT_DOUBLE_MAX bytes, NUL-terminated
 *   flags enum core_fmt_flags, or 0
 * Returns the length written. Pure; thread-safe (the C locale's decimal point). */
size_t core_fmt_double(double v, unsigned flags, char *out);

/* strtod in the C locale, with the same result and end bit for bit, several times
 * faster for plain decimals of up to 15 or so digits ("0.123456", "-42", "3.5e-7"):
 * those are converted exactly without strtod's general algorithm (parse_double.c).
 * For the hot paths that read numbers from text: events, CSV cells. */
double core_strtod(const char *s, char **end);
#endif
