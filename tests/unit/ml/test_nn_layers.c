/* Unit tests of libs/ml's layers (nn_forward.c) and net building (nn_net.c): every
 * layer's backward pass against central finite differences of its forward pass, white
 * box through the private nn_internal.h (the public API exposes no gradients). The loss
 * is L = sum(out * R) for a fixed random R, so dL/d out = R; each parameter is moved by
 * +-h and (L+ - L-) / 2h is compared with the analytic gradient. Layers without
 * parameters are checked through the parameters of a dense or conv layer before them.
 * Floats: h = 1e-2 and a tolerance of 5e-3 + 1e-2 |g| (the forward's own rounding,
 * ~1e-6 on L, divided by 2h, plus the O(h^2) truncation). A ReLU or max-pool kink within
 * h of a point breaks the difference quotient there, so a failed point is retried once
 * with h = 1e-3 (rounding then ~5e-4, still inside the tolerance), and must pass.
 * Also: hand-computed forward values, layouts (conv outputs stay channel-major inside),
 * shape misfits naming the layer, kind names, seeded init. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../../libs/ml/src/nn_internal.h"
#include "ml/nn.h"
#include "ml/package.h"

static float frand(struct ml_nn_rng *r)
{
	return 2.0f * ml_nn_rng_uniform(r) - 1.0f;
}

static double loss_of(struct ml_nn_fwd *f, const float *x, size_t b, const float *r, uint64_t mask_seed)
{
	struct ml_nn_rng rng;
	ml_nn_rng_seed(&rng, mask_seed, 1);
	ml_nn_forward(f, x, b, true, &rng);
	size_t n = b * ml_net_n_outputs(f->net);
	double l = 0;
	for (size_t i = 0; i < n; i++)
		l += (double)f->out[i] * (double)r[i];
	return l;
}

/* Builds the net, fills its params and a batch of b inputs from seed, and checks every
 * parameter's gradient. */
static void grad_check(const struct ml_layer_spec *layers, size_t n_layers, struct ml_shape in, size_t b, uint64_t seed)
{
	struct ml_net *net;
	struct core_error err;
	ck_assert_msg(ml_net_new(layers, n_layers, in, &net, &err) == CORE_OK, "%s", err.message);
	struct ml_nn_rng rng;
	ml_nn_rng_seed(&rng, seed, 7);
	for (size_t i = 0; i < net->n_values; i++)
		net->params[i] = frand(&rng);
	size_t in_size = (size_t)in.c * (size_t)in.h * (size_t)in.w, k = ml_net_n_outputs(net);
	float *x = malloc(b * in_size * sizeof(float)), *r = malloc(b * k * sizeof(float));
	float *grad = calloc(net->n_values, sizeof(float));
	for (size_t i = 0; i < b * in_size; i++)
		x[i] = frand(&rng);
	for (size_t i = 0; i < b * k; i++)
		r[i] = frand(&rng);
	struct ml_nn_fwd *f;
	ck_assert_int_eq(ml_nn_fwd_new(net, b, true, &f, &err), CORE_OK);
	loss_of(f, x, b, r, seed);
	ml_nn_backward(f, x, b, r, grad);
	int checked = 0;
	for (size_t i = 0; i < net->n_values; i++) {
		double fd = 0, tol = 0;
		/* h = 1e-2 first; when a ReLU or max-pool kink lies within it, 1e-3 */
		for (float h = 1e-2f; h > 1e-4f; h /= 10) {
			float w = net->params[i];
			net->params[i] = w + h;
			double lp = loss_of(f, x, b, r, seed);
			net->params[i] = w - h;
			double lm = loss_of(f, x, b, r, seed);
			net->params[i] = w;
			fd = (lp - lm) / (2.0 * (double)h);
			tol = 5e-3 + 1e-2 * fabs(fd);
			if (fabs(fd - (double)grad[i]) <= tol)
				break;
		}
		ck_assert_msg(
			fabs(fd - (double)grad[i]) <= tol,
			"%zu-layer net (first %s, last %s), value %zu of %zu: analytic %.6f, finite differences %.6f",
			n_layers, ml_layer_kind_name(layers[0].kind), ml_layer_kind_name(layers[n_layers - 1].kind), i,
			net->n_values, (double)grad[i], fd);
		checked++;
	}
	ck_assert_int_gt(checked, 0);
	ml_nn_fwd_free(f);
	free(x);
	free(r);
	free(grad);
	ml_net_free(net);
}

