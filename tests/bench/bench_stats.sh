#!/usr/bin/env bash
# `make bench`, libs/stats part (issue 12): the drift statistics on 1,000,000 vs 1,000,000
# values, ours (tests/bench/bench_stats.c) next to scipy on the same arrays in the same run
# (bench_stats_scipy.py, Debian's /usr/bin/python3 with scipy 1.10): two-sample KS on
# unsorted samples, same distribution and shifted by 0.01 sd; Evidently's chisquare on a
# 20-category column, counting included; Evidently's PSI (Sturges bins over both samples,
# counting included; the peer is numpy). Prints each side's lines, then a table: wall and
# CPU milliseconds (best of 5), scipy / ours (the speed-up, on CPU time: on a shared
# machine the steadier figure), and whether the statistic and p-value agree (1e-9, as the
# unit tests hold them). Fails when a value disagrees; a missing scipy is skipped, saying so.
#
#   tests/bench/bench_stats.sh BUILD_DIR
#   (tools/run-bench.sh runs it; LATHE_BENCH_STATS=0 leaves it out)
#   LATHE_BENCH_STATS_ROUNDS=N   best of N (default 5)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: bench_stats.sh BUILD_DIR}" && pwd) || exit 2
py=/usr/bin/python3
rounds=${LATHE_BENCH_STATS_ROUNDS:-5}
say() { echo "bench: $*"; }
work=$(mktemp -d /tmp/lathe-bench-stats.XXXXXX)
trap 'rm -rf "$work"' EXIT
say "stats: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; 1,000,000 vs 1,000,000 values, best of $rounds"
status=0
"$build/tests/bench/bench_stats" "$work" "$rounds" >"$work/lathe.out" 2>"$work/lathe.err" || {
	say "stats: FAIL: bench_stats exited $?"
	tail -n 5 "$work/lathe.err"
	exit 1
}
cat "$work/lathe.out"
if "$py" -c 'import scipy.stats' 2>/dev/null; then
	"$py" "$root/tests/bench/bench_stats_scipy.py" "$work" "$rounds" >"$work/scipy.out" 2>"$work/scipy.err" ||
		{ say "stats: scipy peer failed"; tail -n 5 "$work/scipy.err"; }
	cat "$work/scipy.out"
else
	say "stats: scipy peer skipped: $py has no scipy (make deps installs python3-scipy)"
fi
cat "$work"/*.out | awk '
function field(line, key,   i, n, kv) {
	n = split(line, kv, " ")
	for (i = 1; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2)
	return ""
}
function agree(a, b, tol,   d, m) {
	if (a == b) return 1
	if (a ~ /nan|inf/ || b ~ /nan|inf/) return 0
	d = a - b; if (d < 0) d = -d
	m = a < 0 ? -a : a; if (b > m) m = b; if (-b > m) m = -b; if (m < 1) m = 1
	return d <= tol * m
}
/^bench: stats (lathe|scipy) / {
	who = $3; name = $4; seen[name] = 1
	ms[who, name] = field($0, "ms"); cpu[who, name] = field($0, "cpu_ms")
	st[who, name] = field($0, "statistic"); pv[who, name] = field($0, "pvalue")
}
END {
	bad = 0
	printf "bench: stats %-10s %10s %10s | %10s %10s | %-16s | %s\n", "statistic", "ours ms", "cpu ms", "scipy ms", "cpu ms", "scipy/ours (cpu)", "values"
	split("ks_same ks_shift chisquare psi", order, " ")
	for (i = 1; i <= 4; i++) {
		k = order[i]
		if (!(("lathe", k) in ms)) continue
		if (("scipy", k) in ms) {
			same = agree(st["lathe", k], st["scipy", k], 1e-9) && agree(pv["lathe", k], pv["scipy", k], 1e-9)
			if (!same) bad = 1
			printf "bench: stats %-10s %10.2f %10.2f | %10.2f %10.2f | %16.1f | %s (statistic %s, p %s)\n", k, ms["lathe", k], cpu["lathe", k], ms["scipy", k], cpu["scipy", k], (cpu["lathe", k] > 0 ? cpu["scipy", k] / cpu["lathe", k] : 0), same ? "agree" : "DIFFER", st["lathe", k], pv["lathe", k]
			if (!same) printf "bench: stats %-10s scipy: statistic %s, p %s\n", k, st["scipy", k], pv["scipy", k]
		} else
			printf "bench: stats %-10s %10.2f %10.2f | %10s %10s | %16s | statistic %s, p %s\n", k, ms["lathe", k], cpu["lathe", k], "-", "-", "-", st["lathe", k], pv["lathe", k]
	}
	exit bad
}' || status=1
exit $status
