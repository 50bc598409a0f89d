/* The CLI's HTTP on libcurl (face: cli.h): where a service is (LATHE_URL, per-service
 * variables later), the bearer token (LATHE_TOKEN), JSON requests, streamed file uploads
 * and downloads. A failed answer becomes one message that quotes the server's own
 * ("404 RESOURCE_DOES_NOT_EXIST: \"dataset 'x' does not exist\""), so every verb reports
 * server errors the same way. A handle may be shared by many calls of one thread
 * (pool.c keeps one per worker, so its connection is reused). */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "core/alloc.h"
#include "core/buf.h"

/* JSON answers the CLI reads (a 1,000,000-file manifest is about 130 MB). */
#define CLI_MAX_JSON_BODY ((size_t)1 << 30)

/* Sets c to url (from names where it came from, for messages) and LATHE_TOKEN. */
static enum core_status conn_set(struct cli_conn *c, const char *url, const char *from, struct core_error *err)
{
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return core_fail(err, CORE_EINVAL, "%s must start with http:// or https://, got '%s'", from, url);
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n >= sizeof c->base)
		return core_fail(err, CORE_EINVAL, "%s is too long", from);
	memcpy(c->base, url, n);
	c->base[n] = '\0';
	c->auth[0] = '\0';
	const char *token = getenv("LATHE_TOKEN");
	if (token && *token) {
		if (strlen(token) + 40 > sizeof c->auth || strpbrk(token, "\r\n"))
			return core_fail(err, CORE_EINVAL, "LATHE_TOKEN is too long or holds a line break");
		snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", token);
	}
	return CORE_OK;
}

enum core_status cli_conn_init(struct cli_conn *c, const char *url_env, const char *def_url, struct core_error *err)
{
	const char *url = url_env ? getenv(url_env) : NULL;
	const char *from = url_env;
	if (!url || !*url) {
		url = getenv("LATHE_URL");
		from = "LATHE_URL";
	}
	if (!url || !*url) {
		url = def_url;
		from = "the default URL";
	}
	return conn_set(c, url, from, err);
}

enum core_status cli_conn_init_only(struct cli_conn *c, const char *const *url_envs, const char *def_url,
				    struct core_error *err)
{
	for (size_t i = 0; url_envs[i]; i++) {
		const char *url = getenv(url_envs[i]);
		if (url && *url)
			return conn_set(c, url, url_envs[i], err);
	}
	return conn_set(c, def_url, "the default URL", err);
}

CURL *cli_http_handle(void)
{
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	/* A stalled transfer (under 1 byte/s for 60 s) fails; a long one does not. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "lathe-cli");
	return h;
}

char *cli_http_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	if (!e)
		abort(); /* only when out of memory */
	char *out = core_xstrdup(e);
	curl_free(e);
	return out;
}

struct sink {
	struct core_buf *buf; /* JSON answers */
	FILE *file;           /* downloads */
	struct core_sha256 *sha;
	uint64_t max, got;
	bool too_big;
};

static size_t sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	if (s->file) {
		/* Error bodies of a download go to buf instead (see on_error_body). */
		if (s->got + n > s->max) {
			s->too_big = true;
			return 0;
		}
		if (fwrite(data, 1, n, s->file) != n)
			return 0;
		if (s->sha)
			core_sha256_update(s->sha, data, n);
		s->got += n;
		return n;
	}
	if (core_buf_append(s->buf, data, n) != CORE_OK) {
		s->too_big = true;
		return 0;
	}
	return n;
}

/* The failure message for a non-2xx answer: the status, then the server's error_code
 * and message when the body is MLflow's error JSON, its error when it is the Open
 * Inference Protocol's {"error": ...}, else the body's first line. */
static enum core_status fail_status(long status, const char *body, size_t len, struct core_error *err)
{
	enum core_status st = status == 404 ? CORE_ENOENT : CORE_EINVAL;
	json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	const char *code = json_string_value(json_object_get(j, "error_code"));
	const char *msg = json_string_value(json_object_get(j, "message"));
	const char *oip = json_string_value(json_object_get(j, "error")); /* {"error": ...} (OIP, images) */
	if (code && msg) {
		core_fail(err, st, "the server answered %ld %s: \"%s\"", status, code, msg);
	} else if (oip) {
		core_fail(err, st, "the server answered %ld: \"%s\"", status, oip);
	} else if (body && len) {
		int n = (int)strcspn(body, "\r\n");
		core_fail(err, st, "the server answered %ld: \"%.*s\"", status, n > 200 ? 200 : n, body);
	} else {
		core_fail(err, st, "the server answered %ld", status);
	}
	json_decref(j);
	return st;
}

