/* The producer: one librdkafka handle configured for idempotence (acks=all,
 * enable.idempotence=true), so retries after lost connections never reorder or
 * duplicate messages within a partition, and a poll thread that serves delivery
 * reports, so callers never poll.
 *
 * Each accepted message carries, as its librdkafka opaque, the caller's callback and
 * pointer (allocated only when there is a callback). The delivery report handler calls
 * it, frees it, and only then counts the message done, so "outstanding == 0" means every
 * callback has returned.
 *
 * Invariants:
 *   - outstanding = messages bus_produce accepted whose callback has not yet returned;
 *     it changes only under mu, and idle is broadcast whenever it reaches 0.
 *   - every accepted message gets exactly one callback: from the poll thread, or, for
 *     those still queued when the producer is freed, from bus_producer_free after
 *     rd_kafka_purge (delivered=false).
 *
 *   bus_producer_new --> running (poll thread: rd_kafka_poll every 100 ms)
 *        running --bus_producer_free--> stopping (thread joined; purge; serve the last
 *        reports) --> freed
 *
 * Events (bus_produce_event) carry the header content-type:
 * application/cloudevents+json, which is how the CloudEvents Kafka protocol binding
 * marks structured mode, so CloudEvents SDKs decode Lathe's records.
 *
 * Entry points: bus_producer_new, bus_produce, bus_produce_event, bus_producer_flush, bus_ping,
 * bus_producer_learn_topic, bus_producer_free; bus_int_producer_timeout_ms for the relay. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bus_int.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"

struct bus_producer {
	rd_kafka_t *rk;
	int message_timeout_ms;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t mu;
	pthread_cond_t idle; /* broadcast when outstanding reaches 0 */
	long outstanding;
};

/* What travels with a message that has a callback. */
struct delivery {
	bus_delivery_fn cb;
	void *opaque;
};

static void message_done(struct bus_producer *p)
{
	pthread_mutex_lock(&p->mu);
	if (--p->outstanding == 0)
		pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->mu);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct bus_producer *p = opaque;
	struct delivery *d = m->_private;
	if (d) {
		d->cb(d->opaque, m->err == RD_KAFKA_RESP_ERR_NO_ERROR, m->err ? rd_kafka_err2str(m->err) : NULL);
		free(d);
	}
	message_done(p);
}

static void *poll_main(void *arg)
{
	struct bus_producer *p = arg;
	while (!atomic_load(&p->stop))
		rd_kafka_poll(p->rk, 100);
	return NULL;
}

enum core_status bus_producer_new(const struct bus_config *cfg, struct bus_producer **out, struct core_error *err)
{
	enum core_status rc = CORE_EINVAL;
	struct bus_producer *p = core_xcalloc(1, sizeof *p);
	bool sync_made = false;
	pthread_condattr_t ca;
	char why[512];
	int e;
	rd_kafka_conf_t *conf = bus_int_conf_new(cfg, err);
	if (!conf)
		goto cleanup;
	p->message_timeout_ms = cfg->message_timeout_ms > 0 ? cfg->message_timeout_ms : BUS_DEFAULT_MESSAGE_TIMEOUT_MS;
	if (!bus_int_conf_set(conf, "enable.idempotence", "true", err) || !bus_int_conf_set(conf, "acks", "all", err) ||
	    !bus_int_conf_set(conf, "partitioner", "murmur2_random", err) ||
	    !bus_int_conf_set_int(conf, "message.timeout.ms", p->message_timeout_ms, err) ||
	    (cfg->linger_ms > 0 && !bus_int_conf_set_int(conf, "linger.ms", cfg->linger_ms, err)) ||
	    (cfg->batch_bytes > 0 && !bus_int_conf_set_int(conf, "batch.size", cfg->batch_bytes, err)))
		goto cleanup;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, p);

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->idle, &ca);
	pthread_condattr_destroy(&ca);
	sync_made = true;

	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
	if (!p->rk) {
		core_fail(err, CORE_EINVAL, "kafka producer: %s", why);
		goto cleanup;
	}
	conf = NULL; /* rd_kafka_new took it */
	atomic_init(&p->stop, false);
	e = pthread_create(&p->thread, NULL, poll_main, p);
	if (e != 0) {
		rc = core_fail(err, CORE_EIO, "kafka producer: cannot start poll thread: %s", strerror(e));
		goto cleanup;
	}
	*out = p;
	p = NULL;
	rc = CORE_OK;
