/* Unit tests of libs/ml's trainer (nn_train.c, nn_ckpt.c) through the public ml/nn.h:
 * losses against hand-computed values, the loss gradients against finite differences
 * (read back from one SGD step with lr 1 over one full batch: w - w' = dL/dw), SGD with
 * momentum and Adam against PyTorch's own numbers for two steps (computed once with
 * torch.optim and written here), determinism (same seed -> the same bytes; a run saved
 * after epoch 1, loaded into a fresh trainer and trained one more epoch ends with the
 * same checkpoint bytes as an unbroken two-epoch run), cancel, a non-finite loss, bad
 * configs and data, checkpoints that do not fit, and a small problem actually learnt. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ml/nn.h"

#define DENSE(u)                                                                                                       \
	{                                                                                                              \
		.kind = ML_DENSE, .units = (u)                                                                         \
	}
#define ACT(k)                                                                                                         \
	{                                                                                                              \
		.kind = (k)                                                                                            \
	}

static struct ml_net *make_net(const struct ml_layer_spec *l, size_t n, struct ml_shape in, uint64_t seed)
{
	struct ml_net *net;
	struct core_error err;
	ck_assert_msg(ml_net_new(l, n, in, &net, &err) == CORE_OK, "%s", err.message);
	ml_net_init(net, seed);
	return net;
}

static struct ml_trainer *make_trainer(struct ml_net *net, enum ml_loss loss, struct ml_optim o, int batch,
				       uint64_t seed)
{
	struct ml_train_cfg cfg = {.loss = loss, .optim = o, .batch_size = batch, .seed = seed};
	struct ml_trainer *t;
	struct core_error err;
	ck_assert_msg(ml_trainer_new(net, &cfg, &t, &err) == CORE_OK, "%s", err.message);
	return t;
}

static void set_param(struct ml_net *net, size_t i, const float *v)
{
	struct ml_param p;
	ml_net_param(net, i, &p);
	memcpy(p.data, v, p.n * sizeof(float));
}

START_TEST(losses_match_hand_computed_values)
{
	struct ml_layer_spec l[] = {DENSE(3)};
	struct ml_net *net = make_net(l, 1, (struct ml_shape){2, 1, 1}, 1);
	set_param(net, 0, (float[]){1, 0, 0, 1, 1, 1});
	set_param(net, 1, (float[]){0, 0.5f, -1});
	struct ml_trainer *t =
		make_trainer(net, ML_LOSS_SOFTMAX_CE, (struct ml_optim){.kind = ML_OPT_SGD, .lr = 1}, 2, 1);
	/* logits {1, 2.5, 2} with class 1 and {0, 0.5, -1} with class 2 */
	float x[4] = {1, 2, 0, 0};
	int64_t y[2] = {1, 2};
	struct ml_data d = {.x = x, .y = y, .n = 2, .shape = {2, 1, 1}};
	double loss;
	struct core_error err;
	ck_assert_int_eq(ml_trainer_eval_loss(t, &d, &loss, &err), CORE_OK);
	ck_assert_double_eq_tol(loss, 1.3541306053367284, 1e-6);
	/* logits near 1000: no overflow (the max is subtracted) */
	float big[4] = {1000, 1000, 0, 0};
	d.x = big;
	ck_assert_int_eq(ml_trainer_eval_loss(t, &d, &loss, &err), CORE_OK);
	/* logits {1000, 1000.5, 1999} with class 1: 1999 - 1000.5 (and a negligible rest) */
	ck_assert(isfinite(loss));
	ck_assert_double_eq_tol(loss, (998.5 + log(1 + exp(0.5) + exp(-1.0)) + 1) / 2, 1e-3);
	ml_trainer_free(t);
	ml_net_free(net);

	/* MSE: mean over every value, as PyTorch's MSELoss */
	struct ml_layer_spec m[] = {DENSE(2)};
	net = make_net(m, 1, (struct ml_shape){2, 1, 1}, 1);
	set_param(net, 0, (float[]){1, 0, 0, 1});
	set_param(net, 1, (float[]){0.5f, -0.5f});
	t = make_trainer(net, ML_LOSS_MSE, (struct ml_optim){.kind = ML_OPT_SGD, .lr = 1}, 2, 1);
	float xm[4] = {1, 2, 3, -1}, tm[4] = {0, 0, 1, 1};
	struct ml_data dm = {.x = xm, .yr = tm, .n = 2, .shape = {2, 1, 1}};
	ck_assert_int_eq(ml_trainer_eval_loss(t, &dm, &loss, &err), CORE_OK);
	ck_assert_double_eq_tol(loss, 4.25, 1e-6);
	ml_trainer_free(t);
	ml_net_free(net);
}
END_TEST

