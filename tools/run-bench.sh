#!/usr/bin/env bash
# `make bench`: the tracker's write path side by side with its peer, MLflow's own server,
# on one durable PostgreSQL cluster started here with `make run`'s settings (fsync and
# synchronous_commit on; never the tests' fsync-off cluster), then Lathe-only read
# figures. Prints "bench: ..." lines: a table of create run, log-metric, log-batch of
# 100 and 1000 with 1 and 4 connections (Lathe and MLflow throughput and p50, ratio), and
# PostgreSQL's CPU per 1000 metrics for each system.
#
#   tools/run-bench.sh build/release               with the peer when it is set up
#   LATHE_BENCH_PEER=0 tools/run-bench.sh ...       Lathe only (the peer columns say "-")
#   LATHE_BENCH_SECONDS=3                           time bound of each cell (count-bounded too)
#   LATHE_BENCH_READS=0                             leave out the Lathe-only read figures
#   LATHE_BENCH_DATA=0                              leave out the data registry's part
#   LATHE_BENCH_TRACKER=0                           leave out the tracker's part (and its peer)
#   LATHE_BENCH_ML=0                                leave out libs/ml's part (tests/bench/bench_ml.sh)
#   LATHE_BENCH_TRAINER=0                           leave out the trainer's part (tests/bench/bench_trainer.sh)
#   LATHE_BENCH_INFER=0                             leave out the inference API's part (tests/bench/bench_infer.sh:
#                                                   wrk on OIP / invocations next to FastAPI + uvicorn)
#   LATHE_BENCH_ML_ONLY=1                           run libs/ml's part alone (no database, no broker)
#   LATHE_BENCH_STATS=0                             leave out libs/stats' part (tests/bench/bench_stats.sh:
#                                                   KS and chi-squared on 1M vs 1M next to scipy)
#   LATHE_BENCH_STATS_ONLY=1                        run libs/stats' part alone (no database, no broker)
#   LATHE_BENCH_DRIFT=0                             leave out the drift monitor's part (tests/bench/bench_drift.sh:
#                                                   events/s ingested from Kafka; bench_drift_batch.sh: a report
#                                                   of 1M x 100 numeric columns next to scipy)
#   LATHE_BENCH_DRIFT_BATCH_ONLY=1                  run the drift batch report alone (no database, no broker)
# Then the data registry's part, tests/bench/bench_data.sh (its header says what it
# measures): Fashion-MNIST as 70,000 PNGs pushed with `lathe data push` to a
# lathe-data-registry on the same durable cluster, next to sha256sum and PIL + numpy.
#
# The peer is MLflow 2.12.2 from source on Debian's python3, as the team's shared
# setup-mlflow-client.sh installs it (into /opt/mlflow-src and /opt/mlflow-deps, or where
# MLFLOW_PYTHONPATH, that script's last line, says). When it is not set up, the bench
# says so and prints Lathe's figures alone; it never fails for that.
# `mlflow server --workers 2` gets a database of its own in the same cluster. Every port
# is below 32768; everything started here is stopped by PID on exit.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. tools/stack-lib.sh
build=$(cd "${1:-build/release}" && pwd) || exit 2
[ "${LATHE_BENCH_ML_ONLY:-0}" = 1 ] && exec tests/bench/bench_ml.sh "$build"
[ "${LATHE_BENCH_STATS_ONLY:-0}" = 1 ] && exec tests/bench/bench_stats.sh "$build"
[ "${LATHE_BENCH_DRIFT_BATCH_ONLY:-0}" = 1 ] && exec tests/bench/bench_drift_batch.sh "$build"

work=$(mktemp -d /tmp/lathe-bench.XXXXXX)
chmod 755 "$work" # the postgres user must reach the cluster directory inside
tracker_pid="" mlflow_pid=""
cleanup() {
	[ -n "$tracker_pid" ] && { kill -TERM "$tracker_pid" 2>/dev/null; wait "$tracker_pid" 2>/dev/null; }
	# `mlflow server` runs gunicorn as a child that outlives it: stop its whole process
	# group (setsid made it one, led by mlflow_pid); gunicorn's master stops its workers
	if [ -n "$mlflow_pid" ]; then
		kill -TERM -- "-$mlflow_pid" 2>/dev/null
		wait "$mlflow_pid" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 -- "-$mlflow_pid" 2>/dev/null || break; sleep 0.1; done
	fi
	stop_devkafka
	tools/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
	if [ "${KEEP_TEST_DIR:-0}" = 1 ]; then echo "bench files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port below 32768 that nothing listens on right now.
low_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	echo "run-bench: no free port below 32768" >&2
	return 1
}

