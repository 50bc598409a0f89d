#!/usr/bin/env bash
# `make bench`, inference part (issue 11): lathe-inference-api serving an MLP 784-256-10
# Fashion-MNIST classifier, next to the same forward pass behind FastAPI + uvicorn with
# numpy (tests/bench/bench_infer_fastapi.py: pydantic-validated bodies,
# OPENBLAS_NUM_THREADS=1, ONE uvicorn worker, uvloop + httptools when installed), in the
# same run, on the durable PostgreSQL, broker and tracker tools/run-bench.sh started.
#   package    tests/bench/bench_infer_pkg writes it (ml_package_write: what the trainer
#              writes; the data registry's preprocessing of Fashion-MNIST, raw pixels
#              0..255 divided by 255); published as a client would: a run, its artifacts
#              PUT under model/, a registered version with source runs:/<run>/model, the
#              alias champion (curl). The inference API starts after and loads it.
#   throughput wrk (tests/bench/bench_infer.lua) with 1, 16 and 64 connections,
#              LATHE_BENCH_INFER_SECONDS each (10), one Fashion-MNIST test image per
#              request as (a) OIP JSON, (b) OIP binary (Inference-Header-Content-Length,
#              784 little-endian FP32), (c) MLflow /invocations {"inputs": [[...]]}; the
#              same bodies against FastAPI. Table: req/s, p50, p99, each server's CPU
#              time per request (user + system, all threads, from /proc: steadier than
#              req/s on a loaded machine), the ratios lathe/fastapi.
#              wrk runs on the same 2 cores as the servers (1 thread for 1 connection, 2
#              otherwise): both sides pay for it alike.
#   memory     peak RSS (VmHWM) of each server after the throughput runs and after the
#              batch.
#   hot swap   wrk at 16 connections on OIP JSON (10 s more than a cell), counting statuses
#              and model_version in every answer; a quarter of the way in, version 2 (other
#              weights) is published and the champion alias moved to it: failed requests
#              (non-2xx + socket errors) must be 0, the answers switch from "1" to "2",
#              and inference_model_loaded shows version 1 unloaded.
#   batch      10,000 Fashion-MNIST test images in one binary OIP request ([10000, 784])
#              to each server (best of 3, curl), images/s, answered in JSON (and by Lathe
#              in binary too, binary_data_output), next to numpy's forward pass alone on
#              the same matrix (bench_infer_fastapi.py forward).
# The answers are checked first: both servers' probabilities for the one image equal
# numpy's within 1e-5, and /invocations gives numpy's label (MLflow's pyfunc answers a
# classifier's class names; the FastAPI peer does the same).
#
#   tests/bench/bench_infer.sh BUILD_DIR WORK_DIR   (LATHE_BENCH_PG_PORT, KAFKA_BOOTSTRAP,
#       LATHE_BENCH_LATHE_URL = the tracker; tools/run-bench.sh sets them;
#       LATHE_BENCH_INFER=0 there leaves this part out)
#   LATHE_BENCH_INFER_SECONDS=N        each wrk cell (default 10)
#   LATHE_BENCH_INFER_SAMPLE_RATE=R    the daemon's PREDICTION_SAMPLE_RATE (default: its own, 1.0)
#   LATHE_BENCH_INFER_ENV="K=V ..."    more settings for lathe-inference-api
#   LATHE_BENCH_INFER_KINDS="json ..." LATHE_BENCH_INFER_CONNS="16 ..."   only these cells
#   LATHE_BENCH_INFER_QUICK=1          the throughput cells only (no hot swap, no batch)
#   LATHE_BENCH_INFER_HOLD=FILE        once the bodies are written, write the daemon's url, pid and the
#                                      bodies' directory into FILE and wait until FILE is removed (to
#                                      measure or profile it by hand)
#   LATHE_BENCH_INFER_PROFILE=FILE     perf record -g of lathe-inference-api during one cell
#                                      (LATHE_BENCH_INFER_PROFILE_CELL=KIND.CONNS or batch; default: the OIP JSON
#                                      cell at 16 connections, into FILE (perf report -i FILE),
#                                      and its memory map after the cells into FILE.smaps
# wrk missing: the part says so and exits 0. FastAPI/uvicorn missing: Lathe's columns alone.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: bench_infer.sh BUILD_DIR WORK_DIR}" && pwd) || exit 2
work=${2:?usage: bench_infer.sh BUILD_DIR WORK_DIR}/infer
tracker=${LATHE_BENCH_LATHE_URL:?}
secs=${LATHE_BENCH_INFER_SECONDS:-10}
py=/usr/bin/python3
peer="$root/tests/bench/bench_infer_fastapi.py"
lua="$root/tests/bench/bench_infer.lua"
model=bench-fmnist-infer
batch_n=10000
db="postgresql://postgres@127.0.0.1:${LATHE_BENCH_PG_PORT:?}/lathe"
say() { echo "bench: infer: $*"; }
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }
pids=()
cleanup_daemons() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup_daemons EXIT

