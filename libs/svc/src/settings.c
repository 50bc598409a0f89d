/* The settings rows every daemon shares. The PORT row's default differs per service,
 * so the table is copied and that one default filled in from the service's def. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "svc_int.h"

static const struct core_setting common_rows[] = {
	{"PORT", CORE_SETTING_INT, offsetof(struct svc_settings, port), NULL, false, 1, 65535,
	 "TCP port of the HTTP server"},
	{"BIND_ADDRESS", CORE_SETTING_STRING, offsetof(struct svc_settings, bind_address), "127.0.0.1", false, 0, 0,
	 "address the HTTP server listens on (0.0.0.0 in containers)"},
	{"ALLOWED_HOSTS", CORE_SETTING_STRING, offsetof(struct svc_settings, allowed_hosts), NULL, false, 0, 0,
	 "Host names the HTTP server answers, comma-separated, ports ignored; * for any; unset: only loopback names "
	 "(localhost, 127.0.0.0/8, [::1]) when BIND_ADDRESS is a loopback address, else any; another Host gets 400 "
	 "(guards a local stack against DNS rebinding)"},
	{"AUTH", CORE_SETTING_STRING, offsetof(struct svc_settings, auth), NULL, false, 0, 0,
	 "on: every request but /healthz, /readyz, /metrics and /openapi.json needs a token from AUTH_TOKENS_FILE "
	 "(Bearer, or Basic with the token's name as user; read, write or admin scope); off: none does; unset: off "
	 "when BIND_ADDRESS is a loopback address, else the daemon refuses to start (libs/http/README.md)"},
	{"AUTH_TOKENS_FILE", CORE_SETTING_STRING, offsetof(struct svc_settings, auth_tokens_file), NULL, false, 0, 0,
	 "the token file with AUTH=on: lines '<name> <scope> <sha256-hex of the secret>' (tools/lathe-token "
	 "new/revoke); re-read within a second of a change, no restart"},
	{"DATABASE_URL", CORE_SETTING_STRING, offsetof(struct svc_settings, database_url), NULL, true, 0, 0,
	 "PostgreSQL connection URI (libpq form), e.g. postgresql://lathe@127.0.0.1:5432/lathe"},
	{"DB_STATEMENT_TIMEOUT_MS", CORE_SETTING_INT, offsetof(struct svc_settings, db_statement_timeout_ms), "30000",
	 false, 0, 3600000,
	 "longest a database statement may run before PostgreSQL cancels it (the request gets 503); 0: no limit"},
	{"SEARCH_PAGE_MAX_BYTES", CORE_SETTING_INT, offsetof(struct svc_settings, search_page_max_bytes), "4194304",
	 false, 65536, 1073741824,
	 "byte budget of one search reply page: past it the page stops early with a next_page_token (it always holds "
	 "at least one row)"},
	{"KAFKA_BROKERS", CORE_SETTING_STRING, offsetof(struct svc_settings, kafka_brokers), NULL, true, 0, 0,
	 "Kafka bootstrap servers, host:port[,host:port...]"},
	{"LOG_LEVEL", CORE_SETTING_LOG_LEVEL, offsetof(struct svc_settings, log_level), "info", false, 0, 0,
	 "lowest level logged: debug, info, warn or error"},
	{"HTTP_THREADS", CORE_SETTING_INT, offsetof(struct svc_settings, http_threads), "4", false, 1, 256,
	 "HTTP workers: request handlers run at once, the others wait their turn (up to 30 s, then 503); /healthz, "
	 "/readyz and /metrics never wait; the database pool holds this many connections plus two (one is the "
	 "readiness probe's own), plus one per consumer, worker and periodic task"},
	{"HTTP_POLL_THREADS", CORE_SETTING_INT, offsetof(struct svc_settings, http_poll_threads), "-1", false, -1, 256,
	 "-1: the service's own choice (a thread per connection; the inference API: 2 poll threads); 0: a thread per "
	 "connection, for handlers that wait on the database; N: N poll threads share every connection, for quick "
	 "handlers (no thread switch per request, little memory per connection)"},
	{"HTTP_MAX_CONNECTIONS", CORE_SETTING_INT, offsetof(struct svc_settings, http_max_connections), "256", false, 4,
	 100000,
	 "HTTP connections open at once (with a thread per connection, each has one); beyond it new connections are "
	 "closed at once, counted "
	 "in lathe_http_refused_total{reason=\"connection_limit\"}"},
	{"HTTP_BODY_BUDGET_BYTES", CORE_SETTING_INT, offsetof(struct svc_settings, http_body_budget_bytes), "67108864",
	 false, 1048576, 68719476736,
	 "bytes of request bodies buffered at once across all requests (streamed artifact uploads do not count); a "
	 "body that does not fit gets 503 with Retry-After, unread"},
	{"MAX_BODY_BYTES", CORE_SETTING_INT, offsetof(struct svc_settings, max_body_bytes), "1048576", false, 1024,
	 1073741824, "largest request body accepted where a route sets no limit of its own (larger: 413)"},
	{"DRAIN_TIMEOUT_MS", CORE_SETTING_INT, offsetof(struct svc_settings, drain_timeout_ms), "10000", false, 0,
	 600000, "on SIGTERM, how long in-flight requests may take to finish"},
	{"KAFKA_SESSION_TIMEOUT_MS", CORE_SETTING_INT, offsetof(struct svc_settings, kafka_session_timeout_ms), "45000",
	 false, 3000, 300000, "consumer-group session timeout (6000 suits the local broker)"},
	{"KAFKA_MESSAGE_TIMEOUT_MS", CORE_SETTING_INT, offsetof(struct svc_settings, kafka_message_timeout_ms), "30000",
	 false, 1000, 900000, "how long a produced event may wait for delivery before it is retried"},
	{"KAFKA_PROPERTIES", CORE_SETTING_STRING, offsetof(struct svc_settings, kafka_properties), NULL, false, 0, 0,
	 "extra librdkafka properties for every Kafka client (a managed Kafka: SASL, TLS): name=value entries "
	 "separated by ';' or newlines, e.g. security.protocol=SASL_SSL;sasl.mechanisms=PLAIN; each KAFKA_PROPERTY_* "
	 "variable sets one more and wins (KAFKA_PROPERTY_SASL_PASSWORD sets sasl.password); a bad one stops "
	 "start-up (libs/bus/README.md)"},
	{"OUTBOX_POLL_MS", CORE_SETTING_INT, offsetof(struct svc_settings, outbox_poll_ms), "100", false, 10, 60000,
	 "how often the outbox relay looks for events to publish"},
	{0},
};

void svc_common_settings(const struct svc_def *def, struct core_setting *rows, size_t n_rows, char *port_text,
			 size_t port_text_size)
{
	size_t k = 0;
	snprintf(port_text, port_text_size, "%u", def->default_port);
	for (const struct core_setting *r = common_rows; r->name && k + 1 < n_rows; r++) {
		/* Rows only for the daemons that have the thing they set. */
		if (!def->schema &&
		    (strcmp(r->name, "DATABASE_URL") == 0 || strcmp(r->name, "DB_STATEMENT_TIMEOUT_MS") == 0 ||
		     strcmp(r->name, "SEARCH_PAGE_MAX_BYTES") == 0))
			continue;
		if (!def->uses_outbox && strcmp(r->name, "OUTBOX_POLL_MS") == 0)
			continue;
		rows[k] = *r;
		if (strcmp(r->name, "PORT") == 0)
			rows[k].default_value = port_text;
		k++;
	}
	memset(&rows[k], 0, sizeof rows[k]);
}