#define DENSE(u)                                                                                                       \
	{                                                                                                              \
		.kind = ML_DENSE, .units = (u)                                                                         \
	}
#define CONV(f, k, s, p)                                                                                               \
	{                                                                                                              \
		.kind = ML_CONV2D, .filters = (f), .kernel = (k), .stride = (s), .padding = (p)                        \
	}
#define POOL(p, s)                                                                                                     \
	{                                                                                                              \
		.kind = ML_MAXPOOL, .pool = (p), .pool_stride = (s)                                                    \
	}
#define ACT(k)                                                                                                         \
	{                                                                                                              \
		.kind = (k)                                                                                            \
	}

START_TEST(dense_gradients)
{
	struct ml_layer_spec a[] = {DENSE(3)};
	grad_check(a, 1, (struct ml_shape){4, 1, 1}, 5, 1);
	struct ml_layer_spec b[] = {DENSE(6), ACT(ML_RELU), DENSE(2)};
	grad_check(b, 3, (struct ml_shape){4, 1, 1}, 3, 2);
	/* a dense layer on a 2x3x2 input reads it flattened, NCHW */
	grad_check(a, 1, (struct ml_shape){2, 3, 2}, 2, 3);
}
END_TEST

START_TEST(activation_gradients)
{
	enum ml_layer_kind kinds[] = {ML_RELU, ML_TANH, ML_SIGMOID, ML_SOFTMAX, ML_FLATTEN};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		struct ml_layer_spec l[] = {DENSE(5), ACT(kinds[i]), DENSE(3)};
		grad_check(l, 3, (struct ml_shape){4, 1, 1}, 4, 10 + i);
		/* and as the last layer */
		grad_check(l, 2, (struct ml_shape){4, 1, 1}, 4, 20 + i);
	}
}
END_TEST

START_TEST(dropout_gradients)
{
	/* the same masks on every forward pass (the generator is re-seeded): the gradient
	 * of the thinned, rescaled net */
	struct ml_layer_spec l[] = {DENSE(8), {.kind = ML_DROPOUT, .rate = 0.5f}, DENSE(3)};
	grad_check(l, 3, (struct ml_shape){4, 1, 1}, 4, 30);
	struct ml_layer_spec z[] = {DENSE(8), {.kind = ML_DROPOUT, .rate = 0}, DENSE(3)};
	grad_check(z, 3, (struct ml_shape){4, 1, 1}, 4, 31);
}
END_TEST

START_TEST(conv_gradients)
{
	/* padding 1, stride 1, square */
	struct ml_layer_spec a[] = {CONV(3, 3, 1, 1)};
	grad_check(a, 1, (struct ml_shape){2, 5, 5}, 2, 40);
	/* stride 2, no padding, non-square input */
	struct ml_layer_spec b[] = {CONV(2, 3, 2, 0)};
	grad_check(b, 1, (struct ml_shape){2, 7, 6}, 3, 41);
	/* stride 2 with padding 1 and an even kernel */
	struct ml_layer_spec c[] = {CONV(2, 2, 2, 1)};
	grad_check(c, 1, (struct ml_shape){1, 5, 4}, 2, 42);
	/* conv into conv: col2im on the channel-major layout, then an implicit flatten */
	struct ml_layer_spec d[] = {CONV(3, 3, 1, 1), ACT(ML_TANH), CONV(2, 3, 1, 0), DENSE(3)};
	grad_check(d, 4, (struct ml_shape){2, 5, 5}, 2, 43);
}
END_TEST

