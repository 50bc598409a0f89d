/* Prediction events: a sampled share of requests (PREDICTION_SAMPLE_RATE) becomes one
 * lathe.prediction CloudEvent per row on inference.predictions, keyed by model name, so
 * drift monitoring sees what the model saw (tabular features, or an image's size,
 * brightness and contrast) and what it answered (label and probability, or values).
 *
 * Nothing here blocks a request: ia_events_emit copies what the events need into a job
 * and queues it for this module's sender thread, which builds the JSON and hands it to
 * its own Kafka producer (bus_produce_event never blocks). At most EVENTS_QUEUE_MAX
 * events are in flight (queued here or awaiting the broker's acknowledgement); beyond
 * that, or when the producer refuses (CORE_ELIMIT) or a delivery fails (broker down
 * past the message timeout), events are dropped and counted in
 * inference_events_dropped_total. The module also starts and stops the shadow scorer
 * (infer.c), whose results it emits with role "shadow". */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/fmt.h"
#include "core/log.h"
#include "core/time.h"
#include "ia.h"
#include "ia_batch.h"
#include "oip.h"
#include "metrics/metrics.h"

#define IA_EV_TOPIC  "inference.predictions"
#define IA_EV_SOURCE "lathe/inference-api"
#define IA_EV_TYPE   "lathe.prediction"
/* How long shutdown waits for the broker to acknowledge what is in flight. */
#define IA_EV_FLUSH_MS 1000
/* While events flow, the sender wakes this often, or sooner once this many jobs are
 * queued: waking it for every request would cost each request a context switch, and
 * Kafka's linger batches the messages anyway. After a tick with nothing to send it
 * sleeps until the next event's emitter wakes it, so an idle daemon does not tick. */
#define IA_EV_TICK_MS 10
/* Kafka batches of a few hundred predictions rather than tens: the producer's own work
 * per message falls, and drift monitoring does not need them sooner. */
#define IA_EV_LINGER_MS 50
#define IA_EV_WAKE_AT   256
/* Produce requests of at most this many bytes per partition (librdkafka's default is
 * 1 MB): each request in flight holds its batch until the broker acknowledges it, and
 * at tens of thousands of predictions a second that was most of the events' memory. */
#define IA_EV_BATCH_BYTES 65536
/* At start the sender first asks the cluster about the topic, in steps of this long
 * (so that shutdown need not wait) for at most IA_EV_LEARN_STEPS steps. */
#define IA_EV_LEARN_STEP_MS 250
#define IA_EV_LEARN_STEPS   20

/* One request's sampled rows waiting for the sender. */
struct ia_ev_job {
	struct ia_ev_job *next;
	struct ia_model *model; /* a ref */
	char *request_id, *protocol;
	const char *role; /* static */
	int64_t at_ms;
	size_t n, k;
	float *out;     /* [n, k] */
	int32_t *label; /* [n] or NULL */
	struct ia_rows_copy *rows;
	/* out, label, request_id and protocol live here, in the job's one allocation: the
	 * sender frees what every request thread allocated, and each block freed across
	 * threads costs a lock */
	float tail[];
};
_Static_assert(sizeof(float) == sizeof(int32_t) && _Alignof(float) == _Alignof(int32_t),
	       "labels follow the outputs in a job's tail");

struct ia_events {
	struct ia_app *a;
	struct bus_producer *producer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ia_ev_job *head, *tail;
	size_t queued;
	bool idle; /* the sender sleeps until woken (no tick) */
	bool stopping;
	bool started;
	pthread_t thread;
	atomic_long inflight; /* events queued here or in the producer */
	long max;
	atomic_uint_fast64_t draws; /* sampling without a request id */
	struct ia_shadow *shadow;
};

static void dropped(struct ia_events *e, size_t n)
{
	if (n)
		metrics_counter_add(e->a->metrics.dropped, NULL, (double)n);
}

/* --- copies of rows ----------------------------------------------------------------- */