if ! command -v wrk >/dev/null 2>&1; then
	say "skipped: wrk is not installed (make deps installs it)"
	exit 0
fi
mkdir -p "$work"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
say "load average $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) cores at the start"

low_port() {
	local p _
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}
# wait_ok URL PID SECONDS: until URL answers 2xx, PID dies, or the time is up
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
	local name=$1 bin=$2 ready=$3
	shift 3
	local port
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
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# api URL METHOD PATH [JSON]: an MLflow REST call; prints the answer, fails on non-2xx
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

# publish SEED: writes a package with the weights of SEED, logs it as a run's artifacts,
# registers it as a new version of $model and points champion at it; prints the version.
publish() {
	local seed=$1 pkg="$work/pkg-$1" exp run uri root f v
	"$build/tests/bench/bench_infer_pkg" "$pkg" "$seed" || return 1
	exp=$(api "$tracker" GET "/api/2.0/mlflow/experiments/get-by-name?experiment_name=bench-infer" 2>/dev/null |
		jq -r .experiment.experiment_id)
	if [ -z "$exp" ] || [ "$exp" = null ]; then
		exp=$(api "$tracker" POST /api/2.0/mlflow/experiments/create '{"name":"bench-infer"}' | jq -r .experiment_id) ||
			return 1
	fi
	run=$(api "$tracker" POST /api/2.0/mlflow/runs/create "{\"experiment_id\":\"$exp\",\"run_name\":\"bench-infer-$seed\"}") ||
		return 1
	uri=$(echo "$run" | jq -r .run.info.artifact_uri)
	run=$(echo "$run" | jq -r .run.info.run_id)
	# mlflow-artifacts:/X or mlflow-artifacts://host:port/X -> X, the artifact API's path
	root=${uri#mlflow-artifacts:}
	case "$root" in //*) root=/${root#//*/} ;; esac
	root=${root#/}
	for f in model.json weights.safetensors; do
		curl -fs -o /dev/null -X PUT --data-binary @"$pkg/$f" \
			"$tracker/api/2.0/mlflow-artifacts/artifacts/$root/model/$f" || { echo "PUT $f failed" >&2; return 1; }
	done
	api "$tracker" POST /api/2.0/mlflow/runs/update "{\"run_id\":\"$run\",\"status\":\"FINISHED\"}" >/dev/null || return 1
	curl -s -o /dev/null -H 'Content-Type: application/json' -d "{\"name\":\"$model\"}" \
		"$registry/api/2.0/mlflow/registered-models/create" # already there after the first
	v=$(api "$registry" POST /api/2.0/mlflow/model-versions/create \
		"{\"name\":\"$model\",\"source\":\"runs:/$run/model\",\"run_id\":\"$run\"}" | jq -r .model_version.version) ||
		return 1
	api "$registry" POST /api/2.0/mlflow/registered-models/alias \
		"{\"name\":\"$model\",\"alias\":\"champion\",\"version\":\"$v\"}" >/dev/null || return 1
	echo "$v"
}

# cpu_ticks PID: the process's user + system CPU time so far, in clock ticks (all threads)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
tick_us=$((1000000 / $(getconf CLK_TCK)))

# run_wrk BASE KIND CONNS [SECONDS [PID]]: one wrk cell; prints bench_infer.lua's line, and
# with PID the server's CPU time per request (cpu_us_per_req): on a loaded, shared machine
# the steadier figure, since requests/s also measure what else runs
# KIND: json | binary | invocations (the bodies written by the peer's `bodies`)
run_wrk() {
	local base=$1 kind=$2 c=$3 s=${4:-$secs} srv=${5:-} t=2 body path hlen="" c0=0 out n
	[ "$c" = 1 ] && t=1
	case "$kind" in
	json) body="$work/bodies/infer.json" path="/v2/models/$model/infer" ;;
	binary) body="$work/bodies/infer.bin" path="/v2/models/$model/infer" hlen=$(cat "$work/bodies/infer.bin.hlen") ;;
	invocations) body="$work/bodies/invocations.json" path="/invocations" ;;
	esac
	[ -n "$srv" ] && c0=$(cpu_ticks "$srv")
	out=$(BENCH_BODY=$body BENCH_PATH=$path BENCH_HLEN=$hlen wrk -t"$t" -c"$c" -d"${s}s" --timeout 5s -s "$lua" "$base" |
		grep '^wrk:')
	n=$(num "$out" requests)
	if [ -n "$srv" ] && [ "$n" -gt 0 ]; then
		out="$out cpu_us_per_req=$(calc %.0f "($(cpu_ticks "$srv") - $c0) * $tick_us / $n")"
	fi
	echo "$out"
}
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }
num() { local v; v=$(field "$1" "$2"); echo "${v:-0}"; }

