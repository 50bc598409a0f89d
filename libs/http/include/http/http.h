/* http: Lathe's HTTP server on libmicrohttpd (MHD). A service declares its routes as
 * one static table (method set, path pattern with {params}, handler, body limit,
 * content type, error shape); the server matches each request against it, reads the
 * body under a ceiling (or parses it as multipart/form-data), calls the handler, and
 * answers errors with the status from proto/errors.csv in the route's error shape:
 * MLflow's
 *   {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}
 * by default, or the Open Inference Protocol's {"error": "..."}. It writes one
 * access-log line per request, per-route metrics, and drains in-flight requests on
 * stop.
 *
 * Threads. Each connection has its own thread; handlers and upload functions run on
 * it, one request at a time per request (never concurrently with themselves), many
 * requests in parallel. At most http_server_config.threads handlers run at once (the
 * worker slots; the others wait their turn), except those of routes marked .unqueued,
 * which never wait. Everything a request owns lives until the request completes, and
 * dies in one place.
 *
 * Limits per process: connections (max_connections; beyond it new ones are closed at
 * once), bytes of buffered request bodies (body_budget; a body that does not fit gets
 * 503 TEMPORARILY_UNAVAILABLE with Retry-After, unread), handlers at once (threads).
 *
 * Replies. A handler (or an upload function) gives exactly one reply with one of the
 * http_reply_* functions before it returns. The server queues it with MHD only once
 * the request body has been read to its end (queuing earlier makes MHD close the
 * connection and lose keep-alive; see libs/http/README.md). A handler that returns
 * without replying is a bug: the client gets 500 INTERNAL_ERROR and an error is logged.
 *
 * Authentication. With a token store (http_server_config.auth, http/auth.h) every
 * request to a route needs a token whose scope covers the route's (struct
 * http_route.scope): 401 UNAUTHENTICATED without valid credentials, 403
 * PERMISSION_DENIED with too small a scope. Each request to a write or admin route
 * logs one "audit" line (who, method, route, path, status, request id).
 *
 * Other faces: http/jspec.h (request arguments parsed by a spec table), http/client.h
 * (the httpc_ client on libcurl), http/auth.h (tokens). */
#ifndef HTTP_HTTP_H
#define HTTP_HTTP_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "core/status.h"
#include "http/errors_gen.h"

struct metrics_registry;
struct http_auth; /* http/auth.h */

/* Request methods, as a bit set in struct http_route.methods. A route that takes GET
 * also answers HEAD (MHD sends the headers without the body). Any other method
 * (OPTIONS, TRACE, ...) matches no route: 405 on a known path, 404 otherwise. */
enum http_method { HTTP_GET = 1, HTTP_HEAD = 2, HTTP_POST = 4, HTTP_PUT = 8, HTTP_DELETE = 16, HTTP_PATCH = 32 };

struct http_request; /* opaque, one per request, lives until the request completes */

/* A route's handler. Runs once the whole body has been read (buffered bodies) or
 * streamed to the route's upload function. Must reply (http_reply_*) before returning.
 * req: the request, borrowed, valid until completion. app: http_server_config.app. */
typedef void (*http_handler_fn)(struct http_request *req, void *app);

/* Streaming upload: called per body chunk before the handler, instead of buffering.
 * data/len: the chunk, borrowed for the call only (never NUL-terminated).
 * Returns 0 to go on, or -1 after having replied (e.g. with http_reply_error): the
 * rest of the body is then read and discarded and the handler is not called. */
typedef int (*http_upload_fn)(struct http_request *req, void *app, const char *data, size_t len);

/* How a route's error bodies look. Statuses are the same in every shape (the
 * registry's); only the body differs. */
enum http_error_shape {
	HTTP_ERRORS_INHERIT = 0, /* the shape of the first http_error_prefix that the
				    request path starts with; MLflow when none does */
	HTTP_ERRORS_MLFLOW,      /* {"error_code": "NAME", "message": "..."} */
	HTTP_ERRORS_OIP,         /* {"error": "..."}: Open Inference Protocol (KServe v2) */
};

/* One row of http_server_config.error_prefixes: requests whose raw path starts with
 * prefix (byte-exact, so write "/v2/" for the subtree) answer errors in shape, unless
 * their route declares a shape of its own. Covers the errors decided before any route
 * is known (404 for an unknown path). */
struct http_error_prefix {
	const char *prefix; /* NULL ends the table */
	enum http_error_shape shape;
};

