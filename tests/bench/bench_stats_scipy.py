#!/usr/bin/python3
"""The peer of bench_stats.c: scipy on the same arrays (read from the files bench_stats
wrote into DIR), timed the same way, best of ROUNDS, printing lines in bench_stats' form:
  ks_same, ks_shift   scipy.stats.ks_2samp(ref, cur)  (defaults: two-sided, method auto)
  chisquare           numpy counting (np.bincount) of both columns, then Evidently's
                      chisquare stattest: current counts vs reference counts scaled to
                      the current size, scipy.stats.chisquare
  psi                 Evidently's PSI with numpy: Sturges edges over both samples
                      (np.histogram_bin_edges), np.histogram of each, shares, empty
                      shares set to 0.0001 (or min/1e6), sum((p - q) * ln(p / q))

    /usr/bin/python3 tests/bench/bench_stats_scipy.py DIR [ROUNDS]"""
import sys
import time

import numpy as np
import scipy.stats


def best(fn, rounds):
    ms = cpu = float("inf")
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        r = fn()
        ms = min(ms, 1e3 * (time.perf_counter() - w0))
        cpu = min(cpu, 1e3 * (time.process_time() - c0))
    return ms, cpu, r


def chisquare(ref, cur):
    rc = np.bincount(ref, minlength=20)
    cc = np.bincount(cur, minlength=20)
    keep = (rc > 0) | (cc > 0)
    f_exp = rc[keep] * (cur.shape[0] / ref.shape[0])
    return scipy.stats.chisquare(cc[keep], f_exp)


def psi(ref, cur):
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    p = np.histogram(ref, edges)[0] / len(ref)
    q = np.histogram(cur, edges)[0] / len(cur)
    for a in (p, q):
        m = min(a[a != 0])
        np.place(a, a == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return np.sum((p - q) * np.log(p / q)), float("nan")


def main():
    d = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    ref = np.fromfile(d + "/ref.f64", dtype="<f8")
    same = np.fromfile(d + "/same.f64", dtype="<f8")
    shift = np.fromfile(d + "/shift.f64", dtype="<f8")
    cref = np.fromfile(d + "/cref.i32", dtype="<i4")
    ccur = np.fromfile(d + "/ccur.i32", dtype="<i4")
    cases = [
        ("ks_same", lambda: scipy.stats.ks_2samp(ref, same)),
        ("ks_shift", lambda: scipy.stats.ks_2samp(ref, shift)),
        ("chisquare", lambda: chisquare(cref, ccur)),
        ("psi", lambda: psi(ref, shift)),
    ]
    for name, fn in cases:
        ms, cpu, r = best(fn, rounds)
        print("bench: stats scipy %s ms=%.3f cpu_ms=%.3f statistic=%r pvalue=%r"
              % (name, ms, cpu, float(r[0]), float(r[1])), flush=True)


main()
