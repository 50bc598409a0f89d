/* AVX-512 single-precision GEMM for the three shapes the layers use (NT: a dense layer's
 * forward pass and a conv layer's weight gradient; TN: a dense layer's weight gradient
 * and a conv layer's column gradient; NN: a conv layer's forward pass and a dense layer's
 * input gradient). blas.c calls ml_nn_gemm_avx512 instead of OpenBLAS on a CPU with
 * AVX-512 when the OpenBLAS in use runs AVX2 kernels there: Debian's 0.3.21 takes CPUs
 * it does not know (Zen 5) for Haswell, which halves the width of every multiply-add.
 *
 * Neither kernel packs its operands; the loops are cache-blocked and the summation
 * order of every output is fixed by the shapes alone, so one thread gives the same bits
 * on every run (the resume guarantee of ml/nn.h), though not the same bits as OpenBLAS:
 *   NT  C[i][j] = A row i . B row j: 4x4 tiles of dot products, 16 lanes of k at a
 *       time, each lane's partial sum added up at the end of a block of k;
 *   NN, TN  C[i][j..j+31] += A(i, k) * B row k (j..j+31): 8x32 tiles of broadcast
 *       multiply-adds, k in order.
 * Declared in nn_internal.h. */
#include "nn_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))
#define TILE   static inline __attribute__((always_inline)) AVX512
/* Tiles keep their accumulators in registers only when these loops are unrolled whole. */
#define UNROLL _Pragma("GCC unroll 8")

/* Blocks of k (floats of a row) and of B's rows (NT) or columns (NN/TN) that stay in L1/L2. */
#define NT_KC 2048
#define NT_NB 64
#define BC_KC 256
/* NT with at least NTP_MIN_M rows of A packs B in blocks of NTP_KC values (a 32 KiB
 * panel on the stack). */
#define NTP_MIN_M 16
#define NTP_KC    256

static inline int imin(int a, int b)
{
	return a < b ? a : b;
}

/* c = alpha * s + beta * c; beta 0 never reads c (it may hold NaN). */
TILE float nn_gemm_out(float s, float alpha, float beta, float c)
{
	return beta == 0 ? alpha * s : alpha * s + beta * c;
}

/* One 4 x 4 tile of NT over k values, of which the first mr x nr are stored: rows past
 * mr (nr) repeat the last one, so every tile keeps its 16 sums in registers. With
 * rows == 1 only A's first row is read (a one-row product, as predict's). */
TILE void nt_tile(int rows, int mr, int nr, int k, const float *a, int lda, const float *b, int ldb, float alpha,
		  float beta, float *c, int ldc)
{
	/* Every register zeroed, used or not, for GCC's uninitialised-use analysis. */
	__m512 acc[4][4], av[4], bv[4];
	const float *ap[4], *bp[4];
	UNROLL
	for (int i = 0; i < 4; i++) {
		av[i] = bv[i] = _mm512_setzero_ps();
		ap[i] = a + (size_t)(i < mr ? i : mr - 1) * (size_t)lda;
		bp[i] = b + (size_t)(i < nr ? i : nr - 1) * (size_t)ldb;
		UNROLL
		for (int j = 0; j < 4; j++)
			acc[i][j] = _mm512_setzero_ps();
	}
	int p = 0;
	for (; p + 16 <= k; p += 16) {
		UNROLL
		for (int i = 0; i < rows; i++)
			av[i] = _mm512_loadu_ps(ap[i] + p);
		UNROLL
		for (int j = 0; j < 4; j++)
			bv[j] = _mm512_loadu_ps(bp[j] + p);
		UNROLL
		for (int i = 0; i < rows; i++)
			UNROLL
		for (int j = 0; j < 4; j++)
			acc[i][j] = _mm512_fmadd_ps(av[i], bv[j], acc[i][j]);
	}
	if (p < k) {
		__mmask16 m = (__mmask16)((1u << (k - p)) - 1);
		UNROLL
		for (int i = 0; i < rows; i++)
			av[i] = _mm512_maskz_loadu_ps(m, ap[i] + p);
		UNROLL
		for (int j = 0; j < 4; j++)
			bv[j] = _mm512_maskz_loadu_ps(m, bp[j] + p);
		UNROLL
		for (int i = 0; i < rows; i++)
			UNROLL
		for (int j = 0; j < 4; j++)
			acc[i][j] = _mm512_fmadd_ps(av[i], bv[j], acc[i][j]);
	}
	UNROLL
	for (int i = 0; i < rows; i++)
		UNROLL
	for (int j = 0; j < 4; j++)
		if (i < mr && j < nr) {
			float *cp = c + (size_t)i * (size_t)ldc + j;
			*cp = nn_gemm_out(_mm512_reduce_add_ps(acc[i][j]), alpha, beta, *cp);
		}
}

