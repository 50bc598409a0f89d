#!/usr/bin/env bash
# `make bench`: runs the benchmarks (tests/bench/bench_*.c, check programs that drive
# real daemons over HTTP against a fresh PostgreSQL and broker) and prints their
# "bench:" lines. Each benchmark bounds its own request count and time.
#   tools/run-bench.sh build/release
set -euo pipefail
cd "$(dirname "$0")/.."
TEST_DIRS="tests/bench" CK_DEFAULT_TIMEOUT=600 exec tools/run-tests.sh "${1:-build/release}"
