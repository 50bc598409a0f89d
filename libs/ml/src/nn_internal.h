/* Private to libs/ml's nn_*.c and blas.c: the net's layout, the seeded generator, the
 * BLAS wrappers and the layer kernels. Not installed (libs/ml/include holds the faces).
 *
 * Activations of one mini-batch of B examples are float arrays in one of two layouts:
 *   ML_NN_NCHW  [B, C, H, W]: the API's layout (inputs, outputs, dense, softmax, flatten)
 *   ML_NN_CNHW  [C, B, H, W]: what conv2d writes, so that its one batched GEMM
 *               W[cout, cin*k*k] x col[cin*k*k, B*oh*ow] lands in place; pooling and the
 *               element-wise layers keep whatever layout they are given. A layer that
 *               needs NCHW gets its input transposed by the net (nn_forward.c). */
#ifndef ML_NN_INTERNAL_H
#define ML_NN_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ml/nn.h"

enum ml_nn_layout { ML_NN_NCHW = 0, ML_NN_CNHW = 1 };

struct ml_nn_layer {
	struct ml_layer_spec spec; /* as given */
	struct ml_shape in, out;
	size_t in_size, out_size; /* c*h*w */
	int stride;               /* conv2d: stride (0 -> 1); maxpool: pool_stride (0 -> pool) */
	enum ml_nn_layout in_layout, out_layout;
	bool needs_nchw;               /* the layer reads NCHW: a CNHW input is transposed first */
	bool relu_next;                /* He init */
	size_t w_off, b_off, n_w, n_b; /* into the net's parameter array; n_w 0: no parameters */
	size_t fan_in, fan_out;
	/* dense, after ml_net_freeze: the weights are stored transposed, [in, out]; wt_skip:
	 * all finite, so a zero input may skip its row (nn_rows.c) */
	bool wt, wt_skip;
};

struct ml_nn_param_desc {
	char name[32];
	int ndim;
	int64_t shape[4];
	size_t off, n;
};

struct ml_net {
	size_t n_layers;
	struct ml_nn_layer *layers;
	struct ml_shape in;
	float *params;   /* every weight and bias, contiguous */
	bool shared;     /* params are another net's (ml_net_share): not freed here */
	bool frozen;     /* ml_net_freeze: predicts only */
	size_t n_values; /* floats in params */
	size_t n_params;
	struct ml_nn_param_desc *pdesc;
	struct ml_nn_fwd *pred; /* predict's scratch, made on first use */
};

/* --- the generator: splitmix64 seeds xoshiro256**; Box-Muller for normals ---------- */
struct ml_nn_rng {
	uint64_t s[4];
};
void ml_nn_rng_seed(struct ml_nn_rng *r, uint64_t seed, uint64_t stream);
uint64_t ml_nn_rng_next(struct ml_nn_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float ml_nn_rng_uniform(struct ml_nn_rng *r);
/* Standard normal (double precision Box-Muller, one value per call). */
double ml_nn_rng_normal(struct ml_nn_rng *r);
/* Uniform integer in [0, n), n > 0 (Lemire's unbiased method). */
uint64_t ml_nn_rng_below(struct ml_nn_rng *r, uint64_t n);

/* --- BLAS (blas.c, the only file that includes cblas.h) ------------------------------
 * C[m,n] = alpha * op(A) op(B) + beta * C, row-major; ta/tb true: transposed. lda/ldb/ldc
 * are the row strides of A, B, C as stored. */
void ml_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
	      float beta, float *c, int ldc);
/* The AVX-512 kernels of nn_gemm.c, same contract as ml_sgemm; false (nothing done) for
 * both transposed, or when built for another CPU family. ml_sgemm calls them when
 * ml_nn_gemm_avx512_usable() (the CPU has AVX-512F) and OpenBLAS runs no AVX-512 kernels. */
bool ml_nn_gemm_avx512(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
		       int ldb, float beta, float *c, int ldc);
bool ml_nn_gemm_avx512_usable(void);
/* A frozen dense layer on rows inputs x [rows, k], one row at a time (nn_rows.c):
 * y [rows, n] = bias + x W, with wt = W [k, n] (the layer's weights transposed); skip: a
 * zero input skips its row of wt (only when every weight is finite; the sums are the
 * same either way). nn_forward.c takes it below ML_NN_ROWS_MAX rows, the GEMM above. */
#define ML_NN_ROWS_MAX 8
void ml_nn_dense_rows_t(size_t rows, int n, int k, const float *x, const float *wt, const float *bias, bool skip,
			float *y);
/* y[m or n] = op(A) x, A m x n row-major (lda its row stride); ta: A transposed. */
void ml_sgemv(bool ta, int m, int n, const float *a, int lda, const float *x, float *y);

