/* Internals shared by the svc library's files; never included from outside it. */
#ifndef SVC_INT_H
#define SVC_INT_H
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
	struct bus_producer *bus;
	struct bus_relay *relay;
	struct http_server *http;
	struct http_route routes[SVC_MAX_ROUTES];
	char *twin_patterns[SVC_MAX_ROUTES]; /* owned: the /ajax-api/ patterns made */
	size_t n_twin_patterns;
	atomic_bool migrated; /* set once the schema is up to date */
};

/* Fills rows (capacity n_rows, ending with a zero row) with the common settings for
 * def; port_text holds the PORT default's text and must live as long as rows. */
void svc_common_settings(const struct svc_def *def, struct core_setting *rows, size_t n_rows, char *port_text,
			 size_t port_text_size);

/* The standard routes (/healthz, /readyz, /metrics), ending with pattern == NULL. */
extern const struct http_route svc_standard_routes[];
#endif
