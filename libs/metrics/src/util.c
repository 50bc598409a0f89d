/* Helpers the rest of libs/metrics leans on: the allocation policy and the two text
 * problems the exposition format forces on us.
 *
 * - Allocation: registry, family and series memory is small and sized by the program,
 *   so failure prints a message and aborts (the policy the face documents) instead of
 *   spreading NULL checks through the update path.
 * - UTF-8: Prometheus refuses a scrape whose label values are not UTF-8, and label
 *   values can come from clients, so series.c checks them (metrics_int_value_ok) and
 *   repairs the rare bad one (metrics_int_value_normalize).
 * - Doubles: metrics_int_fmt_double spells values the way Prometheus reads them; the
 *   caller makes the C locale current so printf's radix is '.'. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"

static void oom(size_t size)
{
	fprintf(stderr, "metrics: out of memory allocating %zu bytes\n", size);
	abort();
}

void *metrics_int_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		oom(size);
	return p;
}

void *metrics_int_xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (!p)
		oom(count * size);
	return p;
}

char *metrics_int_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = metrics_int_xmalloc(n);

	memcpy(p, s, n);
	return p;
}

void metrics_int_mutex_init(pthread_mutex_t *m)
{
	/* Only fails on resource exhaustion, which the policy treats like ENOMEM. */
	if (pthread_mutex_init(m, NULL) != 0) {
		fprintf(stderr, "metrics: pthread_mutex_init failed\n");
		abort();
	}
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 table), or 0 if the byte at
 * s does not start one. Continuation bytes are tested in order, so the terminating
 * NUL stops the scan before anything past it is read. */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* UTF-16 surrogates */
		if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
		if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

int metrics_int_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq_len(p);

		if (n == 0)
			return 0;
		p += n;
	}
	return 1;
}

int metrics_int_value_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		if (*p < 0x80) { /* the common case: ASCII route names, methods, codes */
			p++;
		} else {
			size_t n = utf8_seq_len(p);

			if (n == 0)
				return 0;
			p += n;
		}
		if ((size_t)(p - (const unsigned char *)s) > METRICS_MAX_LABEL_VALUE_LEN)
			return 0;
	}
	return 1;
}

char *metrics_int_value_normalize(const char *s)
{
	static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
	const unsigned char *p = (const unsigned char *)s;
	char *out = metrics_int_xmalloc(METRICS_MAX_LABEL_VALUE_LEN + 1);
	size_t len = 0;

	while (*p) {
		size_t n = utf8_seq_len(p);
		const char *src = (const char *)p;
		size_t adv = n;

		if (n == 0) {
			src = replacement;
			n = 3;
			adv = 1;
		}
		if (len + n > METRICS_MAX_LABEL_VALUE_LEN)
			break;
		memcpy(out + len, src, n);
		len += n;
		p += adv;
	}
	out[len] = '\0';
	return out;
}

size_t metrics_int_fmt_double(char *buf, double v)
{
	int n = 0;

	if (isnan(v))
		n = snprintf(buf, METRICS_INT_DBL_BUF, "NaN");
	else if (isinf(v))
		n = snprintf(buf, METRICS_INT_DBL_BUF, "%s", v > 0 ? "+Inf" : "-Inf");
	else if (v == 0)
		n = snprintf(buf, METRICS_INT_DBL_BUF, "0"); /* and not "-0" */
	else if (v == trunc(v) && fabs(v) < 9007199254740992.0) {
		/* Exact integers below 2^53 (counters, byte counts) in plain digits: %g would
		 * switch to 1e+15 style from 15 digits on. */
		n = snprintf(buf, METRICS_INT_DBL_BUF, "%.0f", v);
	} else {
		/* The shortest of 15, 16 or 17 significant digits that reads back as v: 0.1
		 * stays "0.1" instead of %.17g's "0.10000000000000001", and nothing is lost. */
		for (int prec = 15; prec <= 17; prec++) {
			n = snprintf(buf, METRICS_INT_DBL_BUF, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
	return n > 0 ? (size_t)n : 0;
}