/* One part of a multipart/form-data body (a route with .multipart set). Everything is
 * borrowed from the request, valid until it completes. */
struct http_part {
	const char *name;         /* the form field name; "" when the part had none */
	const char *filename;     /* the file name the client gave; NULL for a plain field */
	const char *content_type; /* the part's Content-Type header; NULL when absent */
	const char *data;         /* the part's bytes, NUL-terminated after len (may hold NULs) */
	size_t len;
};

/* What a request must prove to reach a route (struct http_route.scope), when the server
 * has a token store. Token scopes are ordered: read < write < admin. */
enum http_scope {
	HTTP_SCOPE_BY_METHOD = 0, /* GET and HEAD need read, every other method write */
	HTTP_SCOPE_PUBLIC,        /* nothing: probes and scrapers (/healthz, /readyz, /metrics) */
	HTTP_SCOPE_READ,          /* reads, POST searches included */
	HTTP_SCOPE_WRITE,         /* creates, updates, tag and artifact writes */
	HTTP_SCOPE_ADMIN,         /* deletes of entities and artifacts, garbage collection */
};

struct http_route {
	unsigned methods;    /* bit set of enum http_method */
	const char *pattern; /* "/v1/datasets/{name}/versions/{version}"; a last segment
				"{path*}" matches the rest of the path incl. slashes
				(artifact paths). NULL pattern ends a route table */
	http_handler_fn handler;
	size_t body_limit;        /* 0: the server's default */
	http_upload_fn upload;    /* non-NULL: body streamed to it, not buffered */
	const char *content_type; /* required request media type for bodies (parameters
				     like ;charset ignored), NULL: any */
	const char *name;         /* label in metrics and access log; NULL: the pattern */

	/* Shape of the route's error bodies; INHERIT (0): the server's error_prefixes. */
	enum http_error_shape errors;
	/* The body is multipart/form-data, parsed (MHD's post processor) into parts the
	 * handler reads with http_request_parts, within body_limit; a body of another
	 * media type gets content_type_error. Not with upload or content_type. */
	bool multipart;
	/* With multipart: a body of another media type is not refused but buffered as a
	 * plain body (http_request_body; no parts), for routes that take a form upload or
	 * the raw file (an image upload: multipart/form-data or image/png). The handler
	 * checks the plain body's media type itself. */
	bool multipart_or_body;
	/* The scope a token needs here; 0 (HTTP_SCOPE_BY_METHOD): read for GET/HEAD,
	 * write for the rest. Also decides which requests are audited (write, admin). */
	enum http_scope scope;
	/* The handler runs at once, without waiting for a worker slot: for probes that
	 * must answer whatever the other routes are doing (/healthz, /readyz, /metrics).
	 * Its handler must be quick and must bound any wait of its own. */
	bool unqueued;
	/* The handler may block for long (a download from another service): with poll
	 * threads (http_server_config.poll_threads) it runs on a thread of its own while
	 * its connection is suspended, so the connections sharing its poll thread do not
	 * wait for it. Without poll threads every connection has its own thread anyway. */
	bool slow;
};

struct http_server_config {
	const char *bind_address;                /* numeric IPv4 or IPv6 address; NULL: "127.0.0.1" */
	unsigned port;                           /* 0: ephemeral, read back with http_server_port */
	unsigned threads;                        /* worker slots: handlers run at once (not
						    counting .unqueued routes); 0: 4 */
	size_t default_body_limit;               /* 0: 1 MiB */
	const struct http_route *routes;         /* borrowed, must outlive the server; ends with
						    pattern == NULL */
	void *app;                               /* passed to handlers */
	struct metrics_registry *metrics;        /* borrowed, may be NULL */
	enum http_error_code content_type_error; /* HTTP_EC_NONE: 415 UNSUPPORTED_MEDIA_TYPE;
						    MLflow routes set INVALID_PARAMETER_VALUE */
	unsigned drain_timeout_ms;               /* 0: 10000 */
	/* Asked before the handler of every route not marked .unqueued: a reason (static
	 * text) answers 503 TEMPORARILY_UNAVAILABLE with Retry-After instead, so no handler
	 * runs before the daemon can serve it (svc: until the schema is migrated). NULL
	 * lets the handler run. Called with app on the request's thread; must be quick and
	 * thread-safe. May be NULL. */
	const char *(*not_serving)(void *app);
	unsigned connection_timeout_s; /* idle seconds before MHD closes a connection; 0: 60 */