# wait_http URL PID SECONDS: until URL answers 2xx, PID dies, or the time is up.
wait_http() {
	local i
	for i in $(seq 1 $(($3 * 10))); do
		curl -fs -o /dev/null "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

for attempt in 1 2 3 4 5; do
	pg_port=$(low_port) || exit 1
	tools/pg.sh start "$work/pg" "$pg_port" 2>"$work/pg-start.log" && break # durable: no --ephemeral
	[ "$attempt" = 5 ] && { cat "$work/pg-start.log" >&2; echo "PostgreSQL did not start" >&2; exit 1; }
done
psql_admin=(psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qtA)
"${psql_admin[@]}" -c "CREATE DATABASE lathe" -c "CREATE DATABASE mlflow" >/dev/null || exit 1
settings=$("${psql_admin[@]}" -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
	WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'wal_level')")
echo "bench: PostgreSQL $("${psql_admin[@]}" -c 'SHOW server_version') $settings"
start_devkafka "$build/bin/devkafka" "$work" || exit 1

port=$(low_port) || exit 1
DATABASE_URL="postgresql://postgres@127.0.0.1:$pg_port/lathe" KAFKA_BROKERS="$KAFKA_BOOTSTRAP" \
	BLOB_DIR="$work/blobs" PORT=$port HTTP_THREADS=4 LOG_LEVEL=warn \
	setsid "$build/bin/lathe-experiment-tracker" 2>"$work/tracker.log" &
tracker_pid=$!
wait_http "http://127.0.0.1:$port/readyz" "$tracker_pid" 30 ||
	{ tail -n 20 "$work/tracker.log" >&2; echo "the tracker did not start" >&2; exit 1; }
export LATHE_BENCH_LATHE_URL="http://127.0.0.1:$port"

# The peer: set up when its tree imports (setup-mlflow-client.sh checks the same).
mlflow_pp=${MLFLOW_PYTHONPATH:-/opt/mlflow-src:/opt/mlflow-deps}
export LATHE_BENCH_MLFLOW_URL=""
if [ "${LATHE_BENCH_PEER:-1}" = 0 ] || [ "${LATHE_BENCH_TRACKER:-1}" = 0 ]; then
	echo "bench: peer skipped (LATHE_BENCH_PEER=0 or LATHE_BENCH_TRACKER=0): MLflow columns say -"
elif ! PYTHONPATH="$mlflow_pp" /usr/bin/python3 -c 'import mlflow.server, psycopg2, gunicorn' 2>/dev/null; then
	echo "bench: peer MLflow is not set up here (setup-mlflow-client.sh installs it): MLflow columns say -"
else
	mport=$(low_port) || exit 1
	mkdir -p "$work/mlartifacts"
	PYTHONPATH="$mlflow_pp" setsid /usr/bin/python3 -m mlflow server --workers 2 --host 127.0.0.1 --port "$mport" \
		--backend-store-uri "postgresql://postgres@127.0.0.1:$pg_port/mlflow" \
		--artifacts-destination "$work/mlartifacts" >"$work/mlflow.log" 2>&1 &
	mlflow_pid=$!
	if wait_http "http://127.0.0.1:$mport/health" "$mlflow_pid" 120; then
		LATHE_BENCH_MLFLOW_URL="http://127.0.0.1:$mport"
	else
		echo "bench: peer MLflow did not start (last lines of its log below): MLflow columns say -"
		tail -n 5 "$work/mlflow.log" | sed 's/^/bench:   /'
	fi
fi
LATHE_BENCH_PG_PID=$(head -n 1 "$work/pg/postmaster.pid")
export LATHE_BENCH_PG_PID

status=0
[ "${LATHE_BENCH_TRACKER:-1}" = 0 ] && echo "bench: tracker: skipped (LATHE_BENCH_TRACKER=0)"
for t in $([ "${LATHE_BENCH_TRACKER:-1}" = 0 ] || find "$build/tests/bench" -type f -perm -u+x 2>/dev/null | sort); do
	case "$t" in */bench_ml) continue ;; esac # libs/ml's part, below: bench_ml.sh runs it with its peers
	case "$t" in */bench_infer_pkg) continue ;; esac # bench_infer.sh's package writer, not a bench
	case "$t" in */bench_stats) continue ;; esac # libs/stats' part, below: bench_stats.sh runs it with scipy
	case "$t" in */bench_drift_*) continue ;; esac # the drift monitor's part, below: bench_drift*.sh run them
	case "$t" in */bench_img) continue ;; esac # libs/img's part: bench_data.sh runs it with PIL beside it
	log="$work/$(basename "$t").log"
	"$t" >"$log" 2>&1
	rc=$?
	grep '^bench:' "$log"
	if [ "$rc" -ne 0 ]; then
		echo "FAIL   $t (exit $rc)"
		grep -v '^bench:' "$log" | tail -n 30
		status=1
	fi