static void img_stats_of(const struct ia_model *m, const float *raw, struct ia_img_stats *out)
{
	size_t n = m->n_raw, i = 0;
	/* four running sums, not one: pixel values are integers, so every partial sum is
	 * exact in a double and the order changes nothing, but one long chain of adds was
	 * a microsecond per image */
	double s4[4] = {0, 0, 0, 0}, q4[4] = {0, 0, 0, 0};
	for (; i + 4 <= n; i += 4)
		for (size_t k = 0; k < 4; k++) {
			s4[k] += raw[i + k];
			q4[k] += (double)raw[i + k] * raw[i + k];
		}
	for (; i < n; i++) {
		s4[0] += raw[i];
		q4[0] += (double)raw[i] * raw[i];
	}
	double sum = (s4[0] + s4[1]) + (s4[2] + s4[3]), sq = (q4[0] + q4[1]) + (q4[2] + q4[3]);
	double mean = n ? sum / (double)n : 0, var = n ? sq / (double)n - mean * mean : 0;
	*out = (struct ia_img_stats){.width = m->w,
				     .height = m->h,
				     .channels = m->c,
				     .brightness = mean,
				     .contrast = sqrt(var > 0 ? var : 0)};
}

struct ia_rows_copy *ia_rows_dup(const struct ia_model *m, const struct ia_rows *rows, size_t n, bool with_x)
{
	struct ia_rows_copy *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->rows.n = n;
	if (with_x && rows->x) {
		c->x = malloc(n * m->n_in * sizeof *c->x);
		if (!c->x)
			goto fail;
		memcpy(c->x, rows->x, n * m->n_in * sizeof *c->x);
		c->rows.x = c->x;
	}
	if (rows->cells && m->n_columns) {
		size_t cells = n * m->n_columns, len = 0;
		for (size_t i = 0; i < cells; i++)
			if (rows->cells[i].is_str && rows->cells[i].str)
				len += strlen(rows->cells[i].str) + 1;
		c->cells = malloc(cells * sizeof *c->cells);
		c->strs = malloc(len ? len : 1);
		if (!c->cells || !c->strs)
			goto fail;
		char *at = c->strs;
		for (size_t i = 0; i < cells; i++) {
			c->cells[i] = rows->cells[i];
			if (rows->cells[i].is_str && rows->cells[i].str) {
				size_t l = strlen(rows->cells[i].str) + 1;
				memcpy(at, rows->cells[i].str, l);
				c->cells[i].str = at;
				at += l;
			}
		}
		c->rows.cells = c->cells;
	}
	if (rows->imgs || (rows->raw && m->kind == IA_INPUT_IMAGE)) {
		c->imgs = malloc(n * sizeof *c->imgs);
		if (!c->imgs)
			goto fail;
		for (size_t i = 0; i < n; i++)
			if (rows->imgs)
				c->imgs[i] = rows->imgs[i];
			else
				img_stats_of(m, rows->raw + i * m->n_raw, &c->imgs[i]);
		c->rows.imgs = c->imgs;
	}
	return c;
fail:
	ia_rows_copy_free(c);
	return NULL;
}

void ia_rows_copy_free(struct ia_rows_copy *c)
{
	if (!c)
		return;
	free(c->x);
	free(c->cells);
	free(c->strs);
	free(c->imgs);
	free(c);
}

/* --- the sender ----------------------------------------------------------------------- */

static void job_free(struct ia_ev_job *j)
{
	if (!j)
		return;
	if (j->model)
		ia_model_unref(j->model);
	ia_rows_copy_free(j->rows);
	free(j);
}

/* Event text being written: the first failed append (the ceiling, or memory) makes it
 * bad, and a bad text is dropped, never sent short. */
struct ev_text {
	struct core_buf *b;
	bool bad;
};

static void put(struct ev_text *w, const void *d, size_t n)
{
	if (!w->bad && core_buf_append(w->b, d, n) != CORE_OK)
		w->bad = true;
}

static void put_str(struct ev_text *w, const char *s)
{
	put(w, s, strlen(s));
}

static void esc(struct ev_text *w, const char *s)
{
	if (!w->bad && core_buf_append_json_escaped(w->b, s) != CORE_OK)
		w->bad = true;
}

/* Appends "key": the caller's value follows. */
static void put_key(struct ev_text *w, const char *key)
{
	put(w, ",\"", 2);
	put_str(w, key);
	put(w, "\":", 2);
}

