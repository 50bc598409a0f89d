/* Text to double, fast for the numbers events and CSV cells hold: the other way of
 * core_fmt_double. A plain decimal of at most 19 significant digits whose value is an
 * integer below 2^53 times a power of ten within 10^±22 is converted with one IEEE
 * multiplication or division of two exactly representable doubles, which rounds
 * correctly (Clinger's fast path), so the result equals strtod's bit for bit; anything
 * else (more digits, larger exponents, hex, inf, nan, leading blanks) goes to strtod. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include "core/fmt.h"

static const double exact_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
				       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define MAX_EXACT_INT ((uint64_t)1 << 53)

double core_strtod(const char *s, char **end)
{
	const char *p = s;
	bool neg = *p == '-';
	if (*p == '-' || *p == '+')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		return strtod(s, end);
	uint64_t m = 0;
	int sig = 0, exp10 = 0, digits = 0;
	bool point = false;
	for (;; p++) {
		if (*p == '.' && !point) {
			point = true;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		digits++;
		int d = *p - '0';
		if (m == 0 && d == 0) { /* a leading zero: no significant digit */
			exp10 -= point;
			continue;
		}
		if (++sig > 19)
			return strtod(s, end);
		m = m * 10 + (uint64_t)d;
		exp10 -= point;
	}
	if (digits == 0)
		return strtod(s, end);
	if (*p == 'e' || *p == 'E') {
		const char *q = p + 1;
		bool eneg = *q == '-';
		if (*q == '-' || *q == '+')
			q++;
		if (*q < '0' || *q > '9')
			return strtod(s, end); /* "1e" or "1e+": the 'e' is not part of the number */
		int ev = 0;
		for (; *q >= '0' && *q <= '9'; q++) {
			if (ev > 1000)
				return strtod(s, end);
			ev = ev * 10 + (*q - '0');
		}
		exp10 += eneg ? -ev : ev;
		p = q;
	}
	double v;
	if (m == 0) {
		v = 0.0;
	} else {
		if (m > MAX_EXACT_INT || exp10 < -22 || exp10 > 22)
			return strtod(s, end);
		v = exp10 < 0 ? (double)m / exact_pow10[-exp10] : (double)m * exact_pow10[exp10];
	}
	if (end)
		*end = (char *)p;
	return neg ? -v : v;
}
