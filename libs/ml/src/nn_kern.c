/* The element-wise loops of training (optimiser updates, ReLU, bias fills, 2x2 max-pool), apart from
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

/* y[r][j] = v[r] for rows of n values. */
KERN void ml_nn_fill_rows(float *restrict y, const float *restrict v, size_t rows, size_t n)
{
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < n; j++)
			y[r * n + j] = v[r];
}

KERN void ml_nn_add(size_t n, const float *restrict x, float *restrict y)
{
	for (size_t j = 0; j < n; j++)
		y[j] += x[j];
}

/* 2x2 windows, stride 2, over planes of ih x iw (the common max-pool): the first maximum
 * of each window, or a NaN in it (as PyTorch), and its index in the plane. */
KERN void ml_nn_maxpool2(const float *restrict x, size_t planes, int ih, int iw, float *restrict y,
			 int32_t *restrict arg)
{
	int oh = ih / 2, ow = iw / 2;
	size_t ip = (size_t)ih * (size_t)iw, op = (size_t)oh * (size_t)ow;
	for (size_t p = 0; p < planes; p++) {
		const float *xp = x + p * ip;
		float *yp = y + p * op;
		int32_t *ap = arg + p * op;
		for (int oy = 0; oy < oh; oy++) {
			const float *r0 = xp + (size_t)(2 * oy) * (size_t)iw, *r1 = r0 + iw;
			int base = 2 * oy * iw;
			for (int ox = 0; ox < ow; ox++) {
				float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
				int ia = base + 2 * ox;
				bool tb = b > a || b != b, tc, td;
				float m = tb ? b : a;
				int im = tb ? ia + 1 : ia;
				tc = (c > m || c != c) && m == m;
				m = tc ? c : m;
				im = tc ? ia + iw : im;
				td = (d > m || d != d) && m == m;
				m = td ? d : m;
				im = td ? ia + iw + 1 : im;
				yp[oy * ow + ox] = m;
				ap[oy * ow + ox] = im;
			}
		}
	}
}
