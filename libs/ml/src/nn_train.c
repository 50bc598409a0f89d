/* The trainer (face: ml/nn.h): mini-batch epochs over an ml_data with the losses
 * (softmax cross-entropy on logits, max-subtracted; mean squared error, PyTorch's
 * mean over every value) and the optimisers (PyTorch's SGD with momentum and Adam,
 * weight decay added to the gradient as both do).
 *
 * Determinism: an epoch's order is a Fisher-Yates shuffle from the stream (seed, epoch)
 * and its dropout masks come from the stream (seed, 2^32 + epoch), so a trainer loaded
 * from the checkpoint of epoch e draws exactly what an unbroken run draws in epoch
 * e + 1. Each step's arithmetic is a fixed sequence (one BLAS thread), so same seed and
 * data give bit-identical weights. Every buffer is allocated by ml_trainer_new; an
 * epoch allocates only its permutation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nn_internal.h"

#define STREAM_SHUFFLE 0
#define STREAM_DROPOUT ((uint64_t)1 << 32)

void ml_trainer_free(struct ml_trainer *t)
{
	if (!t)
		return;
	ml_nn_fwd_free(t->fwd);
	free(t->grad);
	free(t->m);
	free(t->v);
	free(t->xb);
	free(t->yrb);
	free(t->yb);
	free(t->gout);
	free(t);
}

enum core_status ml_trainer_new(struct ml_net *net, const struct ml_train_cfg *cfg, struct ml_trainer **out,
				struct core_error *err)
{
	enum core_status rc = CORE_OK;
	struct ml_trainer *t = NULL;
	*out = NULL;
	const struct ml_optim *o = &cfg->optim;
	if (net->frozen)
		return core_fail(err, CORE_EINVAL,
				 "the net is frozen for serving (ml_net_freeze) and cannot be trained");
	if (cfg->loss != ML_LOSS_SOFTMAX_CE && cfg->loss != ML_LOSS_MSE)
		return core_fail(err, CORE_EINVAL, "loss: unknown loss %d", (int)cfg->loss);
	if (o->kind != ML_OPT_SGD && o->kind != ML_OPT_ADAM)
		return core_fail(err, CORE_EINVAL, "optimizer.type: unknown optimiser %d", (int)o->kind);
	if (!(o->lr > 0) || !isfinite(o->lr))
		return core_fail(err, CORE_EINVAL, "optimizer.lr: must be a positive number, got %g", (double)o->lr);
	if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
		return core_fail(err, CORE_EINVAL, "optimizer.weight_decay: must be 0 or more, got %g",
				 (double)o->weight_decay);
	if (o->kind == ML_OPT_SGD && !(o->momentum >= 0 && o->momentum < 1))
		return core_fail(err, CORE_EINVAL, "optimizer.momentum: must be in [0, 1), got %g",
				 (double)o->momentum);
	if (o->kind == ML_OPT_ADAM &&
	    (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps >= 0)))
		return core_fail(err, CORE_EINVAL, "optimizer: Adam's betas must be in [0, 1) and eps 0 or more");
	if (cfg->batch_size < 1 || cfg->batch_size > 1 << 16)
		return core_fail(err, CORE_EINVAL, "batch_size: must be in [1, 65536], got %d", cfg->batch_size);
	if (ml_net_n_params(net) == 0)
		return core_fail(err, CORE_EINVAL, "the net has no parameters to train");
	t = calloc(1, sizeof *t);
	if (!t)
		return core_fail(err, CORE_ENOMEM, "ml: out of memory for a trainer");
	t->net = net;
	t->cfg = *cfg;
	if (o->kind == ML_OPT_ADAM) {
		if (t->cfg.optim.beta1 == 0 && t->cfg.optim.beta2 == 0) {
			t->cfg.optim.beta1 = 0.9f;
			t->cfg.optim.beta2 = 0.999f;
		}
		if (t->cfg.optim.eps == 0)
			t->cfg.optim.eps = 1e-8f;
	}
	size_t cap = (size_t)cfg->batch_size, nv = net->n_values, in = net->layers[0].in_size,
	       k = ml_net_n_outputs(net);
	if ((rc = ml_nn_fwd_new(net, cap, true, &t->fwd, err)) != CORE_OK)
		goto out;
	t->grad = calloc(nv, sizeof(float));
	t->m = calloc(nv, sizeof(float));
	if (o->kind == ML_OPT_ADAM)
		t->v = calloc(nv, sizeof(float));
	t->xb = malloc(cap * in * sizeof(float));
	t->yrb = malloc(cap * k * sizeof(float));
	t->yb = malloc(cap * sizeof(int64_t));
	t->gout = malloc(cap * k * sizeof(float));
	if (!t->grad || !t->m || (o->kind == ML_OPT_ADAM && !t->v) || !t->xb || !t->yrb || !t->yb || !t->gout) {
		rc = core_fail(err, CORE_ENOMEM, "ml: out of memory for a trainer's buffers");
		goto out;
	}
	*out = t;
	t = NULL;
out:
	ml_trainer_free(t);
	return rc;
}

int ml_trainer_epoch_done(const struct ml_trainer *t)
{
	return t->epoch;
}

long ml_trainer_step(const struct ml_trainer *t)
{
	return t->step;
}

static enum core_status check_data(const struct ml_trainer *t, const struct ml_data *d, struct core_error *err)
{
	struct ml_shape s = t->net->in;
	if (d->shape.c != s.c || d->shape.h != s.h || d->shape.w != s.w)
		return core_fail(err, CORE_EINVAL, "data: examples are %dx%dx%d, the net takes %dx%dx%d", d->shape.c,
				 d->shape.h, d->shape.w, s.c, s.h, s.w);
	if (d->n == 0)
		return core_fail(err, CORE_EINVAL, "data: no examples");
	if (!d->x)
		return core_fail(err, CORE_EINVAL, "data: no inputs");
	size_t k = ml_net_n_outputs(t->net);
	if (t->cfg.loss == ML_LOSS_SOFTMAX_CE) {
		if (!d->y)
			return core_fail(err, CORE_EINVAL, "data: cross-entropy needs class ids");
		for (size_t i = 0; i < d->n; i++)
			if (d->y[i] < 0 || (uint64_t)d->y[i] >= k)
				return core_fail(err, CORE_EINVAL,
						 "data: example %zu has class %lld, the net has %zu outputs", i,
						 (long long)d->y[i], k);
	} else if (!d->yr) {
		return core_fail(err, CORE_EINVAL, "data: mean squared error needs targets");
	}
	return CORE_OK;
}

/* Loss of b examples (out [b, k]) summed over the batch, in double; gout (when not NULL)
 * gets d(mean loss)/d out. */