static AVX512 void nt_tile4(int mr, int nr, int k, const float *a, int lda, const float *b, int ldb, float alpha,
			    float beta, float *c, int ldc)
{
	nt_tile(4, mr, nr, k, a, lda, b, ldb, alpha, beta, c, ldc);
}

static AVX512 void nt_tile1(int nr, int k, const float *a, const float *b, int ldb, float alpha, float beta, float *c)
{
	nt_tile(1, 1, nr, k, a, 0, b, ldb, alpha, beta, c, 0);
}

static AVX512 void gemm_nt(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
			   float beta, float *c, int ldc)
{
	for (int k0 = 0; k0 < k; k0 += NT_KC) {
		int kc = imin(NT_KC, k - k0);
		float be = k0 == 0 ? beta : 1.0f;
		for (int n0 = 0; n0 < n; n0 += NT_NB) {
			int n1 = imin(n0 + NT_NB, n);
			for (int i = 0; i < m; i += 4) {
				int mr = imin(4, m - i);
				const float *ap = a + (size_t)i * (size_t)lda + k0;
				float *cp = c + (size_t)i * (size_t)ldc;
				for (int j = n0; j < n1; j += 4) {
					int nr = imin(4, n1 - j);
					const float *bp = b + (size_t)j * (size_t)ldb + k0;
					if (mr == 1)
						nt_tile1(nr, kc, ap, bp, ldb, alpha, be, cp + j);
					else
						nt_tile4(mr, nr, kc, ap, lda, bp, ldb, alpha, be, cp + j, ldc);
				}
			}
		}
	}
}

/* One mr x 32 tile (mr <= 8) of C = alpha * A B + beta * C over k values, with
 * A(i, p) = a[i * rsa + p * csa] and B row p at b + p * ldb. full: all 32 columns;
 * otherwise those in the masks m0 (the first 16) and m1 (the next), the rest untouched. */
TILE void bc_tile(int mr, bool full, int k, const float *a, size_t rsa, size_t csa, const float *b, size_t ldb,
		  __mmask16 m0, __mmask16 m1, float alpha, float beta, float *c, size_t ldc)
{
	__m512 acc[8][2];
	UNROLL
	for (int i = 0; i < 8; i++)
		acc[i][0] = acc[i][1] = _mm512_setzero_ps();
	for (int p = 0; p < k; p++) {
		const float *bp = b + (size_t)p * ldb, *ap = a + (size_t)p * csa;
		__m512 b0 = full ? _mm512_loadu_ps(bp) : _mm512_maskz_loadu_ps(m0, bp);
		__m512 b1 = full ? _mm512_loadu_ps(bp + 16) : _mm512_maskz_loadu_ps(m1, bp + 16);
		UNROLL
		for (int i = 0; i < mr; i++) {
			__m512 av = _mm512_set1_ps(ap[(size_t)i * rsa]);
			acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
			acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
		}
	}
	__m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
	UNROLL
	for (int i = 0; i < mr; i++) {
		float *cp = c + (size_t)i * ldc;
		__m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
		if (full) {
			if (beta != 0) {
				r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cp), r0);
				r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cp + 16), r1);
			}
			_mm512_storeu_ps(cp, r0);
			_mm512_storeu_ps(cp + 16, r1);
		} else {
			if (beta != 0) {
				r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cp), r0);
				r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cp + 16), r1);
			}
			_mm512_mask_storeu_ps(cp, m0, r0);
			_mm512_mask_storeu_ps(cp + 16, m1, r1);
		}
	}
}

