/* Extra librdkafka properties from the deployment (struct bus_config.properties), so
 * a managed Kafka (SASL, TLS, client quotas...) works without code: they are applied
 * to every client after what Lathe sets, and checked up front by
 * bus_properties_check, so a typo stops the daemon at start-up naming the property
 * instead of surfacing as a connection that never succeeds.
 *
 * The check applies them to a scratch configuration and makes a client of it that
 * knows no broker, because librdkafka checks some values (sasl.mechanisms, TLS files)
 * only then.
 *
 * Lathe keeps the properties its guarantees rest on (idempotence, acks, manual
 * commits, the partitioner) and those with a setting of their own (brokers, group,
 * timeouts): setting them here is refused. Values of properties that look secret
 * (password, secret, private key, OAuth config) are never repeated in messages.
 * Entry points: bus_properties_check, bus_int_conf_apply, bus_int_sensitive. */
#include <string.h>
#include "bus_int.h"

/* Set by Lathe itself; the reason is what the message says. */
static const struct {
	const char *name;
	const char *why;
} reserved[] = {
	{"bootstrap.servers", "use KAFKA_BROKERS"},
	{"metadata.broker.list", "use KAFKA_BROKERS"},
	{"group.id", "each consumer names its group"},
	{"enable.idempotence", "Lathe's ordering guarantee needs it true"},
	{"acks", "Lathe's durability guarantee needs acks=all"},
	{"request.required.acks", "Lathe's durability guarantee needs acks=all"},
	{"partitioner", "keys must hash as Java clients do (murmur2_random)"},
	{"enable.auto.commit", "consumers commit after the work is durable"},
	{"enable.auto.offset.store", "consumers commit after the work is durable"},
	{"message.timeout.ms", "use KAFKA_MESSAGE_TIMEOUT_MS"},
	{"session.timeout.ms", "use KAFKA_SESSION_TIMEOUT_MS"},
	{"heartbeat.interval.ms", "derived from KAFKA_SESSION_TIMEOUT_MS"},
	{"auto.offset.reset", "a new group starts at the earliest offset"},
	{"fetch.wait.max.ms", "each consumer sets it"},
	{"max.poll.interval.ms", "each consumer sets it"},
};

bool bus_int_sensitive(const char *name)
{
	return strstr(name, "password") || strstr(name, "secret") || strstr(name, ".key") ||
	       strstr(name, "oauthbearer.config") || strstr(name, "jaas");
}

/* Splits "name=value" into name (copied into buf) and value; false when malformed. */
static bool split(const char *entry, char *name, size_t name_size, const char **value)
{
	const char *eq = strchr(entry, '=');
	if (!eq || eq == entry || (size_t)(eq - entry) >= name_size)
		return false;
	memcpy(name, entry, (size_t)(eq - entry));
	name[eq - entry] = '\0';
	*value = eq + 1;
	return true;
}

bool bus_int_conf_apply(rd_kafka_conf_t *conf, const char *const *properties, struct core_error *err)
{
	for (size_t i = 0; properties && properties[i]; i++) {
		char name[256];
		const char *value;
		if (!split(properties[i], name, sizeof name, &value)) {
			core_fail(err, CORE_EINVAL, "kafka property '%.200s' is not name=value", properties[i]);
			return false;
		}
		for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++)
			if (strcmp(name, reserved[r].name) == 0) {
				core_fail(err, CORE_EINVAL, "kafka property %s cannot be set here: %s", name,
					  reserved[r].why);
				return false;
			}
		if (!bus_int_conf_set(conf, name, value, err))
			return false;
	}
	return true;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk, (void)level, (void)fac, (void)buf; /* "no bootstrap.servers" and such */
}

enum core_status bus_properties_check(const char *const *properties, struct core_error *err)
{
	char why[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (!bus_int_conf_apply(conf, properties, err)) {
		rd_kafka_conf_destroy(conf);
		return CORE_EINVAL;
	}
	/* Some values are only checked when a client is made (sasl.mechanisms against
	 * security.protocol, ssl.ca.location's file): make one that talks to nobody. */
	rd_kafka_conf_set_log_cb(conf, quiet_log);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return core_fail(err, CORE_EINVAL, "kafka properties refused: %s", why);
	}
	rd_kafka_destroy(rk);
	return CORE_OK;
}
