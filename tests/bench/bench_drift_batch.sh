#!/usr/bin/env bash
# `make bench`, drift monitor batch part (issue 12): the drift report of a reference of
# 1,000,000 rows against a current of 1,000,000 rows, 100 numeric columns, through the
# service's table.c (tests/bench/bench_drift_batch.c: time, CPU and peak RSS, with
# Evidently's default method, wasserstein here, and with ks forced), next to scipy and
# numpy on the same data in the same run (bench_drift_batch_scipy.py: the same
# generator, Debian's /usr/bin/python3). The peer computes the statistic alone, so it is
# compared with our statistic alone on the same columns; scipy does the first
# LATHE_BENCH_DRIFT_PEER_COLS columns (10: at ~1 s a column, 100 would take minutes),
# and its time is scaled to 100 columns, saying so. Values must agree to 1e-9 (relative,
# absolute below 1: as the unit tests hold them), else the part fails. The goals: the
# report under 30 s within 1 GB.
#
#   tests/bench/bench_drift_batch.sh BUILD_DIR
#   (tools/run-bench.sh runs it; LATHE_BENCH_DRIFT=0 leaves it out)
#   LATHE_BENCH_DRIFT_ROWS=N LATHE_BENCH_DRIFT_COLS=N LATHE_BENCH_DRIFT_PEER_COLS=N
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: bench_drift_batch.sh BUILD_DIR}" && pwd) || exit 2
py=/usr/bin/python3
rows=${LATHE_BENCH_DRIFT_ROWS:-1000000}
cols=${LATHE_BENCH_DRIFT_COLS:-100}
peer=${LATHE_BENCH_DRIFT_PEER_COLS:-10}
[ "$peer" -gt "$cols" ] && peer=$cols
say() { echo "bench: drift batch: $*"; }
work=$(mktemp -d /tmp/lathe-bench-drift.XXXXXX)
trap 'rm -rf "$work"' EXIT
say "load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $rows vs $rows rows, $cols numeric columns"
"$build/tests/bench/bench_drift_batch" "$rows" "$cols" "$peer" "$work/lathe.values" >"$work/lathe.out" \
	2>"$work/lathe.err" || {
	say "FAIL: bench_drift_batch exited $?"
	tail -n 5 "$work/lathe.err"
	exit 1
}
cat "$work/lathe.out"
if ! "$py" -c 'import scipy.stats' 2>/dev/null; then
	say "scipy peer skipped: $py has no scipy (make deps installs python3-scipy)"
	exit 0
fi
OPENBLAS_NUM_THREADS=1 "$py" "$root/tests/bench/bench_drift_batch_scipy.py" "$rows" "$peer" "$work/scipy.values" \
	>"$work/scipy.out" 2>"$work/scipy.err" || { say "FAIL: the scipy peer failed"; tail -n 5 "$work/scipy.err"; exit 1; }
cat "$work/scipy.out"
# the values, column by column
paste -d' ' "$work/lathe.values" "$work/scipy.values" | awk -v say="bench: drift batch:" '
function agree(a, b,   d, m) {
	if (a == b) return 1
	d = a - b; if (d < 0) d = -d
	m = a < 0 ? -a : a; if (b > m) m = b; if (-b > m) m = -b; if (m < 1) m = 1
	return d <= 1e-9 * m
}
{
	n++
	if (!agree($2, $6) || !agree($3, $7) || !agree($4, $8)) {
		bad++
		printf "%s column %d DIFFER: ours wasserstein %s ks D %s p %s; scipy %s %s %s\n", say, $1, $2, $3, $4, $6, $7, $8
	}
	if ($4 < 0.05) drifted++
}
END {
	printf "%s values: %d columns compared (wasserstein, ks D and p), %s; %d of them drift by ks\n", say, n, bad ? bad " DIFFER" : "all agree to 1e-9", drifted
	exit bad ? 1 : 0
}' || status=1
cat "$work/lathe.out" "$work/scipy.out" | awk -v cols="$cols" -v peer="$peer" '
function field(line, key,   i, n, kv) {
	n = split(line, kv, " ")
	for (i = 1; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2)
	return ""
}
/^bench: drift batch (lathe|scipy) / { ms[$4, $5] = field($0, "ms"); cpu[$4, $5] = field($0, "cpu_ms"); rss[$4, $5] = field($0, "rss_mb") }
END {
	printf "bench: drift batch %-30s %10s %10s %8s\n", "report, all columns", "ms", "cpu ms", "peak MB"
	split("default ks", r, " ")
	for (i = 1; i <= 2; i++)
		printf "bench: drift batch lathe %-24s %10.0f %10.0f %8s  (goal < 30000 ms, < 1024 MB)\n", r[i] (r[i] == "default" ? " (wasserstein)" : " (forced)"), ms["lathe", r[i]], cpu["lathe", r[i]], rss["lathe", r[i]]
	printf "bench: drift batch %-30s %10s %10s | %10s %10s | %s\n", "statistic alone", "ours ms", "cpu ms", "scipy ms", "cpu ms", "scipy/ours (cpu)"
	split("stat_wasserstein stat_ks", s, " ")
	for (i = 1; i <= 2; i++) {
		k = s[i]
		printf "bench: drift batch %-30s %10.0f %10.0f | %10.0f %10.0f | %.1f\n", k " (" peer " cols)", ms["lathe", k], cpu["lathe", k], ms["scipy", k], cpu["scipy", k], (cpu["lathe", k] > 0 ? cpu["scipy", k] / cpu["lathe", k] : 0)
		if (peer < cols)
			printf "bench: drift batch %-30s %10s %10s | %10.0f %10.0f | (scipy scaled x%.1f from %d columns)\n", k " (" cols " cols)", "", "", ms["scipy", k] * cols / peer, cpu["scipy", k] * cols / peer, cols / peer, peer
	}
}'
exit "${status:-0}"
