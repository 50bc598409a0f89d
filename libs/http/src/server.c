/* The HTTP server (face: http_server_* in http/http.h): one MHD daemon with one poll()
 * thread per connection, and the per-request state machine that turns MHD's access
 * handler calls into route matching, bounded body reading, one handler call and one
 * queued reply.
 *
 * Why a thread per connection. With a pool of N poll threads, each connection belongs
 * to one thread, and while that thread runs a slow handler (a heavy search) every
 * other connection it owns waits, /healthz included: 12 slow searches made /healthz
 * take 11-15 s. With a thread per connection a request waits only for its own
 * connection. What the pool bounded is bounded otherwise (limits.c): connections by
 * MHD_OPTION_CONNECTION_LIMIT (beyond it MHD accepts and closes at once), domain
 * handlers running at once by the worker slots (cfg.threads; routes marked .unqueued,
 * the probes, take none), buffered bodies by the body budget.
 *
 * The other way, for services whose handlers are quick CPU work (cfg.poll_threads, the
 * inference API): N poll threads share the connections and run the handlers
 * themselves. A request then costs no thread switch and the server a few threads'
 * memory instead of one per connection; at 64 connections on 2 cores this kept the
 * inference API at 55 us of CPU per request where a thread each took 100+. A route
 * marked .slow (a model download) is sent to a thread of its own with its connection
 * suspended (phase AWAY), so its poll thread's other connections do not wait.
 *
 * MHD calls the access handler several times per request: once when the headers are
 * in (first call), once per body chunk, and once more with no data when the body has
 * ended (final call). The state lives in struct http_request (*con_cls):
 *
 *   first call  begin(): http_request_new, route match, checks on the headers alone
 *     (after framing and Host, a matched route's credentials come first: auth.c, 401
 *     or 403; a body over 1 MiB or chunked is then not read: queued now ─► QUEUED,
 *     else ─► DISCARD)
 *     ├ framing refused (guard.c: smuggling shapes): 400 queued now with
 *     │ "Connection: close" ───────────────────────────────────────────────► QUEUED
 *     ├ URI or headers too big (guard.c): 414 or 431 queued now, closing ──► QUEUED
 *     ├ Host refused (guard.c): 400 made ──────────────────────────────────► DISCARD
 *     ├ 404, 405, 413 (Content-Length over the limit), 415, or 400 (a path param or
 *     │ the query not UTF-8, a multipart Content-Type without boundary): error
 *     │ reply made, in the shape of the route or of the path's error prefix
 *     │   ├ Content-Length over the limit: queued now (MHD closes) ─────────► QUEUED
 *     │   └ otherwise ─────────────────────────────────────────────────────► DISCARD
 *     ├ a buffered Content-Length body the body budget has no room for
 *     │ (limits.c): 503 with Retry-After queued now, "Connection: close" ──► QUEUED
 *     └ otherwise (a buffered Content-Length body reserved whole) ─────────► BODY
 *   body chunk  on_body()
 *     BODY:    append to req->body, pass to the route's upload function, or
 *              parse as multipart (multipart.c); a chunked body reserves
 *              budget as it grows;
 *              past the limit (413 made), no budget left (503 made), upload
 *              function replied, or malformed multipart (400 made): the body
 *              and its reservation dropped ────────────────────────────────► DISCARD
 *     DISCARD: drop the bytes; past limit + HTTP_DISCARD_SLACK: MHD_NO (MHD closes
 *              the connection, no reply)
 *   final call  on_end()
 *     BODY:    multipart: end the parse (truncated: 400 made); take a worker slot
 *              (not for .unqueued routes; none within HTTP_WORKER_WAIT_MS: 503),
 *              run the handler (no reply made: 500), give the slot back,
 *              queue_reply() ──────────────────────────────────────────────► QUEUED
 *     DISCARD: queue_reply() ───────────────────────────────────────────────► QUEUED
 *   .slow route with poll threads: after the slot checks the connection is suspended
 *              and the handler runs on its own thread (away_main), then resumes it
 *              ─► AWAY ─► (handler done) DISCARD; MHD's next call is a final call:
 *              queue_reply() ──────────────────────────────────────────────► QUEUED
 *   completion  on_completed() (MHD_OPTION_NOTIFY_COMPLETED, from any phase):
 *              http_access_record, http_request_free (gives the body's
 *              reservation back), in_flight--
 *
 * Invariants. A reply is queued only on the final call (or on the first call when the
 * connection is to be closed anyway): MHD 0.9.75 closes the connection after a reply
 * queued before the body was read, and refuses to queue one while a body is being
 * read. Every request that reached begin() is counted in in_flight until on_completed,
 * which MHD calls for it exactly once (also on shutdown and client aborts), and frees
 * it there and nowhere else. The server holds no global state.
 *
 * Draining: http_server_stop sets draining (replies then carry "Connection: close"),
 * quiesces MHD and shuts the listen socket down, waits on the idle condition for
 * in_flight to reach 0 (or the drain timeout), then stops MHD. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "http_int.h"

/* --- helpers on headers ------------------------------------------------------------- */

