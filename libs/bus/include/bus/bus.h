/* bus: Lathe's events over Kafka (librdkafka), with four parts:
 *
 *   producer  an idempotent producer (acks=all, enable.idempotence=true): retries never
 *             reorder or duplicate messages within a partition. Delivery reports are
 *             served by the producer's own poll thread.
 *   envelope  CloudEvents 1.0 in structured JSON mode: building and validating events;
 *             records carry content-type: application/cloudevents+json (Kafka binding).
 *   consumer  a consumer group member with manual, synchronous commits: an offset is
 *             committed only after the handler says its work is durable, so a crash
 *             before that means the message is delivered again (at least once). The
 *             handler gets one message at a time, or a batch (bus_consumer_new_batch),
 *             whose offsets are committed together.
 *   outbox    the transactional outbox: a service writes its state change and the event
 *             in one database transaction; a relay thread publishes the rows to Kafka
 *             afterwards. Events are never lost, may be duplicated, and keep their order
 *             per key (see libs/bus/README.md for the exact ordering guarantee).
 *
 * Keys: events are keyed by the entity they describe, so one entity's events land in one
 * partition and stay in order. Consumers must be idempotent (they may see an event twice).
 *
 * Logging: librdkafka's own log lines and errors go through core_log as JSON lines; an
 * unreachable broker is the environment's fault and is logged at "warn", never "error".
 *
 * Threads: every function here is thread-safe unless its comment says otherwise; the
 * handles themselves are freed by one thread once nothing else uses them. */
#ifndef BUS_BUS_H
#define BUS_BUS_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

struct core_buf;

struct db_pool;
struct db_conn;
struct metrics_registry;

/* Settings shared by producers and consumers. Strings are copied by the constructors. */
struct bus_config {
	const char *brokers;      /* bootstrap list "host:port,..." (required) */
	const char *client_id;    /* client.id; NULL: "lathe" */
	int message_timeout_ms;   /* producers: delivery gives up after this; 0: 30000 */
	int linger_ms;            /* producers: linger.ms, how long a message may wait to go
				   * in a bigger batch; 0: librdkafka's (5) */
	int batch_bytes;          /* producers: batch.size, the most bytes of one partition's
				   * batch (each in-flight request holds one until it is
				   * acknowledged); 0: librdkafka's (1 MB) */
	int session_timeout_ms;   /* consumers: group session; 0: 45000 (tests use 6000) */
	int fetch_wait_max_ms;    /* consumers: longest an empty fetch is held; 0: 100 */
	int max_poll_interval_ms; /* consumers: longest one handler call may take before the
				   * member is thrown out of the group; 0: 300000 */
	/* The deployment's own librdkafka properties (security.protocol, sasl.*, ssl.*,
	 * client.id...): "name=value" strings, NULL-terminated; NULL: none. Applied to
	 * every client after Lathe's own, so they win; the properties Lathe's guarantees
	 * need (see bus_properties_check) are refused. Copied by the constructors. */
	const char *const *properties;
};

/* Checks properties as struct bus_config takes them, without creating a client: each
 * entry is name=value, names a librdkafka property Lathe does not set itself
 * (bootstrap.servers, group.id, enable.idempotence, acks, partitioner,
 * enable.auto.commit, enable.auto.offset.store, auto.offset.reset, the timeouts
 * message.timeout.ms, session.timeout.ms, heartbeat.interval.ms, fetch.wait.max.ms,
 * max.poll.interval.ms are refused), and librdkafka accepts the value, also when it
 * makes a client of them (which checks e.g. sasl.mechanisms and ssl.ca.location's
 * file; the scratch client knows no broker and is freed at once). Returns CORE_OK; CORE_EINVAL with err naming the
 * property (values of secret-looking properties, e.g. sasl.password, are not repeated). */
enum core_status bus_properties_check(const char *const *properties, struct core_error *err);

/* --- producer ------------------------------------------------------------------------ */

struct bus_producer;

/* Creates an idempotent producer (enable.idempotence=true, acks=all,
 * reconnect.backoff.max.ms=1000) and starts its poll thread, which serves delivery
 * reports. Connecting happens in the background: an unreachable broker is not an error
 * here (messages wait in the queue up to message_timeout_ms).
 * cfg: borrowed; strings copied.
 * out: [out] the producer, owned by the caller (bus_producer_free); unchanged on failure.
 * Returns CORE_OK; CORE_EINVAL when cfg->brokers is missing or librdkafka rejects the
 * configuration (err says which setting). */
