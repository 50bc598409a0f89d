/* Forward and backward passes of one mini-batch through a net (nn_internal.h has the
 * interface and the two activation layouts). Every buffer is allocated once by
 * ml_nn_fwd_new for a batch capacity, so a training step allocates nothing.
 *
 *   dense    Y[B,out] = X[B,in] W^T + b: one GEMM over the whole batch; backward
 *            dW = dY^T X, db = column sums of dY, dX = dY W. A frozen net (ml_net_freeze)
 *            holds W^T instead: a GEMM without the transpose, or under ML_NN_ROWS_MAX
 *            rows nn_rows.c's one row at a time
 *   conv2d   im2col of the whole batch into col[cin*k*k, B*oh*ow], then one GEMM
 *            Y[cout, B*oh*ow] = W col + b, which is the CNHW layout, so no transpose;
 *            backward dW = dY col^T, dcol = W^T dY, col2im (accumulating) into dX
 *   maxpool  per plane (B*C planes in either layout), remembering each maximum's index
 *            (the first one on ties, as PyTorch)
 *   relu, tanh, sigmoid, dropout (inverted: kept values scaled by 1/(1-rate)), flatten,
 *            softmax (per example, max-subtracted)
 * The input's own gradient is never computed: backward stops at the first layer with
 * parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nn_internal.h"

static float *falloc(size_t n)
{
	return malloc((n ? n : 1) * sizeof(float));
}

static size_t col_rows(const struct ml_nn_layer *l)
{
	return (size_t)l->in.c * (size_t)l->spec.kernel * (size_t)l->spec.kernel;
}

static size_t plane(struct ml_shape s)
{
	return (size_t)s.h * (size_t)s.w;
}

void ml_nn_fwd_free(struct ml_nn_fwd *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->net->n_layers; i++) {
		free(f->act[i]);
		free(f->xin[i]);
		free(f->col[i]);
		free(f->arg[i]);
		free(f->mask[i]);
	}
	free(f->act);
	free(f->xin);
	free(f->col);
	free(f->arg);
	free(f->mask);
	free(f->y);
	free(f->out_buf);
	free(f->g0);
	free(f->g1);
	free(f->gcol);
	free(f->gt);
	free(f->ones);
	free(f);
}

enum core_status ml_nn_fwd_new(const struct ml_net *net, size_t cap, bool with_grad, struct ml_nn_fwd **out,
			       struct core_error *err)
{
	size_t n = net->n_layers;
	struct ml_nn_fwd *f = calloc(1, sizeof *f);
	*out = NULL;
	if (!f)
		return core_fail(err, CORE_ENOMEM, "ml: out of memory for a batch of %zu", cap);
	f->net = net;
	f->cap = cap;
	f->act = calloc(n, sizeof *f->act);
	f->xin = calloc(n, sizeof *f->xin);
	f->col = calloc(n, sizeof *f->col);
	f->arg = calloc(n, sizeof *f->arg);
	f->mask = calloc(n, sizeof *f->mask);
	f->y = calloc(n, sizeof *f->y);
	bool ok = f->act && f->xin && f->col && f->arg && f->mask && f->y;
	size_t max_act = net->layers[0].in_size, max_col = 0;
	for (size_t i = 0; ok && i < n; i++) {
		const struct ml_nn_layer *l = &net->layers[i];
		size_t o = cap * l->out_size;
		ok = (f->act[i] = falloc(o)) != NULL;
		if (ok && l->needs_nchw && l->in_layout == ML_NN_CNHW)
			ok = (f->xin[i] = falloc(cap * l->in_size)) != NULL;
		if (ok && l->spec.kind == ML_CONV2D) {
			size_t c = col_rows(l) * cap * plane(l->out);
			ok = (f->col[i] = falloc(c)) != NULL;
			if (c > max_col)
				max_col = c;
		}
		if (ok && l->spec.kind == ML_MAXPOOL)
			ok = (f->arg[i] = malloc((o ? o : 1) * sizeof(int32_t))) != NULL;
		if (ok && l->spec.kind == ML_DROPOUT)
			ok = (f->mask[i] = malloc(o ? o : 1)) != NULL;
		if (l->out_size > max_act)
			max_act = l->out_size;
	}
	const struct ml_nn_layer *last = &net->layers[n - 1];
	if (ok && last->out_layout == ML_NN_CNHW)
		ok = (f->out_buf = falloc(cap * last->out_size)) != NULL;
	if (ok && with_grad) {
		ok = (f->g0 = falloc(cap * max_act)) && (f->g1 = falloc(cap * max_act)) &&
		     (f->gt = falloc(cap * max_act)) && (f->gcol = falloc(max_col)) &&
		     (f->ones = falloc(cap * max_act));
		for (size_t j = 0; ok && j < cap * max_act; j++)
			f->ones[j] = 1.0f;
	}
	if (!ok) {
		ml_nn_fwd_free(f);
		return core_fail(err, CORE_ENOMEM, "ml: out of memory for the buffers of a batch of %zu", cap);
	}
	*out = f;
	return CORE_OK;
}

/* [C][B][P] -> [B][C][P] */
static void cnhw_to_nchw(const float *in, float *out, size_t c, size_t b, size_t p)
{
	for (size_t ci = 0; ci < c; ci++)
		for (size_t bi = 0; bi < b; bi++)
			memcpy(out + (bi * c + ci) * p, in + (ci * b + bi) * p, p * sizeof(float));
}

