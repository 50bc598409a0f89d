/* The HTTP client (face: http/client.h), on libcurl's easy interface: one easy handle
 * per httpc_do, the response body gathered into a core_buf whose ceiling is
 * max_response, and retries only when no connection could be made (refused,
 * unresolvable host, connect timeout), because then no byte of the request reached a
 * server and even a POST is safe to send again. Any HTTP response, 5xx included, is
 * CORE_OK: what to do with a status is the caller's business.
 *
 * libcurl must be initialised once per process (httpc_global_init, in main, before
 * threads); after that httpc_do is thread-safe (CURLOPT_NOSIGNAL, no shared handles).
 *
 * A call made on behalf of a request carries that request's id (httpc_request
 * .request_id → X-Request-Id), so one id follows a request across services' logs. */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/time.h"
#include "http/client.h"

#define DEFAULT_TIMEOUT_MS   10000L
#define DEFAULT_MAX_RESPONSE ((size_t)64 << 20)
#define BACKOFF_FIRST_MS     100
#define BACKOFF_MAX_SHIFT    10 /* 100 ms · 2^10 ≈ 102 s between two attempts at most */

enum core_status httpc_global_init(struct core_error *err)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		return core_fail(err, CORE_EIO, "curl_global_init: %s", curl_easy_strerror(rc));
	return CORE_OK;
}

void httpc_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Where the write callback puts the body. */
struct sink {
	struct core_buf buf;
	enum core_status failure; /* CORE_OK until an append fails */
};

static size_t on_write(char *data, size_t size, size_t n, void *cls)
{
	struct sink *sink = cls;
	enum core_status rc = core_buf_append(&sink->buf, data, size * n);
	if (rc != CORE_OK) {
		sink->failure = rc;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	return size * n;
}

/* Whether the attempt failed before any byte of the request could be sent. */
static bool no_connection(CURLcode rc, CURL *h)
{
	curl_off_t connect_us = 0;
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return true;
	case CURLE_OPERATION_TIMEDOUT:
		return curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us) == CURLE_OK && connect_us == 0;
	default:
		return false;
	}
}

/* Whether id may go into an X-Request-Id header: the server's own rule for ids it
 * accepts (request.c), which also keeps CR/LF out of our request. */
static bool request_id_ok(const char *id)
{
	size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
	return n > 0 && n <= 64 && id[n] == '\0';
}

/* Builds the header list: Content-Type, X-Request-Id, the caller's headers, and no
 * "Expect: 100-continue" (a round trip saved per upload). NULL when out of memory. */
static struct curl_slist *make_headers(const struct httpc_request *req)
{
	struct curl_slist *list = NULL, *next;
	char *ct = core_xasprintf("Content-Type:%s%s", req->content_type ? " " : "",
				  req->content_type ? req->content_type : "");
	next = curl_slist_append(list, ct);
	free(ct);
	if (!next)
		return NULL;
	list = next;
	if (!(next = curl_slist_append(list, "Expect:")))
		goto fail;
	list = next;
	if (req->request_id && *req->request_id) {
		char *h = core_xasprintf("X-Request-Id: %s", req->request_id);
		next = curl_slist_append(list, h);
		free(h);
		if (!next)
			goto fail;
		list = next;
	}
	for (const char *const *h = req->headers; h && *h; h++) {
		if (!(next = curl_slist_append(list, *h)))
			goto fail;
		list = next;
	}
	return list;
fail:
	curl_slist_free_all(list);
	return NULL;
}

static enum core_status set_options(CURL *h, const struct httpc_request *req, struct curl_slist *headers,
				    struct sink *sink, char *errbuf)
{
	long timeout = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                                                  \
	do {                                                                                                           \
		if (rc == CURLE_OK)                                                                                    \
			rc = curl_easy_setopt(h, opt, val);                                                            \
	} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT_MS, timeout);
	SET(CURLOPT_CONNECTTIMEOUT_MS, timeout);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, sink);
	SET(CURLOPT_HTTPHEADER, headers);
	if (strcmp(req->method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (req->body || strcmp(req->method, "GET") != 0) {
		if (req->body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
		    strcmp(req->method, "PATCH") == 0) {
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
			SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
		}
		SET(CURLOPT_CUSTOMREQUEST, req->method);
	}
#undef SET
	if (rc != CURLE_OK)
		return CORE_EINVAL;
	return CORE_OK;
}

enum core_status httpc_do(const struct httpc_request *req, struct httpc_response *resp, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	CURL *h = NULL;
	struct curl_slist *headers = NULL;
	struct sink sink;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode cc = CURLE_OK;

	memset(resp, 0, sizeof *resp);
	core_buf_init(&sink.buf, req && req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE);
	sink.failure = CORE_OK;
	if (!req || !req->method || !req->url) {
		rc = core_fail(err, CORE_EINVAL, "httpc_do needs a method and a url");
		goto out;
	}
	if (req->request_id && *req->request_id && !request_id_ok(req->request_id)) {
		rc = core_fail(err, CORE_EINVAL, "%s %s: request id is not 1-64 characters of [A-Za-z0-9._-]",
			       req->method, req->url);
		goto out;
	}
	h = curl_easy_init();
	headers = make_headers(req);
	if (!h || !headers) {
		rc = core_fail(err, CORE_EIO, "%s %s: cannot set up libcurl", req->method, req->url);
		goto out;
	}
	errbuf[0] = '\0';
	if (set_options(h, req, headers, &sink, errbuf) != CORE_OK) {
		rc = core_fail(err, CORE_EINVAL, "%s %s: libcurl refused an option", req->method, req->url);
		goto out;
	}
	for (unsigned attempt = 0;; attempt++) {
		core_buf_reset(&sink.buf);
		sink.failure = CORE_OK;
		errbuf[0] = '\0';
		cc = curl_easy_perform(h);
		if (cc == CURLE_OK || attempt >= req->retries || !no_connection(cc, h))
			break;
		core_sleep_ms((int64_t)BACKOFF_FIRST_MS << (attempt < BACKOFF_MAX_SHIFT ? attempt : BACKOFF_MAX_SHIFT));
	}
	if (cc != CURLE_OK) {
		if (sink.failure == CORE_ELIMIT)
			rc = core_fail(err, CORE_ELIMIT, "%s %s: response body over %zu bytes", req->method, req->url,
				       sink.buf.max);
		else if (sink.failure != CORE_OK)
			rc = core_fail(err, sink.failure, "%s %s: cannot store the response body", req->method,
				       req->url);
		else
			rc = core_fail(err, CORE_EIO, "%s %s: %s", req->method, req->url,
				       errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}

	char *ct = NULL;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	resp->content_type = ct ? core_xstrdup(ct) : NULL;
	resp->body = core_buf_steal(&sink.buf, &resp->body_len);
	if (!resp->body) {
		httpc_response_free(resp);
		rc = core_fail(err, CORE_ENOMEM, "%s %s: cannot store the response body", req->method, req->url);
	}
out:
	core_buf_free(&sink.buf);
	curl_slist_free_all(headers);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

void httpc_response_free(struct httpc_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	free(resp->content_type);
	memset(resp, 0, sizeof *resp);
}
