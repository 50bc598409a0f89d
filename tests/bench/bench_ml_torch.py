"""PyTorch peer of tests/bench/bench_ml.c: the same models, data and hyper-parameters
(Fashion-MNIST pixels / 255; Adam lr 1e-3, batch 128; one thread). Timed: the epochs
(a torch.randperm shuffle, batch gathering by index, forward, backward, step); not timed:
loading and the test evaluation. Prints

    bench: ml torch <model> epochs=E s_per_epoch=S seconds=T test_acc=A

Run with Debian's /usr/bin/python3 (python3-torch):
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 bench_ml_torch.py [DATA_DIR] [mlp|cnn|all]
LATHE_BENCH_ML_EPOCHS=N overrides the epochs (a quick try).
"""
import gzip
import os
import sys
import time

import numpy as np
import torch
from torch import nn


def load(d, part):
    with gzip.open(os.path.join(d, part + "-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(d, part + "-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))


def models():
    return {
        "mlp": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)), 10),
        "cnn": (
            lambda: nn.Sequential(
                nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10)),
            3),
    }


def run(name, make, epochs, xtr, ytr, xte, yte):
    torch.manual_seed(1)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    n = len(xtr)
    t0 = time.perf_counter()
    for e in range(epochs):
        e0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n)
        total = 0.0
        for s in range(0, n, 128):
            idx = perm[s:s + 128]
            xb, yb = xtr[idx], ytr[idx]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print("%s epoch %d: loss %.4f, %.3f s" % (name, e + 1, total / n, time.perf_counter() - e0), file=sys.stderr)
    secs = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    print("bench: ml torch %s epochs=%d s_per_epoch=%.4f seconds=%.3f test_acc=%.4f" % (name, epochs, secs / epochs, secs, acc))
    sys.stdout.flush()


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    which = sys.argv[2] if len(sys.argv) > 2 else "all"
    torch.set_num_threads(1)
    xtr, ytr = load(d, "train")
    xte, yte = load(d, "t10k")
    force = int(os.environ.get("LATHE_BENCH_ML_EPOCHS", "0"))
    for name, (make, epochs) in models().items():
        if which in ("all", name):
            run(name, make, force or epochs, xtr, ytr, xte, yte)


if __name__ == "__main__":
    main()