/* Parses a Content-Length header. Returns false when absent (MHD itself rejects
 * malformed ones before calling us). */
static bool content_length(const struct http_request *req, uint64_t *out)
{
	const char *v = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n = 0;
	if (!v || !*v)
		return false;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return false;
		if (n > (UINT64_MAX - 9) / 10)
			n = UINT64_MAX; /* saturate: certainly over any limit */
		else
			n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return true;
}

/* Whether the media type of header (parameters after ';' ignored, any case) is want's. */
static bool media_type_is(const char *header, const char *want)
{
	if (!header)
		return false;
	while (*header == ' ' || *header == '\t')
		header++;
	size_t n = strcspn(header, ";");
	while (n > 0 && (header[n - 1] == ' ' || header[n - 1] == '\t'))
		n--;
	size_t wn = strcspn(want, ";");
	return n == wn && strncasecmp(header, want, n) == 0;
}

/* The error shape of the request: its route's (or, on a 405, that of the first route
 * whose pattern matched), else the first error prefix its path starts with, else
 * MLflow's. */
static enum http_error_shape error_shape(const struct http_server *s, const struct http_request *req)
{
	const struct http_route *r = req->match.route ? req->match.route : req->match.path_route;
	if (r && r->errors != HTTP_ERRORS_INHERIT)
		return r->errors;
	for (const struct http_error_prefix *p = s->error_prefixes; p && p->prefix; p++)
		if (strncmp(req->path, p->prefix, strlen(p->prefix)) == 0 && p->shape != HTTP_ERRORS_INHERIT)
			return p->shape;
	return HTTP_ERRORS_MLFLOW;
}

/* --- the state machine -------------------------------------------------------------- */

static void in_flight_add(struct http_server *s, int delta)
{
	pthread_mutex_lock(&s->lock);
	if (delta > 0)
		s->in_flight++;
	else if (--s->in_flight == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
}

/* Queues the reply parked on req. Returns MHD_NO (close the connection) when there is
 * none or MHD refuses it. */
static enum MHD_Result queue_reply(struct http_request *req)
{
	struct MHD_Response *resp = req->response;
	req->phase = HTTP_PHASE_QUEUED;
	if (!resp)
		return MHD_NO; /* building the reply failed; reply.c logged it */
	MHD_add_response_header(resp, "X-Request-Id", req->id);
	for (const struct http_header *h = req->headers; h; h = h->next)
		if (MHD_add_response_header(resp, h->name, h->value) != MHD_YES)
			core_log(CORE_LOG_ERROR, "request %s: reply header '%s' refused by MHD", req->id, h->name);
	if (atomic_load(&req->server->draining))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(req->conn, req->status, resp);
	MHD_destroy_response(resp);
	req->response = NULL;
	if (ret == MHD_YES)
		req->queued_status = req->status;
	else
		core_log(CORE_LOG_ERROR, "request %s: MHD refused to queue the reply", req->id);
	return ret;
}

/* Replies 400 when a path parameter or the query is not UTF-8, so that every string a
 * handler gets from the request can go into JSON as it is. */
static void check_utf8(struct http_request *req)
{
	for (size_t i = 0; i < req->match.n_params; i++) {
		const struct http_path_param *p = &req->match.params[i];
		if (!http_utf8_valid(p->value)) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "Path parameter '%.*s' is not valid UTF-8", (int)p->name_len, p->name);
			return;
		}
	}
	for (size_t i = 0; i < req->n_query; i++) {
		if (!http_utf8_valid(req->query[i].key) || !http_utf8_valid(req->query[i].value)) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "Query parameter '%s' is not valid UTF-8", req->query[i].key);
			return;
		}
	}
}

