/* Calls to another Lathe service (httpc_peer_call): the base URL and bearer token of
 * its settings, the request id of the request being served, and one rule for what
 * "the peer is in trouble" means, so the trainer, the registry and the services still
 * to come answer an unreachable peer alike. Built on httpc_do. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/log.h"
#include "http/client.h"

enum core_status httpc_peer_call(const struct httpc_peer *p, const char *method, const char *path,
				 const char *content_type, const void *body, size_t body_len, const char *request_id,
				 struct httpc_response *resp, struct core_error *err)
{
	struct core_error herr = {{0}};
	memset(resp, 0, sizeof *resp);
	if (!p->base_url || !*p->base_url)
		return core_fail(err, CORE_EINVAL, "%s: no base URL is set", p->name);
	size_t base_len = strlen(p->base_url);
	while (base_len > 0 && p->base_url[base_len - 1] == '/')
		base_len--;
	char *url = core_xasprintf("%.*s%s", (int)base_len, p->base_url, path);
	char *auth = p->token && *p->token ? core_xasprintf("Authorization: Bearer %s", p->token) : NULL;
	const char *headers[] = {auth, NULL};
	struct httpc_request rq = {
		.method = method,
		.url = url,
		.body = body,
		.body_len = body ? body_len : 0,
		.content_type = body ? content_type : NULL,
		.headers = headers,
		.timeout_ms = p->timeout_ms,
		.retries = p->retries,
		.max_response = p->max_response,
		.request_id = request_id,
	};
	enum core_status rc = httpc_do(&rq, resp, &herr);
	if (rc == CORE_EINVAL) { /* method and url are ours: the request id is what is wrong */
		rc = core_fail(err, CORE_EINVAL,
			       "cannot call %s: request id '%s' is not 1-64 characters of [A-Za-z0-9._-]", p->name,
			       request_id);
	} else if (rc == CORE_ELIMIT) {
		rc = core_fail(err, CORE_ELIMIT, "%s answered %s %.*s with more than %zu bytes", p->name, method,
			       (int)strcspn(path, "?"), path, p->max_response);
	} else if (rc != CORE_OK || resp->status >= 500 || resp->status == 408 || resp->status == 429) {
		struct core_log_field f[] = {CORE_LF_STR("request_id", request_id), CORE_LF_STR("url", url),
					     CORE_LF_INT("status", rc == CORE_OK ? resp->status : 0)};
		if (rc == CORE_OK) /* herr.message already names the method and URL */
			core_log_with(CORE_LOG_WARN, f, sizeof f / sizeof f[0], "%s unreachable: %s %s answered %ld",
				      p->name, method, url, (long)resp->status);
		else
			core_log_with(CORE_LOG_WARN, f, sizeof f / sizeof f[0], "%s unreachable: %s", p->name,
				      herr.message);
		httpc_response_free(resp);
		rc = core_fail(err, CORE_EIO, "%s could not be reached", p->name);
	}
	free(auth);
	free(url);
	return rc;
}

enum core_status httpc_peer_json(const struct httpc_peer *p, const char *method, const char *path, json_t *body,
				 const char *request_id, long *status, json_t **out, struct core_error *err)
{
	struct httpc_response resp = {0};
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	*out = NULL;
	*status = 0;
	enum core_status rc = body && !text ? core_fail(err, CORE_ENOMEM, "%s: the request cannot be written", p->name)
					    : httpc_peer_call(p, method, path, body ? "application/json" : NULL, text,
							      text ? strlen(text) : 0, request_id, &resp, err);
	if (rc == CORE_ELIMIT)
		rc = core_fail(err, CORE_EIO, "%s answered %s with more than %zu bytes", p->name, path,
			       p->max_response);
	if (rc == CORE_OK) {
		*status = resp.status;
		*out = json_loadb(resp.body, resp.body_len, 0, NULL);
		if (!json_is_object(*out)) {
			json_decref(*out);
			*out = NULL;
		}
		if (!*out && resp.status >= 200 && resp.status < 300)
			rc = core_fail(err, CORE_EIO, "%s answered %s with something that is not a JSON object",
				       p->name, path);
	}
	httpc_response_free(&resp);
	free(text);
	return rc;
}
