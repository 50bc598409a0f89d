/* httpc: a small blocking HTTP client on libcurl, for service-to-service calls (the
 * trainer logging to the tracker, the inference API reading the registry) and for
 * tests. One call = one request (with retries when the connection could not be made)
 * = one easy handle; thread-safe once httpc_global_init has run. */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H
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
#endif
