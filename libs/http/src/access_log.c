/* The access log and the per-route metrics: what server.c records for every request
 * when MHD reports it complete (on_completed), and nowhere else, so each request is
 * counted exactly once whether it was answered, refused or cut off.
 *
 * Log line, one per request:
 *   {"msg":"http request","method":..,"path":..,"route":..,"status":..,
 *    "duration_ms":..,"bytes_in":..[,"error_code":..,"error":..],"request_id":..
 *    [,"termination":..]}
 * at info, except for a 4xx reply: warn, and it is the request's only line about its
 * error (http_reply_error does not log 4xx), so a client mistake is logged once, with
 * its code and message, and still shows at LOG_LEVEL=warn as it always did. A 5xx
 * stays info here: http_reply_error logged it at error (500) or warn (501/503/504)
 * when it was made. error_code and error are there when the reply came from
 * http_reply_error.
 * Metrics: lathe_http_requests_total{route,method,status} and
 * lathe_http_request_duration_seconds{route}. The route label is the route's name (or its
 * pattern), "unmatched" for paths no route takes, and the method label one of ours or
 * "OTHER", so clients cannot grow the number of series. A request that got no reply
 * (client gone, server stopped, body cut off) is recorded with status 499. */
#include <stdio.h>
#include "core/log.h"
#include "core/time.h"
#include "metrics/metrics.h"
#include "http_int.h"

#define STATUS_NO_REPLY 499

enum core_status http_metrics_init(struct http_server *s, struct metrics_registry *reg, struct core_error *err)
{
	static const char *const request_labels[] = {"route", "method", "status", NULL};
	static const char *const duration_labels[] = {"route", NULL};
	s->m_requests = metrics_counter_new(reg, "lathe_http_requests_total",
					    "HTTP requests completed, by route, method and status", request_labels);
	if (!s->m_requests)
		return core_fail(err, CORE_EINVAL,
				 "cannot create metric lathe_http_requests_total (one HTTP server per "
				 "registry)");
	s->m_duration = metrics_histogram_new(reg, "lathe_http_request_duration_seconds",
					      "Time from a request's headers to its completion, by route",
					      duration_labels, metrics_latency_buckets, metrics_latency_buckets_n);
	if (!s->m_duration)
		return core_fail(err, CORE_EINVAL, "cannot create metric lathe_http_request_duration_seconds");
	return CORE_OK;
}

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK:
		return NULL;
	case MHD_REQUEST_TERMINATED_WITH_ERROR:
		return "error";
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
		return "timeout";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
		return "shutdown";
	case MHD_REQUEST_TERMINATED_READ_ERROR:
		return "read_error";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
		return "client_abort";
	}
	return "unknown";
}

void http_access_record(struct http_request *req, enum MHD_RequestTerminationCode toe)
{
	const struct http_server *s = req->server;
	const struct http_route *r = req->match.route;
	const char *route = r ? (r->name ? r->name : r->pattern) : NULL;
	unsigned status = req->queued_status ? req->queued_status : STATUS_NO_REPLY;
	double seconds = (double)(core_monotonic_ns() - req->start_ns) / 1e9;
	const char *termination = termination_name(toe);

	bool client_error = req->queued_status >= 400 && req->queued_status < 500;
	struct core_log_field f[10];
	size_t n = 0;
	f[n++] = CORE_LF_STR("method", req->method_str);
	f[n++] = CORE_LF_STR("path", req->path);
	f[n++] = CORE_LF_STR("route", route);
	f[n++] = CORE_LF_INT("status", status);
	f[n++] = CORE_LF_NUM("duration_ms", seconds * 1e3);
	f[n++] = CORE_LF_INT("bytes_in", (long long)req->bytes_in);
	if (req->error != HTTP_EC_NONE && req->error_message) {
		f[n++] = CORE_LF_STR("error_code", http_error_names[req->error]);
		f[n++] = CORE_LF_STR("error", req->error_message);
	}
	f[n++] = CORE_LF_STR("request_id", req->id);
	if (termination)
		f[n++] = CORE_LF_STR("termination", termination);
	core_log_with(client_error ? CORE_LOG_WARN : CORE_LOG_INFO, f, n, "http request");

	if (!s->m_requests)
		return;
	char status_text[16];
	snprintf(status_text, sizeof status_text, "%u", status);
	const char *method = http_method_name(req->method);
	const char *request_labels[] = {route ? route : "unmatched", method ? method : "OTHER", status_text};
	const char *duration_labels[] = {route ? route : "unmatched"};
	metrics_counter_add(s->m_requests, request_labels, 1);
	metrics_histogram_observe(s->m_duration, duration_labels, seconds);
}