static double batch_loss(const struct ml_trainer *t, const float *out, size_t b, size_t k, const int64_t *y,
			 const float *yr, float *gout)
{
	double total = 0;
	if (t->cfg.loss == ML_LOSS_SOFTMAX_CE) {
		float inv_b = 1.0f / (float)b;
		for (size_t r = 0; r < b; r++) {
			const float *z = out + r * k;
			float m = z[0];
			for (size_t j = 1; j < k; j++)
				if (z[j] > m)
					m = z[j];
			float sum = 0;
			for (size_t j = 0; j < k; j++)
				sum += expf(z[j] - m);
			float lse = m + logf(sum);
			total += (double)(lse - z[y[r]]);
			if (gout) {
				float *g = gout + r * k;
				float inv_sum = 1.0f / sum;
				for (size_t j = 0; j < k; j++)
					g[j] = expf(z[j] - m) * inv_sum * inv_b;
				g[y[r]] -= inv_b;
			}
		}
	} else {
		float scale = 2.0f / (float)(b * k);
		for (size_t j = 0; j < b * k; j++) {
			float d = out[j] - yr[j];
			total += (double)d * (double)d / (double)k;
			if (gout)
				gout[j] = scale * d;
		}
	}
	return total;
}

/* One optimiser step over every parameter (PyTorch's formulas). */
static void optim_step(struct ml_trainer *t)
{
	const struct ml_optim *o = &t->cfg.optim;
	float *w = t->net->params, *g = t->grad, *m = t->m;
	size_t n = t->net->n_values;
	float lr = o->lr, wd = o->weight_decay;
	t->step++;
	if (o->kind == ML_OPT_SGD) {
		ml_nn_sgd(n, w, g, m, lr, o->momentum, wd, t->step == 1);
		return;
	}
	float b1 = o->beta1, b2 = o->beta2;
	double bc1 = 1.0 - pow((double)b1, (double)t->step), bc2 = 1.0 - pow((double)b2, (double)t->step);
	struct ml_nn_adam_k k = {.b1 = b1,
				 .c1 = 1.0f - b1,
				 .b2 = b2,
				 .c2 = 1.0f - b2,
				 .step_size = (float)((double)lr / bc1),
				 .bc2_sqrt = (float)sqrt(bc2),
				 .eps = o->eps,
				 .wd = wd};
	ml_nn_adam(n, w, g, m, t->v, &k);
}

