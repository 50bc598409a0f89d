/* core_fmt_double (face: core/fmt.h): the shortest text that reads back as the same
 * double. jansson writes reals with %.17g (0.93 becomes 0.93000000000000005) while
 * PostgreSQL and Python print the shortest form; this is the one function that makes
 * every Lathe output agree with them.
 *
 * Why %.15g, %.16g, %.17g and no fewer digits: a normal double carries 15.95 decimal
 * digits, so at most one 15-digit decimal lies within half an ulp of it, and when a
 * shorter decimal reads back, that decimal padded with zeros is the 15-digit one %.15g
 * finds (and %g strips the zeros again). 17 digits always read back. Subnormals carry
 * fewer bits, so for them the search starts at one digit ("5e-324"). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fmt.h"

/* Rewrites a %g exponent as jansson does: "e+300" -> "e300", "e-07" -> "e-7". */
static size_t json_exponent(char *s, size_t len)
{
	char *e = strchr(s, 'e');
	if (!e)
		return len;
	char *from = e + 1, *to = e + 1;
	if (*from == '-')
		from++, to++;
	else if (*from == '+')
		from++;
	while (*from == '0' && from[1] != '\0')
		from++;
	memmove(to, from, strlen(from) + 1);
	return strlen(s);
}

size_t core_fmt_double(double v, unsigned flags, char *out)
{
	int len;
	if (!isfinite(v) || v == 0) {
		len = snprintf(out, CORE_FMT_DOUBLE_MAX, "%g", v);
	} else {
		int digits = fabs(v) < DBL_MIN ? 1 : 15;
		for (;; digits++) {
			len = snprintf(out, CORE_FMT_DOUBLE_MAX, "%.*g", digits, v);
			if (digits >= 17 || strtod(out, NULL) == v)
				break;
		}
	}
	size_t n = (size_t)len;
	if ((flags & CORE_FMT_JSON_REAL) && isfinite(v)) {
		if (!strpbrk(out, ".e")) {
			memcpy(out + n, ".0", 3);
			n += 2;
		}
		n = json_exponent(out, n);
	}
	return n;
}
