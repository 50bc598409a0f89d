/* svc: the life of a Lathe daemon, written once. A service describes itself in a
 * struct svc_def (name, port, schema, migrations, routes, its own settings, start and
 * stop hooks, Kafka consumers, background workers, periodic tasks, a readiness hook)
 * and its main() is `return svc_main(&def, argc, argv);`. svc_main then:
 *
 *   settings -> logging -> metrics, db pool, Kafka producer -> service start hook
 *   -> HTTP server (standard routes + the service's) -> migrations, retried until the
 *   database answers -> outbox relay -> consumers, workers, periodic tasks -> READY
 *   -> wait for SIGTERM/SIGINT
 *   -> not ready -> stop taking new work (consumers stop polling, workers and periodic
 *   tasks see svc_stopping) -> the item in hand is finished (offset committed) or
 *   handed back (BUS_RETRY: not committed) -> consumers leave their groups -> drain
 *   HTTP -> stop relay -> service stop hook -> flush producer -> close pool -> exit 0
 *
 * So consumers, workers and periodic tasks never run against an unmigrated schema, and
 * nothing they use (pool, producer, service state) is freed before they have returned.
 *
 * Every daemon serves GET /healthz (the process is alive), GET /readyz, GET /metrics
 * (Prometheus text: the service's own, lathe_build_info and process_*) and, when its
 * def names one, GET /openapi.json (its OpenAPI document). /readyz answers 200 only when migrations are done, the tasks
 * run, the database answers now, Kafka answers now if the service declares consumers (a service that only produces,
 * through the outbox or directly, stays ready while Kafka is down: its outbox waits, see the gauge
 * lathe_outbox_backlog), and the service's not_ready hook has no objection; else 503 naming the reason. The HTTP server
 * starts before the database is reached so that orchestrators see a live process that is not ready yet, rather than a
 * crash loop.
 *
 * Handlers receive the struct svc * as their `app` argument; svc_app() gives the
 * service's own state. */
#ifndef SVC_SVC_H
#define SVC_SVC_H
#include <stdbool.h>
#include "bus/bus.h"
#include "core/core.h"
#include "db/db.h"
#include "http/http.h"
#include "metrics/metrics.h"

/* Settings every daemon has (the common rows of its settings table). */
struct svc_settings {
	long port;
	char *bind_address;
	char *allowed_hosts; /* ALLOWED_HOSTS, NULL when unset (http_server_config.allowed_hosts) */
	char *database_url;
	long db_statement_timeout_ms; /* DB_STATEMENT_TIMEOUT_MS; 0: none */
	long search_page_max_bytes;   /* SEARCH_PAGE_MAX_BYTES: a search page's byte budget */
	char *kafka_brokers;
	enum core_log_level log_level;
	long http_threads;
	long http_max_connections;   /* http_server_config.max_connections */
	long http_poll_threads;      /* -1: the service's (svc_def.http_poll_threads); else poll_threads */
	long http_body_budget_bytes; /* http_server_config.body_budget */
	long max_body_bytes;
	long drain_timeout_ms;
	long kafka_session_timeout_ms;
	long kafka_message_timeout_ms;
	long outbox_poll_ms;
	char *kafka_properties; /* KAFKA_PROPERTIES as given (see svc_bus_config) */
	char *auth;             /* AUTH: "on", "off", or NULL (off on loopback only) */
	char *auth_tokens_file; /* AUTH_TOKENS_FILE, NULL when unset */
};

struct svc;

/* A Kafka consumer svc runs for the service: one group member with its own thread,
 * polling from after migrations until shutdown (libs/bus's consumer: at least once,
 * offsets committed synchronously after each message, or after each batch for a
 * consumer with handle_batch). */
