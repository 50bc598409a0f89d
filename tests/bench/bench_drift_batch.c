/* Benchmark of a batch drift report of 1,000,000 rows x 100 numeric columns (issue 12),
 * the C side; tests/bench/bench_drift_batch.sh runs it next to scipy/numpy on the same
 * data (bench_drift_batch_scipy.py) and checks that the values agree.
 *
 *   build/release/tests/bench/bench_drift_batch ROWS COLS PEER_COLS VALUES_FILE
 *
 * The report goes through the service's own code (table.c, linked from
 * libdrift-monitor.a): dm_col_report per column, then dm_table, as batch.c builds
 * POST /v1/drift's answer. The data are made in memory one column at a time (reference
 * and current, ROWS values each), reported and freed, so the peak RSS is what one
 * column's statistic and the table need, not the data set's (100 columns of 2 x 1M
 * doubles would be 1.6 GB before any statistic). Two passes over the columns:
 *   default  Evidently's choice (numerical, n_ref > 1000, > 5 distinct: wasserstein,
 *            normalised by the reference's std; distinct values are counted, as
 *            Evidently's n_unique, and each row has its histogram)
 *   ks       the method forced to ks ({"method": "ks"}), the costly one
 * The generator is counter-based (splitmix64; a value is three uniforms summed, scaled
 * and shifted: exact IEEE operations only), so numpy makes the same doubles bit for bit
 * (bench_drift_batch_scipy.py holds the same rule). Column j: scale 1 + j/100, the
 * current shifted by 0.0005 * j, so some columns drift and some not.
 * Then the statistics alone (stats_wasserstein_norm, stats_ks_2samp) on the first
 * PEER_COLS columns, timed, their values written to VALUES_FILE ("j wasserstein ks_d
 * ks_p" per line) for the comparison with scipy.
 * Lines: "bench: drift batch lathe NAME ms=… cpu_ms=… cols=… rows=… drifted=… rss_mb=…". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats/distance.h"
#include "stats/stattest.h"
#include "dm.h"

static double bb_now(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The i-th uniform in [0, 1) of stream s: splitmix64 of s * 2^32 + i. */
static double bb_uniform(uint64_t s, uint64_t i)
{
	uint64_t z = (s << 32) + i + 1;
	z *= 0x9E3779B97F4A7C15u;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1p-53;
}

/* Column j's sample side (0 reference, 1 current) into v[0..n). */
static void bb_column(size_t j, int side, double *v, size_t n)
{
	uint64_t s = ((uint64_t)j * 2 + (uint64_t)side) * 3;
	double scale = 1 + (double)j / 100, shift = side ? 0.0005 * (double)j : 0;
	for (size_t i = 0; i < n; i++) {
		double u = bb_uniform(s, i) + bb_uniform(s + 1, i) + bb_uniform(s + 2, i) - 1.5;
		v[i] = u * scale + shift;
	}
}

static long bb_rss_mb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	size_t k = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, k) == 0)
			kb = strtol(line + k + 1, NULL, 10);
	if (f)
		fclose(f);
	return kb < 0 ? -1 : kb / 1024;
}