static void put_string(struct ev_text *w, const char *key, const char *v)
{
	put_key(w, key);
	if (!v) {
		put(w, "null", 4);
		return;
	}
	put(w, "\"", 1);
	esc(w, v);
	put(w, "\"", 1);
}

static void put_double(struct ev_text *w, double v)
{
	char num[CORE_FMT_DOUBLE_MAX];
	if (isfinite(v))
		put(w, num, core_fmt_double(v, CORE_FMT_JSON_REAL, num));
	else
		put(w, "null", 4);
}

static void put_float(struct ev_text *w, float v)
{
	char num[32];
	put(w, num, ia_oip_fmt_float(v, num)); /* non-finite: null */
}

/* Row i's data member as JSON text, written straight into b (no tree: this runs once
 * per prediction): model, version, request_id, timestamp, protocol, role, row, then
 * features (tabular) or image (its summary), then label and probability (a classifier)
 * or prediction (the outputs). What groups an event (model, version, timestamp, role)
 * comes before the values, so a reader that first sorts events by model (the drift
 * monitor) stops reading there. A failed append (ceiling, memory) marks w bad. */
static void row_data(struct ev_text *w, const struct ia_ev_job *j, size_t i, const char *timestamp)
{
	const struct ia_model *m = j->model;
	put(w, "{\"model\":\"", 10);
	esc(w, m->name);
	put(w, "\"", 1);
	put_string(w, "version", m->version);
	put_string(w, "request_id", j->request_id);
	put_string(w, "timestamp", timestamp);
	put_string(w, "protocol", j->protocol);
	put_string(w, "role", j->role);
	put_key(w, "row");
	char num[128];
	put(w, num, (size_t)snprintf(num, sizeof num, "%zu", i));
	const struct ia_rows *r = j->rows ? &j->rows->rows : NULL;
	if (r && r->cells) {
		put_key(w, "features");
		for (size_t c = 0; c < m->n_columns; c++) {
			const struct ia_cell *cell = &r->cells[i * m->n_columns + c];
			put(w, c ? ",\"" : "{\"", 2);
			esc(w, m->columns[c].name);
			put(w, "\":", 2);
			if (cell->is_null) {
				put(w, "null", 4);
			} else if (cell->is_str) {
				put(w, "\"", 1);
				esc(w, cell->str ? cell->str : "");
				put(w, "\"", 1);
			} else {
				put_double(w, cell->num);
			}
		}
		put(w, m->n_columns ? "}" : "{}", m->n_columns ? 1 : 2);
	} else if (r && r->imgs) {
		const struct ia_img_stats *st = &r->imgs[i];
		put_key(w, "image");
		put(w, num,
		    (size_t)snprintf(num, sizeof num, "{\"width\":%u,\"height\":%u,\"channels\":%u,\"brightness\":",
				     (unsigned)st->width, (unsigned)st->height, (unsigned)st->channels));
		put_double(w, st->brightness);
		put_str(w, ",\"contrast\":");
		put_double(w, st->contrast);
		put(w, "}", 1);
	}
	const float *o = j->out + i * j->k;
	if (j->label && m->labels) {
		int32_t l = j->label[i];
		put_string(w, "label", m->labels[l]);
		put_key(w, "probability");
		put_float(w, o[l]);
	} else {
		put_key(w, "prediction");
		for (size_t c = 0; c < j->k; c++) {
			put(w, c ? "," : "[", 1);
			put_float(w, o[c]);
		}
		put(w, j->k ? "]" : "[]", j->k ? 1 : 2);
	}
	put(w, "}", 1);
}

static void on_delivery(void *opaque, bool delivered, const char *error)
{
	struct ia_events *e = opaque;
	(void)error;
	atomic_fetch_sub(&e->inflight, 1);
	if (!delivered)
		dropped(e, 1);
}

/* The largest event text: a row of a wide table is far below it. */
#define IA_EV_TEXT_MAX ((size_t)16 << 20)

