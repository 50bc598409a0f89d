/* The consumer: a consumer group member whose offsets move only when the application
 * says its work is durable. librdkafka never commits or stores offsets by itself here
 * (enable.auto.commit=false, enable.auto.offset.store=false); bus_consumer_poll hands
 * one message to the handler and then:
 *   BUS_HANDLED -> rd_kafka_commit_message, synchronously (offset + 1 committed);
 *   BUS_RETRY   -> rd_kafka_seek_partitions back to the message's offset, and a pause
 *                  (100 ms doubling to 5 s) during which polls hand out nothing.
 * So a member that dies before committing leaves the offset where it was, and the next
 * owner of the partition (after the session times out) reads the message again: at least
 * once, never lost. A new group starts at the earliest offset.
 *
 * Why seeking is safe: rd_kafka_seek_partitions bumps the partition's fetch version
 * before it returns, and librdkafka drops prefetched messages of older versions, so no
 * message behind the retried one is handed out before it. When the partition is no
 * longer ours the seek fails harmlessly: its next owner starts at the committed offset.
 *
 * Invariants: the handler runs on exactly one thread at a time (the caller's, or the
 * thread bus_consumer_start made); a message's offset is committed only after its
 * handler returned BUS_HANDLED, and never an offset past a message that returned
 * BUS_RETRY (the seek makes that message the next one of its partition).
 *
 *   bus_consumer_new --> created --bus_consumer_start--> threaded
 *   created | threaded --bus_consumer_free--> closed (thread joined, group left) --> freed
 *
 * Entry points: bus_consumer_new, bus_consumer_poll, bus_consumer_start,
 * bus_consumer_free. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "bus_int.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"

#define RETRY_PAUSE_FIRST_MS 100
#define RETRY_PAUSE_MAX_MS   5000
#define SEEK_TIMEOUT_MS      2000

struct bus_consumer {
	rd_kafka_t *rk;
	bus_handler_fn handler;
	void *cls;
	/* owned by the polling thread */
	int64_t pause_until_ms; /* monotonic; no message is handed out before it */
	int retry_pause_ms;     /* 0 after BUS_HANDLED; the last pause after BUS_RETRY */
	bool fatal_logged;
	/* thread */
	bool started;
	atomic_bool stop;
	pthread_t thread;
};

static int64_t mono_ms(void)
{
	return (int64_t)(core_monotonic_ns() / 1000000u);
}

enum core_status bus_consumer_new(const struct bus_config *cfg, const char *group_id, const char *const *topics,
				  bus_handler_fn handler, void *cls, struct bus_consumer **out, struct core_error *err)
{
	enum core_status rc = CORE_EINVAL;
	struct bus_consumer *c = NULL;
	rd_kafka_topic_partition_list_t *subs = NULL;
	rd_kafka_conf_t *conf = NULL;
	char why[512];
	if (!group_id || !*group_id || !topics || !topics[0] || !handler) {
		rc = core_fail(err, CORE_EINVAL, "kafka consumer: group id, topics and handler are required");
		goto cleanup;
	}
	conf = bus_int_conf_new(cfg, err);
	if (!conf)
		goto cleanup;
	long session = cfg->session_timeout_ms > 0 ? cfg->session_timeout_ms : BUS_DEFAULT_SESSION_TIMEOUT_MS;
	long heartbeat = session / 6 < 3000 ? session / 6 : 3000;
	if (!bus_int_conf_set(conf, "group.id", group_id, err) ||
	    !bus_int_conf_set(conf, "enable.auto.commit", "false", err) ||
	    !bus_int_conf_set(conf, "enable.auto.offset.store", "false", err) ||
	    !bus_int_conf_set(conf, "auto.offset.reset", "earliest", err) ||
	    !bus_int_conf_set_int(conf, "session.timeout.ms", session, err) ||
	    !bus_int_conf_set_int(conf, "heartbeat.interval.ms", heartbeat > 0 ? heartbeat : 1, err) ||
	    !bus_int_conf_set_int(conf, "fetch.wait.max.ms",
				  cfg->fetch_wait_max_ms > 0 ? cfg->fetch_wait_max_ms : BUS_DEFAULT_FETCH_WAIT_MAX_MS,
				  err) ||
	    !bus_int_conf_set_int(
		    conf, "max.poll.interval.ms",
		    cfg->max_poll_interval_ms > 0 ? cfg->max_poll_interval_ms : BUS_DEFAULT_MAX_POLL_INTERVAL_MS, err))
		goto cleanup;
	c = core_xcalloc(1, sizeof *c);
	c->handler = handler;
	c->cls = cls;
	atomic_init(&c->stop, false);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
	if (!c->rk) {
		rc = core_fail(err, CORE_EINVAL, "kafka consumer: %s", why);
		goto cleanup;
	}
	conf = NULL;                       /* rd_kafka_new took it */
	rd_kafka_poll_set_consumer(c->rk); /* logs and errors are served by consumer polls */
	size_t n = 0;
	while (topics[n])
		n++;
	subs = rd_kafka_topic_partition_list_new((int)n);
	for (size_t i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, subs);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rc = core_fail(err, CORE_EINVAL, "kafka consumer: subscribe: %s", rd_kafka_err2str(e));
		goto cleanup;
	}
	*out = c;
	c = NULL;
	rc = CORE_OK;