struct svc_consumer_def {
	const char *group_id;  /* NULL ends the service's array */
	const char *topics[8]; /* one to seven, then NULL */
	/* The group from the service's state, asked once when the consumer starts (after
	 * the start hook); NULL: group_id is the group. For a consumer in a group of its
	 * own per process, so that every replica sees every message (the inference API's
	 * models.events: "inference-api-<host>-<pid>"); group_id then names it in logs and
	 * still ends the array. The string must stay valid while the daemon runs. */
	const char *(*group_id_of)(const void *app);
	/* Called once per message on the consumer's thread; m is valid during the call.
	 * Return BUS_HANDLED only once the work is durable (the offset is committed after
	 * the return), BUS_RETRY to get the message again after a pause. A handler that
	 * runs long watches svc_stopping() and then returns BUS_RETRY, handing the message
	 * back (it goes to whoever owns the partition next). Must be idempotent. */
	enum bus_handled (*handle)(struct svc *svc, void *app, const struct bus_message *m);
	/* Instead of handle (give one of the two): called once per batch of 1 to batch_max
	 * messages (bus_consumer_new_batch: in offset order within a partition; ms valid
	 * during the call), for a consumer that makes its work durable per batch. The
	 * answer is for the whole batch: BUS_HANDLED commits every message's offset, and
	 * BUS_RETRY hands them all back; once shutdown began a batch is handed back
	 * without a call. Must be idempotent, as handle. */
	enum bus_handled (*handle_batch)(struct svc *svc, void *app, const struct bus_message *ms, size_t n);
	size_t batch_max;  /* handle_batch: most messages per call, up to BUS_BATCH_MAX; 0: 1000 */
	int batch_wait_ms; /* handle_batch: how long a batch may wait for more messages after
			    * its first arrived, up to BUS_BATCH_WAIT_MAX_MS (shutdown may wait
			    * it out too); 0: only what has already been fetched */
};

/* A long-running loop (a trainer's job runner) on its own thread, from after
 * migrations until it returns. It must return soon after svc_stopping() turns true;
 * svc_sleep() waits in a way that wakes at once on shutdown. Shutdown waits for it. */
struct svc_worker_def {
	const char *name; /* for logs; NULL ends the service's array */
	void (*run)(struct svc *svc, void *app);
};

/* A function run every every_ms milliseconds (a drift window closing), on its own
 * thread: first every_ms after the tasks start, then every_ms after each run ended
 * (runs never overlap or queue up). Shutdown waits for a run in progress (which may
 * watch svc_stopping()). */
struct svc_periodic_def {
	const char *name; /* for logs; NULL ends the service's array */
	long every_ms;    /* > 0, unless every_ms_of gives the period */
	/* The period from the service's own state (a setting), asked once when the tasks
	 * start; <= 0 leaves the task off. May be NULL (every_ms is the period). */
	long (*every_ms_of)(const void *app);
	void (*run)(struct svc *svc, void *app);
};

struct svc_def {
	/* "experiment-tracker": the binary is lathe-<name>, and the "service" member of
	 * every log line (the name the service is deployed under) */
	const char *name;
	const char *summary; /* one line for --help */
	unsigned default_port;
	const char *schema;                          /* PostgreSQL schema it owns; NULL: no database */
	const struct core_embedded_file *migrations; /* the service's own, may be NULL */
	/* Its OpenAPI document (JSON), served at GET /openapi.json; NULL: no such route.
	 * The build embeds proto/openapi/<name>.yaml as svc_openapi[0]. */
	const struct core_embedded_file *openapi;
	bool uses_outbox; /* migrate the outbox into the schema and relay it */
	/* Domain route tables (each ending with pattern == NULL); the list ends with NULL,
	 * so a service can keep one table per resource file. */
	const struct http_route *routes[8];
	/* Serve every /api/2.0/... route at /ajax-api/2.0/... too, as MLflow does. */
	bool ajax_twins;
	enum http_error_code content_type_error; /* see http_server_config */
	const struct core_setting *settings;     /* service-specific rows, may be NULL */
	size_t settings_size;                    /* sizeof the struct those rows fill */
	/* Error shapes by path prefix (the inference API's /v2/ answers OIP errors); see
	 * http_server_config. May be NULL. */
	const struct http_error_prefix *error_prefixes;
	/* http_server_config.poll_threads unless HTTP_POLL_THREADS says otherwise: 0 (a
	 * thread per connection) for services whose handlers wait on the database. */
	unsigned http_poll_threads;
	/* Builds the service's state (*app_out) from its settings (which svc keeps and
	 * frees). Runs before the HTTP server starts; the database may still be down. */
	enum core_status (*start)(struct svc *svc, void *settings, void **app_out, struct core_error *err);
	/* Frees the state after the HTTP server has drained. May be NULL. */
	void (*stop)(struct svc *svc, void *app);
	/* Started after migrations (and the outbox relay), before READY; stopped first on
	 * shutdown. Each may be NULL, or an array ending with a zeroed entry. */
	const struct svc_consumer_def *consumers;
	const struct svc_worker_def *workers;
	const struct svc_periodic_def *periodic;
	/* Readiness that only the service can judge (its models are loaded): returns a
	 * static reason while the daemon must not get traffic, NULL when ready. Called by
	 * /readyz on an HTTP thread, only once READY and the database (and Kafka, for
	 * consumers) answered; must be quick and thread-safe. May be NULL. */
	const char *(*not_ready)(struct svc *svc, void *app);
};

