/* Page tokens for the registry searches, in MLflow's own form (search_utils.py):
 * base64 of the JSON {"offset": N}, where N rows of the ordered result were already
 * handed out. Clients treat tokens as opaque; keeping MLflow's form means a token from
 * either server reads the same. Pure (jansson + OpenSSL's base64); unit-tested. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mr.h"

char *mr_page_token(int64_t offset)
{
	char json[64];
	int n = snprintf(json, sizeof json, "{\"offset\": %lld}", (long long)offset);
	char *out = core_xmalloc(4 * (((size_t)n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)json, n);
	return out;
}

enum core_status mr_page_token_parse(const char *token, int64_t *offset, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	unsigned char *raw = NULL;
	json_t *doc = NULL;
	size_t len = token ? strlen(token) : 0;

	*offset = 0;
	if (len == 0)
		return CORE_OK;
	if (len % 4 != 0 || len > 1024) {
		rc = core_fail(err, CORE_EINVAL, "Invalid page token, could not base64-decode");
		goto out;
	}
	raw = core_xmalloc(len / 4 * 3 + 1);
	int n = EVP_DecodeBlock(raw, (const unsigned char *)token, (int)len);
	if (n < 0) {
		rc = core_fail(err, CORE_EINVAL, "Invalid page token, could not base64-decode");
		goto out;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes: drop them. */
	for (size_t i = len; i > 0 && token[i - 1] == '=' && n > 0; i--)
		n--;
	doc = json_loadb((const char *)raw, (size_t)n, 0, NULL);
	json_t *v = json_object_get(doc, "offset");
	if (!json_is_object(doc) || !json_is_integer(v) || json_integer_value(v) < 0) {
		rc = core_fail(err, CORE_EINVAL, "Invalid page token, decoded value=%.*s", n > 200 ? 200 : n, raw);
		goto out;
	}
	*offset = (int64_t)json_integer_value(v);
out:
	json_decref(doc);
	free(raw);
	return rc;
}