	/* Error shapes by path prefix, for routes that inherit theirs and for paths no
	 * route matches; first match wins. Borrowed, must outlive the server; ends with
	 * prefix == NULL; may be NULL (every error MLflow-shaped). */
	const struct http_error_prefix *error_prefixes;

	/* Host names the server answers, comma-separated; ports are ignored, "*" allows
	 * any. NULL or "": when bind_address is a loopback one, only loopback names
	 * (localhost, 127.0.0.0/8, [::1]); else any. Another Host gets 400 BAD_REQUEST
	 * (DNS rebinding). Copied by http_server_start. */
	const char *allowed_hosts;

	/* The token store requests are checked against (http/auth.h); borrowed, must
	 * outlive the server. NULL: no authentication, and no audit lines (nobody to name;
	 * the access line records the request). */
	struct http_auth *auth;
	/* Connections open at once (without poll_threads each has a thread); beyond it MHD accepts and closes
	 * new ones at once, counted in lathe_http_refused_total{reason="connection_limit"}.
	 * 0: 256. */
	unsigned max_connections;
	/* Bytes of request bodies buffered at once across all requests (streamed .upload
	 * bodies do not count). A request whose Content-Length does not fit in what is
	 * left is answered 503 TEMPORARILY_UNAVAILABLE with Retry-After at once, unread,
	 * and its connection closed; a chunked body that outgrows it gets the same 503
	 * after its end, its bytes dropped. 0: 64 MiB. */
	size_t body_budget;
	/* 0: a thread per connection, for handlers that wait on the database (see
	 * server.c). N: N poll threads share every connection and run the handlers
	 * themselves, for services whose handlers are quick CPU work (the inference API):
	 * no thread switch per request, and a few threads' memory instead of one per
	 * connection. Routes marked .slow then run on a thread of their own. */
	unsigned poll_threads;
};

struct http_server;

/* Checks the route table, starts MHD (poll(), a thread per connection or
 * cfg->poll_threads shared ones, at most
 * cfg->max_connections) and listens on cfg->bind_address:cfg->port.
 * cfg: borrowed; the routes it points to are borrowed too and must outlive the server.
 * out: [out] the server on success, owned by the caller (http_server_stop frees it);
 *      untouched on failure.
 * Returns CORE_OK; CORE_EINVAL for a bad config (route pattern, bind address, metrics
 * families that cannot be created, e.g. because the registry already has them: one
 * server per registry); CORE_EIO when MHD cannot start (port in use, ...). err says
 * why. */
enum core_status http_server_start(const struct http_server_config *cfg, struct http_server **out,
				   struct core_error *err);

/* Returns the TCP port the server listens on (the one picked when cfg.port was 0). */
unsigned http_server_port(const struct http_server *s);

/* Stops accepting (MHD_quiesce_daemon, then the listen socket is shut down so new
 * connections are refused), waits up to drain_timeout_ms for the requests in flight to
 * complete (their replies carry "Connection: close"), then stops MHD: connections still
 * open are closed, and a handler still running is waited for (MHD joins its threads).
 * Frees the server. s: may be NULL (no-op). Call from one thread, once. */
void http_server_stop(struct http_server *s);

/* --- the request -------------------------------------------------------------------
 * Strings returned below are borrowed from the request and valid until it completes;
 * all functions are for the handler/upload function of that request (its thread). */

/* Returns the method; 0 for a method outside enum http_method (never seen by a
 * handler, as such requests match no route). */
enum http_method http_request_method(const struct http_request *req);

/* Returns the path as received (still percent-encoded, without the query). */
const char *http_request_path(const struct http_request *req);

/* Returns the URL-decoded value of the path parameter {name} ({name*} for a rest
 * parameter is asked for as "name"), or NULL if the route has none by that name.
 * Path parameters and query keys and values are valid UTF-8: a request where one is not
 * is answered 400 INVALID_PARAMETER_VALUE before its handler runs. */
const char *http_request_param(const struct http_request *req, const char *name);

/* Returns the first value of query parameter name (decoded: %XX, '+' is a space; a key
 * without '=' has the value ""), or NULL if absent. */
const char *http_request_query(const struct http_request *req, const char *name);

/* Fills values[0..max) with the values of every occurrence of query parameter name,
 * in order (run_ids=a&run_ids=b). values: [out]. Returns how many occurrences exist
 * (may exceed max; only max are written). */
