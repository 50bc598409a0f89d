/* The element-wise loops of training (optimiser updates, ReLU, bias sums), apart from
 * the rest so the Makefile can compile this one file with -O3 -fno-math-errno: that
 * lets GCC vectorise them (sqrtf without errno; loops of any length), and target_clones
 * builds each for AVX-512, AVX2 and the x86-64 baseline, picked at load time. IEEE
 * single precision gives the same bits in every clone (no FMA contraction: the build
 * has -ffp-contract=off; no reassociation: reductions stay scalar), so weights do not
 * depend on the CPU that trained them. Declared in nn_internal.h. */
#include <math.h>
#include "nn_internal.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KERN __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KERN
#endif

KERN void ml_nn_adam(size_t n, float *restrict w, const float *restrict g, float *restrict m, float *restrict v,
		     const struct ml_nn_adam_k *k)
{
	float b1 = k->b1, c1 = k->c1, b2 = k->b2, c2 = k->c2, step = k->step_size, bc2 = k->bc2_sqrt, eps = k->eps,
	      wd = k->wd;
	if (wd != 0) {
		for (size_t j = 0; j < n; j++) {
			float d = g[j] + wd * w[j];
			m[j] = m[j] * b1 + d * c1;
			v[j] = v[j] * b2 + d * d * c2;
			w[j] -= step * (m[j] / (sqrtf(v[j]) / bc2 + eps));
		}
		return;
	}
	for (size_t j = 0; j < n; j++) {
		float d = g[j];
		m[j] = m[j] * b1 + d * c1;
		v[j] = v[j] * b2 + d * d * c2;
		w[j] -= step * (m[j] / (sqrtf(v[j]) / bc2 + eps));
	}
}

KERN void ml_nn_sgd(size_t n, float *restrict w, const float *restrict g, float *restrict m, float lr, float mom,
		    float wd, bool first)
{
	for (size_t j = 0; j < n; j++) {
		float d = g[j] + wd * w[j];
		if (mom != 0) {
			m[j] = first ? d : mom * m[j] + d;
			d = m[j];
		}
		w[j] -= lr * d;
	}
}

/* NaN stays NaN (as in PyTorch), so a broken input shows in the loss. */
KERN void ml_nn_relu(size_t n, const float *restrict x, float *restrict y)
{
	for (size_t j = 0; j < n; j++)
		y[j] = x[j] < 0 ? 0 : x[j];
}

KERN void ml_nn_relu_bwd(size_t n, const float *restrict y, const float *restrict dy, float *restrict dx)
{
	for (size_t j = 0; j < n; j++)
		dx[j] = y[j] > 0 ? dy[j] : 0;
}

KERN void ml_nn_col_sums(const float *restrict a, size_t rows, size_t cols, float *restrict out)
{
	for (size_t j = 0; j < cols; j++)
		out[j] = 0;
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < cols; j++)
			out[j] += a[r * cols + j];
}