enum core_status bus_producer_new(const struct bus_config *cfg, struct bus_producer **out, struct core_error *err);

/* Delivery report: called exactly once per message bus_produce accepted, on the
 * producer's poll thread (or, for messages still queued, inside bus_producer_free).
 * delivered: the broker acknowledged the message (acks=all).
 * error:     NULL when delivered; otherwise a static description (valid during the call).
 * The callback must not call bus_producer_free. */
typedef void (*bus_delivery_fn)(void *opaque, bool delivered, const char *error);

/* Queues one message; never blocks.
 * topic:   topic name (auto-created by the broker if it allows it).
 * key:     NUL-terminated key, or NULL for none (then the partition is chosen at random).
 *          Messages with one key go to one partition (murmur2, as Java clients do).
 * payload: len bytes, copied.
 * cb:      delivery report, may be NULL; opaque is passed to it.
 * Returns CORE_OK (cb will be called exactly once); CORE_ELIMIT when the local queue is
 * full or the message is larger than the broker accepts; CORE_EINVAL for a bad topic;
 * CORE_EIO for other failures (the producer hit a fatal error). When it fails, cb is
 * never called. */
enum core_status bus_produce(struct bus_producer *p, const char *topic, const char *key, const void *payload,
			     size_t len, bus_delivery_fn cb, void *opaque, struct core_error *err);

/* The content-type header of a CloudEvent in structured mode (CloudEvents Kafka
 * protocol binding 1.0, section 3.2). */
#define BUS_CLOUDEVENTS_CONTENT_TYPE "application/cloudevents+json"

/* bus_produce for a CloudEvent (bus_event_new, serialized): the record also carries
 * the header content-type: application/cloudevents+json, by which CloudEvents SDKs
 * recognise structured mode. Every Lathe event goes out this way (the outbox relay
 * uses it). Arguments, callbacks and results as bus_produce. */
enum core_status bus_produce_event(struct bus_producer *p, const char *topic, const char *key, const char *event,
				   size_t len, bus_delivery_fn cb, void *opaque, struct core_error *err);

/* Waits up to timeout_ms (0: just look; negative: until done, which takes at most
 * message_timeout_ms) for every message queued so far by anyone on this producer to get
 * its delivery report (and for the report to have been called).
 * Returns how many are still outstanding (0: all done). */
int bus_producer_flush(struct bus_producer *p, int timeout_ms);

/* Asks the cluster for metadata and waits up to timeout_ms for the answer (for
 * /readyz). Returns true when the cluster answered and the producer has not hit a fatal
 * error; false otherwise. Blocks the caller up to timeout_ms. */
bool bus_ping(struct bus_producer *p, int timeout_ms);

/* Asks the cluster for topic's metadata (which creates it where the cluster creates
 * topics on first use) and waits up to timeout_ms, so that the first messages to it do
 * not wait in the producer while it learns the partitions and their leaders: a burst
 * right after start would otherwise fill the caller's in-flight budget. Returns true
 * when the cluster named the topic's partitions; false when it did not answer in time
 * or answered with an error for the topic (not created yet: ask again). Blocks the
 * caller up to timeout_ms; thread-safe. */
bool bus_producer_learn_topic(struct bus_producer *p, const char *topic, int timeout_ms);

/* Stops the poll thread, fails every message still queued (their callbacks run here with
 * delivered=false and librdkafka's "Purged" error), and frees the producer. Call bus_producer_flush first
 * to give outstanding messages a chance. p may be NULL. No other thread may use p during
 * or after the call. */
void bus_producer_free(struct bus_producer *p);

/* --- envelope (CloudEvents 1.0, structured JSON mode) --------------------------------- */

/* Builds an event: specversion "1.0", id (a fresh UUID), source, type, subject (omitted
 * when NULL), time (RFC 3339 UTC with milliseconds, now), datacontenttype
 * "application/json", and data.
 * source, type: non-empty; copied. subject: may be NULL; copied.
 * data: stolen (decref'd) in every case, even on failure; NULL means no data member.
 * Returns the event (the caller owns the reference; serialize it with json_dumps), or
 * NULL when source or type is NULL or empty or memory ran out. */
json_t *bus_event_new(const char *source, const char *type, const char *subject, json_t *data);

/* The same event as bus_event_new would serialize it (the same members in the same
 * order, compact), appended to out as text around data, JSON text the caller wrote
 * (data_len bytes; NULL: no data member). For a hot path that emits one event per
 * request: no tree is built, so the only allocation is out's growth.
 * Returns CORE_EINVAL when source or type is NULL or empty, or out's own failure
 * (CORE_ELIMIT, CORE_ENOMEM; out may then hold part of the event: reset it). */
