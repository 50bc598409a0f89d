/* The batcher: coalesces concurrent requests for one model version into one forward
 * pass, on the requests' own threads (leader/follower: no hand-off to another thread).
 *
 * A request queues itself. When a net copy is free and nobody is gathering a batch, a
 * queued request becomes the leader: it takes a copy, takes itself and the queued
 * requests that fit in max_rows, and, only while other requests are known to be in the
 * batcher (queued behind, or running on another copy), waits up to max_delay_us for
 * more to arrive; then it runs the pass, hands each follower its rows and wakes it. A
 * lone request therefore runs at once: the window is only paid under load, when a
 * bigger pass is worth it. Under load the queue also fills by itself while every copy
 * is busy, so passes grow without any waiting.
 *
 * libs/ml nets are not thread-safe: there are `nets` copies, each used by one leader at
 * a time with one BLAS thread, so at most `nets` passes run at once. infer.c is the one
 * caller. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/alloc.h"
#include "core/time.h"
#include "ia.h"
#include "metrics/metrics.h"
#include "ml/nn.h"

/* One caller of ia_batcher_run, on its stack while it waits. */
struct ia_req {
	const float *x;
	float *out;
	size_t n;
	bool taken; /* in a leader's batch */
	bool done;  /* st (and err) say how it went */
	enum core_status st;
	struct core_error err;
	pthread_cond_t cv;
	struct ia_req *next;  /* in the queue */
	struct ia_req *batch; /* in a leader's batch */
};

struct ia_net_slot {
	struct ml_net *net;
	float *in, *out; /* max_rows rows: a pass of several requests is gathered here */
};

struct ia_batcher {
	pthread_mutex_t mu;
	struct ia_req *head, *tail; /* queued, oldest first */
	size_t inflight;            /* callers inside ia_batcher_run, not done yet */
	struct ia_net_slot *slots;
	size_t n_slots;
	size_t *free_slots; /* indexes of copies nobody runs */
	size_t n_free;
	struct ia_req *leader; /* the one gathering a batch, or NULL */
	size_t leader_rows;    /* rows and requests in its batch so far */
	size_t leader_count;
	size_t queued_rows, n_queued; /* rows and number of the queued requests */
	size_t n_in, n_out, max_rows;
	long max_delay_us;
	struct metrics_family *batch_hist;
};

enum core_status ia_batcher_new(struct ml_net *net, size_t nets, size_t max_rows, long max_delay_us,
				struct metrics_family *batch_hist, struct ia_batcher **out, struct core_error *err)
{
	if (!net || nets == 0 || nets > 1024 || max_rows == 0 || max_rows > 1000000 || max_delay_us < 0)
		return core_fail(err, CORE_EINVAL,
				 "batcher: needs a net, 1..1024 nets, 1..1000000 rows per pass and a delay >= 0");
	ml_set_threads(1); /* one BLAS thread per inference thread: the blueprint's pitfall */
	struct ia_batcher *b = core_xcalloc(1, sizeof *b);
	pthread_mutex_init(&b->mu, NULL);
	b->slots = core_xcalloc(nets, sizeof *b->slots);
	b->free_slots = core_xcalloc(nets, sizeof *b->free_slots);
	b->n_in = (size_t)ml_net_input(net).c * (size_t)ml_net_input(net).h * (size_t)ml_net_input(net).w;
	b->n_out = ml_net_n_outputs(net);
	b->max_rows = max_rows;
	b->max_delay_us = max_delay_us;
	b->batch_hist = batch_hist;
	for (size_t i = 0; i < nets; i++) {
		struct ia_net_slot *s = &b->slots[i];
		/* the first copy is net itself; the others share its weights */
		enum core_status st = i == 0 ? (s->net = net, CORE_OK) : ml_net_share(net, &s->net, err);
		if (st != CORE_OK) {
			ia_batcher_free(b);
			return st;
		}
		b->n_slots++;
		s->in = malloc(max_rows * b->n_in * sizeof *s->in);
		s->out = malloc(max_rows * b->n_out * sizeof *s->out);
		if (!s->in || !s->out) {
			ia_batcher_free(b);
			return core_fail(err, CORE_ENOMEM, "batcher: no memory for %zu rows of scratch", max_rows);
		}
		b->free_slots[b->n_free++] = i;
	}
	*out = b;
	return CORE_OK;
}

void ia_batcher_free(struct ia_batcher *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_slots; i++) {
		if (i > 0) /* the first is the caller's */
			ml_net_free(b->slots[i].net);
		free(b->slots[i].in);
		free(b->slots[i].out);
	}
	pthread_mutex_destroy(&b->mu);
	free(b->slots);
	free(b->free_slots);
	free(b);
}

static void unlink_req(struct ia_batcher *b, struct ia_req *r)
{
	struct ia_req **p = &b->head, *prev = NULL;
	while (*p && *p != r) {
		prev = *p;
		p = &(*p)->next;
	}
	if (!*p)
		return;
	*p = r->next;
	if (b->tail == r)
		b->tail = prev;
	r->next = NULL;
	b->queued_rows -= r->n;
	b->n_queued--;
}

