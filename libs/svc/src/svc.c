/* svc_main: the one lifecycle every Lathe daemon runs (face: svc/svc.h).
 *
 *   STARTING --open_clients, def->start, start_http--> SERVING (not ready)
 *   SERVING --migrate_until_done--> MIGRATED --bus_relay_start, svc_tasks_start--> READY
 *       | database down: retry with backoff, still serving     (consumers, workers,
 *       +--SIGTERM--> STOPPING                                  periodic tasks run)
 *   READY --SIGTERM/SIGINT (core_shutdown_wait)--> STOPPING:
 *     1. not ready (phase SVC_STOPPING: /readyz answers 503 "shutting down")
 *     2. svc_tasks_stop: consumers stop polling, workers and periodic tasks see
 *        svc_stopping; the message in hand is finished and its offset committed, or
 *        handed back (BUS_RETRY, not committed); threads joined; groups left
 *     3. http_server_stop: in-flight requests drain (DRAIN_TIMEOUT_MS)
 *     4. bus_relay_stop: the outbox round in hand finishes
 *     5. def->stop: the service frees its state
 *     6. bus_producer_flush, bus_producer_free
 *     7. db_pool_close --> exit 0
 *   A start-up failure takes the same steps 2-7 (from wherever it got) and exits 1.
 *
 * Invariants: the HTTP server is up before anything slow happens (so liveness probes
 * answer); READY is never reported before migrations finished and the tasks started;
 * no consumer, worker or periodic task runs before migrations or after step 2; on
 * shutdown nothing (pool, producer, service state) is freed while a task or a request
 * may still use it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/auth.h"
#include "http/client.h"
#include "svc_int.h"

void *svc_app(struct svc *svc)
{
	return svc->app;
}
const struct svc_settings *svc_settings(struct svc *svc)
{
	return &svc->settings;
}
struct db_pool *svc_db(struct svc *svc)
{
	return svc->db;
}
struct bus_producer *svc_bus(struct svc *svc)
{
	return svc->bus;
}
struct metrics_registry *svc_metrics(struct svc *svc)
{
	return svc->metrics;
}

int svc_reply_db_error(struct http_request *req, int rc, const struct core_error *err)
{
	/* Many query functions pass no error record to db_exec (db logs the failure
	 * itself), so an empty message means "say the status". The cause (libpq's text
	 * names the server's host and port) goes to the log only. */
	const char *why = err && err->message[0] ? err->message : db_strerror(rc);
	if (rc == DB_TIMEOUT)
		return http_reply_error_detail(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, why,
					       "the query took too long and was cancelled; narrow it or retry later");
	if (rc == DB_UNAVAILABLE || rc == DB_SOFT_ERROR)
		return http_reply_error_detail(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, why,
					       "database unavailable, retry later");
	return http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, why, "database error");
}

static void print_help(const struct svc_def *def, const struct svc *svc)
{
	printf("lathe-%s: %s\n\nUsage: lathe-%s [--help | --version | --settings-markdown | --routes]\n\n"
	       "Settings come from environment variables:\n\n| name | type | default | meaning |\n|---|---|---|---|\n",
	       def->name, def->summary, def->name);
	core_settings_markdown(svc->common_rows, stdout);
	if (def->settings)
		core_settings_markdown(def->settings, stdout);
}

#define API_PREFIX "/api/2.0/"

/* Copies the standard routes, then the service's tables, into one table, adding the
 * /ajax-api/2.0/ twin of each /api/2.0/ route when the service asks for them. */
static enum core_status build_routes(struct svc *svc, struct core_error *err)
{
	size_t k = 0;
	for (const struct http_route *r = svc_standard_routes; r->pattern; r++)
		svc->routes[k++] = *r;
	if (svc->def->openapi)
		svc->routes[k++] = svc_int_openapi_route;
	for (size_t t = 0; t < sizeof svc->def->routes / sizeof svc->def->routes[0] && svc->def->routes[t]; t++) {
		for (const struct http_route *r = svc->def->routes[t]; r->pattern; r++) {
			bool twin = svc->def->ajax_twins && strncmp(r->pattern, API_PREFIX, strlen(API_PREFIX)) == 0;
			if (k + 2 >= SVC_MAX_ROUTES)
				return core_fail(err, CORE_ELIMIT, "more than %d routes", SVC_MAX_ROUTES - 2);
			svc->routes[k++] = *r;
			if (!twin)
				continue;
			char *pattern = core_xasprintf("/ajax-api/2.0/%s", r->pattern + strlen(API_PREFIX));
			svc->twin_patterns[svc->n_twin_patterns++] = pattern;
			svc->routes[k] = *r;
			svc->routes[k].pattern = pattern;
			if (!r->name)
				svc->routes[k].name = r->pattern; /* one metrics label for both */
			k++;
		}
	}
	memset(&svc->routes[k], 0, sizeof svc->routes[k]);
	return http_routes_check(svc->routes, err);
}

/* Prints "METHOD PATTERN" for every route served: what the contract tests compare
 * with the service's OpenAPI document. */