START_TEST(pool_gradients)
{
	/* the benchmark's shape in small: conv-relu-pool-conv-relu-pool-dense */
	struct ml_layer_spec a[] = {CONV(2, 3, 1, 1), ACT(ML_RELU), POOL(2, 0),      CONV(3, 3, 1, 1),
				    ACT(ML_RELU),     POOL(2, 0),   ACT(ML_FLATTEN), DENSE(3)};
	grad_check(a, 8, (struct ml_shape){1, 8, 8}, 2, 50);
	/* overlapping windows (stride 1), odd sizes, and a pool on the net's input */
	struct ml_layer_spec b[] = {CONV(2, 2, 1, 0), POOL(3, 1), DENSE(2)};
	grad_check(b, 3, (struct ml_shape){2, 6, 5}, 2, 51);
	struct ml_layer_spec c[] = {POOL(2, 0), DENSE(2)};
	grad_check(c, 2, (struct ml_shape){1, 4, 4}, 2, 52);
	/* a net that ends spatial: its output is given back NCHW */
	struct ml_layer_spec d[] = {CONV(2, 3, 1, 1), POOL(2, 0), ACT(ML_SIGMOID)};
	grad_check(d, 3, (struct ml_shape){1, 4, 4}, 3, 53);
}
END_TEST

/* Forward values computed by hand. */
/* A sharing net predicts exactly what its source does, holds no weights of its own
 * (a change to the source's shows in it), and freeing it leaves the source whole
 * (ASan would see a double free or a use after free). */
START_TEST(shared_nets_predict_as_their_source)
{
	struct ml_layer_spec l[] = {{.kind = ML_DENSE, .units = 16},
				    {.kind = ML_RELU},
				    {.kind = ML_DENSE, .units = 3},
				    {.kind = ML_SOFTMAX}};
	struct ml_net *src, *a, *b;
	struct core_error err;
	ck_assert_int_eq(ml_net_new(l, 4, (struct ml_shape){10, 1, 1}, &src, &err), CORE_OK);
	ml_net_init(src, 7);
	ck_assert_int_eq(ml_net_share(src, &a, &err), CORE_OK);
	ck_assert_int_eq(ml_net_share(src, &b, &err), CORE_OK);
	float x[20], ys[6], ya[6], yb[6];
	for (int i = 0; i < 20; i++)
		x[i] = (float)i / 7.0f - 1.0f;
	ck_assert_int_eq(ml_net_predict(src, x, 2, ys, &err), CORE_OK);
	ck_assert_int_eq(ml_net_predict(a, x, 2, ya, &err), CORE_OK);
	ck_assert_int_eq(ml_net_predict(b, x, 2, yb, &err), CORE_OK);
	ck_assert(memcmp(ys, ya, sizeof ys) == 0 && memcmp(ys, yb, sizeof ys) == 0);
	struct ml_param ps, pa;
	ml_net_param(src, 0, &ps);
	ml_net_param(a, 0, &pa);
	ck_assert_ptr_eq(ps.data, pa.data);
	ps.data[0] += 1.0f;
	ck_assert_int_eq(ml_net_predict(src, x, 2, ys, &err), CORE_OK);
	ck_assert_int_eq(ml_net_predict(a, x, 2, ya, &err), CORE_OK);
	ck_assert(memcmp(ys, ya, sizeof ys) == 0);
	ml_net_free(a);
	ml_net_free(b);
	ck_assert_int_eq(ml_net_predict(src, x, 2, ys, &err), CORE_OK);
	ml_net_free(src);
}
END_TEST

