/* The data registry's input rules, pure: dataset names, tags, max_results, page tokens
 * (opaque to clients: hex of the last name / the last number answered) and version
 * references. Each describes a client's mistake in err; the handler answers 400. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "dr.h"

enum core_status dr_check_dataset_name(const char *name, struct core_error *err)
{
	size_t n = name ? strlen(name) : 0;
	bool ok = n >= 1 && n <= DR_NAME_MAX && isalnum((unsigned char)name[0]);
	for (size_t i = 1; ok && i < n; i++)
		ok = isalnum((unsigned char)name[i]) || name[i] == '.' || name[i] == '_' || name[i] == '-';
	if (!ok)
		return core_fail(err, CORE_EINVAL,
				 "Invalid dataset name '%.200s': use 1 to 128 of A-Z a-z 0-9 . _ -, starting with a "
				 "letter or digit",
				 name ? name : "");
	return CORE_OK;
}

enum core_status dr_check_tags(json_t *tags, struct core_error *err)
{
	if (!json_is_object(tags))
		return core_fail(err, CORE_EINVAL, "Invalid value for parameter 'tags': must be an object of strings");
	const char *k;
	json_t *v;
	json_object_foreach(tags, k, v)
	{
		if (!json_is_string(v))
			return core_fail(err, CORE_EINVAL, "Invalid value for tag '%.250s': must be a string", k);
		if (strlen(k) == 0 || strlen(k) > 250)
			return core_fail(err, CORE_EINVAL, "Invalid tag key '%.250s': 1 to 250 bytes", k);
		if (json_string_length(v) > 5000)
			return core_fail(err, CORE_EINVAL, "Invalid value for tag '%.250s': over 5000 bytes", k);
	}
	return CORE_OK;
}

static bool parse_i64(const char *s, int64_t *out)
{
	if (!s || !*s || !(isdigit((unsigned char)s[0]) || s[0] == '-'))
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

enum core_status dr_check_max_results(const char *text, long def, long max, long *out, struct core_error *err)
{
	int64_t v = def;
	if (text && !parse_i64(text, &v))
		return core_fail(err, CORE_EINVAL, "Invalid value '%.64s' for parameter 'max_results': not an integer",
				 text);
	if (v < 1 || v > max)
		return core_fail(err, CORE_EINVAL, "Invalid value %lld for parameter 'max_results': must be 1 to %ld",
				 (long long)v, max);
	*out = (long)v;
	return CORE_OK;
}

char *dr_token_from_name(const char *name)
{
	size_t n = strlen(name);
	char *t = core_xmalloc(2 * n + 1);
	for (size_t i = 0; i < n; i++)
		snprintf(t + 2 * i, 3, "%02x", (unsigned char)name[i]);
	t[2 * n] = '\0';
	return t;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

enum core_status dr_token_to_name(const char *token, char *out, size_t size, struct core_error *err)
{
	size_t n = strlen(token);
	if (n == 0 || n % 2 || n / 2 >= size)
		goto bad;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(token[2 * i]), lo = hexval(token[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		out[i] = (char)(hi * 16 + lo);
		if (out[i] == 0)
			goto bad;
	}
	out[n / 2] = '\0';
	return CORE_OK;
bad:
	return core_fail(err, CORE_EINVAL, "Invalid page_token '%.64s'", token);
}

enum core_status dr_token_to_number(const char *token, int64_t *out, struct core_error *err)
{
	if (!parse_i64(token, out) || *out < 1)
		return core_fail(err, CORE_EINVAL, "Invalid page_token '%.64s'", token);
	return CORE_OK;
}

enum core_status dr_ref_parse(const char *text, struct dr_ref *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	size_t n = strlen(text);
	if (strcmp(text, "latest") == 0) {
		out->kind = DR_REF_LATEST;
		return CORE_OK;
	}
	bool digits = n > 0 && n <= 18, hex = n > 0 && n <= 64;
	for (size_t i = 0; i < n; i++) {
		digits = digits && isdigit((unsigned char)text[i]);
		hex = hex && isxdigit((unsigned char)text[i]);
	}
	/* A short all-digit ref is a number; 8+ digits could be either, and a number that
	 * long is unlikely to exist, so it is tried as a number first (h_reads.c falls back). */
	if (digits && n < 8) {
		out->kind = DR_REF_NUMBER;
		out->number = strtoll(text, NULL, 10);
		if (out->number < 1)
			return core_fail(err, CORE_EINVAL, "Invalid version reference '%s'", text);
		return CORE_OK;
	}
	if (hex && n >= 8) {
		for (size_t i = 0; i < n; i++)
			out->hex[i] = (char)tolower((unsigned char)text[i]);
		out->hex[n] = '\0';
		out->kind = n == 64 ? DR_REF_ID : DR_REF_PREFIX;
		if (digits && n <= 18)
			out->number = strtoll(text, NULL, 10);
		return CORE_OK;
	}
	return core_fail(err, CORE_EINVAL,
			 "Invalid version reference '%.80s': a number, a version id, an id prefix of at least 8 "
			 "hex digits, or 'latest'",
			 text);
}
