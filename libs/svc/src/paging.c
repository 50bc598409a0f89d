/* Keyset paging of the native /v1/ listings (the trainer's jobs, the drift monitor's
 * monitors and reports), pure: newest first by (created_at, id), and the token
 * "<created_at>.<id>" names the last row handed out, so the next page starts strictly
 * after it: a page never repeats or skips a row however many are written meanwhile, and
 * costs the same wherever it starts. One parser, so every listing refuses the same bad
 * max_results and tokens with the same words. */
#include <ctype.h>
#include <string.h>
#include "core/alloc.h"
#include "svc/svc.h"

#define MS_DIGITS_MAX 18 /* Unix ms fit in 13 digits for millennia; 18 never overflow int64 */

/* A whole run of at most MS_DIGITS_MAX decimal digits: no sign, no blanks. */
static bool digits_only(const char *s, size_t n, int64_t *out)
{
	if (n == 0 || n > MS_DIGITS_MAX)
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

enum core_status svc_ms_param(const char *name, const char *text, int64_t *out, struct core_error *err)
{
	if (!digits_only(text, strlen(text), out))
		return core_fail(err, CORE_EINVAL,
				 "Invalid value '%.40s' for parameter '%s': a time in Unix milliseconds (an integer "
				 ">= 0)",
				 text, name);
	return CORE_OK;
}

enum core_status svc_page_parse(const char *max_results, const char *page_token, struct svc_page *out,
				struct core_error *err)
{
	memset(out, 0, sizeof *out);
	out->limit = SVC_PAGE_DEFAULT;
	if (max_results && *max_results) {
		int64_t v = 0;
		if (!digits_only(max_results, strlen(max_results), &v) || v < 1 || v > SVC_PAGE_MAX)
			return core_fail(err, CORE_EINVAL,
					 "Invalid value '%.40s' for parameter 'max_results': an integer from 1 to %d",
					 max_results, SVC_PAGE_MAX);
		out->limit = (long)v;
	}
	if (!page_token || !*page_token)
		return CORE_OK;
	const char *dot = strchr(page_token, '.');
	bool ok = dot && digits_only(page_token, (size_t)(dot - page_token), &out->after_created) &&
		  strlen(dot + 1) == SVC_PAGE_ID_LEN;
	for (size_t i = 0; ok && i < SVC_PAGE_ID_LEN; i++)
		ok = isdigit((unsigned char)dot[1 + i]) || (dot[1 + i] >= 'a' && dot[1 + i] <= 'f');
	if (!ok)
		return core_fail(err, CORE_EINVAL, "Invalid page_token '%.80s'", page_token);
	memcpy(out->after_id_buf, dot + 1, SVC_PAGE_ID_LEN + 1);
	out->after_id = out->after_id_buf;
	return CORE_OK;
}

char *svc_page_token(const char *created_at, const char *id)
{
	return core_xasprintf("%s.%s", created_at ? created_at : "0", id ? id : "");
}