cleanup:
	if (subs)
		rd_kafka_topic_partition_list_destroy(subs);
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (c) {
		if (c->rk)
			rd_kafka_destroy(c->rk);
		free(c);
	}
	return rc;
}

/* Makes m the next message of its partition again. */
static void seek_back(struct bus_consumer *c, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, m->partition)->offset = m->offset;
	rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, SEEK_TIMEOUT_MS);
	const char *why = e ? rd_kafka_error_string(e) : l->elems[0].err ? rd_kafka_err2str(l->elems[0].err) : NULL;
	if (why) {
		struct core_log_field f[] = {CORE_LF_STR("topic", topic), CORE_LF_INT("partition", m->partition),
					     CORE_LF_INT("offset", m->offset)};
		core_log_with(CORE_LOG_WARN, f, 3,
			      "kafka consumer: seek back for a retry failed (the partition's next owner "
			      "starts at its committed offset): %s",
			      why);
	}
	if (e)
		rd_kafka_error_destroy(e);
	rd_kafka_topic_partition_list_destroy(l);
}

static void commit(struct bus_consumer *c, const rd_kafka_message_t *m)
{
	rd_kafka_resp_err_t e = rd_kafka_commit_message(c->rk, m, 0);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		struct core_log_field f[] = {CORE_LF_STR("topic", rd_kafka_topic_name(m->rkt)),
					     CORE_LF_INT("partition", m->partition), CORE_LF_INT("offset", m->offset)};
		core_log_with(CORE_LOG_WARN, f, 3,
			      "kafka consumer: commit failed (the message may be delivered again): %s",
			      rd_kafka_err2str(e));
	}
}

int bus_consumer_poll(struct bus_consumer *c, int timeout_ms)
{
	int64_t now = mono_ms();
	if (now < c->pause_until_ms) {
		int64_t wait = c->pause_until_ms - now;
		if (timeout_ms >= 0 && wait > timeout_ms)
			wait = timeout_ms; /* a negative timeout waits the whole pause */
		core_sleep_ms(wait);
		return 0;
	}
	rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
	if (!m)
		return 0;
	int ret = 0;
	if (m->err) {
		if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
			if (!c->fatal_logged) {
				char why[512];
				rd_kafka_fatal_error(c->rk, why, sizeof why);
				core_error("kafka consumer: fatal error, the consumer cannot go on: %s", why);
				c->fatal_logged = true;
			}
			ret = -1;
		} else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			core_warn("kafka consumer: %s", rd_kafka_message_errstr(m));
		}
		goto cleanup;
	}
	struct bus_message bm = {
		.topic = rd_kafka_topic_name(m->rkt),
		.partition = m->partition,
		.offset = m->offset,
		.key = m->key,
		.key_len = m->key_len,
		.payload = m->payload,
		.len = m->len,
	};
	ret = 1;
	if (c->handler(&bm, c->cls) == BUS_HANDLED) {
		c->retry_pause_ms = 0;
		commit(c, m);
		goto cleanup;
	}
	seek_back(c, m);
	c->retry_pause_ms = c->retry_pause_ms ? c->retry_pause_ms * 2 : RETRY_PAUSE_FIRST_MS;
	if (c->retry_pause_ms > RETRY_PAUSE_MAX_MS)
		c->retry_pause_ms = RETRY_PAUSE_MAX_MS;
	c->pause_until_ms = mono_ms() + c->retry_pause_ms;
cleanup:
	rd_kafka_message_destroy(m);
	return ret;
}

static void *consume_main(void *arg)
{
	struct bus_consumer *c = arg;
	while (!atomic_load(&c->stop)) {
		if (bus_consumer_poll(c, 100) < 0)
			core_sleep_ms(1000); /* a fatal error: nothing more will come; wait to be freed */
	}
	return NULL;
}

enum core_status bus_consumer_start(struct bus_consumer *c, struct core_error *err)
{
	if (c->started)
		return core_fail(err, CORE_EINVAL, "kafka consumer: already started");
	int e = pthread_create(&c->thread, NULL, consume_main, c);
	if (e != 0)
		return core_fail(err, CORE_EIO, "kafka consumer: cannot start thread: %s", strerror(e));
	c->started = true;
	return CORE_OK;
}

void bus_consumer_free(struct bus_consumer *c)
{
	if (!c)
		return;
	if (c->started) {
		atomic_store(&c->stop, true);
		pthread_join(c->thread, NULL);
	}
	rd_kafka_resp_err_t e = rd_kafka_consumer_close(c->rk);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		core_warn("kafka consumer: close: %s", rd_kafka_err2str(e));
	rd_kafka_destroy(c->rk);
	free(c);
}