/* First call: routes the request and checks what the headers alone can tell. */
static enum MHD_Result begin(struct http_request *req, const char *version)
{
	struct http_server *s = req->server;
	enum http_match m = http_route_match(s->routes, req->method, req->path, &req->match);
	const struct http_route *route = req->match.route;
	req->shape = error_shape(s, req);

	/* Framing we cannot trust: answer now and close, so that no byte after the headers
	 * is ever parsed as a request (see guard.c). */
	const char *problem = http_framing_problem(req->conn);
	if (problem) {
		http_reply_error(req, HTTP_EC_BAD_REQUEST, "Malformed request framing: %s", problem);
		http_reply_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
		return queue_reply(req);
	}
	enum http_error_code too_big = http_size_problem(req->conn, req->path);
	if (too_big != HTTP_EC_NONE) {
		http_reply_error(req, too_big,
				 too_big == HTTP_EC_URI_TOO_LONG ? "The request URI is over %d bytes"
								 : "The request headers are over %d bytes",
				 too_big == HTTP_EC_URI_TOO_LONG ? HTTP_MAX_URI_BYTES : HTTP_MAX_HEADER_BYTES);
		http_reply_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
		return queue_reply(req);
	}
	problem = http_host_problem(s, req->conn, version);
	if (problem) {
		const char *host = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
		if (host)
			http_reply_error(req, HTTP_EC_BAD_REQUEST, "%s: '%s'", problem, host);
		else
			http_reply_error(req, HTTP_EC_BAD_REQUEST, "%s", problem);
		req->phase = HTTP_PHASE_DISCARD;
		return MHD_YES;
	}

	uint64_t declared = 0;
	bool has_length = content_length(req, &declared);
	bool has_body = (has_length && declared > 0) ||
			MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);

	req->body_limit = route && route->body_limit ? route->body_limit : s->default_body_limit;
	core_buf_init(&req->body, 0); /* grows only within the budget it reserved (limits.c) */

	bool refused = m == HTTP_MATCH_FOUND && !http_auth_admit(req); /* 401 or 403 made (auth.c) */
	if (refused) {
		/* answered by http_auth_admit */
	} else if (m == HTTP_MATCH_NOT_FOUND) {
		http_reply_error(req, HTTP_EC_ENDPOINT_NOT_FOUND, "No route matches %s %s", req->method_str, req->path);
	} else if (m == HTTP_MATCH_METHOD_NOT_ALLOWED) {
		char allow[64];
		http_methods_format(req->match.allowed, allow, sizeof allow);
		http_reply_header(req, MHD_HTTP_HEADER_ALLOW, allow);
		http_reply_error(req, HTTP_EC_METHOD_NOT_ALLOWED, "Method %s is not allowed on %s (allowed: %s)",
				 req->method_str, req->path, allow);
	} else if (has_length && declared > req->body_limit) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE,
				 "Request body of %llu bytes is over the limit of %zu "
				 "bytes",
				 (unsigned long long)declared, req->body_limit);
	} else if ((route->content_type || route->multipart) && has_body) {
		const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
		const char *want = route->multipart ? MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA : route->content_type;
		bool is_want = media_type_is(ct, want);
		if (!is_want && route->multipart && route->multipart_or_body)
			; /* a plain body, buffered: the handler checks its media type */
		else if (!is_want)
			http_reply_error(req, s->content_type_error, "Content-Type must be one of ['%s'] (got '%s')",
					 want, ct ? ct : "");
		else if (route->multipart)
			http_multipart_begin(req); /* 400 when there is no boundary */
	}
	if (!http_reply_made(req))
		check_utf8(req);
	if (!http_reply_made(req) && has_length && declared > 0 && !route->upload &&
	    !http_body_reserve_declared(req, declared)) {
		/* Not stored, not read: answer now and close (the client may retry). */
		http_limits_refused(s, "body_budget");
		http_reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, HTTP_RETRY_AFTER_S);
		http_reply_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE,
				 "Server busy: request bodies being read take all of its memory budget; retry later");
		return queue_reply(req);
	}
	if (!http_reply_made(req))
		return MHD_YES; /* BODY */
	req->phase = HTTP_PHASE_DISCARD;
	/* A body we would not read anyway: answer now and let MHD close the connection. */
	if (has_length && declared > req->body_limit)
		return queue_reply(req);
	if (refused && has_body && (!has_length || declared > HTTP_AUTH_DISCARD_MAX))
		return queue_reply(req);
	return MHD_YES;
}