/* [B][C][P] -> [C][B][P] */
static void nchw_to_cnhw(const float *in, float *out, size_t c, size_t b, size_t p)
{
	for (size_t bi = 0; bi < b; bi++)
		for (size_t ci = 0; ci < c; ci++)
			memcpy(out + (ci * b + bi) * p, in + (bi * c + ci) * p, p * sizeof(float));
}

/* Strides of channel and example in a tensor of shape s and layout for a batch of b. */
static void strides(struct ml_shape s, enum ml_nn_layout layout, size_t b, size_t *cs, size_t *bs)
{
	size_t p = plane(s);
	if (layout == ML_NN_NCHW) {
		*cs = p;
		*bs = (size_t)s.c * p;
	} else {
		*cs = b * p;
		*bs = p;
	}
}

/* col[(c*k + ki)*k + kj][bi*P + oy*ow + ox] = x(c, bi, oy*s + ki - pad, ox*s + kj - pad), 0 outside. */
static void im2col(const struct ml_nn_layer *l, const float *x, size_t b, float *col)
{
	int k = l->spec.kernel, s = l->stride, pad = l->spec.padding;
	int ih = l->in.h, iw = l->in.w, oh = l->out.h, ow = l->out.w;
	size_t cs, bs, p = plane(l->out), ncol = b * p;
	strides(l->in, l->in_layout, b, &cs, &bs);
	for (int c = 0; c < l->in.c; c++)
		for (int ki = 0; ki < k; ki++)
			for (int kj = 0; kj < k; kj++) {
				float *row = col + ((size_t)(c * k + ki) * (size_t)k + (size_t)kj) * ncol;
				/* ox range where ix = ox*s + kj - pad is inside [0, iw) */
				int ox0 = kj >= pad ? 0 : (pad - kj + s - 1) / s;
				int ox1 = (iw - 1 + pad - kj) / s + 1; /* exclusive */
				if (iw - 1 + pad - kj < 0)
					ox1 = 0;
				if (ox1 > ow)
					ox1 = ow;
				if (ox0 > ox1)
					ox0 = ox1;
				for (size_t bi = 0; bi < b; bi++) {
					const float *xp = x + (size_t)c * cs + bi * bs;
					float *r = row + bi * p;
					for (int oy = 0; oy < oh; oy++, r += ow) {
						int iy = oy * s + ki - pad;
						if (iy < 0 || iy >= ih) {
							memset(r, 0, (size_t)ow * sizeof(float));
							continue;
						}
						const float *xr = xp + (size_t)iy * (size_t)iw;
						for (int ox = 0; ox < ox0; ox++)
							r[ox] = 0;
						if (s == 1) {
							memcpy(r + ox0, xr + ox0 + kj - pad,
							       (size_t)(ox1 - ox0) * sizeof(float));
						} else {
							for (int ox = ox0; ox < ox1; ox++)
								r[ox] = xr[ox * s + kj - pad];
						}
						for (int ox = ox1; ox < ow; ox++)
							r[ox] = 0;
					}
				}
			}
}