START_TEST(forward_values)
{
	struct ml_net *net;
	struct core_error err;
	/* conv 1->1, kernel 2, padding 1 on a 2x2 input: a 3x3 output of windowed sums */
	struct ml_layer_spec c[] = {CONV(1, 2, 1, 1)};
	ck_assert_int_eq(ml_net_new(c, 1, (struct ml_shape){1, 2, 2}, &net, &err), CORE_OK);
	ck_assert_uint_eq(ml_net_n_outputs(net), 9);
	struct ml_param p;
	ml_net_param(net, 0, &p);
	ck_assert_str_eq(p.name, "0.weight");
	ck_assert_int_eq(p.ndim, 4);
	float w[4] = {1, 2, 3, 4}; /* [[1,2],[3,4]] */
	memcpy(p.data, w, sizeof w);
	ml_net_param(net, 1, &p);
	ck_assert_str_eq(p.name, "0.bias");
	p.data[0] = 0.5f;
	float x[4] = {1, 2, 3, 4}, y[9];
	ck_assert_int_eq(ml_net_predict(net, x, 1, y, &err), CORE_OK);
	/* y[i][j] = sum_{a,b} w[a][b] x[i+a-1][j+b-1] + 0.5 */
	float want[9] = {4.5f, 11.5f, 6.5f, 14.5f, 30.5f, 14.5f, 6.5f, 11.5f, 4.5f};
	for (int i = 0; i < 9; i++)
		ck_assert_float_eq_tol(y[i], want[i], 1e-6);
	ml_net_free(net);

	/* maxpool 2 on 2 channels of 2x4, two examples: the layout comes back NCHW */
	struct ml_layer_spec m[] = {POOL(2, 0)};
	ck_assert_int_eq(ml_net_new(m, 1, (struct ml_shape){2, 2, 4}, &net, &err), CORE_OK);
	float xm[32], ym[8];
	for (int i = 0; i < 32; i++)
		xm[i] = (float)((i * 7) % 32);
	ck_assert_int_eq(ml_net_predict(net, xm, 2, ym, &err), CORE_OK);
	for (int e = 0; e < 2; e++)
		for (int ch = 0; ch < 2; ch++)
			for (int ox = 0; ox < 2; ox++) {
				const float *pl = xm + e * 16 + ch * 8;
				float mx = pl[2 * ox];
				mx = fmaxf(mx, pl[2 * ox + 1]);
				mx = fmaxf(mx, pl[4 + 2 * ox]);
				mx = fmaxf(mx, pl[4 + 2 * ox + 1]);
				ck_assert_float_eq(ym[e * 4 + ch * 2 + ox], mx);
			}
	ml_net_free(net);

	/* softmax, sigmoid, tanh, relu of fixed values */
	struct ml_layer_spec s[] = {ACT(ML_SOFTMAX)};
	ck_assert_int_eq(ml_net_new(s, 1, (struct ml_shape){3, 1, 1}, &net, &err), CORE_OK);
	float xs[3] = {1000, 1001, 1002}, ys[3]; /* stable: no overflow at 1000 */
	ck_assert_int_eq(ml_net_predict(net, xs, 1, ys, &err), CORE_OK);
	double z = 1 + exp(1) + exp(2);
	ck_assert_float_eq_tol(ys[0], 1 / z, 1e-6);
	ck_assert_float_eq_tol(ys[2], exp(2) / z, 1e-6);
	ml_net_free(net);
	enum ml_layer_kind k3[] = {ML_SIGMOID, ML_TANH, ML_RELU};
	for (int i = 0; i < 3; i++) {
		struct ml_layer_spec a[] = {ACT(k3[i])};
		ck_assert_int_eq(ml_net_new(a, 1, (struct ml_shape){2, 1, 1}, &net, &err), CORE_OK);
		float xa[2] = {-0.5f, 2}, ya[2];
		ck_assert_int_eq(ml_net_predict(net, xa, 1, ya, &err), CORE_OK);
		for (int j = 0; j < 2; j++) {
			double v = xa[j], want_v = i == 0 ? 1 / (1 + exp(-v)) : i == 1 ? tanh(v) : (v > 0 ? v : 0);
			ck_assert_float_eq_tol(ya[j], want_v, 1e-6);
		}
		ml_net_free(net);
	}
}
END_TEST