enum core_status bus_event_text(struct core_buf *out, const char *source, const char *type, const char *subject,
				const char *data, size_t data_len);

/* Parses and validates a structured-mode event: a JSON object (duplicate members
 * rejected) whose specversion is "1.0" and whose id, source and type are non-empty
 * strings (the attributes CloudEvents requires). Optional attributes, when present, must
 * be well-formed: subject and datacontenttype strings, time an RFC 3339 timestamp.
 * payload: len bytes, not necessarily NUL-terminated; borrowed.
 * event_out: [out] the event, owned by the caller (json_decref); unchanged on failure.
 * Returns CORE_OK; CORE_EINVAL when the payload is not JSON or an attribute is missing
 * or malformed (err names it). */
enum core_status bus_event_parse(const char *payload, size_t len, json_t **event_out, struct core_error *err);

/* --- consumer ------------------------------------------------------------------------ */

/* A message handed to a handler. Every pointer is valid only during the handler call;
 * key and payload are raw bytes, NOT NUL-terminated. */
struct bus_message {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const char *key; /* NULL when the message has no key */
	size_t key_len;
	const char *payload;
	size_t len;
};

enum bus_handled {
	BUS_HANDLED, /* the work is durable: commit the offset(s) (synchronously) */
	BUS_RETRY,   /* not done: do not commit; deliver the message(s) again after a pause */
};

/* Called once per message, on the thread polling the consumer. Must not free the
 * consumer. */
typedef enum bus_handled (*bus_handler_fn)(const struct bus_message *m, void *cls);

/* Called once per batch: ms[0..n-1], 1 <= n <= the consumer's max_batch, on the thread
 * polling the consumer. A batch may mix topics and partitions; the messages of one
 * partition are in offset order, each once. The answer is for the whole batch:
 * BUS_HANDLED once the work of every message is durable, BUS_RETRY to get every one of
 * them again. ms and everything it points to are valid only during the call. Must not
 * free the consumer. */
typedef enum bus_handled (*bus_batch_handler_fn)(const struct bus_message *ms, size_t n, void *cls);

/* Bounds of bus_consumer_new_batch's max_batch and max_wait_ms. A batch's messages stay
 * in memory (and its fetch buffers with them) until the handler returns. */
#define BUS_BATCH_MAX         100000
#define BUS_BATCH_WAIT_MAX_MS 60000

struct bus_consumer;

/* Creates a consumer group member subscribed to topics: enable.auto.commit=false,
 * enable.auto.offset.store=false, auto.offset.reset=earliest, heartbeats every
 * session_timeout/6 (at most 3 s). Joining the group happens on the first polls (the
 * first assignment of a new group takes about 3 s on devkafka).
 * cfg: borrowed; strings copied. group_id: copied. topics: NULL-terminated, at least one;
 * copied. handler: called for each message with cls.
 * out: [out] the consumer, owned by the caller (bus_consumer_free); unchanged on failure.
 * Returns CORE_OK; CORE_EINVAL for missing arguments or a configuration librdkafka
 * rejects. */
enum core_status bus_consumer_new(const struct bus_config *cfg, const char *group_id, const char *const *topics,
				  bus_handler_fn handler, void *cls, struct bus_consumer **out, struct core_error *err);

/* bus_consumer_new for a handler that takes batches (for throughput: one commit, and
 * one durable write of the application's, per batch rather than per message).
 * handler: called with 1 to max_batch messages. max_batch: 1 to BUS_BATCH_MAX.
 * max_wait_ms: 0 to BUS_BATCH_WAIT_MAX_MS, how long a poll may wait for more once the
 * first message of a batch arrived (0: it takes only what has already been fetched);
 * a lone message thus reaches the handler at most max_wait_ms after it arrived. The
 * wait adds to a poll's duration (and to bus_consumer_free's, for a started consumer),
 * and wait plus handler must stay within max_poll_interval_ms.
 * Other arguments and results as bus_consumer_new; CORE_EINVAL also for max_batch or
 * max_wait_ms out of bounds. */
enum core_status bus_consumer_new_batch(const struct bus_config *cfg, const char *group_id, const char *const *topics,
					bus_batch_handler_fn handler, size_t max_batch, int max_wait_ms, void *cls,
					struct bus_consumer **out, struct core_error *err);

