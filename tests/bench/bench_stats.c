/* Benchmark of libs/stats' drift statistics on 1,000,000 vs 1,000,000 values (issue 12),
 * the C side; tests/bench/bench_stats.sh runs it, then scipy on the same arrays
 * (bench_stats_scipy.py), checks that the values agree and prints both side by side.
 *
 *   build/release/tests/bench/bench_stats DIR [ROUNDS]   (ROUNDS: best of, default 5)
 *
 * Writes the data sets into DIR as raw little-endian arrays (the peer reads the same
 * bytes), then times, best of ROUNDS (wall and process CPU):
 *   ks_same      stats_ks_2samp on two unsorted N(0, 1) samples (copy, sort, merge,
 *                p-value: kstwo at n = 500,000, Pelz–Good's region)
 *   ks_shift     the same with the current sample shifted by 0.01 sd (D ≈ 0.004:
 *                n·D² ≈ 8, Smirnov's exact sum over ~500,000 terms, the costly region)
 *   chisquare    a categorical column of 20 categories (int32 codes, unequal shares,
 *                current slightly different): counting both columns, then
 *                stats_chisquare_evidently (Evidently's "chisquare" stattest)
 *   psi          Evidently's PSI of ref vs shift: Sturges bins over both samples
 *                (stats_bins_numeric: the range, the edges, counting both), then
 *                stats_psi on the counts (shares, empty-bin smoothing, the sum)
 * Each line: "bench: stats lathe NAME ms=… cpu_ms=… statistic=… pvalue=…". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats/distance.h"
#include "stats/stattest.h"

#define N          1000000
#define CATEGORIES 20

static double bs_now(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A fixed seed, so every run benches the same arrays. */
static unsigned short bs_seed[3] = {0x5eed, 0x1a7e, 0x0012};

static double bs_normal(void)
{
	return sqrt(-2 * log(1 - erand48(bs_seed))) * cos(2 * M_PI * erand48(bs_seed));
}

static int bs_write(const char *dir, const char *name, const void *data, size_t size)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size) {
		fprintf(stderr, "bench: stats: cannot write %s\n", path);
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* A code in [0, CATEGORIES) with shares rising with the code, a little tilted by skew. */
static int32_t bs_code(double skew)
{
	double u = erand48(bs_seed), total = 0, acc = 0;
	for (int c = 0; c < CATEGORIES; c++)
		total += 1 + c + skew * (c % 3);
	for (int c = 0; c < CATEGORIES; c++) {
		acc += (1 + c + skew * (c % 3)) / total;
		if (u < acc)
			return c;
	}
	return CATEGORIES - 1;
}

struct bs_result {
	double ms, cpu_ms;
	struct stats_test t;
};

static void bs_print(const char *name, const struct bs_result *r)
{
	printf("bench: stats lathe %s ms=%.3f cpu_ms=%.3f statistic=%.17g pvalue=%.17g\n", name, r->ms, r->cpu_ms,
	       r->t.statistic, r->t.pvalue);
}

static int bs_ks(const char *name, const double *x, const double *y, int rounds)
{
	struct bs_result best = {INFINITY, INFINITY, {NAN, NAN}};
	for (int i = 0; i < rounds; i++) {
		double w = bs_now(CLOCK_MONOTONIC), c = bs_now(CLOCK_PROCESS_CPUTIME_ID);
		if (stats_ks_2samp(x, N, y, N, &best.t) != CORE_OK)
			return -1;
		best.ms = fmin(best.ms, 1e3 * (bs_now(CLOCK_MONOTONIC) - w));
		best.cpu_ms = fmin(best.cpu_ms, 1e3 * (bs_now(CLOCK_PROCESS_CPUTIME_ID) - c));
	}
	bs_print(name, &best);
	return 0;
}

static int bs_chisquare(const int32_t *ref, const int32_t *cur, int rounds)
{
	struct bs_result best = {INFINITY, INFINITY, {NAN, NAN}};
	for (int i = 0; i < rounds; i++) {
		double w = bs_now(CLOCK_MONOTONIC), c = bs_now(CLOCK_PROCESS_CPUTIME_ID);
		uint64_t rc[CATEGORIES] = {0}, cc[CATEGORIES] = {0};
		for (size_t j = 0; j < N; j++)
			rc[ref[j]]++;
		for (size_t j = 0; j < N; j++)
			cc[cur[j]]++;
		if (stats_chisquare_evidently(rc, cc, CATEGORIES, &best.t) != CORE_OK)
			return -1;
		best.ms = fmin(best.ms, 1e3 * (bs_now(CLOCK_MONOTONIC) - w));
		best.cpu_ms = fmin(best.cpu_ms, 1e3 * (bs_now(CLOCK_PROCESS_CPUTIME_ID) - c));
	}
	bs_print("chisquare", &best);
	return 0;
}

static int bs_psi(const double *ref, const double *cur, int rounds)
{
	struct bs_result best = {INFINITY, INFINITY, {NAN, NAN}};
	for (int i = 0; i < rounds; i++) {
		double w = bs_now(CLOCK_MONOTONIC), c = bs_now(CLOCK_PROCESS_CPUTIME_ID);
		struct stats_bins b;
		if (stats_bins_numeric(ref, N, cur, N, &b) != CORE_OK)
			return -1;
		enum core_status st = stats_psi(b.ref, b.k, b.cur, b.k, &best.t.statistic);
		stats_bins_free(&b);
		if (st != CORE_OK)
			return -1;
		best.ms = fmin(best.ms, 1e3 * (bs_now(CLOCK_MONOTONIC) - w));
		best.cpu_ms = fmin(best.cpu_ms, 1e3 * (bs_now(CLOCK_PROCESS_CPUTIME_ID) - c));
	}
	bs_print("psi", &best); /* a distance: no p-value (nan) */
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [ROUNDS]\n", argv[0]);
		return 2;
	}
	int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
	if (rounds < 1)
		rounds = 1;
	int rc = 1;
	double *ref = malloc(N * sizeof *ref), *same = malloc(N * sizeof *same), *shift = malloc(N * sizeof *shift);
	int32_t *cref = malloc(N * sizeof *cref), *ccur = malloc(N * sizeof *ccur);
	if (!ref || !same || !shift || !cref || !ccur)
		goto out;
	for (size_t i = 0; i < N; i++) {
		ref[i] = bs_normal();
		same[i] = bs_normal();
		shift[i] = bs_normal() + 0.01;
		cref[i] = bs_code(0);
		ccur[i] = bs_code(0.02);
	}
	if (bs_write(argv[1], "ref.f64", ref, N * sizeof *ref) ||
	    bs_write(argv[1], "same.f64", same, N * sizeof *same) ||
	    bs_write(argv[1], "shift.f64", shift, N * sizeof *shift) ||
	    bs_write(argv[1], "cref.i32", cref, N * sizeof *cref) ||
	    bs_write(argv[1], "ccur.i32", ccur, N * sizeof *ccur))
		goto out;
	if (bs_ks("ks_same", ref, same, rounds) || bs_ks("ks_shift", ref, shift, rounds) ||
	    bs_chisquare(cref, ccur, rounds) || bs_psi(ref, shift, rounds))
		goto out;
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "bench: stats: failed\n");
	free(ref);
	free(same);
	free(shift);
	free(cref);
	free(ccur);
	return rc;
}
