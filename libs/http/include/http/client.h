/* httpc: a small blocking HTTP client on libcurl, for service-to-service calls (the
 * trainer logging to the tracker, the inference API reading the registry) and for
 * tests. One call = one request (with retries when the connection could not be made)
 * = one easy handle; thread-safe once httpc_global_init has run. */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H
#include <jansson.h>
#include <stddef.h>
#include "core/status.h"

struct httpc_request {
	const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" */
	const char *url;    /* http:// or https:// only */
	const char *body;   /* may be NULL (no body) */
	size_t body_len;
	const char *content_type;   /* Content-Type of the body; NULL: none sent */
	const char *const *headers; /* "Name: value", NULL-terminated, may be NULL */
	long timeout_ms;            /* whole attempt, connect included; 0: 10000 */
	unsigned retries;           /* extra attempts when no connection could be made (refused,
				       unresolvable, connect timeout), with backoff 100ms·2^n;
				       never after a byte of the request was sent */
	size_t max_response;        /* largest response body accepted; 0: 64 MiB */
	const char *request_id;     /* sent as X-Request-Id; NULL or "": none. A call made on
				       behalf of a request passes http_request_id(req), so the
				       callee's logs carry the caller's id. 1..64 characters of
				       [A-Za-z0-9._-] (what http_request_id gives), else
				       CORE_EINVAL */
};

struct httpc_response {
	long status; /* HTTP status */
	char *body;  /* NUL-terminated, malloc'd ("" when empty) */
	size_t body_len;
	char *content_type; /* malloc'd, or NULL when the response had none */
};

/* Initialises libcurl. Call once in main, before any thread starts.
 * Returns CORE_OK or CORE_EIO (err says why). */
enum core_status httpc_global_init(struct core_error *err);

/* Releases libcurl's global state; after every other httpc call has returned. */
void httpc_global_cleanup(void);

/* Sends req and waits for the response.
 * req: borrowed. resp: [out] filled on CORE_OK (the caller frees it with
 * httpc_response_free), zeroed otherwise.
 * Returns CORE_OK whenever an HTTP response arrived (any status); CORE_EIO when none
 * did after the retries (refused, timeout, reset: err has curl's words); CORE_ELIMIT
 * when the body passed max_response; CORE_ENOMEM when the body could not be stored;
 * CORE_EINVAL for a request without method or url, or with a malformed request_id. */
enum core_status httpc_do(const struct httpc_request *req, struct httpc_response *resp, struct core_error *err);

/* Frees what resp holds and zeroes it. resp may be NULL; a zeroed response is fine. */
void httpc_response_free(struct httpc_response *resp);
/* Another Lathe service this one calls (the trainer calling the tracker, the registry
 * asking the tracker about servability): where it is and how to talk to it. */
struct httpc_peer {
	const char *name;     /* in messages and logs: "the data registry" */
	const char *base_url; /* its *_URL setting; trailing slashes are ignored */
	const char *token;    /* sent as "Authorization: Bearer"; NULL or "": none */
	long timeout_ms;      /* as httpc_request's */
	unsigned retries;     /* as httpc_request's */
	size_t max_response;  /* as httpc_request's */
};
/* Sends method {base_url}{path} (body with content_type; NULL: none) on behalf of
 * request_id, and sorts the outcome the way every service-to-service call needs:
 *   CORE_OK     an answer below 500 (408 and 429 excepted): resp filled, the caller
 *               reads status and body and frees resp;
 *   CORE_EIO    no answer, a 5xx, 408 or 429: the peer is in trouble, ask again later.
 *               Logged at warn with the URL and request_id; err says "<name> could not
 *               be reached" and names no address (it may reach a client);
 *   CORE_EINVAL request_id is malformed; CORE_ELIMIT the answer passed max_response.
 * resp is zeroed whenever the result is not CORE_OK. */
enum core_status httpc_peer_call(const struct httpc_peer *p, const char *method, const char *path,
				 const char *content_type, const void *body, size_t body_len, const char *request_id,
				 struct httpc_response *resp, struct core_error *err);

/* httpc_peer_call for a JSON API: body (borrowed; NULL: none) sent as application/json,
 * the answer's status into *status and its body into *out when it is a JSON object
 * (owned; NULL otherwise, as for most error pages). CORE_OK whenever the peer answered
 * below 500; CORE_EIO as httpc_peer_call, and also for a 2xx that is not a JSON object
 * or an answer over max_response (the peer is not speaking the API); CORE_EINVAL for a
 * malformed request_id. */
enum core_status httpc_peer_json(const struct httpc_peer *p, const char *method, const char *path, json_t *body,
				 const char *request_id, long *status, json_t **out, struct core_error *err);
#endif