/* dL/dw read from one plain SGD step (lr 1, one batch of everything) against central
 * differences of the evaluated loss. */
static void loss_gradient_check(enum ml_loss loss)
{
	struct ml_layer_spec l[] = {DENSE(4), ACT(ML_TANH), DENSE(3)};
	struct ml_net *net = make_net(l, 3, (struct ml_shape){3, 1, 1}, 5);
	enum { N = 6 };
	float x[N * 3], yr[N * 3];
	int64_t y[N];
	for (int i = 0; i < N * 3; i++) {
		x[i] = sinf((float)i * 1.7f);
		yr[i] = cosf((float)i * 0.9f);
	}
	for (int i = 0; i < N; i++)
		y[i] = i % 3;
	struct ml_data d = {.x = x, .y = y, .yr = yr, .n = N, .shape = {3, 1, 1}};
	struct ml_trainer *t = make_trainer(net, loss, (struct ml_optim){.kind = ML_OPT_SGD, .lr = 1}, N, 3);
	size_t np = 0;
	for (size_t i = 0; i < ml_net_n_params(net); i++) {
		struct ml_param p;
		ml_net_param(net, i, &p);
		np += p.n;
	}
	double *fd = calloc(np, sizeof(double));
	float *before = calloc(np, sizeof(float));
	struct core_error err;
	size_t at = 0;
	for (size_t i = 0; i < ml_net_n_params(net); i++) {
		struct ml_param p;
		ml_net_param(net, i, &p);
		for (size_t j = 0; j < p.n; j++, at++) {
			float w = p.data[j];
			before[at] = w;
			double lp, lm;
			p.data[j] = w + 1e-2f;
			ck_assert_int_eq(ml_trainer_eval_loss(t, &d, &lp, &err), CORE_OK);
			p.data[j] = w - 1e-2f;
			ck_assert_int_eq(ml_trainer_eval_loss(t, &d, &lm, &err), CORE_OK);
			p.data[j] = w;
			fd[at] = (lp - lm) / 2e-2;
		}
	}
	double mean;
	ck_assert_int_eq(ml_trainer_epoch(t, &d, NULL, NULL, &mean, NULL, &err), CORE_OK);
	ck_assert_int_eq(ml_trainer_step(t), 1);
	at = 0;
	for (size_t i = 0; i < ml_net_n_params(net); i++) {
		struct ml_param p;
		ml_net_param(net, i, &p);
		for (size_t j = 0; j < p.n; j++, at++) {
			double g = (double)before[at] - (double)p.data[j];
			ck_assert_msg(fabs(g - fd[at]) <= 2e-3 + 1e-2 * fabs(fd[at]),
				      "%s %s[%zu]: analytic %.6f, fd %.6f", loss == ML_LOSS_MSE ? "mse" : "ce", p.name,
				      j, g, fd[at]);
		}
	}
	free(fd);
	free(before);
	ml_trainer_free(t);
	ml_net_free(net);
}

START_TEST(loss_gradients_match_finite_differences)
{
	loss_gradient_check(ML_LOSS_SOFTMAX_CE);
	loss_gradient_check(ML_LOSS_MSE);
}
END_TEST