/* Polls up to timeout_ms (negative: no limit) for a message and hands it to the
 * handler, on this thread; a batch consumer's poll first gathers more, up to
 * max_batch, waiting at most until max_wait_ms after the first arrived (so it may take
 * up to timeout_ms + max_wait_ms, plus the handler's time). Error events and
 * partition EOFs are logged and skipped.
 * After BUS_HANDLED the offsets are committed synchronously, in one request: per
 * partition of the batch, its last message's offset + 1 (a failed commit is logged at
 * warn: the messages may then be delivered again, never lost). After BUS_RETRY the
 * consumer seeks every partition of the batch back to its first message of the batch
 * and pauses: the next polls (of every partition) return 0 for 100 ms, doubling on
 * each consecutive retry up to 5 s.
 * A batch consumer drops the messages in hand of a partition a rebalance takes from it
 * while it gathers (the partition's next owner reads them from the committed offset).
 * Returns 1 when a message or batch went to the handler, 0 when none did, -1 when the
 * client hit a fatal error (it cannot recover; free it; a batch being gathered is
 * dropped, uncommitted). Not for consumers started with bus_consumer_start; one
 * thread at a time. */
int bus_consumer_poll(struct bus_consumer *c, int timeout_ms);

/* Starts a thread that runs bus_consumer_poll until bus_consumer_free. The handler then
 * runs on that thread. Returns CORE_OK, CORE_EINVAL when already started, CORE_EIO when
 * the thread cannot be created. */
enum core_status bus_consumer_start(struct bus_consumer *c, struct core_error *err);

/* Stops the thread (after the message or batch in hand), leaves the group
 * (rd_kafka_consumer_close: uncommitted messages go to the next member) and frees.
 * c may be NULL. No other thread may use c during or after the call. */
void bus_consumer_free(struct bus_consumer *c);

/* --- transactional outbox ------------------------------------------------------------ */

/* Creates (or upgrades) the outbox table in schema: db_migrate(pool, schema,
 * "bus.outbox", bus_migrations). Safe to call from every replica at start-up
 * (advisory-locked). Returns CORE_OK or db_migrate's failure (err says why). */
enum core_status bus_outbox_migrate(struct db_pool *pool, const char *schema, struct core_error *err);

/* Appends an event to the outbox, inside the caller's transaction (call it from a
 * db_run_tx callback, after the statement that changes the entity: for one entity, the
 * outbox order is the order of these calls, and a row lock on the entity makes it the
 * commit order). The event is published after the transaction commits and never if it
 * rolls back.
 * c: the transaction's connection. topic: non-empty. key: the entity's id, may be NULL.
 * event: borrowed; serialized compactly now.
 * Returns DB_ONE_RESULT (1) on success or a negative enum db_status: DB_HARD_ERROR with
 * err set for an event that cannot be serialized or is larger than 1 MiB, or what the
 * INSERT returned (DB_SOFT_ERROR: retry the transaction). */
int bus_outbox_write(struct db_conn *c, const char *topic, const char *key, json_t *event, struct core_error *err);

struct bus_relay_config {
	int poll_ms;                      /* pause when the outbox is empty; 0: 100 */
	int batch;                        /* rows per round; 0: 100 */
	struct metrics_registry *metrics; /* NULL, or where to create the gauge
					   * lathe_outbox_backlog and the counter
					   * lathe_outbox_published_total */
};

struct bus_relay;

/* Starts the relay thread: it publishes outbox rows (of the pool's schema, i.e. the
 * connections' search_path) through producer and deletes the delivered ones. It never
 * exits on errors: an unreachable database or broker is logged at warn and retried
 * with backoff. One round holds one pooled connection; size the pool for it.
 * pool, producer: borrowed; they must outlive the relay (stop the relay first).
 * cfg: borrowed; may be NULL for defaults.
 * out: [out] the relay, owned by the caller (bus_relay_stop); unchanged on failure.
 * Returns CORE_OK; CORE_EINVAL for a negative setting; CORE_EIO when the thread cannot be
 * created. */
enum core_status bus_relay_start(struct db_pool *pool, struct bus_producer *producer,
				 const struct bus_relay_config *cfg, struct bus_relay **out, struct core_error *err);

/* Stops the relay: the round in hand finishes (it waits for its delivery reports, so
 * this can take up to the producer's message_timeout_ms when Kafka is down), then the
 * thread is joined and the relay freed. r may be NULL. */
void bus_relay_stop(struct bus_relay *r);
#endif
