#!/usr/bin/env bash
# Runs every test suite of one or more build variants against one fresh PostgreSQL
# cluster and one devkafka broker, started here for this run only (tests never touch
# a developer's running stack). Each test binary is a check program; this script adds
# up check's summary lines and ends with "tests: N passed, N failed".
#
#   tools/run-tests.sh build/release [build/asan ...]
#   TESTS=pattern tools/run-tests.sh build/release     only binaries whose path matches
#   TEST_DIRS="tests/bench" tools/run-tests.sh ...      other directories of check programs
#   VALGRIND=1 tools/run-tests.sh build/valgrind        each program under valgrind memcheck
#   TEST_PARALLEL=1 tools/run-tests.sh build/release build/asan   the variants side by side
# With TEST_PARALLEL=1 the variants run side by side (two cores: the suites are mostly one
# process waiting on another; ~9.5 instead of ~15 minutes), each with its own devkafka
# broker, since tests steer the broker (down/up) and read shared topics; the PostgreSQL
# cluster is shared (every test makes its own database). Each variant's lines are shown
# when it ends. Not the default yet: under the doubled load the broker-down consumer stop
# of test_svc_lifecycle once took over its 30 s under ASan.
# Lines a program prints that start with "bench:" (benchmarks' results) or "note:" (what a
# test could not check here, e.g. as a user other than root) are shown.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. tools/stack-lib.sh

[ $# -ge 1 ] || { echo "usage: run-tests.sh BUILD_DIR..." >&2; exit 2; }

work=$(mktemp -d /tmp/lathe-test.XXXXXX)
chmod 755 "$work" # the postgres user must reach the cluster directory inside
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	stop_devkafka
	tools/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
	if [ "${KEEP_TEST_DIR:-0}" = 1 ]; then echo "test files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port free when chosen may be taken by the time the server binds it (other test
# runs on the machine choose too): try a few.
for attempt in 1 2 3 4 5; do
	pg_port=$(free_port) || exit 1
	tools/pg.sh start "$work/pg" "$pg_port" --ephemeral 2>"$work/pg-start.log" && break
	[ "$attempt" = 5 ] && { cat "$work/pg-start.log" >&2; echo "PostgreSQL did not start" >&2; exit 1; }
done
builds=()
for b in "$@"; do builds+=("$(cd "$b" && pwd)"); done

export LATHE_TEST_PG_URL="postgresql://postgres@127.0.0.1:$pg_port/postgres"
export LATHE_ROOT="$root"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-120}"

# run_build BUILD DIR: every suite of BUILD with its own broker and files in DIR; prints
# each suite's line and leaves "passed failed" in DIR/counts.
run_build() {
	local build=$1 dir=$2 passed=0 failed=0 t log start rc secs summary checks fails f
	mkdir -p "$dir"
	start_devkafka "${builds[0]}/bin/devkafka" "$dir" || { echo "0 1" >"$dir/counts"; return 1; }
	export LATHE_TEST_KAFKA="$KAFKA_BOOTSTRAP"
	export LATHE_TEST_KAFKA_CTL="$dir/kafka.ctl"
	export LATHE_TEST_TMP="$dir"
	export LATHE_TEST_BIN="$build/bin"
	local dirs=()
	for d in ${TEST_DIRS:-tests/unit tests/integration tests/e2e}; do dirs+=("$build/$d"); done
	for t in $(find "${dirs[@]}" -type f -perm -u+x 2>/dev/null | sort); do
		case "$t" in *"${TESTS:-}"*) ;; *) continue ;; esac
		log="$dir/$(echo "$t" | tr / _).log"
		start=$(date +%s)
		if [ "${VALGRIND:-0}" = 1 ]; then
			valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
				--suppressions="$root/tests/valgrind.supp" "$t" >"$log" 2>&1
		else
			"$t" >"$log" 2>&1
		fi
		rc=$?
		secs=$(($(date +%s) - start))
		grep -E '^(bench|note):' "$log"
		summary=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" | tail -n 1)
		checks=$(echo "$summary" | sed -nE 's/.*Checks: ([0-9]+).*/\1/p')
		fails=$(echo "$summary" | sed -nE 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2/p')
		f=0
		[ -n "$fails" ] && f=$(($(echo "$fails" | awk '{print $1 + $2}')))
		if [ -z "$checks" ]; then
			echo "BROKEN $t (exit $rc, no check summary, ${secs}s)"
			tail -n 40 "$log"
			failed=$((failed + 1))
			continue
		fi
		passed=$((passed + checks - f))
		failed=$((failed + f))
		if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
			[ "$f" -eq 0 ] && failed=$((failed + 1)) # exit status says what the summary did not
			echo "FAIL   $t: $summary (exit $rc, ${secs}s)"
			grep -E ':[EF]:' "$log" | head -n 20
			tail -n 40 "$log"
		else
			echo "ok     $t: $summary (${secs}s)"
		fi
	done
	stop_devkafka
	echo "$passed $failed" >"$dir/counts"
}

passed=0 failed=0
if [ "${#builds[@]}" -gt 1 ] && [ "${TEST_PARALLEL:-0}" = 1 ]; then
	for i in "${!builds[@]}"; do
		(
			trap 'stop_devkafka; exit 130' TERM
			run_build "${builds[$i]}" "$work/b$i"
		) >"$work/b$i.out" 2>&1 &
		pids+=($!)
	done
	for i in "${!builds[@]}"; do
		wait "${pids[$i]}"
		echo "== ${builds[$i]#"$root"/}"
		cat "$work/b$i.out"
	done
	pids=()
else
	for i in "${!builds[@]}"; do run_build "${builds[$i]}" "$work/b$i"; done
fi
for i in "${!builds[@]}"; do
	read -r p f <"$work/b$i/counts" 2>/dev/null || { p=0 f=1; }
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
