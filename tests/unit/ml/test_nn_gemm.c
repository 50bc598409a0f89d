/* Unit tests of libs/ml's matrix products: the AVX-512 kernels of nn_gemm.c, and
 * ml_sgemm (blas.c) which picks them or OpenBLAS, against a plain triple loop in double
 * precision, white box through nn_internal.h. The shapes cover every tile edge (rows and
 * columns not multiples of 4, 8, 16 or 32, k not a multiple of 16, k longer than a
 * block), row strides wider than the rows, alpha and beta other than 1 and 0, and
 * beta 0 over a C holding NaN (which must not leak into the result, as in BLAS).
 * Tolerance: 1e-5 relative to the sum of |products| (float rounding of k terms). On a
 * CPU without AVX-512 the kernel tests check that nothing is claimed. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include "../../../libs/ml/src/nn_internal.h"

typedef bool (*gemm_fn)(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
			int ldb, float beta, float *c, int ldc);

static bool via_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
		      int ldb, float beta, float *c, int ldc)
{
	ml_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	return true;
}

static float frand(struct ml_nn_rng *r)
{
	return 2.0f * ml_nn_rng_uniform(r) - 1.0f;
}

/* Checks fn on one shape against the triple loop; pad widens every row stride. */
static void check_shape(gemm_fn fn, bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad)
{
	struct ml_nn_rng r;
	ml_nn_rng_seed(&r, (uint64_t)(m * 1000003 + n * 1009 + k), 5);
	int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
	int lda = ac + pad, ldb = bc + pad, ldc = n + pad;
	float *a = malloc(sizeof(float) * (size_t)(ar * lda + 1)), *b = malloc(sizeof(float) * (size_t)(br * ldb + 1));
	float *c = malloc(sizeof(float) * (size_t)(m * ldc + 1)), *c0 = malloc(sizeof(float) * (size_t)(m * ldc + 1));
	for (int i = 0; i < ar * lda; i++)
		a[i] = frand(&r);
	for (int i = 0; i < br * ldb; i++)
		b[i] = frand(&r);
	for (int i = 0; i < m * ldc; i++)
		c[i] = c0[i] = beta == 0 ? NAN : frand(&r);
	ck_assert(fn(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
	for (int i = 0; i < m; i++)
		for (int j = 0; j < ldc; j++) {
			float got = c[i * ldc + j];
			if (j >= n) { /* the padding is not written */
				ck_assert(isnan(c0[i * ldc + j]) ? isnan(got) : got == c0[i * ldc + j]);
				continue;
			}
			double s = 0, mag = 0;
			for (int p = 0; p < k; p++) {
				double x = a[ta ? p * lda + i : i * lda + p], y = b[tb ? j * ldb + p : p * ldb + j];
				s += x * y;
				mag += fabs(x * y);
			}
			double want = alpha * s + (beta == 0 ? 0 : beta * c0[i * ldc + j]);
			double tol = 1e-5 * (fabs(alpha) * mag + fabs(beta) + 1);
			ck_assert_msg(fabs(got - want) <= tol, "ta %d tb %d m %d n %d k %d: C[%d][%d] = %g, want %g",
				      ta, tb, m, n, k, i, j, (double)got, want);
		}
	free(a);
	free(b);
	free(c);
	free(c0);
}

static const int dims[][3] = {
	{1, 1, 1},     {3, 5, 7},      {4, 4, 16},    {8, 32, 16},   {9, 33, 17},
	{15, 31, 15},  {16, 32, 300},  {17, 47, 33},  {64, 10, 256}, {128, 10, 17},
	{33, 65, 520}, {20, 40, 2100}, {64, 96, 784}, {7, 100, 3},   {5, 9, 2100},
};

static void check_all(gemm_fn fn)
{
	const bool t[][2] = {{false, true}, {false, false}, {true, false}};
	const float ab[][2] = {{1, 0}, {1, 1}, {2, 0.5f}};
	for (size_t v = 0; v < 3; v++)
		for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
			for (size_t s = 0; s < 3; s++)
				check_shape(fn, t[v][0], t[v][1], dims[d][0], dims[d][1], dims[d][2], ab[s][0],
					    ab[s][1], (int)(d % 3) * 3);
}

START_TEST(avx512_kernels_match_the_plain_product)
{
	if (!ml_nn_gemm_avx512_usable()) {
		float a = 1, b = 1, c = 0;
		/* built for x86-64 the kernels exist but must not be reached; elsewhere they
		 * claim nothing */
#if !defined(__x86_64__)
		ck_assert(!ml_nn_gemm_avx512(false, true, 1, 1, 1, 1, &a, 1, &b, 1, 0, &c, 1));
#else
		(void)a, (void)b, (void)c;
#endif
		return;
	}
	check_all(ml_nn_gemm_avx512);
	float a = 1, b = 1, c = 0;
	ck_assert(!ml_nn_gemm_avx512(true, true, 1, 1, 1, 1, &a, 1, &b, 1, 0, &c, 1));
	/* k = 0: C = beta C */
	c = 3;
	ck_assert(ml_nn_gemm_avx512(false, true, 1, 1, 0, 1, &a, 1, &b, 1, 0.5f, &c, 1));
	ck_assert(c == 1.5f);
}
END_TEST

START_TEST(sgemm_matches_the_plain_product)
{
	for (int threads = 1; threads <= 2;
	     threads++) { /* one thread: nn_gemm.c; two: OpenBLAS for the larger shapes */
		ml_set_threads(threads);
		check_all(via_sgemm);
	}
	ml_set_threads(1);
	check_shape(via_sgemm, true, true, 9, 33, 17, 1, 1, 2);
}
END_TEST

/* Same inputs, same bits: the order of the sums depends on the shapes only. */
START_TEST(sgemm_is_deterministic)
{
	int m = 37, n = 70, k = 300;
	ml_set_threads(1);
	struct ml_nn_rng r;
	ml_nn_rng_seed(&r, 9, 9);
	float *a = malloc(sizeof(float) * (size_t)(m * k)), *b = malloc(sizeof(float) * (size_t)(n * k));
	float *c1 = malloc(sizeof(float) * (size_t)(m * n)), *c2 = malloc(sizeof(float) * (size_t)(m * n));
	for (int i = 0; i < m * k; i++)
		a[i] = frand(&r);
	for (int i = 0; i < n * k; i++)
		b[i] = frand(&r);
	for (int v = 0; v < 2; v++) {
		ml_sgemm(false, v == 0, m, n, k, 1, a, k, b, v == 0 ? k : n, 0, c1, n);
		ml_sgemm(false, v == 0, m, n, k, 1, a, k, b, v == 0 ? k : n, 0, c2, n);
		for (int i = 0; i < m * n; i++)
			ck_assert(c1[i] == c2[i]);
	}
	free(a);
	free(b);
	free(c1);
	free(c2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ml_nn_gemm");
	TCase *tc = tcase_create("gemm");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, avx512_kernels_match_the_plain_product);
	tcase_add_test(tc, sgemm_matches_the_plain_product);
	tcase_add_test(tc, sgemm_is_deterministic);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