static void send_job(struct ia_events *e, struct ia_ev_job *j, struct core_buf *data, struct core_buf *ev)
{
	char ts[32];
	core_time_iso8601(j->at_ms, ts);
	for (size_t i = 0; i < j->n; i++) {
		core_buf_reset(data);
		core_buf_reset(ev);
		struct ev_text w = {.b = data};
		row_data(&w, j, i, ts);
		struct core_error err = {{0}};
		bool ok = !w.bad && bus_event_text(ev, IA_EV_SOURCE, IA_EV_TYPE, j->model->name, data->data,
						   data->len) == CORE_OK;
		if (!ok || !e->producer ||
		    bus_produce_event(e->producer, IA_EV_TOPIC, j->model->name, ev->data, ev->len, on_delivery, e,
				      &err) != CORE_OK) {
			atomic_fetch_sub(&e->inflight, 1);
			dropped(e, 1);
		}
	}
}

/* Learns the topic's partitions before the first event needs them: otherwise the
 * events of the first second after start (a burst, under load) wait in the producer
 * while it asks, and fill the in-flight budget. Gives up at shutdown or after a few
 * seconds (a broker that is down): the producer then learns them as it sends. */
static void learn_topic(struct ia_events *e)
{
	for (int i = 0; e->producer && i < IA_EV_LEARN_STEPS; i++) {
		if (bus_producer_learn_topic(e->producer, IA_EV_TOPIC, IA_EV_LEARN_STEP_MS))
			return;
		pthread_mutex_lock(&e->mu);
		bool stopping = e->stopping;
		pthread_mutex_unlock(&e->mu);
		if (stopping)
			return;
	}
}

