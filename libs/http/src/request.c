/* The per-request context (face: the http_request_* accessors in http/http.h). One is
 * made on the first access-handler call of every request (http_request_new, called by
 * server.c) and freed by http_request_free from MHD's completion callback: one owner,
 * one place memory dies. Everything a handler gets from it is borrowed from it.
 *
 * The query string reaches us raw (server.c switches MHD's unescaping off so that the
 * router sees "%2F"); it is decoded here once, form-style ('+' is a space), into an
 * array that keeps repeated keys in order. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/id.h"
#include "core/time.h"
#include "http_int.h"

enum http_method http_method_parse(const char *method)
{
	static const enum http_method all[] = {HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_PATCH};
	for (size_t i = 0; method && i < sizeof all / sizeof all[0]; i++)
		if (strcmp(method, http_method_name(all[i])) == 0)
			return all[i];
	return 0;
}

static bool request_id_sane(const char *id)
{
	size_t n = 0;
	for (; id[n]; n++) {
		char c = id[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			  c == '_' || c == '-';
		if (!ok || n >= HTTP_REQUEST_ID_MAX)
			return false;
	}
	return n > 0;
}

struct query_collect {
	struct http_request *req;
	size_t cap;
};

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_collect *qc = cls;
	struct http_request *req = qc->req;
	(void)kind;
	if (!key)
		return MHD_YES;
	if (req->n_query == qc->cap) {
		qc->cap = qc->cap ? qc->cap * 2 : 8;
		req->query = core_xrealloc(req->query, qc->cap * sizeof *req->query);
	}
	struct http_query_pair *p = &req->query[req->n_query++];
	p->key = core_xstrdup(key);
	p->value = core_xstrdup(value ? value : "");
	http_url_decode(p->key, true);
	http_url_decode(p->value, true);
	return MHD_YES;
}

struct http_request *http_request_new(struct http_server *s, struct MHD_Connection *conn, const char *method,
				      const char *url)
{
	struct http_request *req = core_xcalloc(1, sizeof *req);
	req->server = s;
	req->conn = conn;
	req->start_ns = core_monotonic_ns();
	req->method_str = method ? method : "";
	req->method = http_method_parse(method);
	req->path = url ? url : "";
	req->phase = HTTP_PHASE_BODY;
	core_buf_init(&req->body, 0);

	const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	if (id && request_id_sane(id)) {
		memcpy(req->id, id, strlen(id) + 1);
	} else {
		core_id_uuid_hex(req->id);
	}

	struct query_collect qc = {.req = req, .cap = 0};
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &qc);
	return req;
}

void http_request_free(struct http_request *req)
{
	if (!req)
		return;
	if (req->free_state)
		req->free_state(req->state);
	if (req->response)
		MHD_destroy_response(req->response);
	for (struct http_header *h = req->headers, *next; h; h = next) {
		next = h->next;
		free(h->name);
		free(h->value);
		free(h);
	}
	for (size_t i = 0; i < req->n_query; i++) {
		free(req->query[i].key);
		free(req->query[i].value);
	}
	free(req->query);
	json_decref(req->keep);
	free(req->error_message);
	http_multipart_free(req->multipart);
	core_buf_free(&req->body);
	http_body_release(req); /* however the request ended */
	http_route_result_clear(&req->match);
	free(req);
}

enum http_method http_request_method(const struct http_request *req)
{
	return req->method;
}

const char *http_request_path(const struct http_request *req)
{
	return req->path;
}

const char *http_request_param(const struct http_request *req, const char *name)
{
	return http_route_result_param(&req->match, name);
}

const char *http_request_query(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_query; i++)
		if (strcmp(req->query[i].key, name) == 0)
			return req->query[i].value;
	return NULL;
}

size_t http_request_query_all(const struct http_request *req, const char *name, const char **values, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < req->n_query; i++) {
		if (strcmp(req->query[i].key, name) != 0)
			continue;
		if (n < max)
			values[n] = req->query[i].value;
		n++;
	}
	return n;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
	if (len)
		*len = req->body.len;
	return req->body.data ? req->body.data : "";
}

const char *http_request_id(const struct http_request *req)
{
	return req->id;
}

void http_request_set_state(struct http_request *req, void *state, void (*free_state)(void *))
{
	if (req->free_state && req->state != state)
		req->free_state(req->state);
	req->state = state;
	req->free_state = free_state;
}

void *http_request_state(const struct http_request *req)
{
	return req->state;
}