enum core_status ml_trainer_epoch(struct ml_trainer *t, const struct ml_data *train, ml_batch_fn on_batch, void *ctx,
				  double *mean_loss, bool *stopped, struct core_error *err)
{
	enum core_status rc;
	if (stopped)
		*stopped = false;
	if ((rc = check_data(t, train, err)) != CORE_OK)
		return rc;
	size_t n = train->n, in = t->net->layers[0].in_size, k = ml_net_n_outputs(t->net),
	       cap = (size_t)t->cfg.batch_size;
	size_t *perm = malloc(n * sizeof *perm);
	if (!perm)
		return core_fail(err, CORE_ENOMEM, "ml: out of memory for the order of %zu examples", n);
	struct ml_nn_rng shuffle, drop;
	ml_nn_rng_seed(&shuffle, t->cfg.seed, STREAM_SHUFFLE + (uint64_t)t->epoch);
	ml_nn_rng_seed(&drop, t->cfg.seed, STREAM_DROPOUT + (uint64_t)t->epoch);
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)ml_nn_rng_below(&shuffle, (uint64_t)i + 1);
		size_t tmp = perm[i];
		perm[i] = perm[j];
		perm[j] = tmp;
	}
	double total = 0;
	for (size_t start = 0; start < n; start += cap) {
		size_t b = n - start < cap ? n - start : cap;
		for (size_t r = 0; r < b; r++) {
			size_t e = perm[start + r];
			memcpy(t->xb + r * in, train->x + e * in, in * sizeof(float));
			if (t->cfg.loss == ML_LOSS_SOFTMAX_CE)
				t->yb[r] = train->y[e];
			else
				memcpy(t->yrb + r * k, train->yr + e * k, k * sizeof(float));
		}
		ml_nn_forward(t->fwd, t->xb, b, true, &drop);
		double loss = batch_loss(t, t->fwd->out, b, k, t->yb, t->yrb, t->gout);
		if (!isfinite(loss)) {
			rc = core_fail(err, CORE_EINVAL, "loss is not finite at epoch %d step %ld", t->epoch + 1,
				       t->step + 1);
			goto out;
		}
		total += loss;
		ml_nn_backward(t->fwd, t->xb, b, t->gout, t->grad);
		optim_step(t);
		if (on_batch && !on_batch(ctx, t->step, (float)(loss / (double)b))) {
			if (stopped)
				*stopped = true;
			if (mean_loss)
				*mean_loss = total / (double)(start + b);
			goto out;
		}
	}
	t->epoch++;
	if (mean_loss)
		*mean_loss = total / (double)n;
out:
	free(perm);
	return rc;
}

enum core_status ml_trainer_eval_loss(struct ml_trainer *t, const struct ml_data *data, double *mean_loss,
				      struct core_error *err)
{
	enum core_status rc;
	if ((rc = check_data(t, data, err)) != CORE_OK)
		return rc;
	size_t n = data->n, in = t->net->layers[0].in_size, k = ml_net_n_outputs(t->net),
	       cap = (size_t)t->cfg.batch_size;
	double total = 0;
	for (size_t start = 0; start < n; start += cap) {
		size_t b = n - start < cap ? n - start : cap;
		ml_nn_forward(t->fwd, data->x + start * in, b, false, NULL);
		total += batch_loss(t, t->fwd->out, b, k, data->y ? data->y + start : NULL,
				    data->yr ? data->yr + start * k : NULL, NULL);
	}
	*mean_loss = total / (double)n;
	return CORE_OK;
}
