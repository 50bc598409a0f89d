/* Replies (face: the http_reply_* functions in http/http.h). Each builds an MHD
 * response at once and parks it on the request (req->response); server.c queues it
 * with MHD once the request body has been read to its end, adding the X-Request-Id,
 * the extra headers given with http_reply_header and, while draining, "Connection:
 * close". Building here and queuing there keeps the keep-alive rule (never queue before
 * the body is consumed) in one place, and lets an upload function answer mid-body.
 *
 * Every error goes through http_reply_error, which takes the status and the default
 * message from the registry generated out of proto/errors.csv and renders the body in
 * the request's error shape (req->shape, decided by server.c from the route or the
 * path's error prefix): MLflow's {"error_code", "message"} or OIP's {"error"}. It keeps
 * the code and message on the request, so that a client fault (4xx) is logged once, by
 * the access-log line (access_log.c); our own faults (500) and the states of the world
 * (501/503/504) are logged here at once as well, at error and warn. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/log.h"
#include "http_int.h"

#define ERROR_MESSAGE_MAX 2048

bool http_reply_made(const struct http_request *req)
{
	return req->response || req->reply_failed || req->queued_status;
}

static const char *route_label(const struct http_request *req)
{
	const struct http_route *r = req->match.route;
	return r ? (r->name ? r->name : r->pattern) : NULL;
}

static void log_second_reply(const struct http_request *req, unsigned status)
{
	struct core_log_field f[] = {
		CORE_LF_STR("request_id", req->id),
		CORE_LF_STR("route", route_label(req)),
		CORE_LF_INT("status", status),
	};
	core_log_with(CORE_LOG_ERROR, f, sizeof f / sizeof f[0], "second reply for one request ignored (a bug)");
}

/* Parks resp as the request's reply. resp NULL means building it failed. */
static int set_reply(struct http_request *req, unsigned status, struct MHD_Response *resp)
{
	if (!resp) {
		core_log(CORE_LOG_ERROR, "request %s: could not build a reply (out of memory?)", req->id);
		req->reply_failed = true;
		return -1;
	}
	req->response = resp;
	req->status = status;
	return 0;
}

int http_reply_json(struct http_request *req, unsigned status, json_t *body)
{
	if (http_reply_made(req)) {
		json_decref(body);
		log_second_reply(req, status);
		return -1;
	}
	if (!body) {
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "reply body missing");
		return -1;
	}
	size_t len;
	char *text = http_json_text(body, JSON_COMPACT, &len);
	json_decref(body);
	if (!text) {
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "reply body could not be encoded");
		return -1;
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
	} else if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES) {
		MHD_destroy_response(resp);
		resp = NULL;
	}
	return set_reply(req, status, resp);
}

int http_reply_raw(struct http_request *req, unsigned status, const char *content_type, const void *data, size_t len)
{
	if (http_reply_made(req)) {
		log_second_reply(req, status);
		return -1;
	}
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)(data ? data : ""), MHD_RESPMEM_MUST_COPY);
	if (resp && content_type &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
		MHD_destroy_response(resp);
		resp = NULL;
	}
	return set_reply(req, status, resp);
}

json_t *http_json_string_lossy(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char *copy = core_xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

/* The one body of http_reply_error and http_reply_error_detail. detail: NULL or text
 * for the log line only. */
static int reply_error(struct http_request *req, enum http_error_code code, const char *detail, const char *fmt,
		       va_list ap) __attribute__((format(printf, 4, 0)));

static int reply_error(struct http_request *req, enum http_error_code code, const char *detail, const char *fmt,
		       va_list ap)
{
	char msg[ERROR_MESSAGE_MAX];
	if ((int)code <= HTTP_EC_NONE || code >= HTTP_EC__COUNT)
		code = HTTP_EC_INTERNAL_ERROR;
	unsigned status = http_error_statuses[code];
	if (http_reply_made(req)) {
		log_second_reply(req, status);
		return -1;
	}
	if (fmt) {
		vsnprintf(msg, sizeof msg, fmt, ap);
	} else {
		snprintf(msg, sizeof msg, "%s", http_error_messages[code]);
	}

	req->error = code;
	free(req->error_message);
	req->error_message = core_xstrdup(msg);
	if (status >= 500 || detail) {
		struct core_log_field f[] = {
			CORE_LF_STR("request_id", req->id),
			CORE_LF_STR("route", route_label(req)),
			CORE_LF_STR("error_code", http_error_names[code]),
			CORE_LF_INT("status", status),
			CORE_LF_STR("detail", detail),
		};
		/* Only a 500 means a fault of ours; 501 (not built yet), 503 (a dependency
		 * is down) and 504 are states of the world, and tests fail on unexpected
		 * errors. */
		size_t n = sizeof f / sizeof f[0] - (detail ? 0 : 1); /* "detail" is last */
		core_log_with(status == 500 ? CORE_LOG_ERROR : CORE_LOG_WARN, f, n, "%s", msg);
	}

	json_t *body = json_object();
	int bad = !body;
	if (!bad && req->shape == HTTP_ERRORS_OIP) {
		bad = json_object_set_new(body, "error", http_json_string_lossy(msg));
	} else if (!bad) {
		bad = json_object_set_new(body, "error_code", json_string(http_error_names[code])) != 0 ||
		      json_object_set_new(body, "message", http_json_string_lossy(msg)) != 0;
	}
	if (bad) {
		json_decref(body);
		return set_reply(req, status, NULL);
	}
	return http_reply_json(req, status, body);
}

int http_reply_error(struct http_request *req, enum http_error_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = reply_error(req, code, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int http_reply_error_detail(struct http_request *req, enum http_error_code code, const char *detail, const char *fmt,
			    ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = reply_error(req, code, detail, fmt, ap);
	va_end(ap);
	return rc;
}

/* The adapter between http_stream_fn and MHD's content reader. */
struct stream {
	http_stream_fn reader;
	void *cls;
	void (*free_cls)(void *);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	ssize_t n = st->reader(st->cls, pos, buf, max);
	if (n > 0 && (size_t)n <= max)
		return n;
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;
	if (st->free_cls)
		st->free_cls(st->cls);
	free(st);
}

int http_reply_stream(struct http_request *req, unsigned status, const char *content_type, int64_t size,
		      http_stream_fn reader, void *cls, void (*free_cls)(void *))
{
	if (http_reply_made(req) || !reader) {
		if (free_cls)
			free_cls(cls);
		if (http_reply_made(req))
			log_second_reply(req, status);
		else
			http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "stream reply without a reader");
		return -1;
	}
	struct stream *st = core_xmalloc(sizeof *st);
	st->reader = reader;
	st->cls = cls;
	st->free_cls = free_cls;
	uint64_t total = size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)size;
	struct MHD_Response *resp =
		MHD_create_response_from_callback(total, HTTP_STREAM_BLOCK, stream_read, st, stream_free);
	if (!resp) {
		stream_free(st);
	} else if (content_type &&
		   MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
		MHD_destroy_response(resp); /* runs stream_free */
		resp = NULL;
	}
	return set_reply(req, status, resp);
}

void http_reply_header(struct http_request *req, const char *name, const char *value)
{
	struct http_header *h = core_xmalloc(sizeof *h);
	h->name = core_xstrdup(name);
	h->value = core_xstrdup(value);
	h->next = req->headers;
	req->headers = h;
}
