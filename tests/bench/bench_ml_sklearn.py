"""scikit-learn peer of tests/bench/bench_ml.c's logistic regression: multinomial
LogisticRegression (lbfgs, its defaults: C=1, max_iter=100) on Fashion-MNIST pixels / 255,
one thread (OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1 from the caller). Timed: fit; not
timed: loading, scoring. Prints

    bench: ml sklearn logreg epochs=0 s_per_epoch=0 cpu_s_per_epoch=0 seconds=T cpu_seconds=C test_acc=A

Run with Debian's /usr/bin/python3 (python3-sklearn):
    /usr/bin/python3 bench_ml_sklearn.py [DATA_DIR]
"""
import gzip
import os
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression


def load(d, part):
    with gzip.open(os.path.join(d, part + "-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(d, part + "-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return x.astype(np.float32) / 255.0, y.astype(np.int64)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    xtr, ytr = load(d, "train")
    xte, yte = load(d, "t10k")
    limit = int(os.environ.get("LATHE_BENCH_ML_LIMIT", "0"))
    if limit:
        xtr, ytr = xtr[:limit], ytr[:limit]
    warnings.simplefilter("ignore", ConvergenceWarning)  # lbfgs stops at max_iter=100, as by default
    t0, c0 = time.perf_counter(), time.process_time()
    model = LogisticRegression(max_iter=100).fit(xtr, ytr)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    acc = float((model.predict(xte) == yte).mean())
    print("bench: ml sklearn logreg epochs=0 s_per_epoch=0 cpu_s_per_epoch=0 seconds=%.3f cpu_seconds=%.3f test_acc=%.4f"
          % (secs, cpu, acc))


if __name__ == "__main__":
    main()