size_t http_request_query_all(const struct http_request *req, const char *name, const char **values, size_t max);

/* Returns the request header name (case-insensitive), or NULL if absent. */
const char *http_request_header(const struct http_request *req, const char *name);

/* How much an Accept header value wants media type type ("text/html", lower case; no
 * parameters): the weight (0..1) of the most specific range that matches it (RFC 9110
 * §12.5.1: type/subtype over type/ * over * / *; the best weight among equally specific
 * ones); 0 when none matches or its q is 0; 1 when accept is NULL or blank (no
 * preference). Names compare case-insensitively; parameters other than q are ignored;
 * a range whose q is not a number from 0 to 1 is ignored. Pure: a resource with two
 * forms answers the one whose quality is higher (http_request_header(req, "Accept")). */
double http_accept_quality(const char *accept, const char *type);

/* Returns the buffered body, NUL-terminated; "" when there is none or the route
 * streams its body to an upload function. len: [out] byte length, may be NULL. */
const char *http_request_body(const struct http_request *req, size_t *len);

/* Returns the parts of a multipart/form-data body (route with .multipart), in the
 * order received, and stores their number in *n (n may be NULL). NULL with *n == 0
 * for other routes and for a request without a body. Borrowed from the request. */
const struct http_part *http_request_parts(const struct http_request *req, size_t *n);

/* Returns the first part whose field name is name, or NULL. Borrowed from the request. */
const struct http_part *http_request_part(const struct http_request *req, const char *name);

/* Returns the name of the token the request authenticated with, or "anonymous" when
 * the server has no token store or the route is public. */
const char *http_request_principal(const struct http_request *req);

/* Returns the request id: the client's X-Request-Id when sane (1..64 characters of
 * [A-Za-z0-9._-]), else a generated one (32 hex). Echoed in the reply header
 * X-Request-Id and in the access log. */
const char *http_request_id(const struct http_request *req);

/* Hangs handler/upload scratch on the request; free_state(state) runs when the request
 * completes (free_state may be NULL). Setting it again frees the previous state first.
 * state: stolen. */
void http_request_set_state(struct http_request *req, void *state, void (*free_state)(void *));

/* Returns the state set by http_request_set_state, or NULL. */
void *http_request_state(const struct http_request *req);

/* --- replies -----------------------------------------------------------------------
 * Exactly one per request, from the request's handler or upload function. The reply is
 * built at once and queued when the body has been read. Each returns 0, or -1 if the
 * reply could not be made (a second reply for the request: the first one stands and
 * an error is logged; or no memory: the connection will be closed). Ownership of the
 * arguments passes as documented even when -1 is returned. */

/* Replies status with body as compact JSON (http_json_text), Content-Type
 * application/json. body: stolen (decref'd); NULL is a bug and answers 500
 * INTERNAL_ERROR (returns -1). */
int http_reply_json(struct http_request *req, unsigned status, json_t *body);

/* v as JSON text, as json_dumps(v, flags | JSON_ENCODE_ANY) writes it except that
 * reals are written in their shortest exact form (core_fmt_double: 0.93, never
 * 0.93000000000000005). flags: JSON_COMPACT or 0 (", " and ": " separators, as Python's
 * json.dumps); indentation is not supported. v borrowed. Returns malloc'd text (the
 * caller frees) and its length in *len_out (may be NULL), or NULL when v is NULL or
 * memory ran out. Thread-safe. */
char *http_json_text(const json_t *v, size_t flags, size_t *len_out);

/* Replies status with len bytes at data (copied) and the given Content-Type (NULL:
 * none). */
int http_reply_raw(struct http_request *req, unsigned status, const char *content_type, const void *data, size_t len);

/* Replies the registry's status for code with a body in the route's error shape:
 * {"error_code": NAME, "message": ...} (MLflow) or {"error": ...} (OIP).
 * fmt: printf format for the message; NULL uses the registry's default message.
 * Invalid UTF-8 in the message is replaced. Logging: a 4xx is not logged here; the
 * request's one access-log line carries its error_code and message (at warn). A 500
 * (a fault of ours) logs an error line at once and 501/503/504 a warn line (they
 * describe the world: not built yet, a dependency down), besides the access log. */