/* Moves the queued requests that fit into the leader's batch, oldest first; stops at
 * the first that does not fit. Returns true when the batch is full (nothing more will
 * fit: max_rows reached, or a queued request is too big for what is left). */
static bool take_queued(struct ia_batcher *b, struct ia_req **last, size_t *rows, size_t *count)
{
	while (b->head && *rows + b->head->n <= b->max_rows) {
		struct ia_req *r = b->head;
		unlink_req(b, r);
		r->taken = true;
		(*last)->batch = r;
		*last = r;
		*rows += r->n;
		(*count)++;
	}
	return b->head != NULL || *rows >= b->max_rows;
}

/* One forward pass of the batch that starts with me (b->mu not held). */
static enum core_status run_pass(struct ia_batcher *b, struct ia_net_slot *s, struct ia_req *me, size_t rows,
				 struct core_error *err)
{
	if (!me->batch) /* alone (maybe more than max_rows: ml_net_predict works in chunks) */
		return ml_net_predict(s->net, me->x, me->n, me->out, err);
	size_t at = 0;
	for (struct ia_req *r = me; r; r = r->batch) {
		memcpy(s->in + at * b->n_in, r->x, r->n * b->n_in * sizeof *s->in);
		at += r->n;
	}
	enum core_status st = ml_net_predict(s->net, s->in, rows, s->out, err);
	if (st != CORE_OK)
		return st;
	at = 0;
	for (struct ia_req *r = me; r; r = r->batch) {
		memcpy(r->out, s->out + at * b->n_out, r->n * b->n_out * sizeof *r->out);
		at += r->n;
	}
	return CORE_OK;
}

/* me (queued, b->mu held, a copy free, no other leader) gathers a batch, runs it and
 * finishes everyone in it; returns with b->mu held and me done. */
static void lead(struct ia_batcher *b, struct ia_req *me)
{
	struct ia_net_slot *s = &b->slots[b->free_slots[--b->n_free]];
	b->leader = me;
	unlink_req(b, me);
	me->taken = true;
	struct ia_req *last = me;
	size_t rows = me->n, count = 1;
	bool full = me->n >= b->max_rows || take_queued(b, &last, &rows, &count);
	/* Wait for company only while others are known to be in flight: a lone request
	 * never pays the window. The leader sleeps through the window: it is woken early
	 * only when the queue would fill its batch or when nobody else is left to come,
	 * not by every arrival (each wake-up is a context switch that costs more than a
	 * small pass saves). */
	if (!full && b->max_delay_us > 0 && b->inflight > count) {
		struct timespec deadline = core_deadline_us(b->max_delay_us);
		for (;;) {
			b->leader_rows = rows;
			b->leader_count = count;
			int rc = pthread_cond_timedwait(&me->cv, &b->mu, &deadline);
			if (take_queued(b, &last, &rows, &count) || b->inflight <= count || rc == ETIMEDOUT)
				break;
		}
	}
	b->leader = NULL;
	if (b->head && b->n_free > 0) /* what did not fit may start on another copy */
		pthread_cond_signal(&b->head->cv);
	pthread_mutex_unlock(&b->mu);

	struct core_error err = {{0}};
	enum core_status st = run_pass(b, s, me, rows, &err);
	if (st == CORE_OK)
		metrics_histogram_observe(b->batch_hist, NULL, (double)rows);

	pthread_mutex_lock(&b->mu);
	for (struct ia_req *r = me; r; r = r->batch) {
		r->st = st;
		if (st != CORE_OK)
			r->err = err;
		r->done = true;
		if (r != me)
			pthread_cond_signal(&r->cv);
	}
	b->inflight -= count;
	b->free_slots[b->n_free++] = (size_t)(s - b->slots);
	if (b->leader && b->inflight <= b->leader_count + b->n_queued) /* nobody else left to come */
		pthread_cond_signal(&b->leader->cv);
	else if (b->head) /* a copy is free for the queue */
		pthread_cond_signal(&b->head->cv);
}

enum core_status ia_batcher_run(struct ia_batcher *b, const float *x, size_t n, float *out, struct core_error *err)
{
	if (n == 0)
		return CORE_OK;
	struct ia_req me = {.x = x, .out = out, .n = n};
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&me.cv, &ca);
	pthread_condattr_destroy(&ca);

	pthread_mutex_lock(&b->mu);
	b->inflight++;
	if (b->tail)
		b->tail->next = &me;
	else
		b->head = &me;
	b->tail = &me;
	b->queued_rows += n;
	b->n_queued++;
	if (b->leader && b->leader_rows + b->queued_rows >= b->max_rows) /* its batch is full */
		pthread_cond_signal(&b->leader->cv);
	while (!me.done) {
		if (!me.taken && !b->leader && b->n_free > 0)
			lead(b, &me);
		else
			pthread_cond_wait(&me.cv, &b->mu);
	}
	pthread_mutex_unlock(&b->mu);
	pthread_cond_destroy(&me.cv);
	if (me.st != CORE_OK && err)
		*err = me.err;
	return me.st;
}
