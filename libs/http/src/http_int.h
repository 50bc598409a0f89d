/* Private cross-file declarations of the http library: the server and request structs
 * and the few functions one file of libs/http/src calls in another. Never included from
 * outside the library. Non-static names keep the http_ prefix (make check-symbols). */
#ifndef HTTP_INT_H
#define HTTP_INT_H
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/buf.h"
#include "http/auth.h"
#include "http/http.h"

#define HTTP_REQUEST_ID_MAX         64
#define HTTP_DEFAULT_BODY_LIMIT     ((size_t)1 << 20)
#define HTTP_DEFAULT_THREADS        4
#define HTTP_DEFAULT_DRAIN_MS       10000
#define HTTP_DEFAULT_CONN_TIMEOUT_S 60
/* Connections open at once (MHD_OPTION_CONNECTION_LIMIT; each has its own thread). */
#define HTTP_DEFAULT_MAX_CONNECTIONS 256
/* Bytes of request bodies buffered at once, across all requests (limits.c). */
#define HTTP_DEFAULT_BODY_BUDGET ((size_t)64 << 20)
/* How long a request waits for a worker slot before it is answered 503 (limits.c). */
#define HTTP_WORKER_WAIT_MS 30000
/* Retry-After (seconds) on a 503 for a full body budget or busy workers. */
#define HTTP_RETRY_AFTER_S "1"
#define HTTP_STREAM_BLOCK  (64 * 1024)
/* A request we already answered with an error before its body ended (404, 405, 415,
 * 413 on a chunked body, an upload function that gave up) has the rest of its body
 * read and dropped, so the reply can be queued at the end and keep-alive survives.
 * Only this many bytes past the route's body limit are dropped; a client that sends
 * more has its connection closed without a reply. */
#define HTTP_DISCARD_SLACK ((uint64_t)16 << 20)
/* The most JSON values a request body may hold (jspec.c): bounds the parsed tree. */
#define HTTP_JSON_VALUES_MAX 100000
/* Multipart bodies: MHD's post processor buffer (a part header line must fit in it)
 * and the most parts one body may have (each costs a struct and a few strings). */
#define HTTP_MULTIPART_BUFFER    (16 * 1024)
#define HTTP_MULTIPART_PARTS_MAX 256
/* A request refused by authentication has a body of at most this many bytes read and
 * dropped (keep-alive survives); a larger or chunked one is answered at once and its
 * connection closed, so no one without a token makes us read gigabytes. */
#define HTTP_AUTH_DISCARD_MAX ((uint64_t)1 << 20)

struct metrics_family;
struct http_multipart;

/* An extra reply header given with http_reply_header. */
struct http_header {
	char *name;
	char *value;
	struct http_header *next;
};

/* One decoded query parameter, in the order received. */
struct http_query_pair {
	char *key;
	char *value;
};

/* Where a request stands; see the diagram in server.c. */
enum http_phase {
	HTTP_PHASE_BODY,    /* reading the body into req->body or the upload function */
	HTTP_PHASE_DISCARD, /* a reply is made; reading and dropping the rest of the body */
	HTTP_PHASE_QUEUED,  /* the reply is queued with MHD (or the connection is closing) */
	HTTP_PHASE_AWAY,    /* a .slow handler runs on its own thread, the connection suspended */
};

struct http_request {
	struct http_server *server;
	struct MHD_Connection *conn;
	enum http_method method;        /* 0 when outside enum http_method */
	const char *method_str;         /* MHD's copy, valid until completion */
	const char *path;               /* MHD's raw url, valid until completion */
	struct http_route_result match; /* .route NULL when no route matched */
	enum http_error_shape shape;    /* of error replies: MLFLOW or OIP, set by begin() */
	char id[HTTP_REQUEST_ID_MAX + 1];
	uint64_t start_ns; /* core_monotonic_ns at the first call */
	uint64_t bytes_in; /* body bytes received, dropped ones included */
	size_t body_limit;
	uint64_t body_held; /* bytes of the server's body budget this request holds (limits.c) */
	enum http_phase phase;
	struct core_buf body;
	struct http_query_pair *query;
	size_t n_query;
	/* the reply: made by reply.c, queued by server.c */
	struct MHD_Response *response;
	unsigned status;                  /* status of response */
	bool reply_failed;                /* a reply was attempted and could not be made */
	unsigned queued_status;           /* 0 until a reply was queued with MHD */
	struct http_header *headers;      /* extra reply headers, newest first */
	enum http_error_code error;       /* of the http_reply_error reply, HTTP_EC_NONE else */
	char *error_message;              /* its message, for the access log; malloc'd */
	struct http_multipart *multipart; /* a multipart route's parser and parts, or NULL */
	/* authentication (auth.c): the scope the route needs (BY_METHOD until the request
	 * matched a route), and the name of the token that proved it ("" for none) */
	enum http_scope scope;
	char principal[HTTP_AUTH_NAME_MAX + 1];
	/* scratch */
	void *state;
	void (*free_state)(void *);
	json_t *keep; /* array of JSON values jspec lent out */
};

