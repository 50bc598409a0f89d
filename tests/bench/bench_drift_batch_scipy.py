"""The peer of the batch drift benchmark (issue 12; tests/bench/bench_drift_batch.sh):
scipy and numpy on the same data as tests/bench/bench_drift_batch.c, made by the same
counter-based rule (splitmix64; three uniforms summed, scaled and shifted: exact IEEE
operations, so the doubles are the C program's bit for bit), the first PEER_COLS
columns of ROWS rows each:
  wasserstein   scipy.stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001),
                Evidently's "wasserstein" (its default for these columns)
  ks            scipy.stats.ks_2samp(ref, cur), Evidently's "ks"
Prints "bench: drift batch scipy NAME ms=... cpu_ms=... cols=... rows=..." and writes
"j wasserstein ks_d ks_p" per column to VALUES_FILE.

  python3 bench_drift_batch_scipy.py ROWS PEER_COLS VALUES_FILE
"""
import sys
import time

import numpy as np
from scipy import stats

M1 = np.uint64(0x9E3779B97F4A7C15)
M2 = np.uint64(0xBF58476D1CE4E5B9)
M3 = np.uint64(0x94D049BB133111EB)


def uniform(s, idx):
    z = (np.uint64(s) << np.uint64(32)) + idx + np.uint64(1)
    z = z * M1
    z = (z ^ (z >> np.uint64(30))) * M2
    z = (z ^ (z >> np.uint64(27))) * M3
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def column(j, side, n):
    idx = np.arange(n, dtype=np.uint64)
    s = (j * 2 + side) * 3
    scale = 1 + j / 100
    shift = 0.0005 * j if side else 0.0
    u = uniform(s, idx) + uniform(s + 1, idx) + uniform(s + 2, idx) - 1.5
    return u * scale + shift


def main():
    rows, cols, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    w_ms = w_cpu = k_ms = k_cpu = 0.0
    with np.errstate(over="ignore"), open(out, "w") as f:
        for j in range(cols):
            ref, cur = column(j, 0, rows), column(j, 1, rows)
            t0, c0 = time.perf_counter(), time.process_time()
            w = stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
            t1, c1 = time.perf_counter(), time.process_time()
            ks = stats.ks_2samp(ref, cur)
            w_ms += t1 - t0
            w_cpu += c1 - c0
            k_ms += time.perf_counter() - t1
            k_cpu += time.process_time() - c1
            f.write("%d %.17g %.17g %.17g\n" % (j, w, ks.statistic, ks.pvalue))
    print("bench: drift batch scipy stat_wasserstein ms=%.0f cpu_ms=%.0f cols=%d rows=%d" % (w_ms * 1e3, w_cpu * 1e3, cols, rows))
    print("bench: drift batch scipy stat_ks ms=%.0f cpu_ms=%.0f cols=%d rows=%d" % (k_ms * 1e3, k_cpu * 1e3, cols, rows))


if __name__ == "__main__":
    main()
