#!/usr/bin/env bash
# `make bench`, libs/ml part (issue 10): training speed and test accuracy on
# Fashion-MNIST (Debian's dataset-fashion-mnist), ours (tests/bench/bench_ml.c) next to the
# same models in PyTorch (bench_ml_torch.py) and scikit-learn's LogisticRegression
# (bench_ml_sklearn.py), one after the other on one thread each (OPENBLAS_NUM_THREADS=1,
# OMP_NUM_THREADS=1, torch.set_num_threads(1)), data loading not timed. Adam lr 1e-3,
# batch 128: (a) MLP 784-256-10, 10 epochs; (b) CNN conv3x3(32)-pool-conv3x3(64)-pool-
# dense(128)-dense(10), 3 epochs; (c) multinomial logistic regression (ours: Adam, 10
# epochs; scikit-learn: lbfgs, its defaults). Prints the runs' own lines, then a table:
# seconds per epoch (wall and CPU) and test accuracy for both, and ours / theirs (CPU
# time: on a shared machine the steadier figure); for (c) whole-fit seconds.
#
#   tests/bench/bench_ml.sh BUILD_DIR
#   (tools/run-bench.sh runs it after the other parts; LATHE_BENCH_ML_ONLY=1 runs it alone,
#   LATHE_BENCH_ML=0 leaves it out)
#   LATHE_BENCH_ML_EPOCHS=N, LATHE_BENCH_ML_CNN_EPOCHS=N, LATHE_BENCH_ML_LIMIT=N   quick tries
#   LATHE_BENCH_ML_CORETYPE=SkylakeX   OPENBLAS_CORETYPE for both sides (Debian's OpenBLAS
#                                      0.3.21 takes an AVX-512 CPU it does not know, e.g.
#                                      Zen 5, for Haswell, and uses its AVX2 kernels; libs/ml
#                                      then runs its own AVX-512 GEMMs, nn_gemm.c, without
#                                      any setting: the default run is what users get. With
#                                      this set both sides use OpenBLAS's AVX-512 kernels)
# Peers that are not installed are skipped, saying so; the part never fails for that.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: bench_ml.sh BUILD_DIR}" && pwd) || exit 2
py=/usr/bin/python3
src=/usr/share/datasets/fashion-mnist
say() { echo "bench: $*"; }
if [ ! -r "$src/train-images-idx3-ubyte.gz" ]; then
	say "ml: skipped: $src is missing (make deps installs dataset-fashion-mnist)"
	exit 0
fi
cores=$(nproc)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
[ -n "${LATHE_BENCH_ML_CORETYPE:-}" ] && export OPENBLAS_CORETYPE=$LATHE_BENCH_ML_CORETYPE
work=$(mktemp -d /tmp/lathe-bench-ml.XXXXXX)
trap 'rm -rf "$work"' EXIT
say "ml: load average $(cut -d' ' -f1-3 /proc/loadavg) on $cores cores; OpenBLAS core ${OPENBLAS_CORETYPE:-auto}"
status=0
"$build/tests/bench/bench_ml" "$src" all >"$work/lathe.out" 2>"$work/lathe.err" || {
	say "ml: FAIL: bench_ml exited $?"
	tail -n 5 "$work/lathe.err"
	status=1
}
cat "$work/lathe.out"
if "$py" -c 'import torch' 2>/dev/null; then
	"$py" "$root/tests/bench/bench_ml_torch.py" "$src" all >"$work/torch.out" 2>"$work/torch.err" ||
		{ say "ml: torch peer failed"; tail -n 5 "$work/torch.err"; }
	cat "$work/torch.out"
else
	say "ml: PyTorch peer skipped: $py has no torch (make deps installs python3-torch)"
fi
if "$py" -c 'import sklearn' 2>/dev/null; then
	"$py" "$root/tests/bench/bench_ml_sklearn.py" "$src" >"$work/sk.out" 2>"$work/sk.err" ||
		{ say "ml: scikit-learn peer failed"; tail -n 5 "$work/sk.err"; }
	cat "$work/sk.out"
else
	say "ml: scikit-learn peer skipped: $py has no sklearn (make deps installs python3-sklearn)"
fi
cat "$work"/*.out 2>/dev/null | awk '
function field(line, key,   i, n, kv) {
	n = split(line, kv, " ")
	for (i = 1; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2)
	return ""
}
/^bench: ml (lathe|torch|sklearn) / {
	who = $3; model = $4
	wall[who, model] = field($0, "s_per_epoch"); cpu[who, model] = field($0, "cpu_s_per_epoch")
	secs[who, model] = field($0, "seconds"); cpus[who, model] = field($0, "cpu_seconds")
	acc[who, model] = field($0, "test_acc"); ep[who, model] = field($0, "epochs")
}
END {
	printf "bench: ml %-7s %-7s %6s %9s %9s %7s | %-7s %9s %9s %7s | %s\n", "model", "epochs", "", "wall s/ep", "cpu s/ep", "acc", "peer", "wall s/ep", "cpu s/ep", "acc", "ours/theirs (cpu)"
	split("mlp cnn", m, " ")
	for (i = 1; i <= 2; i++) {
		k = m[i]
		if (!((("lathe", k) in acc))) continue
		peer = (("torch", k) in acc) ? sprintf("%-7s %9.3f %9.3f %7.4f", "torch", wall["torch", k], cpu["torch", k], acc["torch", k]) : sprintf("%-7s %9s %9s %7s", "torch", "-", "-", "-")
		ratio = (("torch", k) in acc) && cpu["torch", k] > 0 ? sprintf("%.2f", cpu["lathe", k] / cpu["torch", k]) : "-"
		printf "bench: ml %-7s %-7s %6s %9.3f %9.3f %7.4f | %s | %s\n", k, ep["lathe", k], "", wall["lathe", k], cpu["lathe", k], acc["lathe", k], peer, ratio
	}
	if (("lathe", "logreg") in acc) {
		lc = cpu["lathe", "logreg"] * ep["lathe", "logreg"]
		if (("sklearn", "logreg") in acc)
			printf "bench: ml %-7s %-7s %6s %9.3f %9.3f %7.4f | %-7s %9.3f %9.3f %7.4f | %.3f (whole fit: %.2f s vs %.2f s cpu)\n", "logreg", ep["lathe", "logreg"], "", wall["lathe", "logreg"], cpu["lathe", "logreg"], acc["lathe", "logreg"], "sklearn", secs["sklearn", "logreg"], cpus["sklearn", "logreg"], acc["sklearn", "logreg"], lc / cpus["sklearn", "logreg"], lc, cpus["sklearn", "logreg"]
		else
			printf "bench: ml %-7s %-7s %6s %9.3f %9.3f %7.4f | sklearn - | -\n", "logreg", ep["lathe", "logreg"], "", wall["lathe", "logreg"], cpu["lathe", "logreg"], acc["lathe", "logreg"]
	}
	printf "bench: ml (logreg peer: one lbfgs fit; its columns are the whole fit, not per epoch)\n"
}'
exit $status