/* w = 0.5, b = 0.25, x = 2, target 1, MSE; lr 0.1, weight decay 0.01; the expected
 * values are torch.optim's after each step (PyTorch 1.13). */
static void two_steps(struct ml_optim o, const double want[2][2])
{
	struct ml_layer_spec l[] = {DENSE(1)};
	struct ml_net *net = make_net(l, 1, (struct ml_shape){1, 1, 1}, 1);
	set_param(net, 0, (float[]){0.5f});
	set_param(net, 1, (float[]){0.25f});
	struct ml_trainer *t = make_trainer(net, ML_LOSS_MSE, o, 1, 1);
	float x = 2, target = 1;
	struct ml_data d = {.x = &x, .yr = &target, .n = 1, .shape = {1, 1, 1}};
	struct core_error err;
	for (int s = 0; s < 2; s++) {
		ck_assert_int_eq(ml_trainer_epoch(t, &d, NULL, NULL, NULL, NULL, &err), CORE_OK);
		struct ml_param w, b;
		ml_net_param(net, 0, &w);
		ml_net_param(net, 1, &b);
		ck_assert_double_eq_tol(w.data[0], want[s][0], 1e-6);
		ck_assert_double_eq_tol(b.data[0], want[s][1], 1e-6);
	}
	ck_assert_int_eq(ml_trainer_epoch_done(t), 2);
	ml_trainer_free(t);
	ml_net_free(net);
}

START_TEST(optimisers_match_pytorch)
{
	two_steps((struct ml_optim){.kind = ML_OPT_SGD, .lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f},
		  (const double[2][2]){{0.3995000123977661, 0.19975000619888306},
				       {0.3091505169868469, 0.15457525849342346}});
	two_steps((struct ml_optim){.kind = ML_OPT_ADAM, .lr = 0.1f, .weight_decay = 0.01f},
		  (const double[2][2]){{0.4000000059604645, 0.15000000596046448},
				       {0.34848544001579285, 0.09856779873371124}});
	/* plain SGD: w -= lr * g, g = 2 (wx + b - t) x = 2 * 0.25 * 2 = 1 */
	two_steps((struct ml_optim){.kind = ML_OPT_SGD, .lr = 0.1f},
		  (const double[2][2]){{0.4, 0.2}, {0.4 - 0.1 * 2 * (0.8 + 0.2 - 1) * 2, 0.2}});
}
END_TEST

/* A small classification set: 3 blobs in 6 features, n examples. */
struct blobs {
	float x[300 * 6];
	int64_t y[300];
};

static void make_blobs(struct blobs *b, size_t n)
{
	uint64_t s = 12345;
	for (size_t i = 0; i < n; i++) {
		b->y[i] = (int64_t)(i % 3);
		for (int j = 0; j < 6; j++) {
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			float noise = (float)((s >> 40) & 0xffff) / 65536.0f - 0.5f;
			b->x[i * 6 + (size_t)j] = (j % 3 == b->y[i] ? 1.5f : 0) + noise;
		}
	}
}

static const struct ml_layer_spec mlp[] = {DENSE(16), ACT(ML_RELU), {.kind = ML_DROPOUT, .rate = 0.2f}, DENSE(3)};

/* Checkpoint bytes of a trainer. */
static struct core_buf save(struct ml_trainer *t)
{
	struct core_buf b;
	struct core_error err;
	core_buf_init(&b, 1 << 24);
	ck_assert_int_eq(ml_trainer_save(t, &b, &err), CORE_OK);
	return b;
}