/* Runs the daemon to completion and returns the process exit status: 0 after a clean
 * shutdown, 2 on bad settings or arguments, 1 when start-up failed. Arguments:
 * --help, --version (version and git commit), --settings-markdown (the README's
 * settings rows), --routes (every "METHOD PATTERN" served, for the contract tests). */
int svc_main(const struct svc_def *def, int argc, char **argv);

/* Accessors for handlers (all borrowed; valid while the daemon runs). */
void *svc_app(struct svc *svc);
const struct svc_settings *svc_settings(struct svc *svc);
struct db_pool *svc_db(struct svc *svc); /* NULL when def->schema is NULL */
struct bus_producer *svc_bus(struct svc *svc);
struct metrics_registry *svc_metrics(struct svc *svc);

/* Fills *out for a Kafka producer or consumer of this daemon: KAFKA_BROKERS, the
 * service's name as client.id, the timeouts, and the deployment's librdkafka
 * properties (KAFKA_PROPERTIES and KAFKA_PROPERTY_<NAME>, checked at start-up). The
 * pointers are borrowed from svc (valid while the daemon runs); every client the
 * daemon makes should start from this. */
void svc_bus_config(struct svc *svc, struct bus_config *out);

/* Whether the daemon is shutting down (SIGTERM came, or start-up failed after the
 * tasks started): workers, periodic tasks and long consumer handlers watch it and wrap
 * up. Thread-safe; once true it stays true. */
bool svc_stopping(struct svc *svc);

/* Sleeps up to ms milliseconds, returning early when shutdown begins. Returns
 * svc_stopping(svc): true means "stop now". Thread-safe. */
bool svc_sleep(struct svc *svc, long ms);

/* Every method: for route-table rows that take them all. */
#define SVC_ALL_METHODS (HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_DELETE | HTTP_PATCH)

/* Handler for routes whose service part is not built yet: answers 501
 * NOT_IMPLEMENTED naming the path, so nothing pretends to work. */
void svc_h_not_implemented(struct http_request *req, void *app);

/* Replies for a failed database call (rc < 0 from db_*): 503 TEMPORARILY_UNAVAILABLE
 * when the database is unreachable or contended, or when the query ran past
 * DB_STATEMENT_TIMEOUT_MS (DB_TIMEOUT: "the query took too long ..."), 500
 * INTERNAL_ERROR otherwise.
 * DB_CONSTRAINT is the handler's to map before calling this (it answers 500 here).
 * The reply says only "database unavailable, retry later" or "database error"; the
 * cause (err's message, or the status's name when err is NULL or empty) goes to the
 * log line with the request id, as it names the database's host and port. */
int svc_reply_db_error(struct http_request *req, int rc, const struct core_error *err);

/* --- keyset pages of the /v1/ listings (paging.c) --------------------------------- */

