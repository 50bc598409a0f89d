/* core_fmt_double (face: core/fmt.h): the shortest text that reads back as the same
 * double. jansson writes reals with %.17g (0.93 becomes 0.93000000000000005) while
 * PostgreSQL and Python print the shortest form; this is the one function that makes
 * every Lathe output agree with them.
 *
 * Why %.15g, %.16g, %.17g and no fewer digits: a normal double carries 15.95 decimal
 * digits, so at most one 15-digit decimal lies within half an ulp of it, and when a
 * shorter decimal reads back, that decimal padded with zeros is the 15-digit one %.15g
 * finds (and %g strips the zeros again). 17 digits always read back. Subnormals carry
 * fewer bits, so for them the search starts at one digit ("5e-324").
 *
 * That search costs up to three printf and three strtod calls, microseconds per number,
 * and a prediction event or a metric history prints many. So the digits are first
 * worked out exactly with 128-bit integers where the numbers fit (most values between
 * 1e-3 and 2^53), else in long double (x87's 64-bit significand: 11 bits more than a
 * double's), which decides every case except a hair from a rounding tie or from the
 * edge of v's rounding interval; there, and for magnitudes outside 1e-20..1e20 and
 * subnormals, the printf/strtod search decides. All give the same text
 * (tests/unit/core/test_fmt.c compares them). */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
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

/* 10^i for i in [-40, 40] as the nearest long doubles (10^0..10^27 exactly). */
static const long double pow10l_table[81] = {
	1e-40L, 1e-39L, 1e-38L, 1e-37L, 1e-36L, 1e-35L, 1e-34L, 1e-33L, 1e-32L, 1e-31L, 1e-30L, 1e-29L, 1e-28L, 1e-27L,
	1e-26L, 1e-25L, 1e-24L, 1e-23L, 1e-22L, 1e-21L, 1e-20L, 1e-19L, 1e-18L, 1e-17L, 1e-16L, 1e-15L, 1e-14L, 1e-13L,
	1e-12L, 1e-11L, 1e-10L, 1e-9L,  1e-8L,  1e-7L,  1e-6L,  1e-5L,  1e-4L,  1e-3L,  1e-2L,  1e-1L,  1e0L,   1e1L,
	1e2L,   1e3L,   1e4L,   1e5L,   1e6L,   1e7L,   1e8L,   1e9L,   1e10L,  1e11L,  1e12L,  1e13L,  1e14L,  1e15L,
	1e16L,  1e17L,  1e18L,  1e19L,  1e20L,  1e21L,  1e22L,  1e23L,  1e24L,  1e25L,  1e26L,  1e27L,  1e28L,  1e29L,
	1e30L,  1e31L,  1e32L,  1e33L,  1e34L,  1e35L,  1e36L,  1e37L,  1e38L,  1e39L,  1e40L,
};

/* Whether long double carries 64 significand bits here (x87); elsewhere no fast path. */
#define FAST_OK (LDBL_MANT_DIG >= 64)

/* a (> 0) rounded to p significant digits, as %.{p}e would: *d the p digits as an
 * integer (10^(p-1) <= d < 10^p), *x the decimal exponent of the first; e10 is the
 * caller's estimate of a's decimal exponent (floor of log10, maybe one off). false when
 * long double cannot tell the rounding (a hair from a tie) or a is out of the table's
 * range. */
static bool fast_round(double a, int p, int e10, uint64_t *d, int *x)
{
	for (int tries = 0; tries < 3; tries++) {
		int k = p - 1 - e10;
		if (k < -40 || k > 40)
			return false;
		/* one rounding of at most half a unit of 2^-63 relative, plus the table's */
		long double m = (long double)a * pow10l_table[k + 40];
		if (m < pow10l_table[p - 1 + 40]) {
			e10--;
			continue;
		}
		if (m >= pow10l_table[p + 40]) {
			e10++;
			continue;
		}
		long double fl = floorl(m), frac = m - fl;
		/* the error of m is below 2^-62 m; keep a wide berth of the tie */
		if (fabsl(frac - 0.5L) <= m * 0x1p-58L)
			return false;
		uint64_t r = (uint64_t)fl + (frac > 0.5L);
		if (r == (uint64_t)pow10l_table[p + 40]) { /* 9.99..5 rounds up to the next power */
			r /= 10;
			e10++;
		}
		*d = r;
		*x = e10;
		return true;
	}
	return false;
}

/* Whether d x 10^(x-p+1) reads back as a (> 0): inside a's rounding interval, whose ends
 * (midpoints to the neighbouring doubles) long double holds exactly; a tie at an end
 * goes to the even significand. 0 no, 1 yes, -1 too close to an end to tell. */
static int fast_reads_back(double a, uint64_t d, int p, int x)
{
	int k = x - p + 1;
	if (k < -40 || k > 40)
		return -1;
	long double v = (long double)d * pow10l_table[k + 40];
	long double lo = ((long double)a + (long double)nextafter(a, 0)) / 2;
	long double hi = ((long double)a + (long double)nextafter(a, INFINITY)) / 2;
	long double margin = (long double)a * 0x1p-58L;
	if (v > lo + margin && v < hi - margin)
		return 1;
	if (v < lo - margin || v > hi + margin)
		return 0;
	return -1;
}

