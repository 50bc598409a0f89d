/* What every Lathe Kafka client configures the same way, producer or consumer:
 * bootstrap list, client id, a short reconnect backoff (so a restarted broker is found
 * again within about a second), and librdkafka's log lines and error events routed to
 * core_log as JSON lines.
 *
 * Log levels: librdkafka reports an unreachable broker at syslog level 3 (err). For
 * Lathe an "error" line means our own fault (tests fail on unexpected ones), and a
 * broker that is down is the environment's, so levels 0-4 become "warn", 5-6 "info",
 * 7 "debug". Only a fatal client error (the handle is unusable) is logged as "error".
 * The log callback runs on librdkafka's internal threads; core_log is thread-safe.
 * The deployment's own properties (cfg->properties, properties.c) come last, so
 * client.id and the like can be overridden.
 * Entry points: bus_int_conf_new, bus_int_conf_set, bus_int_conf_set_int. */
#include <stdio.h>
#include <string.h>
#include "bus_int.h"
#include "core/log.h"

static void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	enum core_log_level lv = CORE_LOG_DEBUG;
	if (level <= 4)
		lv = CORE_LOG_WARN;
	else if (level <= 6)
		lv = CORE_LOG_INFO;
	if (!core_log_enabled(lv))
		return;
	struct core_log_field f[] = {CORE_LF_STR("kafka_client", rd_kafka_name(rk)),
				     CORE_LF_STR("kafka_facility", fac)};
	core_log_with(lv, f, 2, "kafka: %s", buf);
}

static void kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)opaque;
	struct core_log_field f[] = {CORE_LF_STR("kafka_client", rd_kafka_name(rk)),
				     CORE_LF_STR("kafka_error", rd_kafka_err2name((rd_kafka_resp_err_t)err))};
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[512];
		rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
		core_log_with(CORE_LOG_ERROR, f, 2, "kafka: fatal client error (%s): %s", rd_kafka_err2name(orig), why);
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__TRANSPORT)
		return; /* the log callback already said it (facility FAIL) */
	core_log_with(CORE_LOG_WARN, f, 2, "kafka: %s", reason);
}

bool bus_int_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, struct core_error *err)
{
	char why[512];
	if (rd_kafka_conf_set(conf, name, value, why, sizeof why) == RD_KAFKA_CONF_OK)
		return true;
	if (bus_int_sensitive(name))
		core_fail(err, CORE_EINVAL, "kafka property %s (value not shown): %s", name, why);
	else
		core_fail(err, CORE_EINVAL, "kafka property %s=%s: %s", name, value, why);
	return false;
}

bool bus_int_conf_set_int(rd_kafka_conf_t *conf, const char *name, long value, struct core_error *err)
{
	char text[32];
	snprintf(text, sizeof text, "%ld", value);
	return bus_int_conf_set(conf, name, text, err);
}

rd_kafka_conf_t *bus_int_conf_new(const struct bus_config *cfg, struct core_error *err)
{
	if (!cfg || !cfg->brokers || !*cfg->brokers) {
		core_fail(err, CORE_EINVAL, "kafka: no bootstrap brokers given");
		return NULL;
	}
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (!bus_int_conf_set(conf, "bootstrap.servers", cfg->brokers, err) ||
	    !bus_int_conf_set(conf, "client.id", cfg->client_id && *cfg->client_id ? cfg->client_id : "lathe", err) ||
	    !bus_int_conf_set(conf, "reconnect.backoff.max.ms", "1000", err) ||
	    !bus_int_conf_set(conf, "log.connection.close", "false", err) ||
	    !bus_int_conf_apply(conf, cfg->properties, err)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, kafka_log);
	rd_kafka_conf_set_error_cb(conf, kafka_error);
	return conf;
}