/* A body chunk of n bytes. */
static enum MHD_Result on_body(struct http_request *req, const char *data, size_t n)
{
	const struct http_route *route = req->match.route;
	req->bytes_in += n;
	switch (req->phase) {
	case HTTP_PHASE_BODY:
		if (req->bytes_in > req->body_limit) {
			http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "Request body is over the limit of %zu bytes",
					 req->body_limit);
		} else if (!route->upload && !http_body_reserve(req, req->bytes_in)) {
			/* a chunked body grew past what the budget has left */
			http_limits_refused(req->server, "body_budget");
			http_reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, HTTP_RETRY_AFTER_S);
			http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE,
					 "Server busy: request bodies being read take all of its memory budget; "
					 "retry later");
		} else if (route->upload) {
			if (route->upload(req, req->server->app, data, n) != 0 && !http_reply_made(req))
				http_reply_error(req, HTTP_EC_INTERNAL_ERROR,
						 "upload function gave up without a reply");
		} else if (req->multipart) {
			http_multipart_feed(req, data, n);
		} else {
			enum core_status rc = core_buf_append(&req->body, data, n);
			if (rc != CORE_OK) {
				/* over the limit and the reservation are caught above, so this is memory */
				http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE,
						 "Request body of %llu bytes could not be stored",
						 (unsigned long long)req->bytes_in);
			}
		}
		if (http_reply_made(req)) {
			req->phase = HTTP_PHASE_DISCARD;
			if (!req->multipart) { /* multipart parts live until completion */
				core_buf_free(&req->body);
				http_body_release(req);
			}
		}
		return MHD_YES;
	case HTTP_PHASE_DISCARD:
		if (req->bytes_in > req->body_limit + HTTP_DISCARD_SLACK) {
			core_log(CORE_LOG_WARN,
				 "request %s: body still coming after %llu bytes, closing the connection", req->id,
				 (unsigned long long)req->bytes_in);
			return MHD_NO;
		}
		return MHD_YES;
	case HTTP_PHASE_QUEUED:
	case HTTP_PHASE_AWAY:
		break;
	}
	return MHD_YES;
}

/* Runs the route's handler in a worker slot (none for .unqueued routes); makes a 503
 * when no slot came free in time, a 500 when the handler made no reply. */
static void run_handler(struct http_request *req)
{
	const struct http_route *route = req->match.route;
	if (route->unqueued) {
		route->handler(req, req->server->app);
	} else if (http_worker_acquire(req->server)) {
		route->handler(req, req->server->app);
		http_worker_release(req->server);
	} else {
		http_limits_refused(req->server, "workers_busy");
		http_reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, HTTP_RETRY_AFTER_S);
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE,
				 "Server busy: no worker came free within %d s; retry later",
				 HTTP_WORKER_WAIT_MS / 1000);
		return;
	}
	if (!http_reply_made(req))
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "handler produced no reply");
}

/* A .slow handler's own thread: runs it, then resumes the connection, whose poll thread
 * calls on_end again (HTTP_PHASE_DISCARD: the reply is queued there). req is not
 * touched after the resume (it may complete and be freed at once); the server is, and
 * http_server_stop waits for `away` to reach 0 before stopping MHD. */
