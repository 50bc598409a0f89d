/* The consumer: a consumer group member whose offsets move only when the application
 * says its work is durable. librdkafka never commits or stores offsets by itself here
 * (enable.auto.commit=false, enable.auto.offset.store=false). bus_consumer_poll hands
 * a batch to the handler: one message for a consumer made by bus_consumer_new, 1 to
 * max_batch for one made by bus_consumer_new_batch. Then:
 *   BUS_HANDLED -> one synchronous rd_kafka_commit of, per (topic, partition) in the
 *                  batch, the offset of its last message + 1;
 *   BUS_RETRY   -> one rd_kafka_seek_partitions of every partition of the batch back
 *                  to its first message's offset, and a pause (100 ms doubling to 5 s)
 *                  during which polls hand out nothing.
 * So a member that dies before committing leaves the offsets where they were, and the
 * next owner of a partition (after the session times out) reads the messages again: at
 * least once, never lost. A new group starts at the earliest offset.
 *
 * Gathering a batch: the first message is waited for up to the caller's timeout; then
 * more are taken, up to max_batch: what librdkafka has already fetched without
 * waiting, and while the batch is short, polls wait for more until max_wait_ms after
 * the first arrived, never later (max_wait_ms = 0: no waiting at all). So a lone
 * message reaches the handler at most max_wait_ms after it arrived, and under load
 * batches fill up without any wait. Error events and partition EOFs are skipped
 * (logged) as they come; a fatal error ends the poll with -1 and drops the batch in
 * hand, unhandled and uncommitted. A batch holds messages in the order librdkafka
 * returned them: within a partition, offset order.
 *
 * Why seeking is safe: rd_kafka_seek_partitions bumps the partition's fetch version
 * before it returns, and librdkafka drops prefetched messages of older versions, so no
 * message behind the retried one is handed out before it. When the partition is no
 * longer ours the seek fails harmlessly: its next owner starts at the committed offset.
 *
 * Rebalances while gathering: the polls that gather a batch also serve the group's
 * rebalances, so a partition may be taken from us while messages of it are in hand.
 * A batch consumer therefore does the (un)assigning itself (rebalance(), what
 * librdkafka does without a callback) and first drops the messages in hand of every
 * partition it loses: their next owner, maybe this member again, reads them from the
 * committed offset. Without that, an eager rebalance that gives a partition straight
 * back would hand its messages twice in one batch, out of order, and the commit could
 * move another owner's offset. A single-message consumer never holds a message across
 * a poll and keeps librdkafka's own (un)assigning.
 *
 * Invariants: the handler runs on exactly one thread at a time (the caller's, or the
 * thread bus_consumer_start made); a message's offset is committed only after its
 * handler call returned BUS_HANDLED, and never an offset past a message whose call
 * returned BUS_RETRY (the seek makes each partition's first message of the batch the
 * next one of that partition); every message handed out belonged, when handed out, to
 * a partition assigned to this member, and a batch holds each message once.
 *
 *   bus_consumer_new | bus_consumer_new_batch --> created --bus_consumer_start--> threaded
 *   created | threaded --bus_consumer_free--> closed (thread joined, group left) --> freed
 *
 * Entry points: bus_consumer_new, bus_consumer_new_batch, bus_consumer_poll,
 * bus_consumer_start, bus_consumer_free. */
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
	bus_handler_fn handler;             /* a single-message consumer's, or NULL */
	bus_batch_handler_fn batch_handler; /* a batch consumer's, or NULL */
	void *cls;
	size_t max_batch; /* 1 for a single-message consumer */
	int max_wait_ms;
	/* owned by the polling thread */
	rd_kafka_message_t **held; /* [max_batch]: the batch being gathered, n_held of them */
	struct bus_message *msgs;  /* [max_batch]: what the handler gets */
	size_t n_held;
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

/* Drops the messages in hand of the partitions in l (they are not ours any more). */
static void drop_held(struct bus_consumer *c, const rd_kafka_topic_partition_list_t *l)
{
	size_t kept = 0;
	for (size_t i = 0; i < c->n_held; i++) {
		rd_kafka_message_t *m = c->held[i];
		if (rd_kafka_topic_partition_list_find(l, rd_kafka_topic_name(m->rkt), m->partition))
			rd_kafka_message_destroy(m);
		else
			c->held[kept++] = m;
	}
	c->n_held = kept;
}

/* A batch consumer's rebalance callback (served by its polls, on the polling thread):
 * what librdkafka does without one, after dropping the lost partitions' messages. */