int http_reply_error(struct http_request *req, enum http_error_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like http_reply_error, for a failure whose cause the client must not see (a database
 * host and port, a file system path, an internal URL): the reply carries only the
 * message, and detail (borrowed; NULL: none) goes as "detail" into the log line with the
 * request id, which is written for every status here (4xx at warn). */
int http_reply_error_detail(struct http_request *req, enum http_error_code code, const char *detail, const char *fmt,
			    ...) __attribute__((format(printf, 4, 5)));

/* Fills buf with up to max bytes of the stream starting at byte pos.
 * Returns >0 bytes written, 0 at end of stream, <0 on error (the connection is
 * aborted). */
typedef ssize_t (*http_stream_fn)(void *cls, uint64_t pos, char *buf, size_t max);

/* Replies status with a body produced by reader (called from MHD's threads as the
 * client reads, in 64 KiB blocks).
 * size: the body length, or -1 when unknown (chunked transfer encoding).
 * cls: stolen: free_cls(cls) runs when MHD is done with the reply, or at once when the
 * reply cannot be made; free_cls may be NULL. */
int http_reply_stream(struct http_request *req, unsigned status, const char *content_type, int64_t size,
		      http_stream_fn reader, void *cls, void (*free_cls)(void *));

/* Adds a header to the request's reply (given before or after the http_reply_* call,
 * within the handler). name, value: copied. Headers MHD sets itself (Content-Length,
 * Transfer-Encoding, Date) must not be given. */
void http_reply_header(struct http_request *req, const char *name, const char *value);

/* --- router, exposed for unit tests and for the contract test ----------------------- */

enum http_match { HTTP_MATCH_FOUND, HTTP_MATCH_NOT_FOUND, HTTP_MATCH_METHOD_NOT_ALLOWED };

#define HTTP_PATH_PARAMS_MAX 8

/* One {param} of a matched path. */
struct http_path_param {
	const char *name; /* borrowed from the route pattern, NOT NUL-terminated */
	size_t name_len;
	char *value; /* URL-decoded (%XX; '+' stays '+'; "%00" is kept as is), malloc'd,
			owned by the struct http_route_result */
};

/* What http_route_match found. Release with http_route_result_clear. */
struct http_route_result {
	const struct http_route *route;      /* FOUND: the matching route; else NULL */
	unsigned allowed;                    /* METHOD_NOT_ALLOWED: methods the path takes */
	const struct http_route *path_route; /* METHOD_NOT_ALLOWED: the first route whose
						pattern matched (for its error shape) */
	size_t n_params;
	struct http_path_param params[HTTP_PATH_PARAMS_MAX];
};

/* Checks a route table: every pattern starts with '/', has no empty segment (except
 * the root pattern "/"), each {param} fills a whole segment and is named
 * [A-Za-z_][A-Za-z0-9_]* without repeats, at most HTTP_PATH_PARAMS_MAX of them, and
 * a rest parameter {name*} is the last segment; methods is a non-empty subset of enum
 * http_method and every route has a handler; errors is a known shape; a multipart
 * route has neither upload nor content_type. Returns CORE_OK or CORE_EINVAL (err names
 * the route). */
enum core_status http_routes_check(const struct http_route *routes, struct core_error *err);

/* Matches a request path (raw, percent-encoded, without the query) against routes (a
 * table that passed http_routes_check), in table order. Literal segments compare
 * byte-exact and case-sensitive; {param} takes one non-empty segment; {path*} takes the
 * non-empty rest of the path.
 * method: the request's method (0 for an unknown one).
 * out: [out] always written: the route and decoded params for FOUND, the allowed
 *      methods for METHOD_NOT_ALLOWED; release with http_route_result_clear.
 * Returns HTTP_MATCH_FOUND (the first route whose pattern and methods match),
 * HTTP_MATCH_METHOD_NOT_ALLOWED (the path matches only routes without that method),
 * or HTTP_MATCH_NOT_FOUND. */
enum http_match http_route_match(const struct http_route *routes, enum http_method method, const char *path,
				 struct http_route_result *out);

/* Returns the decoded value of param name in r, or NULL. Borrowed from r. */
const char *http_route_result_param(const struct http_route_result *r, const char *name);

/* Frees the params of r and resets it to empty. */
void http_route_result_clear(struct http_route_result *r);

/* Returns the method's name ("GET"), or NULL for 0 / a value with several bits. */
const char *http_method_name(enum http_method m);

/* Writes the methods of the set as an Allow header value ("GET, HEAD, POST") into buf
 * (truncated to size, always NUL-terminated when size > 0). */
void http_methods_format(unsigned methods, char *buf, size_t size);
#endif