/* The tiles, compiled once each: full 8 x 32 with A's rows contiguous (NN) or its
 * columns (TN), and any other. */
static AVX512 void bc_full_nn(int k, const float *a, size_t rsa, const float *b, size_t ldb, float alpha, float beta,
			      float *c, size_t ldc)
{
	bc_tile(8, true, k, a, rsa, 1, b, ldb, 0, 0, alpha, beta, c, ldc);
}

static AVX512 void bc_full_tn(int k, const float *a, size_t csa, const float *b, size_t ldb, float alpha, float beta,
			      float *c, size_t ldc)
{
	bc_tile(8, true, k, a, 1, csa, b, ldb, 0, 0, alpha, beta, c, ldc);
}

static AVX512 void bc_edge(int mr, int k, const float *a, size_t rsa, size_t csa, const float *b, size_t ldb,
			   __mmask16 m0, __mmask16 m1, float alpha, float beta, float *c, size_t ldc)
{
	bc_tile(mr, false, k, a, rsa, csa, b, ldb, m0, m1, alpha, beta, c, ldc);
}

static __mmask16 lanes(int n)
{
	return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* Columns j..j+31 of C = alpha * A B + beta * C (k values from B row 0 at b), all rows. */
static AVX512 void bc_panel(int m, int nr, int k, float alpha, const float *a, size_t rsa, size_t csa, const float *b,
			    size_t ldb, float beta, float *c, size_t ldc)
{
	__mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
	for (int i = 0; i < m; i += 8) {
		const float *ap = a + (size_t)i * rsa;
		float *cp = c + (size_t)i * ldc;
		if (m - i >= 8 && nr == 32 && csa == 1)
			bc_full_nn(k, ap, rsa, b, ldb, alpha, beta, cp, ldc);
		else if (m - i >= 8 && nr == 32 && rsa == 1)
			bc_full_tn(k, ap, csa, b, ldb, alpha, beta, cp, ldc);
		else
			bc_edge(imin(8, m - i), k, ap, rsa, csa, b, ldb, m0, m1, alpha, beta, cp, ldc);
	}
}

static AVX512 void gemm_bc(int m, int n, int k, float alpha, const float *a, size_t rsa, size_t csa, const float *b,
			   int ldb, float beta, float *c, int ldc)
{
	for (int k0 = 0; k0 < k; k0 += BC_KC) {
		int kc = imin(BC_KC, k - k0);
		float be = k0 == 0 ? beta : 1.0f;
		for (int j = 0; j < n; j += 32)
			bc_panel(m, imin(32, n - j), kc, alpha, a + (size_t)k0 * csa, rsa, csa,
				 b + (size_t)k0 * (size_t)ldb + j, (size_t)ldb, be, c + j, (size_t)ldc);
	}
}

/* Transposes the 16 x 16 block at s (row stride ls) into d (row stride ld). */
static inline __attribute__((always_inline)) AVX512 void transpose16(const float *s, size_t ls, float *d, size_t ld)
{
	__m512 r[16], t[16];
	UNROLL
	for (int i = 0; i < 16; i++)
		r[i] = _mm512_loadu_ps(s + (size_t)i * ls);
	UNROLL
	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
	}
	UNROLL
	for (int i = 0; i < 16; i += 4) {
		__m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
		__m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
		r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
		r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
		r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
		r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
	}
	/* r[4g + q] holds columns q, q + 4, q + 8, q + 12 of rows 4g..4g+3, a lane each */
	UNROLL
	for (int h = 0; h < 16; h += 8)
		UNROLL
	for (int q = 0; q < 4; q++) {
		t[h + q] = _mm512_shuffle_f32x4(r[h + q], r[h + 4 + q], 0x88);
		t[h + 4 + q] = _mm512_shuffle_f32x4(r[h + q], r[h + 4 + q], 0xdd);
	}
	/* t[q] (t[4 + q]) holds columns q and q + 8 (q + 4 and q + 12) of rows 0..7, t[8..15]
	 * the same of rows 8..15 */
	UNROLL
	for (int q = 0; q < 8; q++) {
		_mm512_storeu_ps(d + (size_t)q * ld, _mm512_shuffle_f32x4(t[q], t[8 + q], 0x88));
		_mm512_storeu_ps(d + (size_t)(q + 8) * ld, _mm512_shuffle_f32x4(t[q], t[8 + q], 0xdd));
	}
}