static void *away_main(void *arg)
{
	struct http_request *req = arg;
	struct http_server *s = req->server;
	run_handler(req);
	req->phase = HTTP_PHASE_DISCARD;
	MHD_resume_connection(req->conn);
	pthread_mutex_lock(&s->lock);
	if (--s->away == 0)
		pthread_cond_broadcast(&s->back);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Sends a .slow handler off the poll thread. Returns false when no thread could be
 * made (the caller then runs it where it is). */
static bool send_away(struct http_request *req)
{
	struct http_server *s = req->server;
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&s->lock);
	s->away++;
	pthread_mutex_unlock(&s->lock);
	req->phase = HTTP_PHASE_AWAY;
	MHD_suspend_connection(req->conn);
	bool made = pthread_create(&t, &attr, away_main, req) == 0;
	pthread_attr_destroy(&attr);
	if (!made) {
		MHD_resume_connection(req->conn);
		req->phase = HTTP_PHASE_BODY;
		pthread_mutex_lock(&s->lock);
		if (--s->away == 0)
			pthread_cond_broadcast(&s->back);
		pthread_mutex_unlock(&s->lock);
	}
	return made;
}

/* Final call: the body has ended. */
static enum MHD_Result on_end(struct http_request *req)
{
	const struct http_route *route = req->match.route;
	switch (req->phase) {
	case HTTP_PHASE_BODY:
		if (req->multipart)
			http_multipart_end(req); /* 400 for a truncated body */
		if (http_reply_made(req))
			return queue_reply(req);
		const char *why = route->unqueued || !req->server->not_serving
					  ? NULL
					  : req->server->not_serving(req->server->app);
		if (why) {
			http_reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, HTTP_RETRY_AFTER_S);
			http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "%s; retry later", why);
			return queue_reply(req);
		}
		if (route->slow && req->server->pooled && send_away(req))
			return MHD_YES; /* away_main resumes the connection; on_end then queues */
		run_handler(req);
		return queue_reply(req);
	case HTTP_PHASE_DISCARD:
		return queue_reply(req);
	case HTTP_PHASE_QUEUED:
	case HTTP_PHASE_AWAY:
		break;
	}
	return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				 const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_request *req = *con_cls;
	if (!req) {
		req = http_request_new(s, conn, method, url);
		*con_cls = req;
		in_flight_add(s, +1);
		return begin(req, version);
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		return on_body(req, upload_data, n);
	}
	return on_end(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_request *req = *con_cls;
	(void)conn;
	if (!req)
		return;
	*con_cls = NULL;
	http_access_record(req, toe);
	if (req->match.route)
		http_auth_audit(req); /* after the access line, which stays the request's first */
	http_request_free(req);
	in_flight_add(s, -1);
}

/* MHD_USE_ERROR_LOG goes here. MHD's messages are mostly about clients (resets,
 * malformed requests), so they are warnings. The one it writes for every connection
 * closed at the connection limit is counted instead (limits.c). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	char msg[512];
	if (strstr(fmt, "reached connection limit")) {
		http_limits_connection_refused(s);
		return;
	}
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	core_log(CORE_LOG_WARN, "mhd: %s", msg);
}

/* Leaves URLs raw: the router splits the path before decoding each parameter, and
 * request.c decodes the query itself. */
static size_t unescape_none(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return strlen(s);
}

/* --- start and stop ----------------------------------------------------------------- */

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

static enum core_status parse_bind(const char *address, unsigned port, union sockaddr_any *out, bool *ipv6,
				   struct core_error *err)
{
	memset(out, 0, sizeof *out);
	if (port > 65535)
		return core_fail(err, CORE_EINVAL, "port %u is out of range", port);
	if (inet_pton(AF_INET, address, &out->v4.sin_addr) == 1) {
		out->v4.sin_family = AF_INET;
		out->v4.sin_port = htons((uint16_t)port);
		*ipv6 = false;
		return CORE_OK;
	}
	if (inet_pton(AF_INET6, address, &out->v6.sin6_addr) == 1) {
		out->v6.sin6_family = AF_INET6;
		out->v6.sin6_port = htons((uint16_t)port);
		*ipv6 = true;
		return CORE_OK;
	}
	return core_fail(err, CORE_EINVAL, "bind address '%s' is not a numeric IPv4 or IPv6 address", address);
}