done
if [ "${LATHE_BENCH_DATA:-1}" = 0 ]; then
	echo "bench: data: skipped (LATHE_BENCH_DATA=0)"
elif ! LATHE_BENCH_PG_PORT=$pg_port KAFKA_BOOTSTRAP="$KAFKA_BOOTSTRAP" tests/bench/bench_data.sh "$build" "$work"; then
	echo "FAIL   tests/bench/bench_data.sh"
	status=1
fi
if [ "${LATHE_BENCH_TRAINER:-1}" = 0 ]; then
	echo "bench: trainer: skipped (LATHE_BENCH_TRAINER=0)"
elif ! LATHE_BENCH_PG_PORT=$pg_port KAFKA_BOOTSTRAP="$KAFKA_BOOTSTRAP" tests/bench/bench_trainer.sh "$build" "$work"; then
	echo "FAIL   tests/bench/bench_trainer.sh"
	status=1
fi
if [ "${LATHE_BENCH_INFER:-1}" = 0 ]; then
	echo "bench: infer: skipped (LATHE_BENCH_INFER=0)"
elif ! LATHE_BENCH_PG_PORT=$pg_port KAFKA_BOOTSTRAP="$KAFKA_BOOTSTRAP" tests/bench/bench_infer.sh "$build" "$work"; then
	echo "FAIL   tests/bench/bench_infer.sh"
	status=1
fi
if [ "${LATHE_BENCH_ML:-1}" = 0 ]; then
	echo "bench: ml: skipped (LATHE_BENCH_ML=0)"
elif ! tests/bench/bench_ml.sh "$build"; then
	echo "FAIL   tests/bench/bench_ml.sh"
	status=1
fi
if [ "${LATHE_BENCH_STATS:-1}" = 0 ]; then
	echo "bench: stats: skipped (LATHE_BENCH_STATS=0)"
elif ! tests/bench/bench_stats.sh "$build"; then
	echo "FAIL   tests/bench/bench_stats.sh"
	status=1
fi
if [ "${LATHE_BENCH_DRIFT:-1}" = 0 ]; then
	echo "bench: drift: skipped (LATHE_BENCH_DRIFT=0)"
else
	if ! LATHE_BENCH_PG_PORT=$pg_port KAFKA_BOOTSTRAP="$KAFKA_BOOTSTRAP" tests/bench/bench_drift.sh "$build" "$work"; then
		echo "FAIL   tests/bench/bench_drift.sh"
		status=1
	fi
	if ! tests/bench/bench_drift_batch.sh "$build"; then
		echo "FAIL   tests/bench/bench_drift_batch.sh"
		status=1
	fi
fi
if grep -E '"level":"(error|fatal)"' "$work/tracker.log" >/dev/null 2>&1; then
	echo "the tracker logged errors:"
	grep -E '"level":"(error|fatal)"' "$work/tracker.log" | head -n 10
	status=1
fi
exit $status
