#!/usr/bin/python3
"""The peer of bench_img.c: PIL + numpy over the same files, read into memory first, each
turned into float32 (x / 255) at 28x28 and 64x64 with Image.resize(BILINEAR), one core.
Prints "bench: ..." lines in bench_img's form.

    /usr/bin/python3 tests/bench/bench_img_pil.py LIST [ROUNDS]"""
import io
import sys
import time

import numpy as np
from PIL import Image


def run(blobs, side, rounds):
    best_cpu = best_wall = float("inf")
    total = 0.0
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        total = 0.0
        for b in blobs:
            im = Image.open(io.BytesIO(b)).convert("L")
            if im.size != (side, side):
                im = im.resize((side, side), Image.BILINEAR)
            x = np.asarray(im, dtype=np.float32) / np.float32(255)
            total += float(x.reshape(-1)[side * side // 2])
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    n = len(blobs)
    print("bench: pil %dx%d float32: %d images, best of %d: %.0f images/s cpu (%.2f us/image), "
          "%.0f images/s wall (%.2f us/image), checksum %.4f"
          % (side, side, n, rounds, n / best_cpu, best_cpu * 1e6 / n, n / best_wall, best_wall * 1e6 / n, total))


def main():
    paths = [p for p in open(sys.argv[1]).read().split("\n") if p]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    blobs = [open(p, "rb").read() for p in paths]
    run(blobs, 28, rounds)
    run(blobs, 64, rounds)


if __name__ == "__main__":
    main()