static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t why, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct bus_consumer *c = opaque;
	bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *e = NULL;
	rd_kafka_resp_err_t re = RD_KAFKA_RESP_ERR_NO_ERROR;
	if (why == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (cooperative)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			re = rd_kafka_assign(rk, parts);
	} else if (why == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && cooperative) {
		drop_held(c, parts);
		e = rd_kafka_incremental_unassign(rk, parts);
	} else { /* an eager revoke, or a failed rebalance: everything goes */
		for (size_t i = 0; i < c->n_held; i++)
			rd_kafka_message_destroy(c->held[i]);
		c->n_held = 0;
		re = rd_kafka_assign(rk, NULL);
	}
	const char *fail = e ? rd_kafka_error_string(e) : re ? rd_kafka_err2str(re) : NULL;
	if (fail)
		core_warn("kafka consumer: rebalance (%s): %s", rd_kafka_err2name(why), fail);
	if (e)
		rd_kafka_error_destroy(e);
}

static enum core_status consumer_new(const struct bus_config *cfg, const char *group_id, const char *const *topics,
				     bus_handler_fn handler, bus_batch_handler_fn batch_handler, size_t max_batch,
				     int max_wait_ms, void *cls, struct bus_consumer **out, struct core_error *err)
{
	enum core_status rc = CORE_EINVAL;
	struct bus_consumer *c = NULL;
	rd_kafka_topic_partition_list_t *subs = NULL;
	rd_kafka_conf_t *conf = NULL;
	char why[512];
	if (!group_id || !*group_id || !topics || !topics[0] || (!handler && !batch_handler)) {
		rc = core_fail(err, CORE_EINVAL, "kafka consumer: group id, topics and handler are required");
		goto cleanup;
	}
	if (max_batch < 1 || max_batch > BUS_BATCH_MAX || max_wait_ms < 0 || max_wait_ms > BUS_BATCH_WAIT_MAX_MS) {
		rc = core_fail(err, CORE_EINVAL,
			       "kafka consumer: a batch is 1 to %d messages, its wait 0 to %d ms (got %zu, %d)",
			       BUS_BATCH_MAX, BUS_BATCH_WAIT_MAX_MS, max_batch, max_wait_ms);
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
	c->batch_handler = batch_handler;
	c->cls = cls;
	c->max_batch = max_batch;
	c->max_wait_ms = max_wait_ms;
	c->held = core_xcalloc(max_batch, sizeof *c->held);
	c->msgs = core_xcalloc(max_batch, sizeof *c->msgs);
	atomic_init(&c->stop, false);
	if (batch_handler) {
		rd_kafka_conf_set_opaque(conf, c);
		rd_kafka_conf_set_rebalance_cb(conf, rebalance);
	}
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
	if (!c->rk) {
		rc = core_fail(err, CORE_EINVAL, "kafka consumer: %s", why);
		goto cleanup;
	}
	conf = NULL;                       /* rd_kafka_new took it */
	rd_kafka_poll_set_consumer(c->rk); /* logs, errors, rebalances are served by consumer polls */
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
		free(c->held);
		free(c->msgs);
		free(c);
	}
	return rc;
}

enum core_status bus_consumer_new(const struct bus_config *cfg, const char *group_id, const char *const *topics,
				  bus_handler_fn handler, void *cls, struct bus_consumer **out, struct core_error *err)
{
	return consumer_new(cfg, group_id, topics, handler, NULL, 1, 0, cls, out, err);
}

enum core_status bus_consumer_new_batch(const struct bus_config *cfg, const char *group_id, const char *const *topics,
					bus_batch_handler_fn handler, size_t max_batch, int max_wait_ms, void *cls,
					struct bus_consumer **out, struct core_error *err)
{
	return consumer_new(cfg, group_id, topics, NULL, handler, max_batch, max_wait_ms, cls, out, err);
}

/* The batch's partitions, each with the offset of its first message (first) or of its
 * last message + 1 (!first): what a seek back or a commit needs. The caller destroys
 * the list. */
static rd_kafka_topic_partition_list_t *batch_offsets(const struct bus_consumer *c, bool first)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
	rd_kafka_topic_partition_t *at = NULL; /* the last message's entry: runs of one partition are common */
	const rd_kafka_message_t *prev = NULL;
	for (size_t i = 0; i < c->n_held; i++) {
		const rd_kafka_message_t *m = c->held[i];
		if (!prev || prev->rkt != m->rkt || prev->partition != m->partition) {
			const char *topic = rd_kafka_topic_name(m->rkt);
			at = rd_kafka_topic_partition_list_find(l, topic, m->partition);
			if (!at) {
				at = rd_kafka_topic_partition_list_add(l, topic, m->partition);
				at->offset = m->offset;
			}
		}
		if (!first)
			at->offset = m->offset + 1;
		prev = m;
	}
	return l;
}