/* panel[p][j] = B row j, value p, for j < nr (<= 32) and p < k; zeros for j >= nr. */
static AVX512 void nt_pack(const float *b, size_t ldb, int nr, int k, float *panel)
{
	int p = 0;
	if (nr == 32)
		for (; p + 16 <= k; p += 16) {
			transpose16(b + p, ldb, panel + (size_t)p * 32, 32);
			transpose16(b + 16 * ldb + p, ldb, panel + (size_t)p * 32 + 16, 32);
		}
	for (; p < k; p++)
		for (int j = 0; j < 32; j++)
			panel[(size_t)p * 32 + (size_t)j] = j < nr ? b[(size_t)j * ldb + (size_t)p] : 0;
}

/* NT as NN on a packed copy of 32 of B's rows at a time, k in blocks of NTP_KC: the
 * broadcast tiles reuse what they load twice as often as the dot-product ones, which
 * pays for the packing when A has rows enough. */
static AVX512 void gemm_nt_packed(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
				  float beta, float *c, int ldc)
{
	float panel[NTP_KC * 32] __attribute__((aligned(64)));
	for (int k0 = 0; k0 < k; k0 += NTP_KC) {
		int kc = imin(NTP_KC, k - k0);
		float be = k0 == 0 ? beta : 1.0f;
		for (int j = 0; j < n; j += 32) {
			int nr = imin(32, n - j);
			nt_pack(b + (size_t)j * (size_t)ldb + k0, (size_t)ldb, nr, kc, panel);
			bc_panel(m, nr, kc, alpha, a + k0, (size_t)lda, 1, panel, 32, be, c + j, (size_t)ldc);
		}
	}
}

bool ml_nn_gemm_avx512(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
		       int ldb, float beta, float *c, int ldc)
{
	if (m <= 0 || n <= 0)
		return true;
	if (k <= 0) {
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++) {
				float *cp = c + (size_t)i * (size_t)ldc + j;
				*cp = beta == 0 ? 0 : beta * *cp;
			}
		return true;
	}
	if (!ta && tb && m >= NTP_MIN_M)
		gemm_nt_packed(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	else if (!ta && tb)
		gemm_nt(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	else if (!ta && !tb)
		gemm_bc(m, n, k, alpha, a, (size_t)lda, 1, b, ldb, beta, c, ldc);
	else if (ta && !tb)
		gemm_bc(m, n, k, alpha, a, 1, (size_t)lda, b, ldb, beta, c, ldc);
	else
		return false;
	return true;
}

bool ml_nn_gemm_avx512_usable(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f");
}
#else
bool ml_nn_gemm_avx512(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
		       int ldb, float beta, float *c, int ldc)
{
	(void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb;
	(void)beta, (void)c, (void)ldc;
	return false;
}

bool ml_nn_gemm_avx512_usable(void)
{
	return false;
}
#endif
