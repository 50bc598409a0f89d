/* Private declarations shared by the bus library's files (never included from outside
 * libs/bus). kafka.c holds what the producer and the consumer configure alike;
 * producer.c exposes the one setting the relay needs; the build embeds the outbox's
 * migrations. */
#ifndef BUS_INT_H
#define BUS_INT_H
#include <librdkafka/rdkafka.h>
#include "bus/bus.h"
#include "core/embed.h"

/* Defaults for the zero values of struct bus_config. */
#define BUS_DEFAULT_MESSAGE_TIMEOUT_MS   30000
#define BUS_DEFAULT_SESSION_TIMEOUT_MS   45000
#define BUS_DEFAULT_FETCH_WAIT_MAX_MS    100
#define BUS_DEFAULT_MAX_POLL_INTERVAL_MS 300000

/* Returns a new librdkafka configuration holding what every Lathe client sets:
 * bootstrap.servers, client.id, reconnect.backoff.max.ms=1000, the log and error
 * callbacks that route librdkafka's messages to core_log, then cfg->properties. Returns NULL (err set) when
 * cfg is unusable. The caller owns the result (rd_kafka_conf_destroy, or rd_kafka_new
 * takes it). */
rd_kafka_conf_t *bus_int_conf_new(const struct bus_config *cfg, struct core_error *err);

/* Sets one property; on failure formats err and returns false. */
bool bus_int_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, struct core_error *err);

/* properties.c: applies "name=value" entries (NULL-terminated; NULL: none) to conf,
 * refusing the properties Lathe sets itself; on failure formats err naming the entry
 * and returns false. */
bool bus_int_conf_apply(rd_kafka_conf_t *conf, const char *const *properties, struct core_error *err);

/* Whether a property's value must not appear in messages (passwords, keys...). */
bool bus_int_sensitive(const char *name);

/* Like bus_int_conf_set for an integer value. */
bool bus_int_conf_set_int(rd_kafka_conf_t *conf, const char *name, long value, struct core_error *err);

/* The producer's message.timeout.ms: how long a delivery report can take at most
 * (plus librdkafka's one-second timeout scan). */
int bus_int_producer_timeout_ms(const struct bus_producer *p);

/* The files of libs/bus/migrations, embedded by the build (tools/embed). */
extern const struct core_embedded_file bus_migrations[];
#endif
