/* The writing half of the transactional outbox: a service that changes state and wants
 * to say so on Kafka inserts the event into its schema's outbox table in the SAME
 * transaction (bus_outbox_write, from a db_run_tx callback). Commit makes state and event
 * durable together; rollback drops both. relay.c publishes the rows afterwards, so an
 * event is never lost when Kafka is unreachable at write time.
 *
 * The table (migrations/0001-outbox.sql, track "bus.outbox") lives in the service's own
 * schema and is reached unqualified through the pool's search_path. Rows are only ever
 * inserted here and deleted by the relay. Stateless; any thread (each with its own
 * connection). Entry points: bus_outbox_migrate, bus_outbox_write. */
#include <stdlib.h>
#include <string.h>
#include "bus_int.h"
#include "db/db.h"

/* Larger events are refused at write time: they could never be published (librdkafka's
 * message.max.bytes is 1 000 000, key and framing included), and one undeliverable row
 * would hold back every later event of its key. */
#define OUTBOX_MAX_BYTES 900000

static const struct db_stmt outbox_insert = {
	.name = "bus_outbox_insert",
	.sql = "INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3)",
	.n_params = 3,
};

enum core_status bus_outbox_migrate(struct db_pool *pool, const char *schema, struct core_error *err)
{
	return db_migrate(pool, schema, "bus.outbox", bus_migrations, err);
}

int bus_outbox_write(struct db_conn *c, const char *topic, const char *key, json_t *event, struct core_error *err)
{
	int rc = DB_HARD_ERROR;
	char *payload = NULL;
	if (!topic || !*topic || !event) {
		core_fail(err, CORE_EINVAL, "outbox write: topic and event are required");
		goto cleanup;
	}
	payload = json_dumps(event, JSON_COMPACT);
	if (!payload) {
		core_fail(err, CORE_EINVAL, "outbox write: the event for %s cannot be serialized", topic);
		goto cleanup;
	}
	size_t len = strlen(payload) + (key ? strlen(key) : 0);
	if (len > OUTBOX_MAX_BYTES) {
		core_fail(err, CORE_ELIMIT, "outbox write: event for %s is %zu bytes, more than %d", topic, len,
			  OUTBOX_MAX_BYTES);
		goto cleanup;
	}
	const char *params[] = {topic, key, payload};
	rc = db_exec(c, &outbox_insert, params, NULL, err);
cleanup:
	free(payload);
	return rc;
}