# --- services and the package --------------------------------------------------------------
start registry lathe-model-registry /readyz TRACKER_URL="$tracker" || exit 1
registry=$url
v1=$(publish 1) || { say "publishing version 1 failed"; exit 1; }
extra=()
[ -n "${LATHE_BENCH_INFER_SAMPLE_RATE:-}" ] && extra+=(PREDICTION_SAMPLE_RATE="$LATHE_BENCH_INFER_SAMPLE_RATE")
# shellcheck disable=SC2206
[ -n "${LATHE_BENCH_INFER_ENV:-}" ] && extra+=($LATHE_BENCH_INFER_ENV)
start inference lathe-inference-api /v2/health/ready TRACKER_URL="$tracker" REGISTRY_URL="$registry" \
	MODEL_DIR="$work/models" "${extra[@]}" || exit 1
lathe=$url lathe_pid=$pid
wait_ok "$lathe/v2/models/$model/ready" "$lathe_pid" 60 || { say "model $model version $v1 did not load"; exit 1; }
say "lathe-inference-api serves $model version $v1 (MLP 784-256-10); settings: INFER_THREADS, BATCH_* defaults," \
	"PREDICTION_SAMPLE_RATE=${LATHE_BENCH_INFER_SAMPLE_RATE:-default} ${LATHE_BENCH_INFER_ENV:-}"

"$py" "$peer" bodies "$work/pkg-1" "$work/bodies" "$batch_n" || { say "writing the bodies failed"; exit 1; }
if [ -n "${LATHE_BENCH_INFER_HOLD:-}" ]; then
	printf 'url=%s pid=%s model=%s bodies=%s\n' "$lathe" "$lathe_pid" "$model" "$work/bodies" >"$LATHE_BENCH_INFER_HOLD"
	say "holding: lathe-inference-api at $lathe until $LATHE_BENCH_INFER_HOLD is removed"
	while [ -e "$LATHE_BENCH_INFER_HOLD" ]; do sleep 1; done
fi
fastapi=""
if [ "${LATHE_BENCH_PEER:-1}" = 0 ]; then
	say "FastAPI peer left out (LATHE_BENCH_PEER=0)"
elif ! "$py" -c 'import fastapi, uvicorn, pydantic, numpy' 2>/dev/null; then
	say "FastAPI peer skipped: $py lacks fastapi/uvicorn (make deps installs python3-fastapi, python3-uvicorn)"