START_TEST(dropout_scales_and_eval_is_identity)
{
	struct ml_layer_spec l[] = {{.kind = ML_DROPOUT, .rate = 0.25f}};
	struct ml_net *net;
	struct core_error err;
	ck_assert_int_eq(ml_net_new(l, 1, (struct ml_shape){1000, 1, 1}, &net, &err), CORE_OK);
	float x[1000];
	for (int i = 0; i < 1000; i++)
		x[i] = 1.0f;
	struct ml_nn_fwd *f;
	ck_assert_int_eq(ml_nn_fwd_new(net, 1, false, &f, &err), CORE_OK);
	struct ml_nn_rng rng;
	ml_nn_rng_seed(&rng, 5, 0);
	ml_nn_forward(f, x, 1, true, &rng);
	int kept = 0;
	for (int i = 0; i < 1000; i++) {
		ck_assert(f->out[i] == 0 || f->out[i] == 1.0f / 0.75f);
		kept += f->out[i] != 0;
	}
	ck_assert_int_gt(kept, 700);
	ck_assert_int_lt(kept, 800);
	ml_nn_forward(f, x, 1, false, NULL);
	for (int i = 0; i < 1000; i++)
		ck_assert_float_eq(f->out[i], 1.0f);
	ml_nn_fwd_free(f);
	ml_net_free(net);
}
END_TEST

static void misfit(const struct ml_layer_spec *l, size_t n, struct ml_shape in, const char *want)
{
	struct ml_net *net = (struct ml_net *)1;
	struct core_error err = {0};
	ck_assert_int_eq(ml_net_new(l, n, in, &net, &err), CORE_EINVAL);
	ck_assert_ptr_null(net);
	ck_assert_msg(strstr(err.message, want), "'%s' does not say '%s'", err.message, want);
}

START_TEST(shape_misfits_name_the_layer)
{
	struct ml_layer_spec a[] = {CONV(4, 3, 1, 0), POOL(2, 0), CONV(8, 5, 1, 0)};
	misfit(a, 3, (struct ml_shape){1, 8, 8}, "layer 2 (conv2d): kernel 5 is larger than its 3x3 input");
	struct ml_layer_spec b[] = {CONV(4, 3, 1, 0), POOL(4, 0)};
	misfit(b, 2, (struct ml_shape){1, 4, 4}, "layer 1 (maxpool): pool 4 is larger than its 2x2 input");
	struct ml_layer_spec c[] = {DENSE(0)};
	misfit(c, 1, (struct ml_shape){4, 1, 1}, "layer 0 (dense): units");
	struct ml_layer_spec d[] = {DENSE(3), {.kind = ML_DROPOUT, .rate = 1}};
	misfit(d, 2, (struct ml_shape){4, 1, 1}, "layer 1 (dropout): rate");
	struct ml_layer_spec e[] = {CONV(2, 3, -1, 0)};
	misfit(e, 1, (struct ml_shape){1, 4, 4}, "layer 0 (conv2d): stride");
	struct ml_layer_spec f[] = {DENSE(2), {.kind = (enum ml_layer_kind)77}};
	misfit(f, 2, (struct ml_shape){4, 1, 1}, "layer 1: unknown kind 77");
	misfit(f, 0, (struct ml_shape){4, 1, 1}, "at least one layer");
	misfit(c, 1, (struct ml_shape){0, 1, 1}, "input shape");
	/* a net that fits: shapes and the output count */
	struct ml_layer_spec ok[] = {CONV(32, 3, 0, 1), ACT(ML_RELU), POOL(2, 0),   CONV(64, 3, 0, 1), ACT(ML_RELU),
				     POOL(2, 0),        DENSE(128),   ACT(ML_RELU), DENSE(10)};
	struct ml_net *net;
	struct core_error err;
	ck_assert_int_eq(ml_net_new(ok, 9, (struct ml_shape){1, 28, 28}, &net, &err), CORE_OK);
	ck_assert_uint_eq(ml_net_n_outputs(net), 10);
	ck_assert_int_eq(ml_net_layer_output(net, 5).h, 7);
	ck_assert_uint_eq(ml_net_n_params(net), 8);
	struct ml_param p;
	ml_net_param(net, 4, &p);
	ck_assert_str_eq(p.name, "6.weight");
	ck_assert_int_eq(p.shape[0], 128);
	ck_assert_int_eq(p.shape[1], 64 * 7 * 7);
	ck_assert_int_eq(ml_net_layer(net, 0)->stride, 0); /* as given */
	ml_net_free(net);
}
END_TEST