/* Every column's row (method: NULL for Evidently's default, else forced), then the table. */
static int bb_report(size_t rows, size_t cols, const char *method, double *ref, double *cur, double *gen_s)
{
	json_t *override = method ? json_pack("{s:s}", "method", method) : NULL, *table_rows = json_array();
	size_t drifted = 0;
	double ms = 0, cpu = 0;
	*gen_s = 0;
	for (size_t j = 0; j < cols; j++) {
		double g0 = bb_now(CLOCK_MONOTONIC);
		bb_column(j, 0, ref, rows);
		bb_column(j, 1, cur, rows);
		*gen_s += bb_now(CLOCK_MONOTONIC) - g0;
		char name[32];
		snprintf(name, sizeof name, "c%zu", j);
		struct dm_col c = {
			.name = name, .type = STATS_COLUMN_NUMERICAL, .num = {ref, cur}, .n_num = {rows, rows}};
		json_t *row = NULL;
		bool d = false;
		struct core_error err = {{0}};
		double t0 = bb_now(CLOCK_MONOTONIC), c0 = bb_now(CLOCK_PROCESS_CPUTIME_ID);
		enum core_status rc = dm_col_report(&c, override, "columns", &row, &d, &err);
		ms += bb_now(CLOCK_MONOTONIC) - t0;
		cpu += bb_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
		if (rc != CORE_OK) {
			fprintf(stderr, "bench_drift_batch: %s\n", err.message);
			return -1;
		}
		const char *want = method ? method : "wasserstein";
		if (strcmp(json_string_value(json_object_get(row, "stattest_name")), want) != 0) {
			fprintf(stderr, "bench_drift_batch: column %zu: method %s, expected %s\n", j,
				json_string_value(json_object_get(row, "stattest_name")), want);
			return -1;
		}
		drifted += d;
		json_array_append_new(table_rows, row);
	}
	double t0 = bb_now(CLOCK_MONOTONIC), c0 = bb_now(CLOCK_PROCESS_CPUTIME_ID);
	json_t *table = dm_table(table_rows, drifted, 0.5);
	char *text = json_dumps(table, JSON_COMPACT);
	ms += bb_now(CLOCK_MONOTONIC) - t0;
	cpu += bb_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
	printf("bench: drift batch lathe %s ms=%.0f cpu_ms=%.0f cols=%zu rows=%zu drifted=%zu json_bytes=%zu "
	       "rss_mb=%ld\n",
	       method ? method : "default", ms * 1e3, cpu * 1e3, cols, rows, drifted, strlen(text),
	       bb_rss_mb("VmHWM:"));
	free(text);
	json_decref(table);
	json_decref(override);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s ROWS COLS PEER_COLS VALUES_FILE\n", argv[0]);
		return 2;
	}
	size_t rows = strtoul(argv[1], NULL, 10), cols = strtoul(argv[2], NULL, 10), peer = strtoul(argv[3], NULL, 10);
	double *ref = malloc(rows * sizeof *ref), *cur = malloc(rows * sizeof *cur), gen_s = 0;
	FILE *vf = fopen(argv[4], "w");
	int status = 1;
	if (!ref || !cur || !vf) {
		fprintf(stderr, "bench_drift_batch: out of memory or cannot write %s\n", argv[4]);
		goto out;
	}
	printf("bench: drift batch lathe start rss_mb=%ld (the program and both columns' buffers)\n",
	       bb_rss_mb("VmRSS:"));
	if (bb_report(rows, cols, NULL, ref, cur, &gen_s) != 0 || bb_report(rows, cols, "ks", ref, cur, &gen_s) != 0)
		goto out;
	printf("bench: drift batch lathe generate ms=%.0f (per pass, outside the timings)\n", gen_s * 1e3);
	double w_ms = 0, w_cpu = 0, k_ms = 0, k_cpu = 0;
	for (size_t j = 0; j < peer && j < cols; j++) {
		bb_column(j, 0, ref, rows);
		bb_column(j, 1, cur, rows);
		double w = NAN, t0 = bb_now(CLOCK_MONOTONIC), c0 = bb_now(CLOCK_PROCESS_CPUTIME_ID);
		enum core_status rc = stats_wasserstein_norm(ref, rows, cur, rows, &w);
		double t1 = bb_now(CLOCK_MONOTONIC), c1 = bb_now(CLOCK_PROCESS_CPUTIME_ID);
		struct stats_test ks = {NAN, NAN};
		if (rc == CORE_OK)
			rc = stats_ks_2samp(ref, rows, cur, rows, &ks);
		w_ms += t1 - t0;
		w_cpu += c1 - c0;
		k_ms += bb_now(CLOCK_MONOTONIC) - t1;
		k_cpu += bb_now(CLOCK_PROCESS_CPUTIME_ID) - c1;
		if (rc != CORE_OK) {
			fprintf(stderr, "bench_drift_batch: column %zu: the statistic failed (%d)\n", j, (int)rc);
			goto out;
		}
		fprintf(vf, "%zu %.17g %.17g %.17g\n", j, w, ks.statistic, ks.pvalue);
	}
	printf("bench: drift batch lathe stat_wasserstein ms=%.0f cpu_ms=%.0f cols=%zu rows=%zu\n", w_ms * 1e3,
	       w_cpu * 1e3, peer, rows);
	printf("bench: drift batch lathe stat_ks ms=%.0f cpu_ms=%.0f cols=%zu rows=%zu\n", k_ms * 1e3, k_cpu * 1e3,
	       peer, rows);
	status = 0;
out:
	if (vf && fclose(vf) != 0)
		status = 1;
	free(ref);
	free(cur);
	return status;
}
