/* Internals shared by the svc library's files; never included from outside it. */
#ifndef SVC_INT_H
#define SVC_INT_H
#include <pthread.h>
#include <stdatomic.h>
#include "svc/svc.h"

#define SVC_MAX_SETTING_ROWS 32
#define SVC_MAX_ROUTES       256

struct svc {
	const struct svc_def *def;
	struct svc_settings settings;
	struct core_setting common_rows[SVC_MAX_SETTING_ROWS];
	char port_default[16];
	void *service_settings; /* owned; filled by def->settings */
	void *app;              /* owned by the service (def->stop frees it) */
	struct metrics_registry *metrics;
	struct metrics_family *ready_gauge;
	struct db_pool *db;
	struct db_pool *ready_db; /* one connection, /readyz's alone (health.c) */
	struct bus_producer *bus;
	struct bus_relay *relay;
	struct http_server *http;
	struct http_auth *auth; /* owned token store; NULL when AUTH is off */
	struct http_route routes[SVC_MAX_ROUTES];
	char *twin_patterns[SVC_MAX_ROUTES]; /* owned: the /ajax-api/ patterns made */
	size_t n_twin_patterns;
	/* SVC_STARTING until migrated and the tasks run, then SVC_READY, SVC_STOPPING from
	 * the shutdown signal on (what /readyz reports). */
	atomic_int phase;
	atomic_bool migrated; /* the schema is applied: domain routes may run */
	/* shutdown request for the tasks: stopping is set once, under stop_mu, with
	 * stop_cv broadcast, so svc_sleep wakes at once */
	atomic_bool stopping;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	struct svc_task *tasks; /* owned: consumers, workers, periodic tasks (tasks.c) */
	size_t n_tasks;
	atomic_bool consumer_failed; /* a consumer hit a fatal Kafka error: not ready */
	char **kafka_properties;     /* owned, NULL-terminated "name=value" (kafka_config.c) */
	size_t n_kafka_properties;
};

enum { SVC_STARTING, SVC_READY, SVC_STOPPING };

/* tasks.c: the consumers, workers and periodic tasks of def. */

/* How many consumers, workers and periodic tasks def declares (each may hold a pooled
 * connection, so the pool has room for them). */
size_t svc_tasks_count(const struct svc_def *def);

/* Initialises the stop request (svc_main, before anything else uses svc). */
void svc_tasks_init(struct svc *svc);

/* Creates the consumers and starts one thread per consumer, worker and periodic task.
 * On failure the ones already started keep running until svc_tasks_stop. Returns
 * CORE_OK, or CORE_EINVAL/CORE_EIO with err set. */
enum core_status svc_tasks_start(struct svc *svc, struct core_error *err);

/* Sets svc_stopping, waits for every task thread (a consumer finishes or hands back
 * the message in hand, and commits), then closes the consumers (leaving their groups)
 * and frees the tasks. Safe to call when nothing was started, and more than once. */
void svc_tasks_stop(struct svc *svc);

/* Undoes svc_tasks_init (svc_main, last). */
void svc_tasks_destroy(struct svc *svc);

/* Fills rows (capacity n_rows, ending with a zero row) with the common settings for
 * def; port_text holds the PORT default's text and must live as long as rows. */
void svc_common_settings(const struct svc_def *def, struct core_setting *rows, size_t n_rows, char *port_text,
			 size_t port_text_size);

/* The standard routes (/healthz, /readyz, /metrics), ending with pattern == NULL. */
extern const struct http_route svc_standard_routes[];

/* version.c: --version's line; the lathe_build_info gauge and the process_* metrics
 * on reg; the "starting" log line naming version and commit. */
void svc_int_print_version(const struct svc_def *def);
void svc_int_build_metrics(struct metrics_registry *reg);
void svc_int_log_version(void);

/* kafka_config.c: collects KAFKA_PROPERTIES and KAFKA_PROPERTY_<NAME> into
 * svc->kafka_properties and checks them; CORE_EINVAL (err names the property) when
 * one is malformed or librdkafka refuses it. _free releases them. */
enum core_status svc_int_kafka_properties(struct svc *svc, struct core_error *err);
void svc_int_kafka_properties_free(struct svc *svc);

/* openapi.c: GET /openapi.json, served when def->openapi is set. */
extern const struct http_route svc_int_openapi_route;
#endif
