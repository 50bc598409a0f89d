/* Content negotiation (face: http/http.h, http_accept_quality): how much a request's
 * Accept header wants one media type, so a resource with two forms (a drift report as
 * JSON for programs and as HTML for people) can answer the one the client prefers.
 * RFC 9110 §12.5.1: the header is a list of media ranges ("text/html",
 * "application/ *", "* / *" without the blanks), each with an optional weight ";q=0.8";
 * a type takes the weight of the most specific range that matches it. Pure: reads the
 * header text in place, allocates nothing. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http/http.h"

#define OWS " \t"

/* Whether the n bytes at range (already trimmed, no parameters) match type, and how
 * specifically: 3 type/subtype, 2 type/ *, 1 * / *, 0 no match. */
static int specificity(const char *range, size_t n, const char *type)
{
	const char *slash = strchr(type, '/');
	size_t type_len = slash ? (size_t)(slash - type) : strlen(type);
	if (n == 3 && memcmp(range, "*/*", 3) == 0)
		return 1;
	if (n == type_len + 2 && strncasecmp(range, type, type_len) == 0 && range[type_len] == '/' &&
	    range[type_len + 1] == '*')
		return 2;
	if (n == strlen(type) && strncasecmp(range, type, n) == 0)
		return 3;
	return 0;
}

/* The weight in the parameters at params (up to end: ";q=0.5;level=1"), into *q: 1 when
 * none is given. false when a q parameter is not a number from 0 to 1. */
static bool weight(const char *params, const char *end, double *q)
{
	*q = 1;
	for (const char *p = params; p < end;) {
		p += strspn(p, OWS ";");
		if (p >= end)
			break;
		const char *stop = memchr(p, ';', (size_t)(end - p));
		if (!stop)
			stop = end;
		if ((*p == 'q' || *p == 'Q') && p + 1 < stop && p[1] == '=') {
			if (isspace((unsigned char)p[2]))
				return false; /* strtod would skip it */
			char *num_end = NULL;
			*q = strtod(p + 2, &num_end);
			if (num_end == p + 2 || num_end > stop || !(*q >= 0 && *q <= 1))
				return false;
			while (num_end < stop && (*num_end == ' ' || *num_end == '\t'))
				num_end++;
			if (num_end != stop)
				return false;
		}
		p = stop;
	}
	return true;
}

double http_accept_quality(const char *accept, const char *type)
{
	if (!accept || accept[strspn(accept, OWS ",")] == '\0')
		return 1; /* no preference: anything will do */
	int best = 0;
	double best_q = 0;
	for (const char *p = accept; *p;) {
		p += strspn(p, OWS ",");
		if (!*p)
			break;
		const char *end = strchrnul(p, ',');
		const char *params = memchr(p, ';', (size_t)(end - p));
		if (!params)
			params = end;
		size_t n = (size_t)(params - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		int s = specificity(p, n, type);
		double q;
		if (s > 0 && weight(params, end, &q) && (s > best || (s == best && q > best_q))) {
			best = s;
			best_q = q;
		}
		p = end;
	}
	return best_q;
}