/* printf's %.{p}g of sign, digits d (p of them) and exponent x: trailing zeros dropped. */
static int spell_g(bool neg, uint64_t d, int p, int x, char *out)
{
	char dig[24];
	for (int i = p - 1; i >= 0; i--) {
		dig[i] = (char)('0' + d % 10);
		d /= 10;
	}
	int n = p;
	while (n > 1 && dig[n - 1] == '0')
		n--;
	char *o = out;
	if (neg)
		*o++ = '-';
	if (x < -4 || x >= p) {
		*o++ = dig[0];
		if (n > 1) {
			*o++ = '.';
			memcpy(o, dig + 1, (size_t)n - 1);
			o += n - 1;
		}
		*o++ = 'e';
		*o++ = x < 0 ? '-' : '+';
		int ax = x < 0 ? -x : x;
		if (ax >= 100)
			*o++ = (char)('0' + ax / 100);
		*o++ = (char)('0' + ax / 10 % 10);
		*o++ = (char)('0' + ax % 10);
	} else if (x < 0) {
		*o++ = '0';
		*o++ = '.';
		for (int i = -1; i > x; i--)
			*o++ = '0';
		memcpy(o, dig, (size_t)n);
		o += n;
	} else {
		for (int i = 0; i < n || i <= x; i++) {
			if (i == x + 1)
				*o++ = '.';
			*o++ = i < n ? dig[i] : '0';
		}
	}
	*o = 0;
	return (int)(o - out);
}

#if defined(__SIZEOF_INT128__)
/* The exact way, for 0 <= k <= 19 and a below 2^53 (so a = M 2^-s, s > 0): N = M 10^k
 * is an integer of at most 117 bits, a 10^k = N / 2^s, and its rounding to an integer
 * and the distance of that integer from a 10^k are read off N's low s bits. Returns
 * 1 reads back, 0 does not, -1 not this way; *d and *x as fast_round's; *e10, the
 * estimate of a's decimal exponent, is corrected when it was one off. */
static int exact_round(double a, int p, int *e10, uint64_t *d, int *x)
{
	int e2;
	double fr = frexp(a, &e2); /* a = fr 2^e2, fr in [0.5, 1) */
	uint64_t m = (uint64_t)ldexp(fr, 53);
	int sh = 53 - e2;
	for (int tries = 0; tries < 2; tries++) {
		int k = p - 1 - *e10;
		if (k < 0 || k > 19 || sh <= 0 || sh >= 120)
			return -1;
		uint64_t p10 = (uint64_t)pow10l_table[k + 40], lo = (uint64_t)pow10l_table[p - 1 + 40],
			 hi = (uint64_t)pow10l_table[p + 40];
		unsigned __int128 n = (unsigned __int128)m * p10, one = 1;
		unsigned __int128 q = n >> sh, r = n & ((one << sh) - 1), half = one << (sh - 1);
		/* log10 may be one off next to a power of ten: a 10^k must have p digits */
		if (q < lo) {
			(*e10)--;
			continue;
		}
		if (q >= hi) {
			(*e10)++;
			continue;
		}
		bool up = r > half || (r == half && (q & 1));
		unsigned __int128 dist = up ? (one << sh) - r : r;
		q += up;
		*x = *e10;
		if (q == hi) { /* 9.99..5 rounds up to the next power */
			q /= 10;
			(*x)++;
		}
		*d = (uint64_t)q;
		/* a's rounding interval is half an ulp (10^k / 2 here) each side, but only a
		 * quarter below a power of two; a tie reads back as the even significand */
		unsigned __int128 w = dist * ((!up && m == (UINT64_C(1) << 52) && a > DBL_MIN) ? 4 : 2);
		if (w != p10)
			return w < p10;
		return (m & 1) == 0;
	}
	return -1;
}
#else
static int exact_round(double a, int p, int *e10, uint64_t *d, int *x)
{
	(void)a, (void)p, (void)e10, (void)d, (void)x;
	return -1;
}
#endif

/* The search of the comment above, without printf or strtod; -1 when it cannot decide. */
static int fast_shortest(double v, char *out)
{
	double a = fabs(v);
	if (!FAST_OK || !(a >= 1e-20 && a <= 1e20))
		return -1;
	int e10 = (int)floor(log10(a));
	for (int p = 15; p <= 17; p++) {
		uint64_t d;
		int x, ok = exact_round(a, p, &e10, &d, &x);
		if (ok < 0) {
			if (!fast_round(a, p, e10, &d, &x))
				return -1;
			ok = p == 17 ? 1 : fast_reads_back(a, d, p, x);
			if (ok < 0)
				return -1;
		}
		if (ok || p == 17)
			return spell_g(signbit(v), d, p, x, out);
	}
	return -1;
}

size_t core_fmt_double(double v, unsigned flags, char *out)
{
	int len;
	if (!isfinite(v) || v == 0) {
		len = snprintf(out, CORE_FMT_DOUBLE_MAX, "%g", v);
	} else if ((len = fast_shortest(v, out)) >= 0) {
		/* decided without printf */
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