static int print_routes(struct svc *svc)
{
	static const struct {
		unsigned bit;
		const char *name;
	} methods[] = {
		{HTTP_GET, "GET"}, {HTTP_HEAD, "HEAD"},     {HTTP_POST, "POST"},
		{HTTP_PUT, "PUT"}, {HTTP_DELETE, "DELETE"}, {HTTP_PATCH, "PATCH"},
	};
	struct core_error err;
	if (build_routes(svc, &err) != CORE_OK) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	for (const struct http_route *r = svc->routes; r->pattern; r++)
		for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
			if (r->methods & methods[i].bit)
				printf("%s %s\n", methods[i].name, r->pattern);
	return 0;
}

static enum core_status open_clients(struct svc *svc, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	const struct svc_settings *s = &svc->settings;
	svc->metrics = metrics_registry_new();
	svc->ready_gauge = metrics_gauge_new(svc->metrics, "lathe_ready",
					     "1 when the daemon reported ready at its last /readyz", NULL);
	svc_int_build_metrics(svc->metrics);
	if (svc->def->schema) {
		struct db_pool_config pc = {
			.url = s->database_url,
			.schema = svc->def->schema,
			/* one per worker slot + outbox relay + one per task */
			.size = (unsigned)s->http_threads + 1 + (unsigned)svc_tasks_count(svc->def),
			.application_name = svc->def->name,
			.statement_timeout_ms = (unsigned)s->db_statement_timeout_ms,
		};
		rc = db_pool_open(&pc, &svc->db, err);
		if (rc != CORE_OK)
			return rc;
		/* /readyz's own connection: the probe never competes with handlers for the
		 * pool, so it answers at once even while they hold every connection; libpq's
		 * shortest connect timeout (2 s) bounds it when the server does not answer. */
		struct db_pool_config rc1 = pc;
		rc1.size = 1;
		rc1.connect_timeout_s = 2;
		rc = db_pool_open(&rc1, &svc->ready_db, err);
		if (rc != CORE_OK)
			return rc;
	}
	struct bus_config bc;
	svc_bus_config(svc, &bc);
	return bus_producer_new(&bc, &svc->bus, err);
}

/* Domain handlers wait for the schema: before it is migrated they would meet missing
 * relations (a client arriving with the daemon, as the inference API does with the
 * registry under make run) and answer 500; they get 503 and Retry-After instead. */
static const char *not_serving(void *app)
{
	struct svc *svc = app;
	return svc->db && !atomic_load(&svc->migrated) ? "the service is starting: its database schema is not ready yet"
						       : NULL;
}

static enum core_status start_http(struct svc *svc, struct core_error *err)
{
	const struct svc_settings *s = &svc->settings;
	enum core_status rc = build_routes(svc, err);
	if (rc != CORE_OK)
		return rc;
	struct http_server_config hc = {
		.bind_address = s->bind_address,
		.allowed_hosts = s->allowed_hosts,
		.port = (unsigned)s->port,
		.threads = (unsigned)s->http_threads,
		.max_connections = (unsigned)s->http_max_connections,
		.poll_threads =
			s->http_poll_threads >= 0 ? (unsigned)s->http_poll_threads : svc->def->http_poll_threads,
		.body_budget = (size_t)s->http_body_budget_bytes,
		.default_body_limit = (size_t)s->max_body_bytes,
		.routes = svc->routes,
		.app = svc,
		.metrics = svc->metrics,
		.content_type_error = svc->def->content_type_error,
		.error_prefixes = svc->def->error_prefixes,
		.drain_timeout_ms = (unsigned)s->drain_timeout_ms,
		.auth = svc->auth,
		.not_serving = not_serving,
	};
	rc = http_server_start(&hc, &svc->http, err);
	if (rc == CORE_OK) {
		struct core_log_field f[] = {CORE_LF_STR("address", s->bind_address),
					     CORE_LF_INT("port", http_server_port(svc->http))};
		core_log_with(CORE_LOG_INFO, f, 2, "listening");
	}
	return rc;
}

/* Applies the schema, retrying while the database is unreachable. Returns 0 when
 * done, or the shutdown signal that interrupted the wait. */
static int migrate_until_done(struct svc *svc)
{
	int backoff_ms = 200;
	for (;;) {
		struct core_error err;
		enum core_status rc = CORE_OK;
		if (svc->def->migrations)
			rc = db_migrate(svc->db, svc->def->schema, "service", svc->def->migrations, &err);
		if (rc == CORE_OK && svc->def->uses_outbox)
			rc = bus_outbox_migrate(svc->db, svc->def->schema, &err);
		if (rc == CORE_OK)
			return 0;
		core_warn("migrating schema %s failed, retrying in %d ms: %s", svc->def->schema, backoff_ms,
			  err.message);
		int sig = core_shutdown_wait(backoff_ms);
		if (sig)
			return sig;
		if (backoff_ms < 5000)
			backoff_ms *= 2;
	}
}