/* libmicrohttpd calls this on an internal inconsistency it cannot survive (e.g. a
 * close() of one of its sockets failing because something else closed it). Its own
 * default prints to stderr and aborts; ours says why in the log first, so the crash
 * report names its cause. */
static void on_mhd_panic(void *cls, const char *file, unsigned int line, const char *reason)
{
	(void)cls;
	core_log(CORE_LOG_ERROR, "libmicrohttpd panic at %s:%u: %s", file ? file : "?", line, reason ? reason : "?");
	abort();
}

enum core_status http_server_start(const struct http_server_config *cfg, struct http_server **out,
				   struct core_error *err)
{
	enum core_status rc = CORE_OK;
	struct http_server *s = NULL;
	union sockaddr_any addr;
	bool ipv6 = false, sync_made = false;
	pthread_condattr_t cattr;
	bool limits_made = false;

	if (!cfg || !out)
		return core_fail(err, CORE_EINVAL, "http_server_start needs a config and an out pointer");
	rc = http_routes_check(cfg->routes, err);
	if (rc != CORE_OK)
		return rc;
	const char *address = cfg->bind_address ? cfg->bind_address : "127.0.0.1";
	rc = parse_bind(address, cfg->port, &addr, &ipv6, err);
	if (rc != CORE_OK)
		return rc;

	s = core_xcalloc(1, sizeof *s);
	s->routes = cfg->routes;
	s->app = cfg->app;
	s->not_serving = cfg->not_serving;
	s->default_body_limit = cfg->default_body_limit ? cfg->default_body_limit : HTTP_DEFAULT_BODY_LIMIT;
	s->content_type_error =
		cfg->content_type_error != HTTP_EC_NONE ? cfg->content_type_error : HTTP_EC_UNSUPPORTED_MEDIA_TYPE;
	s->error_prefixes = cfg->error_prefixes;
	s->auth = cfg->auth;
	s->drain_timeout_ms = cfg->drain_timeout_ms ? cfg->drain_timeout_ms : HTTP_DEFAULT_DRAIN_MS;
	snprintf(s->address, sizeof s->address, "%s", address);
	rc = http_hosts_init(s, cfg->allowed_hosts, http_address_is_loopback(address), err);
	if (rc != CORE_OK) {
		http_hosts_free(s);
		free(s);
		return rc;
	}
	atomic_init(&s->draining, false);
	unsigned threads = cfg->threads ? cfg->threads : HTTP_DEFAULT_THREADS;
	unsigned timeout_s = cfg->connection_timeout_s ? cfg->connection_timeout_s : HTTP_DEFAULT_CONN_TIMEOUT_S;
	s->max_connections = cfg->max_connections ? cfg->max_connections : HTTP_DEFAULT_MAX_CONNECTIONS;
	size_t budget = cfg->body_budget ? cfg->body_budget : HTTP_DEFAULT_BODY_BUDGET;

	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, &cattr);
	pthread_cond_init(&s->back, &cattr);
	pthread_condattr_destroy(&cattr);
	sync_made = true;
	rc = http_limits_init(s, budget, threads, err);
	if (rc != CORE_OK)
		goto fail;
	limits_made = true;
	for (const struct http_route *r = cfg->routes; r->pattern; r++)
		if (!r->upload && r->body_limit > budget)
			core_log(CORE_LOG_WARN,
				 "http server: route %s accepts bodies of %zu bytes, over the body budget of %zu: "
				 "those larger than the budget will always get 503",
				 r->name ? r->name : r->pattern, r->body_limit, budget);

	if (cfg->metrics) {
		rc = http_metrics_init(s, cfg->metrics, err);
		if (rc == CORE_OK)
			rc = http_limits_metrics_init(s, cfg->metrics, err);
		if (rc != CORE_OK)
			goto fail;
	}

	/* A thread per connection (see the top of this file), each poll()ing its socket.
	 * poll(), not epoll: MHD 0.9.75's epoll mode can abort the process in
	 * MHD_quiesce_daemon (its worker and the quiescing thread race to remove the listen
	 * socket from the epoll set, and the loser panics), and misses a FIN that arrives with
	 * a body's last bytes. Poll mode has neither defect; see the README. Quiescing
	 * reaches the listening thread through the ITC; connection threads never read it on
	 * Linux. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	/* Or poll threads that share the connections (cfg.poll_threads): still poll(),
	 * for the reasons above; suspend/resume lets .slow handlers run elsewhere. */
	s->pooled = cfg->poll_threads > 0;
	if (s->pooled)
		flags = (flags & ~(unsigned)MHD_USE_THREAD_PER_CONNECTION) | MHD_ALLOW_SUSPEND_RESUME;
	if (ipv6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	MHD_set_panic_func(on_mhd_panic, NULL);
	s->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER,
				     on_mhd_log, s, /* first, or MHD complains */
				     MHD_OPTION_SOCK_ADDR, &addr.sa, MHD_OPTION_CONNECTION_LIMIT, s->max_connections,
				     MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
				     on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
				     /* last: with no poll threads the list ends here */
				     s->pooled ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, cfg->poll_threads,
				     MHD_OPTION_END);
	if (!s->daemon) {
		rc = core_fail(err, CORE_EIO, "cannot start the HTTP server on %s port %u: %s", address, cfg->port,
			       errno ? strerror(errno) : "MHD_start_daemon failed");
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info && info->port ? info->port : cfg->port;

	struct core_log_field f[] = {
		CORE_LF_STR("address", s->address),
		CORE_LF_INT("port", s->port),
		CORE_LF_INT("workers", threads),
		CORE_LF_INT("poll_threads", cfg->poll_threads),
		CORE_LF_INT("max_connections", s->max_connections),
		CORE_LF_INT("body_budget", (long long)budget),
	};
	core_log_with(CORE_LOG_INFO, f, sizeof f / sizeof f[0], "http server listening");
	*out = s;
	return CORE_OK;
fail:
	if (limits_made)
		http_limits_destroy(s);
	if (sync_made) {
		pthread_cond_destroy(&s->idle);
		pthread_cond_destroy(&s->back);
		pthread_mutex_destroy(&s->lock);
	}
	http_hosts_free(s);
	free(s);
	return rc;
}