static void *sender(void *arg)
{
	struct ia_events *e = arg;
	learn_topic(e);
	struct core_buf data, ev; /* reused from event to event */
	core_buf_init(&data, IA_EV_TEXT_MAX);
	core_buf_init(&ev, IA_EV_TEXT_MAX);
	bool sent = false; /* in the last round */
	pthread_mutex_lock(&e->mu);
	for (;;) {
		if (!e->head && !e->stopping) {
			if (sent) {
				struct timespec tick = core_deadline_us(IA_EV_TICK_MS * 1000);
				pthread_cond_timedwait(&e->cv, &e->mu, &tick);
			} else {
				e->idle = true;
				while (e->idle && !e->stopping)
					pthread_cond_wait(&e->cv, &e->mu);
			}
			sent = e->head != NULL;
			continue;
		}
		struct ia_ev_job *j = e->head;
		if (!j)
			break;  /* stopping, and everything queued is sent */
		e->head = NULL; /* the whole queue at once: one lock per round, not per job */
		e->tail = NULL;
		e->queued = 0;
		pthread_mutex_unlock(&e->mu);
		while (j) {
			struct ia_ev_job *next = j->next;
			send_job(e, j, &data, &ev);
			job_free(j);
			j = next;
		}
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	core_buf_free(&data);
	core_buf_free(&ev);
	return NULL;
}

/* --- the module's life ------------------------------------------------------------------ */

enum core_status ia_events_new(struct ia_app *a, struct ia_events **out, struct core_error *err)
{
	struct ia_events *e = core_xcalloc(1, sizeof *e);
	e->a = a;
	e->max = a->settings && a->settings->events_queue_max > 0 ? a->settings->events_queue_max : 10000;
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (a->svc) {
		struct bus_config cfg;
		svc_bus_config(a->svc, &cfg);
		cfg.client_id = "inference-api-predictions";
		cfg.linger_ms = IA_EV_LINGER_MS;
		cfg.batch_bytes = IA_EV_BATCH_BYTES;
		enum core_status st = bus_producer_new(&cfg, &e->producer, err);
		if (st != CORE_OK) {
			ia_events_free(e);
			return st;
		}
	}
	if (pthread_create(&e->thread, NULL, sender, e) != 0) {
		ia_events_free(e);
		return core_fail(err, CORE_EIO, "prediction events: cannot start the sender thread");
	}
	e->started = true;
	if (a->settings && a->settings->shadow)
		e->shadow = ia_shadow_new(a);
	*out = e;
	return CORE_OK;
}

void ia_events_free(struct ia_events *e)
{
	if (!e)
		return;
	ia_shadow_free(e->shadow); /* it emits: stop it first */
	if (e->started) {
		pthread_mutex_lock(&e->mu);
		e->stopping = true;
		pthread_cond_signal(&e->cv);
		pthread_mutex_unlock(&e->mu);
		pthread_join(e->thread, NULL);
	}
	if (e->producer) {
		int left = bus_producer_flush(e->producer, IA_EV_FLUSH_MS);
		if (left > 0)
			core_log(CORE_LOG_WARN, "prediction events: %d not acknowledged at shutdown, dropped", left);
		bus_producer_free(e->producer); /* fails what is left: counted by on_delivery */
	}
	for (struct ia_ev_job *j = e->head, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

struct ia_shadow *ia_events_shadow(struct ia_events *e)
{
	return e ? e->shadow : NULL;
}

/* --- emitting ------------------------------------------------------------------------------ */

/* splitmix64: a well-mixed 64-bit hash. */
static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

bool ia_events_sampled(struct ia_events *e, const char *request_id)
{
	if (!e)
		return false;
	double rate = e->a->settings ? e->a->settings->sample_rate : 1.0;
	if (rate >= 1.0)
		return true;
	if (rate <= 0.0)
		return false;
	uint64_t h = 1469598103934665603ull; /* FNV-1a of the id: serve and shadow agree */
	if (request_id && *request_id)
		for (const char *p = request_id; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
	else
		h = atomic_fetch_add(&e->draws, 1);
	return (double)(mix64(h) >> 11) / 9007199254740992.0 < rate;
}

/* Reserves up to n of the in-flight budget; returns how many it got. */
static size_t reserve(struct ia_events *e, size_t n)
{
	long cur = atomic_load(&e->inflight);
	for (;;) {
		long room = e->max - cur;
		if (room <= 0)
			return 0;
		long take = (long)n < room ? (long)n : room;
		if (atomic_compare_exchange_weak(&e->inflight, &cur, cur + take))
			return (size_t)take;
	}
}

void ia_events_emit_as(struct ia_events *e, const char *protocol, const char *role, const char *request_id,
		       const struct ia_rows *rows, const struct ia_result *res)
{
	if (!e || !rows || !res || !res->model || res->n == 0 || !ia_events_sampled(e, request_id))
		return;
	size_t n = reserve(e, res->n);
	dropped(e, res->n - n);
	if (n == 0)
		return;
	if (!protocol)
		protocol = "";
	size_t outs = n * res->k, labels = res->label ? n : 0, rid_len = request_id ? strlen(request_id) + 1 : 0,
	       proto_len = strlen(protocol) + 1;
	struct ia_ev_job *j = malloc(sizeof *j + outs * sizeof(float) + labels * sizeof(int32_t) + rid_len + proto_len);
	if (!j)
		goto fail;
	*j = (struct ia_ev_job){.model = res->model, .n = n, .k = res->k, .at_ms = core_now_ms()};
	ia_model_ref(j->model);
	j->role = role && strcmp(role, "shadow") == 0 ? "shadow" : "serve";
	j->out = j->tail;
	memcpy(j->out, res->out, outs * sizeof *j->out);
	char *at = (char *)(j->tail + outs);
	if (labels) {
		j->label = (int32_t *)(void *)at; /* aligned: see the _Static_assert */
		memcpy(j->label, res->label, labels * sizeof *j->label);
		at += labels * sizeof *j->label;
	}
	if (request_id) {
		j->request_id = at;
		memcpy(at, request_id, rid_len);
		at += rid_len;
	}
	j->protocol = at;
	memcpy(at, protocol, proto_len);
	j->rows = ia_rows_dup(res->model, rows, n, false);
	if (!j->rows)
		goto fail;
	pthread_mutex_lock(&e->mu);
	if (e->tail)
		e->tail->next = j;
	else
		e->head = j;
	e->tail = j;
	if (++e->queued == IA_EV_WAKE_AT || e->idle) {
		e->idle = false;
		pthread_cond_signal(&e->cv);
	}
	pthread_mutex_unlock(&e->mu);
	return;
fail:
	job_free(j);
	atomic_fetch_sub(&e->inflight, (long)n);
	dropped(e, n);
}

void ia_events_emit(struct ia_events *e, const char *request_id, const struct ia_rows *rows,
		    const struct ia_result *res)
{
	ia_events_emit_as(e, NULL, "serve", request_id, rows, res);
}