/* The adjoint of im2col: dx (zeroed here) += every col entry at its source position. */
static void col2im(const struct ml_nn_layer *l, const float *col, size_t b, float *dx)
{
	int k = l->spec.kernel, s = l->stride, pad = l->spec.padding;
	int ih = l->in.h, iw = l->in.w, oh = l->out.h, ow = l->out.w;
	size_t cs, bs, p = plane(l->out), ncol = b * p;
	strides(l->in, l->in_layout, b, &cs, &bs);
	memset(dx, 0, b * l->in_size * sizeof(float));
	for (int c = 0; c < l->in.c; c++)
		for (int ki = 0; ki < k; ki++)
			for (int kj = 0; kj < k; kj++) {
				const float *row = col + ((size_t)(c * k + ki) * (size_t)k + (size_t)kj) * ncol;
				int ox0 = kj >= pad ? 0 : (pad - kj + s - 1) / s;
				int ox1 = (iw - 1 + pad - kj) / s + 1;
				if (iw - 1 + pad - kj < 0)
					ox1 = 0;
				if (ox1 > ow)
					ox1 = ow;
				for (size_t bi = 0; bi < b; bi++) {
					float *xp = dx + (size_t)c * cs + bi * bs;
					const float *r = row + bi * p;
					for (int oy = 0; oy < oh; oy++, r += ow) {
						int iy = oy * s + ki - pad;
						if (iy < 0 || iy >= ih)
							continue;
						float *xr = xp + (size_t)iy * (size_t)iw + kj - pad;
						if (s == 1) {
							if (ox1 > ox0)
								ml_nn_add((size_t)(ox1 - ox0), r + ox0, xr + ox0);
						} else {
							for (int ox = ox0; ox < ox1; ox++)
								xr[ox * s] += r[ox];
						}
					}
				}
			}
}

static void bias_rows(float *y, const float *bias, size_t rows, size_t n)
{
	for (size_t r = 0; r < rows; r++)
		memcpy(y + r * n, bias, n * sizeof(float));
}

static void maxpool_fwd(const struct ml_nn_layer *l, const float *x, size_t b, float *y, int32_t *arg)
{
	int pool = l->spec.pool, s = l->stride, iw = l->in.w, oh = l->out.h, ow = l->out.w;
	size_t planes = b * (size_t)l->in.c, ip = plane(l->in), op = plane(l->out);
	for (size_t pi = 0; pi < planes; pi++) {
		const float *xp = x + pi * ip;
		float *yp = y + pi * op;
		int32_t *ap = arg + pi * op;
		for (int oy = 0; oy < oh; oy++)
			for (int ox = 0; ox < ow; ox++) {
				int best = oy * s * iw + ox * s;
				float m = xp[best];
				for (int dy = 0; dy < pool; dy++)
					for (int dx = 0; dx < pool; dx++) {
						int at = (oy * s + dy) * iw + ox * s + dx;
						if (xp[at] > m || isnan(xp[at])) {
							m = xp[at];
							best = at;
						}
					}
				yp[oy * ow + ox] = m;
				ap[oy * ow + ox] = best;
			}
	}
}

static void maxpool_bwd(const struct ml_nn_layer *l, const float *dy, size_t b, const int32_t *arg, float *dx)
{
	size_t planes = b * (size_t)l->in.c, ip = plane(l->in), op = plane(l->out);
	memset(dx, 0, planes * ip * sizeof(float));
	for (size_t pi = 0; pi < planes; pi++)
		for (size_t j = 0; j < op; j++)
			dx[pi * ip + (size_t)arg[pi * op + j]] += dy[pi * op + j];
}

static void softmax_rows(const float *x, float *y, size_t rows, size_t n)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * n;
		float *yr = y + r * n;
		float m = xr[0];
		for (size_t j = 1; j < n; j++)
			if (xr[j] > m)
				m = xr[j];
		float sum = 0;
		for (size_t j = 0; j < n; j++) {
			yr[j] = expf(xr[j] - m);
			sum += yr[j];
		}
		float inv = 1.0f / sum;
		for (size_t j = 0; j < n; j++)
			yr[j] *= inv;
	}
}

/* The input layer i reads: the previous output, or its NCHW copy. */
static const float *layer_input(struct ml_nn_fwd *f, const float *x, size_t i)
{
	if (f->xin[i])
		return f->xin[i];
	return i == 0 ? x : f->y[i - 1];
}

void ml_nn_forward(struct ml_nn_fwd *f, const float *x, size_t b, bool train, struct ml_nn_rng *rng)
{
	ml_nn_forward_to(f, x, b, train, rng, NULL);
}

