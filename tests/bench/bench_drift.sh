#!/usr/bin/env bash
# `make bench`, drift monitor ingest part (issue 12): prediction events per second one
# lathe-drift-monitor reads from Kafka and adds to a monitor's window, on the durable
# PostgreSQL, broker and tracker tools/run-bench.sh started.
#   setup    a lathe-model-registry and the lathe-drift-monitor (real daemons); a run
#            with reference.json (format 2: 20 numeric columns f0..f19, each a sample of
#            5,000 N(0, 1) values, and a classifier's predictions) at its artifact root,
#            published as a client would (curl: run, artifact, registered version); a
#            monitor POST /v1/monitors with window size LATHE_BENCH_DRIFT_WINDOW (10,000),
#            policy none.
#   ingest   tests/bench/bench_drift_produce first writes N events (LATHE_BENCH_DRIFT_EVENTS,
#            1,000,000) to inference.predictions while the daemon is stopped; then the
#            daemon starts and catches up, as a consumer does after a pause or a deploy.
#            So the producer (which costs more CPU per event than the daemon) does not
#            share the two cores with what is measured. The topic is on a devkafka of this
#            script's own with enough partitions to keep every event (devkafka keeps
#            ~5 MiB per partition and drops older batches silently; unkeyed events spread
#            over them). This script polls the daemon's drift_events_total{outcome="added"};
#            the rate is from the first poll that sees events added to the first that sees
#            them all (the consumer group's first assignment, ~3 s in devkafka, is outside
#            it), stopping after LATHE_BENCH_DRIFT_SECONDS (120).
#   figures  events/s, the daemon's CPU time per event (user + system, all threads),
#            its peak RSS (VmHWM), the reports written (drift.reports).
# No peer: Evidently computes reports over data frames it is given and has no stream
# consumer to compare with; the output says so.
#
#   LATHE_BENCH_DRIFT_PROFILE=FILE   perf record -g of lathe-drift-monitor during the ingest
#
#   tests/bench/bench_drift.sh BUILD_DIR WORK_DIR   (LATHE_BENCH_PG_PORT, KAFKA_BOOTSTRAP,
#       LATHE_BENCH_LATHE_URL = the tracker; tools/run-bench.sh sets them;
#       LATHE_BENCH_DRIFT=0 there leaves this part out)
set -uo pipefail
. "$(dirname "$0")/../../tools/stack-lib.sh"
build=$(cd "${1:?usage: bench_drift.sh BUILD_DIR WORK_DIR}" && pwd) || exit 2
work=${2:?usage: bench_drift.sh BUILD_DIR WORK_DIR}/drift
tracker=${LATHE_BENCH_LATHE_URL:?}
n=${LATHE_BENCH_DRIFT_EVENTS:-1000000}
secs=${LATHE_BENCH_DRIFT_SECONDS:-120}
window=${LATHE_BENCH_DRIFT_WINDOW:-10000}
py=/usr/bin/python3
model=bench-drift-ingest
db="postgresql://postgres@127.0.0.1:${LATHE_BENCH_PG_PORT:?}/lathe"
say() { echo "bench: drift ingest: $*"; }
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }
pids=()
cleanup_daemons() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	stop_devkafka
}
trap cleanup_daemons EXIT
mkdir -p "$work"
# a broker of its own, with a partition per 4 MiB of events (at most 1024)
parts=$(((n * 704 + 4194303) / 4194304))
[ "$parts" -lt 4 ] && parts=4
[ "$parts" -gt 1024 ] && parts=1024
start_devkafka "$build/bin/devkafka" "$work" -t "inference.predictions:$parts" || { say "devkafka did not start"; exit 1; }
say "load average $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) cores at the start"

