/* What one process spends on requests, bounded (server.c calls these): the body
 * budget, the worker slots, and the count of connections refused at the limit.
 *
 * Body budget. Every buffered request body (a plain body in req->body, or a multipart
 * body collected into parts) holds a reservation against one budget per server,
 * cfg.body_budget bytes. A Content-Length body reserves its whole declared length
 * (+1 for the NUL) on the first call, before any byte is read; a chunked body reserves
 * as it grows, doubling (as core_buf grows) up to its route's limit. The buffer's
 * ceiling (core_buf.max) is kept at the reservation, so the bytes allocated for a body
 * never exceed what it reserved. A request that would take the total past the budget
 * is answered 503 TEMPORARILY_UNAVAILABLE with Retry-After, and its body is not
 * stored. Streamed bodies (route.upload) hold nothing. A reservation is returned
 * when the body is dropped after an error reply, and at the latest by
 * http_request_free, which MHD's completion callback runs for every request however
 * it ended (answered, client gone mid-body, timeout, shutdown).
 *
 * Worker slots. MHD runs one thread per connection (server.c explains why), so any
 * number of handlers could run at once; cfg.threads slots bound how many domain
 * handlers do, which bounds what handlers hold together (database connections: the
 * pool is sized to the slots; parsed JSON; replies in the making). A handler waits for
 * a slot up to HTTP_WORKER_WAIT_MS, else its request is answered 503 with Retry-After.
 * Routes marked .unqueued (/healthz, /readyz, /metrics) never take a slot: they run at
 * once on their own connection's thread, whatever the domain handlers are doing. When
 * the drain has timed out (http_server_stop), the requests still waiting stop waiting
 * (503), so stopping never waits for the queue.
 *
 * Invariants (under limits_lock): 0 <= body_held <= body_budget, body_held is the sum
 * of every live request's req->body_held; 0 <= busy <= workers. */
#include <errno.h>
#include <time.h>
#include "core/log.h"
#include "core/time.h"
#include "metrics/metrics.h"
#include "http_int.h"

/* A chunked body's first reservation: most JSON requests fit, so most take the lock
 * once. */
#define FIRST_CHUNKED_RESERVATION ((uint64_t)64 << 10)

enum core_status http_limits_init(struct http_server *s, size_t body_budget, unsigned workers, struct core_error *err)
{
	pthread_condattr_t cattr;
	s->body_budget = body_budget;
	s->body_held = 0;
	s->workers = workers;
	s->busy = 0;
	s->cut_off = false;
	atomic_init(&s->refused_log_ns, 0);
	if (pthread_condattr_init(&cattr) != 0)
		return core_fail(err, CORE_EIO, "pthread_condattr_init failed");
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	int e = pthread_mutex_init(&s->limits_lock, NULL);
	if (e == 0) {
		e = pthread_cond_init(&s->slot_free, &cattr);
		if (e != 0)
			pthread_mutex_destroy(&s->limits_lock);
	}
	pthread_condattr_destroy(&cattr);
	if (e != 0)
		return core_fail(err, CORE_EIO, "cannot make the server's limits lock");
	return CORE_OK;
}

void http_limits_destroy(struct http_server *s)
{
	pthread_cond_destroy(&s->slot_free);
	pthread_mutex_destroy(&s->limits_lock);
}

enum core_status http_limits_metrics_init(struct http_server *s, struct metrics_registry *reg, struct core_error *err)
{
	static const char *const reason[] = {"reason", NULL};
	s->m_body_held =
		metrics_gauge_new(reg, "lathe_http_body_buffered_bytes",
				  "Bytes of the request-body budget held by requests being read or handled", NULL);
	s->m_refused = metrics_counter_new(reg, "lathe_http_refused_total",
					   "Requests or connections refused to keep the process within its limits, by "
					   "reason (body_budget, workers_busy, connection_limit)",
					   reason);
	if (!s->m_body_held || !s->m_refused)
		return core_fail(err, CORE_EINVAL, "cannot create the HTTP limit metrics");
	metrics_gauge_set(s->m_body_held, NULL, 0);
	return CORE_OK;
}

