/* Total variation distance, and Evidently's "TVD" stattest built on it
 * (legacy/calculations/stattests/tvd_stattest.py):
 *
 *   TVD = ½ Σ_i |p_i − q_i|,  in [0, 1]   (p, q shares on common categories, no smoothing)
 *
 * Evidently reports not the distance but a permutation p-value: with numpy's legacy
 * generator seeded with 0 (np.random.seed(0)), 1000 times draw n_ref of the pooled values
 * ref + cur without replacement (np.random.choice, which for RandomState is
 * permutation(n)[:n_ref]) as a new reference, the rest as the new current, and count how
 * often their distance reaches the observed one; p = count / 1000. The generator is
 * MT19937 (Matsumoto & Nishimura, ACM TOMACS 8, 1998) with its 1998 init_genrand
 * seeding; the shuffle is Fisher–Yates from the top, each index drawn as numpy's
 * random_interval does (the smallest all-ones mask >= the bound, 32-bit draws rejected
 * until under it). Over a fixed pooled sample and fixed sizes, every distance shares the
 * denominator 2 n_ref n_cur, so they are compared as integers Σ |a_i n_cur − b_i n_ref|. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "distance_int.h"
#include "stats/distance.h"

#define PERMUTATIONS 1000
#define MT_N         624
#define MT_M         397

struct mt19937 {
	uint32_t s[MT_N];
	size_t i;
};

static void mt_seed(struct mt19937 *mt, uint32_t seed)
{
	mt->s[0] = seed;
	for (uint32_t i = 1; i < MT_N; i++)
		mt->s[i] = 1812433253u * (mt->s[i - 1] ^ (mt->s[i - 1] >> 30)) + i;
	mt->i = MT_N;
}

static uint32_t mt_next(struct mt19937 *mt)
{
	if (mt->i >= MT_N) {
		for (size_t k = 0; k < MT_N; k++) {
			uint32_t y = (mt->s[k] & 0x80000000u) | (mt->s[(k + 1) % MT_N] & 0x7fffffffu);
			mt->s[k] = mt->s[(k + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0);
		}
		mt->i = 0;
	}
	uint32_t y = mt->s[mt->i++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= y >> 18;
	return y;
}

/* A uniform integer in [0, max], by numpy's mask-and-reject rule (bounds here fit in 32
 * bits: they are sample sizes the caller could hold twice in memory) */
static uint32_t mt_interval(struct mt19937 *mt, uint32_t max)
{
	uint32_t mask = max, v;

	if (max == 0)
		return 0;
	mask |= mask >> 1;
	mask |= mask >> 2;
	mask |= mask >> 4;
	mask |= mask >> 8;
	mask |= mask >> 16;
	do
		v = mt_next(mt) & mask;
	while (v > max);
	return v;
}

enum core_status stats_tvd(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, double *out)
{
	double *b;
	enum core_status rc = stats_shares_pair(ref, k_ref, cur, k_cur, 0, &b, out);

	if (rc != CORE_OK)
		return rc;
	for (size_t i = 0; i < k_ref; i++)
		b[2 * k_ref + i] = fabs(b[i] - b[k_ref + i]);
	*out = 0.5 * stats_npsum(b + 2 * k_ref, k_ref);
	free(b);
	return CORE_OK;
}

/* 2 n_ref n_cur · TVD of reference counts a (the current's being total − a) */
static uint64_t scaled_tvd(const uint64_t *a, const uint64_t *total, size_t k, uint64_t nr, uint64_t nc)
{
	uint64_t d = 0;
	for (size_t i = 0; i < k; i++) {
		uint64_t x = a[i] * nc, y = (total[i] - a[i]) * nr;
		d += x > y ? x - y : y - x;
	}
	return d;
}

static int cmp_label(const void *key, const void *elem)
{
	return strcmp((const char *)key, *(char *const *)elem);
}

enum core_status stats_tvd_pvalue(const char *const *ref, size_t n_ref, const char *const *cur, size_t n_cur,
				  double *out)
{
	struct stats_bins b;
	uint32_t *pool = NULL, *perm = NULL;
	uint64_t *cnt = NULL;
	struct mt19937 *mt = NULL;
	enum core_status rc;

	*out = NAN;
	rc = stats_bins_categorical(ref, n_ref, cur, n_cur, &b);
	if (rc != CORE_OK)
		return rc;
	uint64_t nr = 0, nc = 0;
	for (size_t i = 0; i < b.k; i++) {
		nr += b.ref[i];
		nc += b.cur[i];
	}
	size_t n = nr + nc;
	if (n > UINT32_MAX) {
		rc = CORE_EINVAL;
		goto out;
	}
	pool = malloc(n * sizeof *pool);
	perm = malloc(n * sizeof *perm);
	cnt = malloc(2 * b.k * sizeof *cnt);
	mt = malloc(sizeof *mt);
	if (!pool || !perm || !cnt || !mt) {
		rc = CORE_ENOMEM;
		goto out;
	}
	/* the pooled list in Evidently's order, ref then cur, as category numbers */
	size_t m = 0;
	for (int side = 0; side < 2; side++) {
		const char *const *v = side ? cur : ref;
		size_t nv = side ? n_cur : n_ref;
		for (size_t i = 0; i < nv; i++)
			if (v[i]) {
				char **hit = bsearch(v[i], b.labels, b.k, sizeof *b.labels, cmp_label);
				pool[m++] = (uint32_t)(hit - b.labels);
			}
	}
	uint64_t *total = cnt + b.k, *a = cnt;
	for (size_t i = 0; i < b.k; i++)
		total[i] = b.ref[i] + b.cur[i];
	uint64_t observed = scaled_tvd(b.ref, total, b.k, nr, nc);
	mt_seed(mt, 0);
	unsigned reached = 0;
	for (int it = 0; it < PERMUTATIONS; it++) {
		for (size_t i = 0; i < n; i++)
			perm[i] = (uint32_t)i;
		for (size_t i = n - 1; i > 0; i--) {
			uint32_t j = mt_interval(mt, (uint32_t)i), t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		memset(a, 0, b.k * sizeof *a);
		for (size_t i = 0; i < nr; i++)
			a[pool[perm[i]]]++;
		reached += scaled_tvd(a, total, b.k, nr, nc) >= observed;
	}
	*out = (double)reached / PERMUTATIONS;
out:
	free(mt);
	free(cnt);
	free(perm);
	free(pool);
	stats_bins_free(&b);
	return rc;
}