unsigned http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	atomic_store(&s->draining, true);
	MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
	/* Shut the listening socket down (connections are then refused) but keep the
	 * descriptor open until MHD_stop_daemon: MHD's threads may still look at it. */
	if (lfd != MHD_INVALID_SOCKET)
		shutdown(lfd, SHUT_RDWR);

	struct timespec deadline = core_deadline_us((int64_t)s->drain_timeout_ms * 1000);
	pthread_mutex_lock(&s->lock);
	while (s->in_flight > 0)
		if (pthread_cond_timedwait(&s->idle, &s->lock, &deadline) == ETIMEDOUT)
			break;
	unsigned left = s->in_flight;
	pthread_mutex_unlock(&s->lock);
	if (left > 0)
		core_log(CORE_LOG_WARN, "http server: %u requests still in flight after %u ms; cutting them off", left,
			 s->drain_timeout_ms);
	http_limits_cut_off(s); /* requests still waiting for a worker slot give up */
	/* .slow handlers on their own threads end before MHD does (as MHD joins the
	 * threads of connections whose handlers still run) */
	pthread_mutex_lock(&s->lock);
	while (s->away > 0)
		pthread_cond_wait(&s->back, &s->lock);
	pthread_mutex_unlock(&s->lock);

	MHD_stop_daemon(s->daemon);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	pthread_cond_destroy(&s->idle);
	pthread_cond_destroy(&s->back);
	pthread_mutex_destroy(&s->lock);
	http_limits_destroy(s);
	struct core_log_field f[] = {CORE_LF_INT("port", s->port)};
	core_log_with(CORE_LOG_INFO, f, 1, "http server stopped");
	http_hosts_free(s);
	free(s);
}