START_TEST(kind_names_round_trip)
{
	for (int k = ML_DENSE; k <= ML_SOFTMAX; k++) {
		enum ml_layer_kind got;
		ck_assert(ml_layer_kind_parse(ml_layer_kind_name((enum ml_layer_kind)k), &got));
		ck_assert_int_eq(got, k);
	}
	enum ml_layer_kind got;
	ck_assert(!ml_layer_kind_parse("svm", &got));
	ck_assert_str_eq(ml_layer_kind_name(ML_CONV2D), "conv2d");
	ck_assert_str_eq(ml_layer_kind_name((enum ml_layer_kind)0), "?");
}
END_TEST

START_TEST(init_is_seeded_and_scaled)
{
	struct ml_layer_spec l[] = {DENSE(200), ACT(ML_RELU), DENSE(100)};
	struct ml_net *a, *b;
	struct core_error err;
	ck_assert_int_eq(ml_net_new(l, 3, (struct ml_shape){300, 1, 1}, &a, &err), CORE_OK);
	ck_assert_int_eq(ml_net_new(l, 3, (struct ml_shape){300, 1, 1}, &b, &err), CORE_OK);
	ml_net_init(a, 9);
	ml_net_init(b, 9);
	ck_assert_int_eq(memcmp(a->params, b->params, a->n_values * sizeof(float)), 0);
	ml_net_init(b, 10);
	ck_assert_int_ne(memcmp(a->params, b->params, a->n_values * sizeof(float)), 0);
	/* He-normal before the ReLU: variance 2 / 300 */
	struct ml_param p;
	ml_net_param(a, 0, &p);
	double s2 = 0;
	for (size_t i = 0; i < p.n; i++)
		s2 += (double)p.data[i] * p.data[i];
	ck_assert_double_eq_tol(s2 / (double)p.n, 2.0 / 300, 2.0 / 300 * 0.05);
	/* Xavier-uniform for the last: within sqrt(6 / 300), variance bound^2 / 3 */
	ml_net_param(a, 2, &p);
	double bound = sqrt(6.0 / 300), m2 = 0;
	for (size_t i = 0; i < p.n; i++) {
		ck_assert(fabs(p.data[i]) <= bound);
		m2 += (double)p.data[i] * p.data[i];
	}
	ck_assert_double_eq_tol(m2 / (double)p.n, bound * bound / 3, bound * bound / 3 * 0.05);
	ml_net_param(a, 1, &p);
	for (size_t i = 0; i < p.n; i++)
		ck_assert_float_eq(p.data[i], 0);
	ml_net_free(a);
	ml_net_free(b);
}
END_TEST

/* A frozen net (ml_net_freeze: dense weights transposed, few rows one at a time with
 * zero inputs skipped, more rows through a GEMM) predicts what the unfrozen net does, to
 * float rounding, for every batch size on both sides of ML_NN_ROWS_MAX; with 300 units
 * the one-row kernel's blocks of 256 and its tail are both used, and a conv layer
 * before a dense one is left as it was. The same input gives the same bits twice. */