else
	fport=$(low_port) || exit 1
	setsid "$py" "$peer" serve "$work/pkg-1" "$fport" >"$work/fastapi.log" 2>&1 &
	fastapi_pid=$!
	pids+=("$fastapi_pid")
	if wait_ok "http://127.0.0.1:$fport/v2/health/ready" "$fastapi_pid" 60; then
		fastapi="http://127.0.0.1:$fport"
		say "FastAPI peer: $("$py" -c 'import fastapi, uvicorn, pydantic, numpy
try:
    import uvloop; loop = "uvloop " + uvloop.__version__
except ImportError:
    loop = "asyncio"
try:
    import httptools; http = "httptools " + httptools.__version__
except ImportError:
    http = "h11"
print("fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__, "pydantic", pydantic.VERSION, "numpy", numpy.__version__, "loop", loop, "http", http)')," \
			"one worker (TCP_NODELAY as asyncio sets it), OPENBLAS_NUM_THREADS=1"
	else
		tail -n 5 "$work/fastapi.log" >&2
		say "FastAPI peer did not start: its columns say -"
	fi
fi

# --- the answers agree --------------------------------------------------------------------
# check NAME URL: the one image's probabilities through OIP JSON and binary, its label
# through /invocations, against numpy's
check() {
	local name=$1 base=$2 hlen a b c d
	hlen=$(cat "$work/bodies/infer.bin.hlen")
	a=$(curl -fs -H 'Content-Type: application/json' --data-binary @"$work/bodies/infer.json" \
		"$base/v2/models/$model/infer" | jq -c '.outputs[0].data')
	b=$(curl -fs -H 'Content-Type: application/octet-stream' -H "Inference-Header-Content-Length: $hlen" \
		--data-binary @"$work/bodies/infer.bin" "$base/v2/models/$model/infer" | jq -c '.outputs[0].data')
	c=$(curl -fs -H 'Content-Type: application/json' --data-binary @"$work/bodies/invocations.json" \
		"$base/invocations" | jq -c '.predictions[0]')
	d=$(jq -nc --slurpfile e "$work/bodies/expected.json" --argjson a "${a:-null}" --argjson b "${b:-null}" \
		--argjson c "${c:-null}" '$e[0] as $e | ([$a, $b] | map(if type == "array" and length == ($e.probabilities | length)
			then [range(0; length) as $i | (.[$i] - $e.probabilities[$i]) | fabs] | max else "unreadable" end))
			+ [if $c == $e.label then "same label" else "label \($c), numpy \($e.label)" end]')
	say "$name answers vs numpy (OIP JSON, OIP binary: max |diff| of the 10 probabilities; /invocations: the label): $d"
	echo "$d" | jq -e '(.[0:2] | all(type == "number" and . <= 1e-5)) and .[2] == "same label"' >/dev/null
}
status=0
check lathe "$lathe" || { say "FAIL: Lathe's answers differ from numpy's"; status=1; }
[ -n "$fastapi" ] && { check fastapi "$fastapi" || say "FastAPI's answers differ from numpy's"; }

# --- throughput -----------------------------------------------------------------------------
declare -A res
kinds=${LATHE_BENCH_INFER_KINDS:-json binary invocations}
conns=${LATHE_BENCH_INFER_CONNS:-1 16 64}
for kind in $kinds; do
	for c in $conns; do
		prof=""
		if [ -n "${LATHE_BENCH_INFER_PROFILE:-}" ] && [ "$kind.$c" = "${LATHE_BENCH_INFER_PROFILE_CELL:-json.16}" ]; then
			perf record -g -o "$LATHE_BENCH_INFER_PROFILE" -p "$lathe_pid" >/dev/null 2>&1 &
			prof=$!
		fi
		res[lathe.$kind.$c]=$(run_wrk "$lathe" "$kind" "$c" "$secs" "$lathe_pid")
		[ -n "$prof" ] && { kill -INT "$prof"; wait "$prof"; }
		[ -n "$fastapi" ] && res[fastapi.$kind.$c]=$(run_wrk "$fastapi" "$kind" "$c" "$secs" "$fastapi_pid")
	done