void ml_nn_forward_to(struct ml_nn_fwd *f, const float *x, size_t b, bool train, struct ml_nn_rng *rng, float *dst)
{
	const struct ml_net *net = f->net;
	for (size_t i = 0; i < net->n_layers; i++) {
		const struct ml_nn_layer *l = &net->layers[i];
		if (f->xin[i])
			cnhw_to_nchw(f->y[i - 1], f->xin[i], (size_t)l->in.c, b, plane(l->in));
		const float *in = layer_input(f, x, i);
		/* the last layer writes dst itself when its output is NCHW */
		bool to_dst = dst && i + 1 == net->n_layers && !f->out_buf;
		float *y = to_dst ? dst : f->act[i];
		size_t n = b * l->out_size;
		f->y[i] = y;
		switch (l->spec.kind) {
		case ML_DENSE: {
			int out = l->spec.units, k = (int)l->in_size;
			const float *w = net->params + l->w_off, *bias = net->params + l->b_off;
			if (l->wt && b < ML_NN_ROWS_MAX) {
				ml_nn_dense_rows_t(b, out, k, in, w, bias, l->wt_skip, y);
				break;
			}
			bias_rows(y, bias, b, (size_t)out);
			if (l->wt)
				ml_sgemm(false, false, (int)b, out, k, 1.0f, in, k, w, out, 1.0f, y, out);
			else
				ml_sgemm(false, true, (int)b, out, k, 1.0f, in, k, w, k, 1.0f, y, out);
			break;
		}
		case ML_CONV2D: {
			size_t p = b * plane(l->out);
			int kk = (int)col_rows(l);
			im2col(l, in, b, f->col[i]);
			ml_nn_fill_rows(y, net->params + l->b_off, (size_t)l->spec.filters, p);
			ml_sgemm(false, false, l->spec.filters, (int)p, kk, 1.0f, net->params + l->w_off, kk, f->col[i],
				 (int)p, 1.0f, y, (int)p);
			break;
		}
		case ML_MAXPOOL:
			if (l->spec.pool == 2 && l->stride == 2)
				ml_nn_maxpool2(in, b * (size_t)l->in.c, l->in.h, l->in.w, y, f->arg[i]);
			else
				maxpool_fwd(l, in, b, y, f->arg[i]);
			break;
		case ML_RELU:
			ml_nn_relu(n, in, y);
			break;
		case ML_TANH:
			for (size_t j = 0; j < n; j++)
				y[j] = tanhf(in[j]);
			break;
		case ML_SIGMOID:
			for (size_t j = 0; j < n; j++)
				y[j] = 1.0f / (1.0f + expf(-in[j]));
			break;
		case ML_DROPOUT:
			if (train && l->spec.rate > 0) {
				float rate = l->spec.rate, scale = 1.0f / (1.0f - rate);
				uint8_t *mask = f->mask[i];
				for (size_t j = 0; j < n; j++) {
					mask[j] = ml_nn_rng_uniform(rng) >= rate;
					y[j] = mask[j] ? in[j] * scale : 0;
				}
			} else if (to_dst) {
				memcpy(y, in, n * sizeof(float));
			} else {
				f->y[i] = in;
			}
			break;
		case ML_FLATTEN: /* NCHW in, so the same values in the same order */
			if (to_dst)
				memcpy(y, in, n * sizeof(float));
			else
				f->y[i] = in;
			break;
		case ML_SOFTMAX:
			softmax_rows(in, y, b, l->out_size);
			break;
		}
	}
	const struct ml_nn_layer *last = &net->layers[net->n_layers - 1];
	if (f->out_buf) {
		float *o = dst ? dst : f->out_buf;
		cnhw_to_nchw(f->y[net->n_layers - 1], o, (size_t)last->out.c, b, plane(last->out));
		f->out = o;
	} else {
		f->out = f->y[net->n_layers - 1];
	}
}

/* Layer i's backward pass: dy (its output's gradient, its output layout) -> the gradients
 * of its parameters in grad and, when dx is not NULL, of its input in dx (in the layout
 * the layer read: NCHW when it had xin). */