static void stop_everything(struct svc *svc)
{
	atomic_store(&svc->phase, SVC_STOPPING);
	svc_tasks_stop(svc);
	http_server_stop(svc->http); /* drains in-flight requests first */
	if (svc->http)
		core_debug("HTTP server drained");
	svc->http = NULL;
	if (svc->relay) {
		bus_relay_stop(svc->relay);
		core_debug("outbox relay stopped");
	}
	svc->relay = NULL;
	if (svc->def->stop && svc->app)
		svc->def->stop(svc, svc->app);
	svc->app = NULL;
	if (svc->bus) {
		int left = bus_producer_flush(svc->bus, 5000);
		if (left > 0)
			core_warn("%d events still undelivered at shutdown", left);
		bus_producer_free(svc->bus);
		svc->bus = NULL;
	}
	db_pool_close(svc->db);
	svc->db = NULL;
	db_pool_close(svc->ready_db);
	svc->ready_db = NULL;
	metrics_registry_free(svc->metrics);
	svc->metrics = NULL;
}

static int run(struct svc *svc)
{
	struct core_error err = {{0}};
	const struct svc_def *def = svc->def;
	int status = 1;

	if (httpc_global_init(&err) != CORE_OK || open_clients(svc, &err) != CORE_OK) {
		core_error("start-up failed: %s", err.message);
		goto out;
	}
	if (def->start && def->start(svc, svc->service_settings, &svc->app, &err) != CORE_OK) {
		core_error("service start failed: %s", err.message);
		goto out;
	}
	if (start_http(svc, &err) != CORE_OK) {
		core_error("HTTP server failed to start: %s", err.message);
		goto out;
	}
	int sig = 0;
	if (svc->db) {
		sig = migrate_until_done(svc);
		if (!sig)
			atomic_store(&svc->migrated, true);
		if (!sig && def->uses_outbox) {
			struct bus_relay_config rc = {.poll_ms = (int)svc->settings.outbox_poll_ms,
						      .metrics = svc->metrics};
			if (bus_relay_start(svc->db, svc->bus, &rc, &svc->relay, &err) != CORE_OK) {
				core_error("outbox relay failed to start: %s", err.message);
				goto out;
			}
		}
	}
	if (!sig) {
		if (svc_tasks_start(svc, &err) != CORE_OK) {
			core_error("starting consumers, workers and periodic tasks failed: %s", err.message);
			goto out;
		}
		atomic_store(&svc->phase, SVC_READY);
		core_info("ready");
		sig = core_shutdown_wait(-1);
	}
	atomic_store(&svc->phase, SVC_STOPPING);
	core_info("signal %d: shutting down", sig);
	status = 0;
out:
	stop_everything(svc);
	httpc_global_cleanup();
	if (status == 0)
		core_info("stopped");
	return status;
}

int svc_main(const struct svc_def *def, int argc, char **argv)
{
	struct core_error err = {{0}};
	struct svc *svc = core_xcalloc(1, sizeof *svc);
	int status = 2;
	svc->def = def;
	atomic_init(&svc->phase, SVC_STARTING);
	atomic_init(&svc->migrated, false);
	svc_tasks_init(svc);
	svc_common_settings(def, svc->common_rows, SVC_MAX_SETTING_ROWS, svc->port_default, sizeof svc->port_default);
	svc->service_settings = core_xcalloc(1, def->settings_size ? def->settings_size : 1);
	core_log_init(def->name, CORE_LOG_INFO);

	if (argc > 1) {
		if (strcmp(argv[1], "--routes") == 0) {
			status = print_routes(svc);
			goto out;
		}
		if (strcmp(argv[1], "--version") == 0) {
			svc_int_print_version(def);
			status = 0;
		} else if (strcmp(argv[1], "--settings-markdown") == 0) {
			core_settings_markdown(svc->common_rows, stdout);
			if (def->settings)
				core_settings_markdown(def->settings, stdout);
			status = 0;
		} else {
			print_help(def, svc);
			status = strcmp(argv[1], "--help") == 0 ? 0 : 2;
		}
		goto out;
	}
	if (core_shutdown_init(&err) != CORE_OK) {
		core_error("%s", err.message);
		status = 1;
		goto out;
	}
	if (core_settings_load(svc->common_rows, &svc->settings, &err) != CORE_OK ||
	    (def->settings && core_settings_load(def->settings, svc->service_settings, &err) != CORE_OK) ||
	    svc_int_kafka_properties(svc, &err) != CORE_OK) {
		core_error("bad settings: %s", err.message);
		goto out;
	}
	core_log_init(def->name, svc->settings.log_level);
	svc_int_log_version();
	/* Before anything listens: a daemon others can reach never starts open by accident. */
	if (http_auth_setup(svc->settings.auth, svc->settings.auth_tokens_file, svc->settings.bind_address, &svc->auth,
			    &err) != CORE_OK) {
		core_error("bad settings: %s", err.message);
		goto out;
	}
	status = run(svc);
out:
	for (size_t i = 0; i < svc->n_twin_patterns; i++)
		free(svc->twin_patterns[i]);
	svc_int_kafka_properties_free(svc);
	http_auth_free(svc->auth);
	if (def->settings)
		core_settings_free(def->settings, svc->service_settings);
	core_settings_free(svc->common_rows, &svc->settings);
	free(svc->service_settings);
	svc_tasks_destroy(svc);
	free(svc);
	return status;
}
