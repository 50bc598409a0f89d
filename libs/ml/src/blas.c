/* The one file that calls OpenBLAS (libs/ml's other files go through these wrappers,
 * declared in nn_internal.h), so swapping the BLAS, or counting its calls, touches one
 * place. Row-major throughout.
 *
 * On a CPU with AVX-512 where OpenBLAS runs AVX2 kernels (Debian's 0.3.21 takes CPUs it
 * does not know, Zen 5 among them, for Haswell), the GEMMs go to nn_gemm.c's AVX-512
 * kernels instead, as long as one thread is asked for (they are single-threaded) or the
 * product is small: decided from the CPU and the core OpenBLAS names, once per process,
 * the thread setting and the shape, so runs with the same setting sum in the same order. */
#include <cblas.h>
#include <stdatomic.h>
#include <strings.h>
#include "nn_internal.h"

/* 0 not decided yet, 1 nn_gemm.c, 2 OpenBLAS. */
static atomic_int gemm_choice;

static bool openblas_has_avx512(void)
{
	static const char *const cores[] = {"skylakex", "cooperlake", "sapphirerapids"};
	const char *name = openblas_get_corename();
	for (size_t i = 0; name && i < sizeof cores / sizeof cores[0]; i++)
		if (strcasecmp(name, cores[i]) == 0)
			return true;
	return false;
}

/* Products of at most this many multiply-adds take the kernels whatever the thread
 * setting: threads cost more than they save on them (predict's few rows). */
#define SMALL_GEMM ((size_t)1 << 20)

static bool use_own_gemm(size_t macs)
{
	int c = atomic_load_explicit(&gemm_choice, memory_order_relaxed);
	if (c == 0) {
		c = ml_nn_gemm_avx512_usable() && !openblas_has_avx512() ? 1 : 2;
		atomic_store_explicit(&gemm_choice, c, memory_order_relaxed);
	}
	return c == 1 && (macs <= SMALL_GEMM || openblas_get_num_threads() == 1);
}

void ml_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
	      float beta, float *c, int ldc)
{
	if (m > 0 && n > 0 && k > 0 && use_own_gemm((size_t)m * (size_t)n * (size_t)k) &&
	    ml_nn_gemm_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
		return;
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
		    lda, b, ldb, beta, c, ldc);
}

void ml_sgemv(bool ta, int m, int n, const float *a, int lda, const float *x, float *y)
{
	cblas_sgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, m, n, 1.0f, a, lda, x, 1, 0.0f, y, 1);
}

void ml_set_threads(int n)
{
	openblas_set_num_threads(n < 1 ? 1 : n);
}