/* --- element-wise kernels (nn_kern.c, vectorised) ---------------------------------- */
struct ml_nn_adam_k {
	float b1, c1, b2, c2, step_size, bc2_sqrt, eps, wd; /* c1 = 1 - b1, c2 = 1 - b2 */
};
/* PyTorch's Adam on n values: d = g + wd w; m = b1 m + c1 d; v = b2 v + c2 d^2;
 * w -= step_size * m / (sqrt(v) / bc2_sqrt + eps). */
void ml_nn_adam(size_t n, float *restrict w, const float *restrict g, float *restrict m, float *restrict v,
		const struct ml_nn_adam_k *k);
/* PyTorch's SGD: d = g + wd w; with momentum m = first ? d : mom m + d, d = m; w -= lr d. */
void ml_nn_sgd(size_t n, float *restrict w, const float *restrict g, float *restrict m, float lr, float mom, float wd,
	       bool first);
void ml_nn_relu(size_t n, const float *restrict x, float *restrict y);
void ml_nn_relu_bwd(size_t n, const float *restrict y, const float *restrict dy, float *restrict dx);

void ml_nn_fill_rows(float *restrict y, const float *restrict v, size_t rows, size_t n);
/* y += x */
void ml_nn_add(size_t n, const float *restrict x, float *restrict y);
/* Max-pool of 2x2 windows with stride 2 (see maxpool in nn_forward.c for the general one). */
void ml_nn_maxpool2(const float *restrict x, size_t planes, int ih, int iw, float *restrict y, int32_t *restrict arg);

/* --- forward/backward state of one mini-batch (nn_forward.c) ------------------------ */
struct ml_nn_fwd {
	const struct ml_net *net;
	size_t cap;       /* examples per batch it holds */
	float **act;      /* act[i]: output of layer i, cap * out_size */
	float **xin;      /* xin[i]: NCHW copy of layer i's input when it needs one, else NULL */
	float **col;      /* conv2d: im2col of the input, cin*k*k x cap*oh*ow */
	int32_t **arg;    /* maxpool: index of each output's maximum in its input plane */
	uint8_t **mask;   /* dropout: 1 kept, 0 dropped */
	const float **y;  /* y[i]: layer i's output in the last forward pass: act[i], or for a
			   * layer that changes nothing (flatten; dropout when off) its input */
	const float *out; /* the net's output in NCHW after a forward pass */
	float *out_buf;   /* where a CNHW last layer's output is made NCHW (else NULL) */
	/* backward only (cap_grad): */
	float *g0, *g1; /* two gradient buffers, each the largest activation */
	float *gcol;    /* conv2d: gradient of col, the largest col */
	float *gt;      /* transpose scratch, the largest activation */
	float *ones;    /* 1s, as many as the largest activation: bias gradients are GEMVs */
};
/* Allocates the buffers for batches of up to cap examples; with_grad adds what the
 * backward pass needs. CORE_ENOMEM. */
enum core_status ml_nn_fwd_new(const struct ml_net *net, size_t cap, bool with_grad, struct ml_nn_fwd **out,
			       struct core_error *err);
void ml_nn_fwd_free(struct ml_nn_fwd *f);
/* Forward pass of b <= cap examples x [b, in_size] (NCHW). train: dropout on, with masks
 * drawn from rng. The output is f->out, [b, n_outputs]. */
void ml_nn_forward(struct ml_nn_fwd *f, const float *x, size_t b, bool train, struct ml_nn_rng *rng);
/* The same, writing the output straight into dst [b, n_outputs] (f->out = dst). */
void ml_nn_forward_to(struct ml_nn_fwd *f, const float *x, size_t b, bool train, struct ml_nn_rng *rng, float *dst);
/* Backward pass after ml_nn_forward on the same x and b: gout [b, n_outputs] is dL/d out
 * (NCHW); the parameter gradients are written (not accumulated) into grad (laid out as
 * the net's params). The input's gradient is not computed. */
void ml_nn_backward(struct ml_nn_fwd *f, const float *x, size_t b, const float *gout, float *grad);

/* --- the trainer (nn_train.c; checkpoints in nn_ckpt.c) ------------------------------ */
struct ml_trainer {
	struct ml_net *net;
	struct ml_train_cfg cfg; /* Adam's 0 betas/eps replaced by PyTorch's defaults */
	struct ml_nn_fwd *fwd;
	float *grad;     /* laid out as net->params */
	float *m, *v;    /* Adam: exp_avg, exp_avg_sq; SGD: m = momentum buffer (v NULL) */
	float *xb, *yrb; /* the batch gathered in shuffled order */
	int64_t *yb;
	float *gout; /* dL/d output of the batch */
	int epoch;   /* epochs done */
	long step;   /* optimiser steps taken */
};
#endif