static void layer_bwd(struct ml_nn_fwd *f, const float *x, size_t i, size_t b, const float *dy, float *dx, float *grad)
{
	const struct ml_net *net = f->net;
	const struct ml_nn_layer *l = &net->layers[i];
	const float *in = layer_input(f, x, i), *y = f->y[i];
	size_t n = b * l->out_size;
	switch (l->spec.kind) {
	case ML_DENSE: {
		int out = l->spec.units, k = (int)l->in_size;
		float *db = grad + l->b_off;
		ml_sgemm(true, false, out, k, (int)b, 1.0f, dy, out, in, k, 0.0f, grad + l->w_off, k);
		ml_sgemv(true, (int)b, out, dy, out, f->ones, db);
		if (dx)
			ml_sgemm(false, false, (int)b, k, out, 1.0f, dy, out, net->params + l->w_off, k, 0.0f, dx, k);
		break;
	}
	case ML_CONV2D: {
		size_t p = b * plane(l->out);
		int kk = (int)col_rows(l);
		float *db = grad + l->b_off;
		ml_sgemm(false, true, l->spec.filters, kk, (int)p, 1.0f, dy, (int)p, f->col[i], (int)p, 0.0f,
			 grad + l->w_off, kk);
		ml_sgemv(false, l->spec.filters, (int)p, dy, (int)p, f->ones, db);
		if (dx) {
			ml_sgemm(true, false, kk, (int)p, l->spec.filters, 1.0f, net->params + l->w_off, kk, dy, (int)p,
				 0.0f, f->gcol, (int)p);
			col2im(l, f->gcol, b, dx);
		}
		break;
	}
	case ML_MAXPOOL:
		if (dx)
			maxpool_bwd(l, dy, b, f->arg[i], dx);
		break;
	case ML_RELU:
		if (dx)
			ml_nn_relu_bwd(n, y, dy, dx);
		break;
	case ML_TANH:
		if (dx)
			for (size_t j = 0; j < n; j++)
				dx[j] = dy[j] * (1 - y[j] * y[j]);
		break;
	case ML_SIGMOID:
		if (dx)
			for (size_t j = 0; j < n; j++)
				dx[j] = dy[j] * y[j] * (1 - y[j]);
		break;
	case ML_DROPOUT:
		if (dx) {
			if (l->spec.rate > 0) {
				float scale = 1.0f / (1.0f - l->spec.rate);
				const uint8_t *mask = f->mask[i];
				for (size_t j = 0; j < n; j++)
					dx[j] = mask[j] ? dy[j] * scale : 0;
			} else {
				memcpy(dx, dy, n * sizeof(float));
			}
		}
		break;
	case ML_FLATTEN:
		if (dx)
			memcpy(dx, dy, n * sizeof(float));
		break;
	case ML_SOFTMAX:
		if (dx)
			for (size_t r = 0; r < b; r++) {
				const float *yr = y + r * l->out_size, *gr = dy + r * l->out_size;
				float *dr = dx + r * l->out_size;
				float dot = 0;
				for (size_t j = 0; j < l->out_size; j++)
					dot += gr[j] * yr[j];
				for (size_t j = 0; j < l->out_size; j++)
					dr[j] = yr[j] * (gr[j] - dot);
			}
		break;
	}
}

void ml_nn_backward(struct ml_nn_fwd *f, const float *x, size_t b, const float *gout, float *grad)
{
	const struct ml_net *net = f->net;
	size_t first = net->n_layers;
	for (size_t i = 0; i < net->n_layers; i++)
		if (net->layers[i].n_w) {
			first = i;
			break;
		}
	if (first == net->n_layers)
		return;
	const struct ml_nn_layer *last = &net->layers[net->n_layers - 1];
	const float *g = gout;
	if (f->out_buf) {
		nchw_to_cnhw(gout, f->g0, (size_t)last->out.c, b, plane(last->out));
		g = f->g0;
	}
	for (size_t i = net->n_layers; i-- > first;) {
		const struct ml_nn_layer *l = &net->layers[i];
		float *next = g == f->g0 ? f->g1 : f->g0;
		if (i == first) {
			layer_bwd(f, x, i, b, g, NULL, grad);
			break;
		}
		if (l->spec.kind == ML_FLATTEN) { /* dx = dy, in the layout of the input */
			if (f->xin[i]) {
				nchw_to_cnhw(g, next, (size_t)l->in.c, b, plane(l->in));
				g = next;
			}
			continue;
		}
		if (f->xin[i]) {
			layer_bwd(f, x, i, b, g, f->gt, grad);
			nchw_to_cnhw(f->gt, next, (size_t)l->in.c, b, plane(l->in));
		} else {
			layer_bwd(f, x, i, b, g, next, grad);
		}
		g = next;
	}
}