static enum core_status transport_fail(CURLcode rc, const char *errbuf, const char *url, struct core_error *err)
{
	return core_fail(err, CORE_EIO, "cannot reach %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

enum core_status cli_http_send(CURL *h, const struct cli_conn *c, const char *method, const char *path,
			       const char *content_type, const void *body, size_t len, long *status, json_t **out,
			       struct core_error *err)
{
	enum core_status rc = CORE_OK;
	CURL *own = NULL;
	char *ct = NULL, *url = NULL;
	struct curl_slist *hdrs = NULL;
	struct core_buf resp;
	char errbuf[CURL_ERROR_SIZE] = "";
	core_buf_init(&resp, CLI_MAX_JSON_BODY);
	*status = 0;
	if (out)
		*out = NULL;
	if (!h) {
		h = own = cli_http_handle();
		if (!h) {
			rc = core_fail(err, CORE_EIO, "curl cannot make a handle");
			goto out;
		}
	}
	url = core_xasprintf("%s%s", c->base, path);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "lathe-cli");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (c->auth[0])
		hdrs = curl_slist_append(hdrs, c->auth);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (content_type) {
		ct = core_xasprintf("Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, ct);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	struct sink s = {.buf = &resp};
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	CURLcode cc = curl_easy_perform(h);
	if (s.too_big) {
		rc = core_fail(err, CORE_ELIMIT, "the answer of %s %s is too large", method, path);
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = transport_fail(cc, errbuf, c->base, err);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (*status < 200 || *status > 299) {
		rc = fail_status(*status, resp.data, resp.len, err);
		goto out;
	}
	if (out && resp.len) {
		json_error_t je;
		*out = json_loadb(resp.data, resp.len, 0, &je);
		if (!*out)
			rc = core_fail(err, CORE_EINVAL, "the answer of %s %s is not JSON: %s", method, path, je.text);
	}
out:
	if (h)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	free(ct);
	free(url);
	core_buf_free(&resp);
	if (own)
		curl_easy_cleanup(own);
	return rc;
}

enum core_status cli_http_json(CURL *h, const struct cli_conn *c, const char *method, const char *path,
			       const json_t *body, long *status, json_t **out, struct core_error *err)
{
	char *text = NULL;
	if (body && !(text = json_dumps(body, JSON_COMPACT))) {
		*status = 0;
		if (out)
			*out = NULL;
		return core_fail(err, CORE_ENOMEM, "cannot encode the request body");
	}
	enum core_status rc = cli_http_send(h, c, method, path, text ? "application/json" : NULL, text,
					    text ? strlen(text) : 0, status, out, err);
	free(text);
	return rc;
}

/* Prepares h for one transfer of c->base + path; returns the header list to free. */
static struct curl_slist *prepare(CURL *h, const struct cli_conn *c, const char *path, char *url, size_t cap,
				  char *errbuf)
{
	snprintf(url, cap, "%s%s", c->base, path);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "lathe-cli");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	struct curl_slist *hdrs = NULL;
	if (c->auth[0])
		hdrs = curl_slist_append(hdrs, c->auth);
	hdrs = curl_slist_append(hdrs, "Expect:");
	return hdrs;
}

enum core_status cli_http_put_file(CURL *h, const struct cli_conn *c, const char *path, const char *local_path,
				   uint64_t size, long *status, struct core_error *err)
{
	char url[2048], errbuf[CURL_ERROR_SIZE] = "";
	enum core_status rc = CORE_OK;
	struct core_buf resp;
	core_buf_init(&resp, 1 << 20);
	*status = 0;
	FILE *f = fopen(local_path, "rb");
	if (!f)
		return core_fail(err, CORE_EIO, "cannot open %s: %m", local_path);
	struct curl_slist *hdrs = prepare(h, c, path, url, sizeof url, errbuf);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READDATA, f);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
	struct sink s = {.buf = &resp};
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = transport_fail(cc, errbuf, c->base, err);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (*status < 200 || *status > 299)
		rc = fail_status(*status, resp.data, resp.len, err);
out:
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	fclose(f);
	core_buf_free(&resp);
	return rc;
}

enum core_status cli_http_get_to_file(CURL *h, const struct cli_conn *c, const char *path, FILE *out,
				      struct core_sha256 *sha, uint64_t max, uint64_t *got, struct core_error *err)
{
	char url[2048], errbuf[CURL_ERROR_SIZE] = "";
	enum core_status rc = CORE_OK;
	*got = 0;
	struct curl_slist *hdrs = prepare(h, c, path, url, sizeof url, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	/* Only a 2xx body goes to the file: curl fails a >= 400 answer before writing it. */
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	struct sink s = {.file = out, .sha = sha, .max = max};
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	CURLcode cc = curl_easy_perform(h);
	*got = s.got;
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (s.too_big) {
		rc = core_fail(err, CORE_ELIMIT, "%s: the server sent more than the %llu bytes the manifest names",
			       path, (unsigned long long)max);
	} else if (cc == CURLE_HTTP_RETURNED_ERROR) {
		/* FAILONERROR dropped the body: ask once more for the error's words. */
		long st2 = 0;
		rc = cli_http_json(h, c, "GET", path, NULL, &st2, NULL, err);
		if (rc == CORE_OK)
			rc = fail_status(status, NULL, 0, err);
	} else if (cc != CURLE_OK) {
		rc = transport_fail(cc, errbuf, c->base, err);
	} else if (fflush(out) != 0 || ferror(out)) {
		rc = core_fail(err, CORE_EIO, "cannot write what %s sent: %m", path);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return rc;
}