done
say "load average $(cut -d' ' -f1-3 /proc/loadavg) after the throughput runs"
[ -n "${LATHE_BENCH_INFER_PROFILE:-}" ] && cat "/proc/$lathe_pid/smaps" >"$LATHE_BENCH_INFER_PROFILE.smaps"
say "$(printf '%-12s %5s | %10s %8s %8s %7s | %10s %8s %8s %7s | %8s %8s' body conns 'lathe rps' 'p50 ms' \
	'p99 ms' 'cpu us' 'fastapi rps' 'p50 ms' 'p99 ms' 'cpu us' 'ratio' 'cpu ratio')"
for kind in $kinds; do
	for c in $conns; do
		l=${res[lathe.$kind.$c]:-} f=${res[fastapi.$kind.$c]:-}
		lr=$(field "$l" rps) fr=$(field "$f" rps)
		lc=$(field "$l" cpu_us_per_req) fc=$(field "$f" cpu_us_per_req)
		ratio=- cratio=-
		[ -n "$lr" ] && [ -n "$fr" ] && ratio=$(calc '%.1fx' "$lr / $fr")
		[ -n "$lc" ] && [ -n "$fc" ] && [ "$lc" != 0 ] && cratio=$(calc '%.1fx' "$fc / $lc")
		say "$(printf '%-12s %5s | %10s %8s %8s %7s | %10s %8s %8s %7s | %8s %8s' "$kind" "$c" "${lr:--}" \
			"$(field "$l" p50_ms)" "$(field "$l" p99_ms)" "${lc:--}" "${fr:--}" "$(field "$f" p50_ms)" \
			"$(field "$f" p99_ms)" "${fc:--}" "$ratio" "$cratio")"
		for side in l f; do
			line=${!side}
			[ -n "$line" ] || continue
			e=$(($(num "$line" socket_errors) + $(num "$line" non2xx)))
			[ "$e" -gt 0 ] && say "  $kind $c: $([ $side = l ] && echo lathe || echo fastapi) had $e failed requests: $line"
		done
	done
done
lr=$(field "${res[lathe.binary.16]:-}" rps) jr=$(field "${res[lathe.json.16]:-}" rps)
[ -n "$lr" ] && [ -n "$jr" ] && say "binary / JSON at 16 connections (lathe): $(calc %.2fx "$lr / $jr")"
say "peak RSS (VmHWM) after the throughput runs: lathe-inference-api $(hwm "$lathe_pid") kB," \
	"$([ -n "$fastapi" ] && echo "uvicorn + FastAPI $(hwm "$fastapi_pid") kB")"

say_dropped() {
	local dropped
	dropped=$(curl -fs "$lathe/metrics" | awk '/^inference_events_dropped_total/ { s += $2 } END { print s + 0 }')
	say "prediction events dropped (inference_events_dropped_total): $dropped"
}
if [ "${LATHE_BENCH_INFER_QUICK:-0}" = 1 ]; then
	say_dropped
	say "LATHE_BENCH_INFER_QUICK=1: the hot swap and the batch left out"
	exit "$status"
fi
# --- hot swap under load ------------------------------------------------------------------
# the new version's number: the registry numbers versions one after the other
v2_expected=$((v1 + 1))
# long enough for the publication (a few seconds on a loaded machine) to end well inside
swap_secs=$((secs < 10 ? 20 : secs + 10))
BENCH_COUNT=1 BENCH_OLD=$v1 BENCH_NEW=$v2_expected run_wrk "$lathe" json 16 "$swap_secs" >"$work/swap.out" &
wrk_pid=$!
sleep $((swap_secs / 4))
t0=$(date +%s.%N)
v2=$(publish 2) || { say "publishing version 2 failed"; status=1; }
t1=$(date +%s.%N)
seen=""
while [ -n "$v2" ] && awk "BEGIN { exit !($(date +%s.%N) - $t1 < 60) }"; do
	seen=$(curl -fs -H 'Content-Type: application/json' --data-binary @"$work/bodies/infer.json" \
		"$lathe/v2/models/$model/infer" | jq -r .model_version)
	[ "$seen" = "$v2" ] && break
	sleep 0.02
