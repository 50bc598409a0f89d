/* The routes every daemon serves: liveness, readiness and metrics. Readiness asks the
 * database and Kafka afresh on each call (both answer in well under a millisecond on
 * a healthy host), so a probe never reports a state older than itself.
 *
 * They never queue behind busy handlers: their routes are .unqueued (they take no
 * worker slot and run at once on their connection's own thread, libs/http), and the
 * database ping uses a pool of one connection of its own (svc->ready_db), so handlers
 * holding every pooled connection cannot make it wait; a database that does not answer
 * costs it at most libpq's 2 s connect timeout, then 503. Kafka counts
 * only for a daemon that consumes: one that only produces keeps its events in the
 * outbox while the broker is away (lathe_outbox_backlog shows them) and can go on
 * serving, so taking it out of rotation would turn a Kafka outage into an API outage. */
#include <jansson.h>
#include <stdlib.h>
#include "svc_int.h"

static void h_healthz(struct http_request *req, void *app)
{
	(void)app;
	http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(struct http_request *req, void *app)
{
	struct svc *svc = app;
	const char *why = NULL;
	bool consumes = svc->def->consumers && svc->def->consumers[0].group_id;
	int phase = atomic_load(&svc->phase);
	if (phase == SVC_STOPPING)
		why = "shutting down";
	else if (phase != SVC_READY && svc->db && !atomic_load(&svc->migrated))
		why = "database schema not migrated yet";
	else if (phase != SVC_READY)
		why = "starting: consumers, workers and periodic tasks not running yet";
	else if (svc->ready_db && !db_ping(svc->ready_db))
		why = "database unreachable";
	else if (consumes && atomic_load(&svc->consumer_failed))
		why = "a Kafka consumer hit a fatal error (restart the daemon)";
	else if (consumes && !bus_ping(svc->bus, 1000))
		why = "Kafka unreachable";
	else if (svc->def->not_ready)
		why = svc->def->not_ready(svc, svc->app);
	metrics_gauge_set(svc->ready_gauge, NULL, why ? 0 : 1);
	if (why) {
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "not ready: %s", why);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

static void h_metrics(struct http_request *req, void *app)
{
	struct svc *svc = app;
	size_t len = 0;
	char *text = metrics_render(svc->metrics, &len);
	if (!text) {
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "could not render metrics");
		return;
	}
	http_reply_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

void svc_h_not_implemented(struct http_request *req, void *app)
{
	(void)app;
	http_reply_error(req, HTTP_EC_NOT_IMPLEMENTED, "%s is not implemented yet", http_request_path(req));
}

const struct http_route svc_standard_routes[] = {
	{.methods = HTTP_GET | HTTP_HEAD,
	 .pattern = "/healthz",
	 .handler = h_healthz,
	 .scope = HTTP_SCOPE_PUBLIC,
	 .unqueued = true},
	{.methods = HTTP_GET | HTTP_HEAD,
	 .pattern = "/readyz",
	 .handler = h_readyz,
	 .scope = HTTP_SCOPE_PUBLIC,
	 .unqueued = true,
	 .slow = true}, /* pings the database or Kafka, up to a second: off any poll thread */
	{.methods = HTTP_GET | HTTP_HEAD,
	 .pattern = "/metrics",
	 .handler = h_metrics,
	 .scope = HTTP_SCOPE_PUBLIC,
	 .unqueued = true},
	{0},
};
