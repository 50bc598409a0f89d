/* The batcher: runs a model's rows through one of its net copies. libs/ml nets are not
 * thread-safe, so each copy is used by one thread at a time (its own mutex); requests
 * spread over the copies and each forward pass uses one BLAS thread. This first form
 * takes a free copy (or waits for one) and runs the request alone; coalescing comes
 * next. infer.c is its one caller. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "ia.h"
#include "metrics/metrics.h"
#include "ml/nn.h"

struct ia_net_slot {
	pthread_mutex_t mu;
	struct ml_net *net;
};

struct ia_batcher {
	struct ia_net_slot *slots;
	size_t n_slots;
	size_t max_rows;
	long max_delay_us;
	struct metrics_family *batch_hist;
	atomic_uint next;
};

/* A copy of net: the same layers over the same input, its parameters copied. */
static enum core_status net_copy(const struct ml_net *net, struct ml_net **out, struct core_error *err)
{
	size_t n = ml_net_n_layers(net);
	struct ml_layer_spec *specs = core_xcalloc(n, sizeof *specs);
	for (size_t i = 0; i < n; i++)
		specs[i] = *ml_net_layer(net, i);
	struct ml_net *copy = NULL;
	enum core_status st = ml_net_new(specs, n, ml_net_input(net), &copy, err);
	free(specs);
	if (st != CORE_OK)
		return st;
	/* ml_net_param takes a mutable net because it hands out the storage; the source is
	 * only read here. */
	struct ml_net *src = (struct ml_net *)net;
	for (size_t i = 0; i < ml_net_n_params(src); i++) {
		struct ml_param from, to;
		ml_net_param(src, i, &from);
		ml_net_param(copy, i, &to);
		memcpy(to.data, from.data, from.n * sizeof(float));
	}
	*out = copy;
	return CORE_OK;
}

enum core_status ia_batcher_new(const struct ml_net *net, size_t nets, size_t max_rows, long max_delay_us,
				struct metrics_family *batch_hist, struct ia_batcher **out, struct core_error *err)
{
	if (!net || nets == 0 || max_rows == 0 || max_delay_us < 0)
		return core_fail(err, CORE_EINVAL,
				 "batcher: a net, nets >= 1, max_rows >= 1 and a delay >= 0 are needed");
	ml_set_threads(1); /* one BLAS thread per inference thread: the blueprint's pitfall */
	struct ia_batcher *b = core_xcalloc(1, sizeof *b);
	b->slots = core_xcalloc(nets, sizeof *b->slots);
	b->max_rows = max_rows;
	b->max_delay_us = max_delay_us;
	b->batch_hist = batch_hist;
	for (size_t i = 0; i < nets; i++) {
		enum core_status st = net_copy(net, &b->slots[i].net, err);
		if (st != CORE_OK) {
			ia_batcher_free(b);
			return st;
		}
		pthread_mutex_init(&b->slots[i].mu, NULL);
		b->n_slots++;
	}
	*out = b;
	return CORE_OK;
}

void ia_batcher_free(struct ia_batcher *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_slots; i++) {
		pthread_mutex_destroy(&b->slots[i].mu);
		ml_net_free(b->slots[i].net);
	}
	free(b->slots);
	free(b);
}

enum core_status ia_batcher_run(struct ia_batcher *b, const float *x, size_t n, float *out, struct core_error *err)
{
	if (n == 0)
		return CORE_OK;
	unsigned start = atomic_fetch_add(&b->next, 1);
	struct ia_net_slot *s = NULL;
	for (size_t i = 0; i < b->n_slots && !s; i++) {
		struct ia_net_slot *t = &b->slots[(start + i) % b->n_slots];
		if (pthread_mutex_trylock(&t->mu) == 0)
			s = t;
	}
	if (!s) {
		s = &b->slots[start % b->n_slots];
		pthread_mutex_lock(&s->mu);
	}
	enum core_status st = ml_net_predict(s->net, x, n, out, err);
	pthread_mutex_unlock(&s->mu);
	if (st == CORE_OK)
		metrics_histogram_observe(b->batch_hist, NULL, (double)n);
	return st;
}
