/* A frozen net's dense layer on a few rows (ml_net_freeze, nn_forward.c): one row at a
 * time over the weights stored transposed, W^T [in, out], so that each input value
 * scales one contiguous row of W^T into the outputs, and an input that is zero skips its
 * row. A request to a served model is one row or a handful; one row of a dense GEMM must
 * stream every weight from cache once, and that streaming is its whole cost (the MLP
 * 784-256-10's 800 kB per row). Images are mostly background: a Fashion-MNIST image has
 * about half its pixels at zero, so about half the weights are never read.
 *
 * Each output is bias + the sum of x[k] W^T[k][j] over k in order, with one rounding per
 * multiply-add: skipping x[k] = 0 leaves every sum bit for bit what it would be, since
 * the running sum starts at +0 and never becomes -0, and adding a product that is +-0
 * changes nothing else. A zero times an infinite or NaN weight is NaN, though, so a layer
 * whose weights are not all finite reads every row (skip false). */
#include "nn_internal.h"

/* Outputs gathered per pass over the input: 16 registers of 16 floats in the AVX-512
 * kernel, and what the portable one keeps on its stack. */
#define ROWS_NB 256

static void rows_t_portable(int n, int k, const float *x, const float *wt, const float *bias, bool skip, float *y)
{
	float acc[ROWS_NB];
	for (int j0 = 0; j0 < n; j0 += ROWS_NB) {
		int nb = n - j0 < ROWS_NB ? n - j0 : ROWS_NB;
		for (int j = 0; j < nb; j++)
			acc[j] = 0;
		for (int p = 0; p < k; p++) {
			float v = x[p];
			if (skip && v == 0)
				continue;
			const float *w = wt + (size_t)p * (size_t)n + j0;
			for (int j = 0; j < nb; j++)
				acc[j] += v * w[j];
		}
		for (int j = 0; j < nb; j++)
			y[j0 + j] = bias[j0 + j] + acc[j];
	}
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))

static AVX512 void rows_t_avx512(int n, int k, const float *x, const float *wt, const float *bias, bool skip, float *y)
{
	for (int j0 = 0; j0 < n; j0 += ROWS_NB) {
		int nb = n - j0 < ROWS_NB ? n - j0 : ROWS_NB, full = nb / 16, rem = nb % 16;
		__mmask16 tail = (__mmask16)((1u << rem) - 1);
		__m512 acc[16];
		_Pragma("GCC unroll 16") for (int r = 0; r < 16; r++) acc[r] = _mm512_setzero_ps();
		for (int p = 0; p < k; p++) {
			float v = x[p];
			if (skip && v == 0)
				continue;
			__m512 xv = _mm512_set1_ps(v);
			const float *w = wt + (size_t)p * (size_t)n + j0;
			if (full == 16) {
				/* unrolled whole, the 16 sums stay in registers */
				_Pragma("GCC unroll 16") for (int r = 0; r < 16; r++) acc[r] =
					_mm512_fmadd_ps(xv, _mm512_loadu_ps(w + 16 * r), acc[r]);
			} else {
				for (int r = 0; r < full; r++)
					acc[r] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(w + 16 * r), acc[r]);
				if (rem)
					acc[full] = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(tail, w + 16 * full),
								    acc[full]);
			}
		}
		for (int r = 0; r * 16 < nb; r++) {
			__mmask16 m = r < full ? (__mmask16)0xffff : tail;
			__m512 b = _mm512_maskz_loadu_ps(m, bias + j0 + 16 * r);
			_mm512_mask_storeu_ps(y + j0 + 16 * r, m, _mm512_add_ps(b, acc[r]));
		}
	}
}
#endif

void ml_nn_dense_rows_t(size_t rows, int n, int k, const float *x, const float *wt, const float *bias, bool skip,
			float *y)
{
#if defined(__x86_64__) && defined(__GNUC__)
	bool avx512 = ml_nn_gemm_avx512_usable(); /* reads what the CPU check set once */
#endif
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * (size_t)k;
		float *yr = y + r * (size_t)n;
#if defined(__x86_64__) && defined(__GNUC__)
		if (avx512) {
			rows_t_avx512(n, k, xr, wt, bias, skip, yr);
			continue;
		}
#endif
		rows_t_portable(n, k, xr, wt, bias, skip, yr);
	}
}
