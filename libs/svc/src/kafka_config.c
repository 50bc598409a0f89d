/* The Kafka client configuration of a daemon: brokers, client id and timeouts from the
 * common settings, plus the deployment's librdkafka properties, so a managed Kafka
 * (SASL/TLS) needs settings only:
 *
 *   KAFKA_PROPERTIES="security.protocol=SASL_SSL;sasl.mechanisms=PLAIN"
 *   KAFKA_PROPERTY_SASL_PASSWORD=...      (one property; NAME upper-cased, '.' as '_')
 *
 * KAFKA_PROPERTIES holds "name=value" entries separated by ';' or newlines (blank
 * entries, lines starting with '#' and spaces around names and values ignored). A
 * KAFKA_PROPERTY_<NAME> variable carries one value verbatim, so it may hold ';' (and
 * suits a Kubernetes secretKeyRef); it wins over the same name in KAFKA_PROPERTIES.
 * They are checked at start-up (bus_properties_check): a bad one is a settings error
 * (exit 2) naming it. svc_bus_config hands them to every producer and consumer. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "svc_int.h"

extern char **environ;

#define PROPERTY_PREFIX "KAFKA_PROPERTY_"

static void add(struct svc *svc, char *entry)
{
	size_t n = svc->n_kafka_properties;
	svc->kafka_properties = core_xrealloc(svc->kafka_properties, (n + 2) * sizeof *svc->kafka_properties);
	svc->kafka_properties[n] = entry;
	svc->kafka_properties[n + 1] = NULL;
	svc->n_kafka_properties = n + 1;
}

/* Copies s[0, len) without the spaces around it. */
static char *trimmed(const char *s, size_t len)
{
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return core_xstrndup(s, len);
}

/* Adds "name=value" from one KAFKA_PROPERTIES entry, trimming both sides. */
static enum core_status add_entry(struct svc *svc, const char *s, size_t len, struct core_error *err)
{
	char *entry = trimmed(s, len);
	enum core_status rc = CORE_OK;
	if (!*entry || *entry == '#') {
		free(entry);
		return CORE_OK;
	}
	char *eq = strchr(entry, '=');
	if (!eq || eq == entry) {
		rc = core_fail(err, CORE_EINVAL, "KAFKA_PROPERTIES: '%.100s' is not name=value", entry);
		free(entry);
		return rc;
	}
	char *name = trimmed(entry, (size_t)(eq - entry));
	char *value = trimmed(eq + 1, strlen(eq + 1));
	add(svc, core_xasprintf("%s=%s", name, value));
	free(name);
	free(value);
	free(entry);
	return CORE_OK;
}

enum core_status svc_int_kafka_properties(struct svc *svc, struct core_error *err)
{
	const char *text = svc->settings.kafka_properties;
	while (text && *text) {
		size_t len = strcspn(text, ";\n");
		if (add_entry(svc, text, len, err) != CORE_OK)
			return CORE_EINVAL;
		text += len;
		if (*text)
			text++;
	}
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, PROPERTY_PREFIX, strlen(PROPERTY_PREFIX)) != 0)
			continue;
		const char *var = *e + strlen(PROPERTY_PREFIX);
		const char *eq = strchr(var, '=');
		if (!eq || eq == var)
			return core_fail(err, CORE_EINVAL, "%s names no property", PROPERTY_PREFIX);
		char *entry = core_xasprintf("%s", var);
		for (char *c = entry; *c != '='; c++)
			*c = *c == '_' ? '.' : (char)tolower((unsigned char)*c);
		add(svc, entry);
	}
	if (bus_properties_check((const char *const *)svc->kafka_properties, err) != CORE_OK)
		return CORE_EINVAL;
	return CORE_OK;
}

void svc_int_kafka_properties_free(struct svc *svc)
{
	for (size_t i = 0; i < svc->n_kafka_properties; i++)
		free(svc->kafka_properties[i]);
	free(svc->kafka_properties);
	svc->kafka_properties = NULL;
	svc->n_kafka_properties = 0;
}

void svc_bus_config(struct svc *svc, struct bus_config *out)
{
	const struct svc_settings *s = &svc->settings;
	memset(out, 0, sizeof *out);
	out->brokers = s->kafka_brokers;
	out->client_id = svc->def->name;
	out->message_timeout_ms = (int)s->kafka_message_timeout_ms;
	out->session_timeout_ms = (int)s->kafka_session_timeout_ms;
	out->properties = (const char *const *)svc->kafka_properties;
}
