/* The one file that calls OpenBLAS (libs/ml's other files go through these wrappers,
 * declared in nn_internal.h), so swapping the BLAS, or counting its calls, touches one
 * place. Row-major throughout. */
#include <cblas.h>
#include "nn_internal.h"

void ml_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
	      float beta, float *c, int ldc)
{
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
		    lda, b, ldb, beta, c, ldc);
}

void ml_set_threads(int n)
{
	openblas_set_num_threads(n < 1 ? 1 : n);
}