static void frozen_matches(const struct ml_layer_spec *l, size_t n_layers, struct ml_shape in, uint64_t seed)
{
	struct ml_net *plain, *frozen;
	struct core_error err;
	ck_assert_int_eq(ml_net_new(l, n_layers, in, &plain, &err), CORE_OK);
	ck_assert_int_eq(ml_net_new(l, n_layers, in, &frozen, &err), CORE_OK);
	ml_net_init(plain, seed);
	ml_net_init(frozen, seed);
	ck_assert(!ml_net_frozen(frozen));
	ck_assert_int_eq(ml_net_freeze(frozen, &err), CORE_OK);
	ck_assert(ml_net_frozen(frozen));
	size_t nin = (size_t)in.c * (size_t)in.h * (size_t)in.w, nout = ml_net_n_outputs(plain), rows = 20;
	float *x = malloc(rows * nin * sizeof *x), *a = malloc(rows * nout * sizeof *a),
	      *b = malloc(rows * nout * sizeof *b), *b2 = malloc(rows * nout * sizeof *b2);
	struct ml_nn_rng r;
	ml_nn_rng_seed(&r, seed, 9);
	for (size_t i = 0; i < rows * nin; i++) /* about half zeros, as an image's background */
		x[i] = ml_nn_rng_uniform(&r) < 0.5f ? 0.0f : frand(&r) * 3.0f;
	for (size_t n = 1; n <= rows; n++) {
		ck_assert_int_eq(ml_net_predict(plain, x, n, a, &err), CORE_OK);
		ck_assert_int_eq(ml_net_predict(frozen, x, n, b, &err), CORE_OK);
		ck_assert_int_eq(ml_net_predict(frozen, x, n, b2, &err), CORE_OK);
		ck_assert(memcmp(b, b2, n * nout * sizeof *b) == 0);
		for (size_t i = 0; i < n * nout; i++)
			ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-5f * (1.0f + fabsf(a[i])),
				      "rows %zu, output %zu: %g vs %g", n, i, (double)a[i], (double)b[i]);
	}
	free(x);
	free(a);
	free(b);
	free(b2);
	ml_net_free(plain);
	ml_net_free(frozen);
}

START_TEST(frozen_nets_predict_as_unfrozen)
{
	struct ml_layer_spec mlp[] = {{.kind = ML_DENSE, .units = 300},
				      {.kind = ML_RELU},
				      {.kind = ML_DENSE, .units = 10},
				      {.kind = ML_SOFTMAX}};
	frozen_matches(mlp, 4, (struct ml_shape){1, 7, 9}, 11);
	struct ml_layer_spec conv[] = {
		CONV(3, 3, 1, 1), {.kind = ML_RELU}, POOL(2, 0), {.kind = ML_DENSE, .units = 21}};
	frozen_matches(conv, 4, (struct ml_shape){2, 6, 6}, 12);
}
END_TEST

/* Skipping zero inputs changes no bit of a sum; it is off for a layer with a weight that
 * is not finite, so that 0 * inf still gives NaN as in the unfrozen net (the inference
 * API's warm-up on zeros refuses such a version). */
START_TEST(frozen_zero_skip_is_exact)
{
	struct ml_nn_rng r;
	ml_nn_rng_seed(&r, 5, 1);
	enum { K = 70, N = 273 };
	static float x[3 * K], wt[K * N], bias[N], y1[3 * N], y2[3 * N];
	for (size_t i = 0; i < 3 * K; i++)
		x[i] = i % 3 ? 0.0f : frand(&r);
	for (size_t i = 0; i < K * N; i++)
		wt[i] = frand(&r);
	for (size_t i = 0; i < N; i++)
		bias[i] = i % 5 ? frand(&r) : -0.0f;
	ml_nn_dense_rows_t(3, N, K, x, wt, bias, true, y1);
	ml_nn_dense_rows_t(3, N, K, x, wt, bias, false, y2);
	ck_assert(memcmp(y1, y2, sizeof y1) == 0);

	struct ml_layer_spec l[] = {{.kind = ML_DENSE, .units = 4}};
	struct ml_net *plain, *frozen;
	struct core_error err;
	ck_assert_int_eq(ml_net_new(l, 1, (struct ml_shape){3, 1, 1}, &plain, &err), CORE_OK);
	ck_assert_int_eq(ml_net_new(l, 1, (struct ml_shape){3, 1, 1}, &frozen, &err), CORE_OK);
	struct ml_param p;
	ml_net_param(plain, 0, &p);
	p.data[5] = INFINITY;
	ml_net_param(frozen, 0, &p);
	p.data[5] = INFINITY;
	ck_assert_int_eq(ml_net_freeze(frozen, &err), CORE_OK);
	float zeros[3] = {0, 0, 0}, ya[4], yb[4];
	ck_assert_int_eq(ml_net_predict(plain, zeros, 1, ya, &err), CORE_OK);
	ck_assert_int_eq(ml_net_predict(frozen, zeros, 1, yb, &err), CORE_OK);
	for (int i = 0; i < 4; i++)
		ck_assert(isnan(ya[i]) == isnan(yb[i]));
	ck_assert(isnan(yb[1]));
	ml_net_free(plain);
	ml_net_free(frozen);
}
END_TEST