static void resume_is_bit_identical(struct ml_optim o)
{
	static struct blobs b;
	make_blobs(&b, 300);
	struct ml_data d = {.x = b.x, .y = b.y, .n = 300, .shape = {6, 1, 1}};
	struct core_error err;
	/* unbroken: two epochs */
	struct ml_net *n1 = make_net(mlp, 4, d.shape, 7);
	struct ml_trainer *t1 = make_trainer(n1, ML_LOSS_SOFTMAX_CE, o, 32, 11);
	for (int e = 0; e < 2; e++)
		ck_assert_int_eq(ml_trainer_epoch(t1, &d, NULL, NULL, NULL, NULL, &err), CORE_OK);
	struct core_buf full = save(t1);
	/* the same again: the same bytes */
	struct ml_net *n2 = make_net(mlp, 4, d.shape, 7);
	struct ml_trainer *t2 = make_trainer(n2, ML_LOSS_SOFTMAX_CE, o, 32, 11);
	for (int e = 0; e < 2; e++)
		ck_assert_int_eq(ml_trainer_epoch(t2, &d, NULL, NULL, NULL, NULL, &err), CORE_OK);
	struct core_buf again = save(t2);
	ck_assert_uint_eq(full.len, again.len);
	ck_assert_int_eq(memcmp(full.data, again.data, full.len), 0);
	/* epoch 1, saved; loaded into a fresh trainer (other init seed: the load replaces
	 * everything); epoch 2 there */
	struct ml_net *n3 = make_net(mlp, 4, d.shape, 7);
	struct ml_trainer *t3 = make_trainer(n3, ML_LOSS_SOFTMAX_CE, o, 32, 11);
	ck_assert_int_eq(ml_trainer_epoch(t3, &d, NULL, NULL, NULL, NULL, &err), CORE_OK);
	struct core_buf half = save(t3);
	struct ml_net *n4 = make_net(mlp, 4, d.shape, 99);
	struct ml_trainer *t4 = make_trainer(n4, ML_LOSS_SOFTMAX_CE, o, 32, 11);
	ck_assert_msg(ml_trainer_load(t4, half.data, half.len, &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(ml_trainer_epoch_done(t4), 1);
	ck_assert_int_eq(ml_trainer_step(t4), (300 + 31) / 32);
	ck_assert_int_eq(ml_trainer_epoch(t4, &d, NULL, NULL, NULL, NULL, &err), CORE_OK);
	struct core_buf resumed = save(t4);
	ck_assert_uint_eq(full.len, resumed.len);
	ck_assert_int_eq(memcmp(full.data, resumed.data, full.len), 0);
	struct ml_param p1, p4;
	ml_net_param(n1, 0, &p1);
	ml_net_param(n4, 0, &p4);
	ck_assert_int_eq(memcmp(p1.data, p4.data, p1.n * sizeof(float)), 0);
	/* another seed: other weights */
	struct ml_net *n5 = make_net(mlp, 4, d.shape, 7);
	struct ml_trainer *t5 = make_trainer(n5, ML_LOSS_SOFTMAX_CE, o, 32, 12);
	ck_assert_int_eq(ml_trainer_epoch(t5, &d, NULL, NULL, NULL, NULL, &err), CORE_OK);
	struct ml_param p5;
	ml_net_param(n5, 0, &p5);
	struct ml_param p3;
	ml_net_param(n3, 0, &p3);
	ck_assert_int_ne(memcmp(p3.data, p5.data, p3.n * sizeof(float)), 0);
	core_buf_free(&full);
	core_buf_free(&again);
	core_buf_free(&half);
	core_buf_free(&resumed);
	struct ml_trainer *ts[] = {t1, t2, t3, t4, t5};
	struct ml_net *ns[] = {n1, n2, n3, n4, n5};
	for (int i = 0; i < 5; i++) {
		ml_trainer_free(ts[i]);
		ml_net_free(ns[i]);
	}
}

START_TEST(same_seed_same_bytes_and_resume)
{
	resume_is_bit_identical((struct ml_optim){.kind = ML_OPT_ADAM, .lr = 1e-2f});
	resume_is_bit_identical((struct ml_optim){.kind = ML_OPT_SGD, .lr = 1e-2f, .momentum = 0.9f});
}
END_TEST

START_TEST(cnn_is_deterministic)
{
	struct ml_layer_spec l[] = {{.kind = ML_CONV2D, .filters = 4, .kernel = 3, .padding = 1},
				    ACT(ML_RELU),
				    {.kind = ML_MAXPOOL, .pool = 2},
				    {.kind = ML_DROPOUT, .rate = 0.3f},
				    DENSE(3)};
	enum { N = 40 };
	static float x[N * 36];
	int64_t y[N];
	for (int i = 0; i < N * 36; i++)
		x[i] = sinf((float)i * 0.37f);
	for (int i = 0; i < N; i++)
		y[i] = i % 3;
	struct ml_data d = {.x = x, .y = y, .n = N, .shape = {1, 6, 6}};
	struct core_buf out[2];
	struct core_error err;
	for (int r = 0; r < 2; r++) {
		struct ml_net *net = make_net(l, 5, d.shape, 3);
		struct ml_trainer *t = make_trainer(net, ML_LOSS_SOFTMAX_CE,
						    (struct ml_optim){.kind = ML_OPT_ADAM, .lr = 1e-2f}, 8, 4);
		for (int e = 0; e < 2; e++)
			ck_assert_int_eq(ml_trainer_epoch(t, &d, NULL, NULL, NULL, NULL, &err), CORE_OK);
		out[r] = save(t);
		ml_trainer_free(t);
		ml_net_free(net);
	}
	ck_assert_uint_eq(out[0].len, out[1].len);
	ck_assert_int_eq(memcmp(out[0].data, out[1].data, out[0].len), 0);
	core_buf_free(&out[0]);
	core_buf_free(&out[1]);
}
END_TEST

static bool stop_at_3(void *ctx, long step, float loss)
{
	int *calls = ctx;
	(*calls)++;
	ck_assert(isfinite(loss));
	return step < 3;
}

START_TEST(cancel_stops_at_the_next_batch)
{
	static struct blobs b;
	make_blobs(&b, 300);
	struct ml_data d = {.x = b.x, .y = b.y, .n = 300, .shape = {6, 1, 1}};
	struct ml_net *net = make_net(mlp, 4, d.shape, 1);
	struct ml_trainer *t =
		make_trainer(net, ML_LOSS_SOFTMAX_CE, (struct ml_optim){.kind = ML_OPT_ADAM, .lr = 1e-3f}, 10, 1);
	int calls = 0;
	bool stopped = false;
	double loss = 0;
	struct core_error err;
	ck_assert_int_eq(ml_trainer_epoch(t, &d, stop_at_3, &calls, &loss, &stopped, &err), CORE_OK);
	ck_assert(stopped);
	ck_assert_int_eq(calls, 3);
	ck_assert_int_eq(ml_trainer_step(t), 3);
	ck_assert_int_eq(ml_trainer_epoch_done(t), 0);
	ck_assert(loss > 0);
	ml_trainer_free(t);
	ml_net_free(net);
}
END_TEST

START_TEST(non_finite_loss_is_an_error)
{
	static struct blobs b;
	make_blobs(&b, 300);
	b.x[5 * 6 + 2] = NAN;
	struct ml_data d = {.x = b.x, .y = b.y, .n = 300, .shape = {6, 1, 1}};
	struct ml_net *net = make_net(mlp, 4, d.shape, 1);
	struct ml_trainer *t =
		make_trainer(net, ML_LOSS_SOFTMAX_CE, (struct ml_optim){.kind = ML_OPT_SGD, .lr = 1e-3f}, 300, 1);
	struct core_error err;
	ck_assert_int_eq(ml_trainer_epoch(t, &d, NULL, NULL, NULL, NULL, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "loss is not finite at epoch 1 step 1");
	ml_trainer_free(t);
	ml_net_free(net);
	/* a diverging MSE regression: inf, then the same message with where it happened */
	struct ml_layer_spec l[] = {DENSE(1)};
	net = make_net(l, 1, (struct ml_shape){1, 1, 1}, 1);
	t = make_trainer(net, ML_LOSS_MSE, (struct ml_optim){.kind = ML_OPT_SGD, .lr = 1e3f}, 1, 1);
	float x = 1e3f, y = 1;
	struct ml_data r = {.x = &x, .yr = &y, .n = 1, .shape = {1, 1, 1}};
	enum core_status rc = CORE_OK;
	for (int e = 0; e < 50 && rc == CORE_OK; e++)
		rc = ml_trainer_epoch(t, &r, NULL, NULL, NULL, NULL, &err);
	ck_assert_int_eq(rc, CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "loss is not finite at epoch "));
	ml_trainer_free(t);
	ml_net_free(net);
}
END_TEST

START_TEST(bad_configs_and_data_are_refused)
{
	struct ml_net *net = make_net(mlp, 4, (struct ml_shape){6, 1, 1}, 1);
	struct ml_trainer *t = NULL;
	struct core_error err;
	struct ml_train_cfg cfg = {
		.loss = ML_LOSS_SOFTMAX_CE, .optim = {.kind = ML_OPT_ADAM, .lr = 0}, .batch_size = 8};
	ck_assert_int_eq(ml_trainer_new(net, &cfg, &t, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "optimizer.lr"));
	cfg.optim.lr = 1e-3f;
	cfg.batch_size = 0;
	ck_assert_int_eq(ml_trainer_new(net, &cfg, &t, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "batch_size"));
	cfg.batch_size = 8;
	cfg.optim.kind = (enum ml_optim_kind)9;
	ck_assert_int_eq(ml_trainer_new(net, &cfg, &t, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "optimizer.type"));
	cfg.optim.kind = ML_OPT_SGD;
	cfg.optim.momentum = 1;
	ck_assert_int_eq(ml_trainer_new(net, &cfg, &t, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "optimizer.momentum"));
	cfg.optim.momentum = 0;
	ck_assert_int_eq(ml_trainer_new(net, &cfg, &t, &err), CORE_OK);
	float x[12] = {0};
	int64_t y[2] = {0, 3};
	struct ml_data d = {.x = x, .y = y, .n = 2, .shape = {6, 1, 1}};
	ck_assert_int_eq(ml_trainer_epoch(t, &d, NULL, NULL, NULL, NULL, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "data: example 1 has class 3, the net has 3 outputs");
	d.shape = (struct ml_shape){1, 2, 3};
	ck_assert_int_eq(ml_trainer_epoch(t, &d, NULL, NULL, NULL, NULL, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "data: examples are 1x2x3, the net takes 6x1x1");
	d.shape = (struct ml_shape){6, 1, 1};
	d.y = NULL;
	ck_assert_int_eq(ml_trainer_epoch(t, &d, NULL, NULL, NULL, NULL, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "class ids"));
	ck_assert_int_eq(ml_trainer_epoch_done(t), 0);
	ck_assert_int_eq(ml_trainer_step(t), 0);
	ml_trainer_free(t);
	ml_net_free(net);
}
END_TEST

START_TEST(checkpoints_that_do_not_fit_are_refused)
{
	struct ml_net *a = make_net(mlp, 4, (struct ml_shape){6, 1, 1}, 1);
	struct ml_trainer *ta =
		make_trainer(a, ML_LOSS_SOFTMAX_CE, (struct ml_optim){.kind = ML_OPT_ADAM, .lr = 1e-3f}, 8, 1);
	struct core_buf ck = save(ta);
	struct core_error err;
	/* another hidden size: the first weight's shape differs */
	struct ml_layer_spec other[] = {DENSE(8), ACT(ML_RELU), {.kind = ML_DROPOUT, .rate = 0.2f}, DENSE(3)};
	struct ml_net *b = make_net(other, 4, (struct ml_shape){6, 1, 1}, 1);
	struct ml_trainer *tb =
		make_trainer(b, ML_LOSS_SOFTMAX_CE, (struct ml_optim){.kind = ML_OPT_ADAM, .lr = 1e-3f}, 8, 1);
	ck_assert_int_eq(ml_trainer_load(tb, ck.data, ck.len, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "checkpoint: tensor 0.weight is not F32 of the net's shape");
	/* another optimiser */
	struct ml_trainer *tc =
		make_trainer(a, ML_LOSS_SOFTMAX_CE, (struct ml_optim){.kind = ML_OPT_SGD, .lr = 1e-3f}, 8, 1);
	ck_assert_int_eq(ml_trainer_load(tc, ck.data, ck.len, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "optimizer is adam"));
	/* a dense layer where the checkpoint's net had its dropout: its tensor is missing */
	struct ml_layer_spec more[] = {DENSE(16), ACT(ML_RELU), DENSE(3), DENSE(3)};
	struct ml_net *c = make_net(more, 4, (struct ml_shape){6, 1, 1}, 1);
	struct ml_trainer *td =
		make_trainer(c, ML_LOSS_SOFTMAX_CE, (struct ml_optim){.kind = ML_OPT_ADAM, .lr = 1e-3f}, 8, 1);
	ck_assert_int_eq(ml_trainer_load(td, ck.data, ck.len, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "checkpoint: tensor 2.weight is missing");
	/* bytes that are not safetensors */
	ck_assert_int_eq(ml_trainer_load(ta, "garbage", 7, &err), CORE_EINVAL);
	ck_assert_int_eq(ml_trainer_load(ta, "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10, &err), CORE_EINVAL);
	ck_assert_int_eq(ml_trainer_load(ta, ck.data, ck.len - 4, &err), CORE_EINVAL);
	/* and the right one loads */
	ck_assert_int_eq(ml_trainer_load(ta, ck.data, ck.len, &err), CORE_OK);
	core_buf_free(&ck);
	ml_trainer_free(ta);
	ml_trainer_free(tb);
	ml_trainer_free(tc);
	ml_trainer_free(td);
	ml_net_free(a);
	ml_net_free(b);
	ml_net_free(c);
}
END_TEST

START_TEST(a_small_problem_is_learnt)
{
	static struct blobs b;
	make_blobs(&b, 300);
	struct ml_data d = {.x = b.x, .y = b.y, .n = 300, .shape = {6, 1, 1}};
	struct ml_net *net = make_net(mlp, 4, d.shape, 1);
	struct ml_trainer *t =
		make_trainer(net, ML_LOSS_SOFTMAX_CE, (struct ml_optim){.kind = ML_OPT_ADAM, .lr = 1e-2f}, 16, 1);
	struct core_error err;
	double first = 0, last = 0;
	for (int e = 0; e < 10; e++)
		ck_assert_int_eq(ml_trainer_epoch(t, &d, NULL, NULL, e ? &last : &first, NULL, &err), CORE_OK);
	ck_assert_msg(last < first / 4, "loss %.4f -> %.4f", first, last);
	static float out[300 * 3];
	ck_assert_int_eq(ml_net_predict(net, b.x, 300, out, &err), CORE_OK);
	int right = 0;
	for (int i = 0; i < 300; i++) {
		int best = 0;
		for (int k = 1; k < 3; k++)
			if (out[i * 3 + k] > out[i * 3 + best])
				best = k;
		right += best == b.y[i];
	}
	ck_assert_int_ge(right, 290);
	ml_trainer_free(t);
	ml_net_free(net);
}
END_TEST

int main(void)
{
	ml_set_threads(1);
	Suite *s = suite_create("ml_nn_train");
	TCase *tc = tcase_create("train");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, losses_match_hand_computed_values);
	tcase_add_test(tc, loss_gradients_match_finite_differences);
	tcase_add_test(tc, optimisers_match_pytorch);
	tcase_add_test(tc, same_seed_same_bytes_and_resume);
	tcase_add_test(tc, cnn_is_deterministic);
	tcase_add_test(tc, cancel_stops_at_the_next_batch);
	tcase_add_test(tc, non_finite_loss_is_an_error);
	tcase_add_test(tc, bad_configs_and_data_are_refused);
	tcase_add_test(tc, checkpoints_that_do_not_fit_are_refused);
	tcase_add_test(tc, a_small_problem_is_learnt);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