cleanup:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (p) {
		if (p->rk)
			rd_kafka_destroy(p->rk);
		if (sync_made) {
			pthread_cond_destroy(&p->idle);
			pthread_mutex_destroy(&p->mu);
		}
		free(p);
	}
	return rc;
}

/* bus_produce, with a content-type header when content_type is not NULL. */
static enum core_status produce(struct bus_producer *p, const char *topic, const char *key, const void *payload,
				size_t len, const char *content_type, bus_delivery_fn cb, void *opaque,
				struct core_error *err)
{
	if (!topic || !*topic)
		return core_fail(err, CORE_EINVAL, "kafka produce: no topic");
	struct delivery *d = NULL;
	if (cb) {
		d = core_xmalloc(sizeof *d);
		d->cb = cb;
		d->opaque = opaque;
	}
	pthread_mutex_lock(&p->mu);
	p->outstanding++; /* before producev: the report may arrive before it returns */
	pthread_mutex_unlock(&p->mu);
	rd_kafka_resp_err_t e;
	if (content_type)
		e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
				      RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				      RD_KAFKA_V_HEADER("content-type", content_type, -1), RD_KAFKA_V_OPAQUE(d),
				      RD_KAFKA_V_END);
	else
		e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
				      RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				      RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		return CORE_OK;
	free(d);
	message_done(p);
	enum core_status rc = CORE_EIO;
	if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL || e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
		rc = CORE_ELIMIT;
	else if (e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
		 e == RD_KAFKA_RESP_ERR__INVALID_ARG)
		rc = CORE_EINVAL;
	return core_fail(err, rc, "kafka produce to %s: %s", topic, rd_kafka_err2str(e));
}

enum core_status bus_produce(struct bus_producer *p, const char *topic, const char *key, const void *payload,
			     size_t len, bus_delivery_fn cb, void *opaque, struct core_error *err)
{
	return produce(p, topic, key, payload, len, NULL, cb, opaque, err);
}

enum core_status bus_produce_event(struct bus_producer *p, const char *topic, const char *key, const char *event,
				   size_t len, bus_delivery_fn cb, void *opaque, struct core_error *err)
{
	return produce(p, topic, key, event, len, BUS_CLOUDEVENTS_CONTENT_TYPE, cb, opaque, err);
}

int bus_producer_flush(struct bus_producer *p, int timeout_ms)
{
	struct timespec deadline = core_deadline_us((int64_t)timeout_ms * 1000);
	pthread_mutex_lock(&p->mu);
	while (p->outstanding > 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&p->idle, &p->mu);
		else if (pthread_cond_timedwait(&p->idle, &p->mu, &deadline) == ETIMEDOUT)
			break;
	}
	long left = p->outstanding;
	pthread_mutex_unlock(&p->mu);
	return (int)left;
}

bool bus_ping(struct bus_producer *p, int timeout_ms)
{
	if (rd_kafka_fatal_error(p->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return false;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(p->rk, 0, NULL, &md, timeout_ms > 0 ? timeout_ms : 1);
	if (md)
		rd_kafka_metadata_destroy(md);
	return e == RD_KAFKA_RESP_ERR_NO_ERROR;
}

bool bus_producer_learn_topic(struct bus_producer *p, const char *topic, int timeout_ms)
{
	rd_kafka_topic_t *t = rd_kafka_topic_new(p->rk, topic, NULL);
	if (!t)
		return false;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(p->rk, 0, t, &md, timeout_ms > 0 ? timeout_ms : 1);
	/* the cluster may answer with a topic-level error (not there yet, leader being
	 * elected): learnt only once it names partitions */
	bool learnt = e == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->topic_cnt == 1 &&
		      md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0;
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	return learnt;
}

int bus_int_producer_timeout_ms(const struct bus_producer *p)
{
	return p->message_timeout_ms;
}

void bus_producer_free(struct bus_producer *p)
{
	if (!p)
		return;
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	long left = (long)bus_producer_flush(p, 0);
	if (left > 0) {
		core_warn("kafka producer closing: %ld messages not delivered, failing them", left);
		rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		/* serves the purged messages' reports on this thread */
		rd_kafka_flush(p->rk, 5000);
	}
	rd_kafka_destroy(p->rk);
	pthread_cond_destroy(&p->idle);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
