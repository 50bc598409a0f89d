-- The transactional outbox of the bus library (libs/bus, track "bus.outbox"): events a
-- service wrote in the same transaction as the state change they describe, waiting for
-- the relay to publish them to Kafka. Created in the service's own schema.
CREATE TABLE outbox (
	id bigserial PRIMARY KEY,
	topic text NOT NULL,
	key text,
	payload text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE outbox IS
	'Events written in the same transaction as the state change they describe, not yet '
	'published to Kafka. The bus relay publishes rows in id order and deletes each row '
	'once Kafka acknowledged it; rows are never updated.';
COMMENT ON COLUMN outbox.id IS
	'Publication order: the relay publishes the oldest rows first, so one key''s events '
	'reach Kafka in the order they were written.';
COMMENT ON COLUMN outbox.topic IS 'Kafka topic the event goes to (e.g. models.events).';
COMMENT ON COLUMN outbox.key IS
	'Kafka message key: the id of the entity the event describes (keeps that entity''s '
	'events in one partition, in order); NULL for no key.';
COMMENT ON COLUMN outbox.payload IS 'The event: a CloudEvents 1.0 structured-mode JSON document.';
COMMENT ON COLUMN outbox.created_at IS 'When the writing transaction inserted the row.';