#define SVC_PAGE_DEFAULT 100 /* max_results when absent */
#define SVC_PAGE_MAX     1000
#define SVC_PAGE_ID_LEN  32 /* the rows' ids: uuid hex, lower case */

/* A page's position: newest first by (created_at, id); after_id NULL on the first page. */
struct svc_page {
	long limit; /* max_results: 1..SVC_PAGE_MAX, default SVC_PAGE_DEFAULT */
	int64_t after_created;
	char after_id_buf[SVC_PAGE_ID_LEN + 1];
	const char *after_id; /* after_id_buf, or NULL */
};
/* Reads max_results and page_token (either may be NULL or "") into *out. CORE_OK or
 * CORE_EINVAL naming the parameter (MLflow's words: "Invalid value '...' for parameter
 * 'max_results': ..."). */
enum core_status svc_page_parse(const char *max_results, const char *page_token, struct svc_page *out,
				struct core_error *err);
/* The token naming the row (created_at text, id) as the last one handed out: malloc'd. */
char *svc_page_token(const char *created_at, const char *id);
/* A Unix-ms query parameter (since=): an integer >= 0. CORE_OK or CORE_EINVAL naming
 * the parameter. */
enum core_status svc_ms_param(const char *name, const char *text, int64_t *out, struct core_error *err);

/* --- transactions that answer for themselves (tx_reply.c) ------------------------ */

/* What a transaction body found wrong with the client's request. The message holds
 * MLflow's longest (a changed param quotes a 250-character key and two 300-character
 * values) whole. */
struct svc_fail {
	enum http_error_code code; /* HTTP_EC_NONE: nothing the client did wrong */
	char message[2048];
};

/* Records the client's mistake in f and returns DB_ROLLBACK, so a transaction body can
 * `return svc_fail(f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Run '%s' not found", id);`:
 * db_run_tx rolls back, retries nothing and logs nothing. */
int svc_fail(struct svc_fail *f, enum http_error_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Answers a failed transaction (rc < 0; rc >= 0 is taken as DB_HARD_ERROR): f's client
 * error when f is set, else svc_reply_db_error(rc, err). f may be NULL. Returns what
 * the reply function returned. */
int svc_reply_tx(struct http_request *req, int rc, const struct svc_fail *f, const struct core_error *err);

/* Runs fn in db_run_tx on the service's pool, with f cleared first (fn's cls usually
 * points at f too). When the transaction fails, answers the client (svc_reply_tx) and
 * returns the negative status: the handler then only returns. When it succeeds,
 * returns fn's result and has replied nothing: the handler answers. */
int svc_run_tx_or_reply(struct http_request *req, struct svc *svc, const char *name, enum db_isolation iso, db_tx_fn fn,
			void *cls, struct svc_fail *f);

/* --- blob garbage collection against the service's references (blob_gc.c) -------- */

struct blob_store;
struct blob_gc_stats;
/* Sets referenced[i] for each of keys[0..n) the service's tables still name, inside
 * the transaction c is in (referenced starts all false). Returns < 0 (a db status)
 * when a query failed, else >= 0. */
typedef int (*svc_gc_refs_fn)(struct db_conn *c, const char *const *keys, size_t n, bool *referenced,
			      struct core_error *err);
struct svc_gc {
	const char *tx_name; /* the reference transaction's name in logs and metrics */
	svc_gc_refs_fn refs;
	long grace_s, tmp_age_s; /* as in struct blob_gc_options */
	bool dry_run;
};
/* Runs libs/blob's blob_gc on store with refs asked one batch at a time, each batch in
 * its own short READ COMMITTED transaction on the service's pool (so a collection holds
 * no transaction open while it walks the disk), stopping early when the daemon is
 * stopping. On failure *db_rc is the failed transaction's status (< 0) when the
 * database failed, else 0 (the store failed). */
enum core_status svc_blob_gc(struct svc *svc, struct blob_store *store, const struct svc_gc *g,
			     struct blob_gc_stats *st, int *db_rc, struct core_error *err);
#endif