low_port() {
	local p _
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}
wait_ok() {
	local _
	for _ in $(seq 1 $(($3 * 10))); do
		curl -fs -o /dev/null "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# start NAME BIN READY_PATH ENV...: a Lathe daemon on a free port; sets url and pid
start() {
	local name=$1 bin=$2 ready=$3 port
	shift 3
	port=$(low_port) || return 1
	env DATABASE_URL="$db" KAFKA_BROKERS="$KAFKA_BOOTSTRAP" PORT="$port" LOG_LEVEL=warn "$@" \
		setsid "$build/bin/$bin" 2>"$work/$name.log" &
	pid=$!
	pids+=("$pid")
	url="http://127.0.0.1:$port"
	wait_ok "$url$ready" "$pid" 60 && return 0
	tail -n 5 "$work/$name.log" >&2
	say "$name did not become ready ($url$ready)"
	return 1
}
api() {
	local out code
	out=$(curl -s -w '\n%{http_code}' -X "$2" -H 'Content-Type: application/json' ${4:+--data-binary "$4"} "$1$3")
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	if [ "${code:0:1}" != 2 ]; then
		echo "$2 $3: HTTP $code: $out" >&2
		return 1
	fi
	printf '%s' "$out"
}
added() {
	curl -fs "$1/metrics" | awk '$1 == "drift_events_total{outcome=\"added\"}" { printf "%.0f", $2; found = 1 }
		END { if (!found) printf "0" }'
}

# --- the reference and the version ------------------------------------------------------
"$py" - "$work/reference.json" <<'EOF' || { say "cannot write reference.json"; exit 1; }
import json, random, sys
rng = random.Random(12)
k = 5000
cols = [{"name": f"f{j}", "type": "numeric", "count": k, "missing": 0,
         "sample": [round(rng.gauss(0, 1), 6) for _ in range(k)]} for j in range(20)]
conf = [round(0.5 + 0.5 * rng.random(), 4) for _ in range(k)]
yes = sum(1 for p in conf if p > 0.75)
doc = {"format_version": 2, "rows": k, "input": {"kind": "tabular"}, "columns": cols,
       "predictions": {"task": "classification",
                       "classes": [{"name": "no", "count": k - yes}, {"name": "yes", "count": yes}],
                       "confidence": {"sample": conf}}}
json.dump(doc, open(sys.argv[1], "w"))
EOF
start registry lathe-model-registry /readyz TRACKER_URL="$tracker" || exit 1
registry=$url
exp=$(api "$tracker" POST /api/2.0/mlflow/experiments/create '{"name":"bench-drift"}' | jq -r .experiment_id) || exit 1
run=$(api "$tracker" POST /api/2.0/mlflow/runs/create "{\"experiment_id\":\"$exp\",\"run_name\":\"bench-drift\"}") ||
	exit 1
uri=$(echo "$run" | jq -r .run.info.artifact_uri)
run=$(echo "$run" | jq -r .run.info.run_id)
root=${uri#mlflow-artifacts:}
case "$root" in //*) root=/${root#//*/} ;; esac
root=${root#/}
curl -fs -o /dev/null -X PUT --data-binary @"$work/reference.json" \
	"$tracker/api/2.0/mlflow-artifacts/artifacts/$root/reference.json" || { say "PUT reference.json failed"; exit 1; }
api "$tracker" POST /api/2.0/mlflow/runs/update "{\"run_id\":\"$run\",\"status\":\"FINISHED\"}" >/dev/null || exit 1
api "$registry" POST /api/2.0/mlflow/registered-models/create "{\"name\":\"$model\"}" >/dev/null || exit 1
version=$(api "$registry" POST /api/2.0/mlflow/model-versions/create \
	"{\"name\":\"$model\",\"source\":\"runs:/$run/model\",\"run_id\":\"$run\"}" | jq -r .model_version.version) || exit 1

# --- the monitor, then the events, then the daemon -------------------------------------
start drift-monitor-setup lathe-drift-monitor /readyz TRACKER_URL="$tracker" REGISTRY_URL="$registry" \
	CONSUMER_GROUP=bench-drift || exit 1
dm=$url dm_pid=$pid
monitor=$(api "$dm" POST /v1/monitors \
	"{\"model\":\"$model\",\"window\":{\"size\":$window},\"alert\":{\"policy\":\"none\"}}" | jq -r '.monitor.id // .id') || exit 1
say "model $model version $version, 20 numeric features, monitor $monitor (window $window rows)"
kill -TERM "$dm_pid" && wait "$dm_pid" || { say "FAIL: the drift monitor did not stop cleanly"; exit 1; }

"$build/tests/bench/bench_drift_produce" "$KAFKA_BOOTSTRAP" "$model" "$version" "$n" >"$work/produce.out" \
	2>"$work/produce.err" || { say "FAIL: the producer failed"; cat "$work/produce.err"; exit 1; }
produced=$(sed -n 's/.*produced=\([0-9]*\).*/\1/p' "$work/produce.out")
say "producer (before the daemon reads): $(cat "$work/produce.out") on $parts partitions"

# --- ingest -------------------------------------------------------------------------------
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
start drift-monitor lathe-drift-monitor /readyz TRACKER_URL="$tracker" REGISTRY_URL="$registry" \
	CONSUMER_GROUP=bench-drift || exit 1
dm=$url dm_pid=$pid
prof=""
if [ -n "${LATHE_BENCH_DRIFT_PROFILE:-}" ]; then
	perf record -g -o "$LATHE_BENCH_DRIFT_PROFILE" -p "$dm_pid" >/dev/null 2>&1 &
	prof=$!
fi
t_first="" a_first=0 t_last="" a_last=0 c_first=0 c_last=0
deadline=$(($(date +%s) + secs))
while [ "$(date +%s)" -lt "$deadline" ]; do
	a=$(added "$dm") t=$(date +%s.%N) c=$(cpu_ticks "$dm_pid")
	kill -0 "$dm_pid" 2>/dev/null || { say "FAIL: the daemon died"; tail -n 20 "$work/drift-monitor.log"; exit 1; }
	if [ -z "$t_first" ] && [ "${a:-0}" -gt 0 ]; then t_first=$t a_first=$a c_first=$c; fi
	if [ "${a:-0}" -gt "$a_last" ]; then t_last=$t a_last=$a c_last=$c; fi
	[ "$a_last" -ge "$produced" ] && break
	sleep 0.1
done
[ -n "$prof" ] && { kill -INT "$prof"; wait "$prof"; }
sleep 1 # the last batch's transaction and the reports of the last window
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$dm_pid/status")
reports=$(psql "$db" -qtAc "SELECT count(*) FROM drift.reports WHERE monitor_id = '$monitor'" 2>/dev/null)
status=0
if [ -z "$t_first" ] || [ "$a_last" -le "$a_first" ]; then
	say "FAIL: the daemon added ${a_last} events"
	tail -n 20 "$work/drift-monitor.log"
	exit 1
fi
tick_us=$((1000000 / $(getconf CLK_TCK)))
say "$(printf '%s events added of %s produced; %s events/s (%s in %s s, first to last seen added); daemon CPU %s us/event; peak RSS %s MB; %s reports written (window %s)' \
	"$a_last" "$produced" "$(calc %.0f "($a_last - $a_first) / ($t_last - $t_first)")" "$((a_last - a_first))" \
	"$(calc %.2f "$t_last - $t_first")" "$(calc %.1f "($c_last - $c_first) * $tick_us / ($a_last - $a_first)")" \
	"$(calc %.0f "$hwm / 1024")" "${reports:-?}" "$window")"
say "goal >= 100000 events/s; no peer: Evidently has no stream consumer (it reports on data frames it is given)"
if [ "$a_last" -lt "$produced" ]; then
	say "FAIL: $((produced - a_last)) events produced were not added"
	status=1
fi
if grep -E '"level":"(error|fatal)"' "$work/drift-monitor.log" >/dev/null 2>&1; then
	say "the drift monitor logged errors:"
	grep -E '"level":"(error|fatal)"' "$work/drift-monitor.log" | head -n 5
	status=1
fi
exit $status