/* Which Host headers the server answers (guard.c). */
enum http_hosts_mode {
	HTTP_HOSTS_ANY,      /* every Host */
	HTTP_HOSTS_LOOPBACK, /* localhost, 127.0.0.0/8, [::1] */
	HTTP_HOSTS_LIST,     /* the names in hosts[] */
};

struct http_server {
	struct MHD_Daemon *daemon;
	const struct http_route *routes;
	void *app;
	const char *(*not_serving)(void *app); /* may be NULL */
	size_t default_body_limit;
	enum http_error_code content_type_error;
	const struct http_error_prefix *error_prefixes; /* borrowed, may be NULL */
	unsigned drain_timeout_ms;
	unsigned port;
	char address[64];
	struct metrics_family *m_requests; /* NULL without a registry */
	struct metrics_family *m_duration;
	pthread_mutex_t lock; /* guards in_flight */
	pthread_cond_t idle;  /* signalled when in_flight drops to 0 */
	unsigned in_flight;
	atomic_bool draining; /* set once by http_server_stop */
	bool pooled;          /* poll threads (cfg.poll_threads > 0), not a thread per connection */
	unsigned away;        /* .slow handlers running on their own threads (under lock) */
	pthread_cond_t back;  /* signalled when away drops to 0 */
	enum http_hosts_mode hosts_mode;
	char **hosts; /* lower-case names without port or brackets, HTTP_HOSTS_LIST */
	size_t n_hosts;
	struct http_auth *auth; /* borrowed token store, NULL: no authentication */
	/* limits.c: the body budget and the worker slots, under limits_lock */
	unsigned max_connections;
	pthread_mutex_t limits_lock;
	pthread_cond_t slot_free; /* signalled when a worker slot is given back */
	uint64_t body_budget;
	uint64_t body_held;
	unsigned workers;
	unsigned busy;
	bool cut_off;                    /* the drain timed out: waiting for a slot ends (http_limits_cut_off) */
	_Atomic uint64_t refused_log_ns; /* when the last "connection limit" line was written */
	struct metrics_family *m_body_held;
	struct metrics_family *m_refused;
};

/* request.c */
/* Makes the context for a new request on its first access-handler call: method, path,
 * request id, decoded query. Never fails (control-plane allocations abort). */
struct http_request *http_request_new(struct http_server *s, struct MHD_Connection *conn, const char *method,
				      const char *url);
/* Frees everything the request owns (state, body, params, query, unqueued reply). */
void http_request_free(struct http_request *req);
/* Maps a method name to enum http_method; 0 when unknown. */
enum http_method http_method_parse(const char *method);

/* router.c */
/* Decodes %XX escapes of s in place (a '+' becomes a space when plus_is_space); bad
 * escapes and "%00" are kept as they are. */
void http_url_decode(char *s, bool plus_is_space);
/* Whether s is well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF). */
bool http_utf8_valid(const char *s);

/* reply.c */
/* Returns a new JSON string for s; bytes of invalid UTF-8 become '?' (s may quote
 * client input, and jansson refuses invalid UTF-8). NULL only when out of memory. */
json_t *http_json_string_lossy(const char *s);
/* Whether the request has a reply made (or a failed attempt at one). */
bool http_reply_made(const struct http_request *req);

/* multipart.c */
/* Starts parsing the body of a multipart route's request (first call, headers only).
 * Replies 400 when the Content-Type has no usable boundary. */
void http_multipart_begin(struct http_request *req);
/* Parses n more body bytes into parts. Replies 400 (malformed body) or 413 (too many
 * parts) on failure. */
void http_multipart_feed(struct http_request *req, const char *data, size_t n);
/* The body has ended: replies 400 when it was truncated (no closing boundary) or held
 * no part at all; else the parts are ready for http_request_parts. */