void http_limits_refused(struct http_server *s, const char *reason)
{
	const char *v[] = {reason};
	metrics_counter_add(s->m_refused, v, 1);
}

/* Grows req's reservation to want bytes (want > req->body_held). */
static bool budget_take(struct http_request *req, uint64_t want)
{
	struct http_server *s = req->server;
	bool ok = false;
	double held = 0;
	pthread_mutex_lock(&s->limits_lock);
	uint64_t more = want - req->body_held;
	if (more <= s->body_budget - s->body_held) {
		s->body_held += more;
		req->body_held = want;
		ok = true;
	}
	held = (double)s->body_held;
	pthread_mutex_unlock(&s->limits_lock);
	if (ok)
		metrics_gauge_set(s->m_body_held, NULL, held);
	return ok;
}

bool http_body_reserve(struct http_request *req, uint64_t total)
{
	uint64_t cap = (uint64_t)req->body_limit + 1;
	uint64_t need = total + 1; /* core_buf keeps a NUL after the bytes */
	if (need <= req->body_held)
		return true;
	uint64_t want = req->body_held ? req->body_held * 2 : FIRST_CHUNKED_RESERVATION;
	if (want < need)
		want = need;
	if (want > cap)
		want = cap;
	if (want < need)
		return false; /* over the route's limit: the caller answers 413 first */
	if (!budget_take(req, want) && !(want > need && budget_take(req, need)))
		return false;
	req->body.max = (size_t)req->body_held - 1;
	return true;
}

bool http_body_reserve_declared(struct http_request *req, uint64_t declared)
{
	if (!budget_take(req, declared + 1))
		return false;
	req->body.max = (size_t)declared;
	return true;
}

void http_body_release(struct http_request *req)
{
	struct http_server *s = req->server;
	if (req->body_held == 0)
		return;
	pthread_mutex_lock(&s->limits_lock);
	s->body_held -= req->body_held;
	double held = (double)s->body_held;
	pthread_mutex_unlock(&s->limits_lock);
	req->body_held = 0;
	metrics_gauge_set(s->m_body_held, NULL, held);
}

bool http_worker_acquire(struct http_server *s)
{
	struct timespec deadline = core_deadline_us((int64_t)HTTP_WORKER_WAIT_MS * 1000);
	pthread_mutex_lock(&s->limits_lock);
	/* after the cut-off nothing starts, also a request that finds a slot free only
	 * because the held ones ended after the drain gave up on them */
	bool ok = !s->cut_off;
	while (s->busy >= s->workers && ok) {
		if (s->cut_off || pthread_cond_timedwait(&s->slot_free, &s->limits_lock, &deadline) == ETIMEDOUT)
			ok = s->busy < s->workers && !s->cut_off;
	}
	if (ok)
		s->busy++;
	pthread_mutex_unlock(&s->limits_lock);
	return ok;
}

void http_limits_cut_off(struct http_server *s)
{
	pthread_mutex_lock(&s->limits_lock);
	s->cut_off = true;
	pthread_cond_broadcast(&s->slot_free);
	pthread_mutex_unlock(&s->limits_lock);
}

void http_worker_release(struct http_server *s)
{
	pthread_mutex_lock(&s->limits_lock);
	s->busy--;
	pthread_cond_signal(&s->slot_free);
	pthread_mutex_unlock(&s->limits_lock);
}

void http_limits_connection_refused(struct http_server *s)
{
	http_limits_refused(s, "connection_limit");
	/* One line a second at most: a flood must not become a flood of log lines. */
	uint64_t now = core_monotonic_ns();
	uint64_t last = atomic_load(&s->refused_log_ns);
	if (last && now - last < 1000000000ull)
		return;
	if (!atomic_compare_exchange_strong(&s->refused_log_ns, &last, now))
		return;
	core_log(CORE_LOG_WARN,
		 "http server: connection limit of %u reached, closing new connections (HTTP_MAX_CONNECTIONS; "
		 "lathe_http_refused_total{reason=\"connection_limit\"} counts them)",
		 s->max_connections);
}