/* Makes each partition's first message of the batch the next one of its partition again. */
static void seek_back(struct bus_consumer *c)
{
	rd_kafka_topic_partition_list_t *l = batch_offsets(c, true);
	rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, SEEK_TIMEOUT_MS);
	for (int i = 0; i < l->cnt; i++) {
		const char *why = e                 ? rd_kafka_error_string(e)
				  : l->elems[i].err ? rd_kafka_err2str(l->elems[i].err)
						    : NULL;
		if (!why)
			continue;
		struct core_log_field f[] = {CORE_LF_STR("topic", l->elems[i].topic),
					     CORE_LF_INT("partition", l->elems[i].partition),
					     CORE_LF_INT("offset", l->elems[i].offset)};
		core_log_with(CORE_LOG_WARN, f, 3,
			      "kafka consumer: seek back for a retry failed (the partition's next owner "
			      "starts at its committed offset): %s",
			      why);
	}
	if (e)
		rd_kafka_error_destroy(e);
	rd_kafka_topic_partition_list_destroy(l);
}

/* Commits the batch, synchronously, in one request. */
static void commit(struct bus_consumer *c)
{
	rd_kafka_topic_partition_list_t *l = batch_offsets(c, false);
	rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, l, 0);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		const rd_kafka_message_t *m = c->held[0];
		struct core_log_field f[] = {CORE_LF_STR("topic", rd_kafka_topic_name(m->rkt)),
					     CORE_LF_INT("partition", m->partition), CORE_LF_INT("offset", m->offset),
					     CORE_LF_INT("messages", (long long)c->n_held),
					     CORE_LF_INT("partitions", l->cnt)};
		core_log_with(CORE_LOG_WARN, f, 5,
			      "kafka consumer: commit failed (the messages may be delivered again): %s",
			      rd_kafka_err2str(e));
	}
	rd_kafka_topic_partition_list_destroy(l);
}

static void release_held(struct bus_consumer *c)
{
	for (size_t i = 0; i < c->n_held; i++)
		rd_kafka_message_destroy(c->held[i]);
	c->n_held = 0;
}

/* Takes what a poll returned: a message joins the batch; an error event is logged and
 * dropped. Returns -1 on a fatal error, else 0. */
static int take(struct bus_consumer *c, rd_kafka_message_t *m)
{
	if (!m->err) {
		c->held[c->n_held++] = m;
		return 0;
	}
	int ret = 0;
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
	rd_kafka_message_destroy(m);
	return ret;
}

/* Gathers a batch into c->held (see the opening comment). Returns -1 on a fatal error
 * (nothing held then), else 0. */
static int gather(struct bus_consumer *c, int timeout_ms)
{
	rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
	if (!m)
		return 0;
	if (take(c, m) < 0)
		return -1;
	if (c->n_held == 0)
		return 0; /* an error event, skipped: as a poll that got nothing */
	int64_t deadline = mono_ms() + c->max_wait_ms;
	while (c->n_held > 0 && c->n_held < c->max_batch) {
		int64_t left = deadline - mono_ms();
		m = rd_kafka_consumer_poll(c->rk, left > 0 ? (int)left : 0);
		if (m && take(c, m) < 0) {
			release_held(c); /* the client is done for: nothing can be committed */
			return -1;
		}
		if (!m && left <= 0)
			break;
	}
	return 0;
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
	if (gather(c, timeout_ms) < 0)
		return -1;
	if (c->n_held == 0) /* nothing came, or a rebalance took all of it */
		return 0;
	for (size_t i = 0; i < c->n_held; i++) {
		const rd_kafka_message_t *m = c->held[i];
		c->msgs[i] = (struct bus_message){
			.topic = rd_kafka_topic_name(m->rkt),
			.partition = m->partition,
			.offset = m->offset,
			.key = m->key,
			.key_len = m->key_len,
			.payload = m->payload,
			.len = m->len,
		};
	}
	enum bus_handled h =
		c->batch_handler ? c->batch_handler(c->msgs, c->n_held, c->cls) : c->handler(&c->msgs[0], c->cls);
	if (h == BUS_HANDLED) {
		c->retry_pause_ms = 0;
		commit(c);
	} else {
		seek_back(c);
		c->retry_pause_ms = c->retry_pause_ms ? c->retry_pause_ms * 2 : RETRY_PAUSE_FIRST_MS;
		if (c->retry_pause_ms > RETRY_PAUSE_MAX_MS)
			c->retry_pause_ms = RETRY_PAUSE_MAX_MS;
		c->pause_until_ms = mono_ms() + c->retry_pause_ms;
	}
	release_held(c);
	return 1;
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
	free(c->held);
	free(c->msgs);
	free(c);
}