void http_multipart_end(struct http_request *req);
/* Frees the parser and the parts. mp may be NULL. */
void http_multipart_free(struct http_multipart *mp);

/* guard.c */
/* Why the request's framing headers are refused (several Content-Length or
 * Transfer-Encoding headers, a Content-Length that is not plain digits, a
 * Transfer-Encoding other than "chunked", or both; several Host headers), or NULL when they are fine. */
const char *http_framing_problem(struct MHD_Connection *conn);
/* Request line and header sizes answered in JSON (guard.c); beyond libmicrohttpd's own
 * per-connection memory it answers with its fixed HTML page instead. */
#define HTTP_MAX_URI_BYTES    (12 * 1024)
#define HTTP_MAX_HEADER_BYTES (16 * 1024)
/* Whether the URI (path and query, decoded) or the header block is over those sizes:
 * HTTP_EC_URI_TOO_LONG, HTTP_EC_HEADERS_TOO_LARGE, or HTTP_EC_NONE. */
enum http_error_code http_size_problem(struct MHD_Connection *conn, const char *path);
/* Sets s->hosts_mode and s->hosts from allowed (comma-separated names, ports ignored,
 * "*" for any; NULL or "" for the default: loopback names when loopback_bind, else
 * any). CORE_EINVAL for an entry that is no host name; s->hosts may then be partly
 * filled (http_hosts_free frees it). */
enum core_status http_hosts_init(struct http_server *s, const char *allowed, bool loopback_bind,
				 struct core_error *err);
void http_hosts_free(struct http_server *s);
/* Whether a numeric bind address is a loopback one (127.0.0.0/8, ::1). */
bool http_address_is_loopback(const char *address);
/* Why the request's Host is refused (missing on HTTP/1.1, not allowed), or NULL. */
const char *http_host_problem(const struct http_server *s, struct MHD_Connection *conn, const char *version);

/* auth.c */
/* Decides whether the request (which matched a route) may proceed: sets req->scope,
 * and with a token store checks the Authorization header, setting req->principal.
 * Returns false after replying 401 (with WWW-Authenticate) or 403. */
bool http_auth_admit(struct http_request *req);
/* Writes the request's audit line when its route needs write or admin. */
void http_auth_audit(const struct http_request *req);
/* limits.c */
/* Sets the body budget and the worker slots up (http_server_start). CORE_EIO when the
 * lock cannot be made. */
enum core_status http_limits_init(struct http_server *s, size_t body_budget, unsigned workers, struct core_error *err);
void http_limits_destroy(struct http_server *s);
/* Creates lathe_http_body_buffered_bytes and lathe_http_refused_total{reason}. */
enum core_status http_limits_metrics_init(struct http_server *s, struct metrics_registry *reg, struct core_error *err);
/* Counts one refusal for reason ("body_budget", "workers_busy") in lathe_http_refused_total. */
void http_limits_refused(struct http_server *s, const char *reason);
/* Reserves the whole declared body (declared + 1 bytes; declared <= the route's limit)
 * and caps req->body there. false when the budget has no room: nothing is held. */
bool http_body_reserve_declared(struct http_request *req, uint64_t declared);
/* Makes req's reservation cover a body of total bytes (growing it by doubling, within
 * the route's limit) and caps req->body at it. false when the budget has no room: the
 * reservation is as it was. */
bool http_body_reserve(struct http_request *req, uint64_t total);
/* Gives req's reservation back (no-op when it holds none). */
void http_body_release(struct http_request *req);
/* Takes a worker slot, waiting up to HTTP_WORKER_WAIT_MS. false when none came free. */
bool http_worker_acquire(struct http_server *s);
void http_worker_release(struct http_server *s);
/* The drain is over: requests waiting for a slot get none (http_server_stop). */
void http_limits_cut_off(struct http_server *s);
/* MHD closed a connection at the connection limit: counts it and logs (once a second
 * at most). */
void http_limits_connection_refused(struct http_server *s);

/* access_log.c */
/* Creates the lathe_http_requests_total and lathe_http_request_duration_seconds families. */
enum core_status http_metrics_init(struct http_server *s, struct metrics_registry *reg, struct core_error *err);
/* Writes the access-log line and updates the metrics of a completed request. */
void http_access_record(struct http_request *req, enum MHD_RequestTerminationCode toe);
#endif