done
t2=$(date +%s.%N)
wait "$wrk_pid"
swap=$(cat "$work/swap.out")
failed=$(($(num "$swap" socket_errors) + $(num "$swap" non2xx) + $(num "$swap" bad)))
[ -n "$swap" ] || { say "FAIL: wrk gave no summary during the swap"; status=1; }
say "hot swap under load (16 connections, OIP JSON, ${swap_secs} s): version $v2 published + champion moved in" \
	"$(calc %.2f "$t1 - $t0") s, answered $(calc %.2f "$t2 - $t1") s after the alias moved;" \
	"$(field "$swap" requests) requests, $failed failed; answers by version: $v1: $(field "$swap" old)," \
	"$v2_expected: $(field "$swap" new), other: $(field "$swap" other); p99 $(field "$swap" p99_ms) ms, max $(field "$swap" max_ms) ms"
[ -n "$v2" ] && [ "$v2" != "$v2_expected" ] && say "version $v2 was published, not $v2_expected: the counts by version are off"
[ -n "$v2" ] && [ "$seen" = "$v2" ] || { say "FAIL: version ${v2:-2} did not answer within 60 s of the alias move"; status=1; }
[ "$failed" = 0 ] || { say "FAIL: $failed requests failed during the swap"; status=1; }
sleep 1 # the old version is freed when its last request ends
say "after the swap, inference_model_loaded: $(curl -fs "$lathe/metrics" |
	awk -v m="$model" '/^inference_model_loaded\{/ && index($0, "model=\"" m "\"") { printf "%s ", $0 }')"

# --- a batch of 10,000 images in one request ---------------------------------------------------
# batch NAME URL BODY: best of 3 of one binary OIP request of $batch_n images
batch() {
	local best="" t code hlen
	hlen=$(cat "$work/bodies/$3.hlen")
	for _ in 1 2 3; do
		read -r code t < <(curl -s -o "$work/batch.out" -w '%{http_code} %{time_total}\n' \
			-H 'Content-Type: application/octet-stream' -H "Inference-Header-Content-Length: $hlen" \
			--data-binary @"$work/bodies/$3" "$2/v2/models/$model/infer")
		if [ "$code" != 200 ]; then
			say "batch of $batch_n to $1: HTTP $code: $(head -c 300 "$work/batch.out")"
			return 1
		fi
		[ -z "$best" ] || awk "BEGIN { exit !($t < $best) }" && best=$t
	done
	say "batch of $batch_n images in one binary OIP request, $1: best of 3 $(calc %.3f "$best") s," \
		"$(calc %.0f "$batch_n / $best") images/s"
}
prof=""
if [ -n "${LATHE_BENCH_INFER_PROFILE:-}" ] && [ "${LATHE_BENCH_INFER_PROFILE_CELL:-}" = batch ]; then
	perf record -g -o "$LATHE_BENCH_INFER_PROFILE" -p "$lathe_pid" >/dev/null 2>&1 &
	prof=$!
fi
batch "lathe, JSON answer" "$lathe" batch.bin || status=1
batch "lathe, binary answer (binary_data_output)" "$lathe" batch_binout.bin
[ -n "$prof" ] && { kill -INT "$prof"; wait "$prof"; }
[ -n "$fastapi" ] && batch "fastapi, JSON answer" "$fastapi" batch.bin
"$py" "$peer" forward "$work/pkg-1" "$batch_n" 3 | sed 's/^bench: infer /bench: infer: /'
say "peak RSS (VmHWM) after the batch: lathe-inference-api $(hwm "$lathe_pid") kB," \
	"$([ -n "$fastapi" ] && echo "uvicorn + FastAPI $(hwm "$fastapi_pid") kB")"
say "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
say_dropped
if grep -E '"level":"(error|fatal)"' "$work"/*.log >/dev/null 2>&1; then
	say "FAIL: a daemon logged errors:"
	grep -E '"level":"(error|fatal)"' "$work"/*.log | head -n 10
	status=1
fi
exit $status