/* Nets shared from a frozen net are frozen and predict its bits; a sharing net cannot be
 * frozen itself; a frozen net reports its dense weights as stored, cannot be trained or
 * written, and freezing again changes nothing. */
START_TEST(frozen_net_contract)
{
	struct ml_layer_spec l[] = {{.kind = ML_DENSE, .units = 5}, {.kind = ML_RELU}, {.kind = ML_DENSE, .units = 2}};
	struct ml_net *src, *sh, *early;
	struct core_error err;
	ck_assert_int_eq(ml_net_new(l, 3, (struct ml_shape){3, 1, 1}, &src, &err), CORE_OK);
	ml_net_init(src, 3);
	ck_assert_int_eq(ml_net_share(src, &early, &err), CORE_OK);
	ck_assert_int_eq(ml_net_freeze(early, &err), CORE_EINVAL);
	ml_net_free(early);
	ck_assert_int_eq(ml_net_freeze(src, &err), CORE_OK);
	ck_assert_int_eq(ml_net_share(src, &sh, &err), CORE_OK);
	ck_assert(ml_net_frozen(sh));
	float x[6] = {1, 0, -2, 0.5f, 0, 0}, ya[4], yb[4], yc[4];
	ck_assert_int_eq(ml_net_predict(src, x, 2, ya, &err), CORE_OK);
	ck_assert_int_eq(ml_net_predict(sh, x, 2, yb, &err), CORE_OK);
	ck_assert(memcmp(ya, yb, sizeof ya) == 0);
	ck_assert_int_eq(ml_net_freeze(src, &err), CORE_OK);
	ck_assert_int_eq(ml_net_predict(src, x, 2, yc, &err), CORE_OK);
	ck_assert(memcmp(ya, yc, sizeof ya) == 0);
	struct ml_param p;
	ml_net_param(sh, 0, &p);
	ck_assert(p.shape[0] == 3 && p.shape[1] == 5);
	struct ml_trainer *t;
	struct ml_train_cfg cfg = {.loss = ML_LOSS_MSE, .optim = {.kind = ML_OPT_SGD, .lr = 0.1f}, .batch_size = 2};
	ck_assert_int_eq(ml_trainer_new(src, &cfg, &t, &err), CORE_EINVAL);
	ck_assert(strstr(err.message, "frozen") != NULL);
	struct ml_package pkg = {.task = "regression", .net = src};
	ck_assert_int_eq(ml_package_write(&pkg, "/nonexistent/never-written", &err), CORE_EINVAL);
	ck_assert(strstr(err.message, "frozen") != NULL);
	ml_net_free(sh);
	ml_net_free(src);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ml_nn_layers");
	TCase *tc = tcase_create("layers");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dense_gradients);
	tcase_add_test(tc, activation_gradients);
	tcase_add_test(tc, dropout_gradients);
	tcase_add_test(tc, conv_gradients);
	tcase_add_test(tc, pool_gradients);
	tcase_add_test(tc, forward_values);
	tcase_add_test(tc, shared_nets_predict_as_their_source);
	tcase_add_test(tc, frozen_nets_predict_as_unfrozen);
	tcase_add_test(tc, frozen_zero_skip_is_exact);
	tcase_add_test(tc, frozen_net_contract);
	tcase_add_test(tc, dropout_scales_and_eval_is_identity);
	tcase_add_test(tc, shape_misfits_name_the_layer);
	tcase_add_test(tc, kind_names_round_trip);
	tcase_add_test(tc, init_is_seeded_and_scaled);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
