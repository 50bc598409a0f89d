#!/usr/bin/env bash
# `make bench`, trainer part (issue 10): what the service adds around libs/ml, on the
# durable PostgreSQL and broker tools/run-bench.sh started, with its tracker:
#   tiny jobs          N logistic regressions of one epoch on a 150-row CSV, submitted at
#                      once to one worker: jobs/s from the first submit to the last
#                      SUCCEEDED (the queueing, tracker and registry overhead per job)
#   Fashion-MNIST MLP  784-256-10, Adam 1e-3, batch 128, on the data registry's IDX upload
#                      (60,000 train, 10,000 test): seconds per epoch as the worker logs
#                      them, test accuracy, and the job's wall time from submit to
#                      SUCCEEDED (tensor fetch, artifacts and registration included)
#   worker peak RSS    VmHWM of the trainer after each part
# libs/ml's own numbers next to PyTorch's and scikit-learn's are bench_ml.sh's.
#
#   tests/bench/bench_trainer.sh BUILD_DIR WORK_DIR   (LATHE_BENCH_PG_PORT, KAFKA_BOOTSTRAP,
#       LATHE_BENCH_LATHE_URL = the tracker; tools/run-bench.sh sets them)
#   LATHE_BENCH_TRAINER_JOBS=N   tiny jobs (default 20)
#   LATHE_BENCH_TRAINER_EPOCHS=N the MLP's epochs (default 3)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: bench_trainer.sh BUILD_DIR WORK_DIR}" && pwd) || exit 2
work=${2:?usage: bench_trainer.sh BUILD_DIR WORK_DIR}
tracker=${LATHE_BENCH_LATHE_URL:?}
src=/usr/share/datasets/fashion-mnist
n_jobs=${LATHE_BENCH_TRAINER_JOBS:-20}
epochs=${LATHE_BENCH_TRAINER_EPOCHS:-3}
db="postgresql://postgres@127.0.0.1:${LATHE_BENCH_PG_PORT:?}/lathe"
say() { echo "bench: trainer: $*"; }
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }
now() { date +%s.%N; }
pids=()
cleanup_daemons() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup_daemons EXIT

low_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}
# start NAME BIN ENV...: starts a daemon on a free port; sets url and pid
start() {
	local name=$1 bin=$2 i
	shift 2
	local port
	port=$(low_port) || return 1
	env DATABASE_URL="$db" KAFKA_BROKERS="$KAFKA_BOOTSTRAP" PORT="$port" LOG_LEVEL=warn "$@" \
		setsid "$build/bin/$bin" 2>"$work/$name.log" &
	pid=$!
	pids+=("$pid")
	url="http://127.0.0.1:$port"
	for i in $(seq 1 300); do
		curl -fs -o /dev/null "$url/readyz" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 5 "$work/$name.log" >&2
	say "$name did not start"
	return 1
}
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
# wait_job URL ID SECONDS: polls until the job ended; prints its status
wait_job() {
	local i st
	for i in $(seq 1 $(($3 * 10))); do
		st=$(curl -fs "$1/v1/jobs/$2" | jq -r .job.status)
		case "$st" in SUCCEEDED | FAILED | CANCELLED) echo "$st"; return 0 ;; esac
		sleep 0.1
	done
	echo "TIMEOUT"
}

start registry lathe-model-registry TRACKER_URL="$tracker" || exit 1
registry=$url
start data lathe-data-registry BLOB_DIR="$work/data-blobs" PROFILE_POLL_MS=200 || exit 1
data=$url
start trainer lathe-trainer BLOB_DIR="$work/trainer-blobs" TRACKER_URL="$tracker" REGISTRY_URL="$registry" \
	DATA_REGISTRY_URL="$data" WORKERS=1 TRAIN_THREADS=1 || exit 1
trainer=$url trainer_pid=$pid

# wait_ready NAME: the dataset's version 1 is READY
wait_ready() {
	local i st
	for i in $(seq 1 1200); do
		st=$(curl -fs "$data/v1/datasets/$1/versions/1" | jq -r .version.status)
		[ "$st" = READY ] && return 0
		[ "$st" = FAILED ] && break
		sleep 0.1
	done
	say "dataset $1 did not become READY ($st)"
	return 1
}

# --- tiny jobs --------------------------------------------------------------------------
awk 'BEGIN { srand(7); print "a,b,c,d,label";
	for (i = 0; i < 150; i++) { k = i % 3; printf "%.3f,%.3f,%.3f,%.3f,c%d\n", k + rand(), rand(), k * 2 + rand(), rand(), k } }' \
	>"$work/tiny.csv"
curl -fs -o /dev/null -H 'Content-Type: text/csv' --data-binary @"$work/tiny.csv" \
	"$data/v1/datasets/tiny/versions?label_column=label" || { say "tiny upload failed"; exit 1; }
wait_ready tiny || exit 1
spec='{"dataset":"tiny@1","target":"label","model":{"type":"logistic_regression"},"epochs":1,"batch_size":32,"seed":1,"experiment":"bench-tiny","register":{"model":"bench-tiny"}}'
ids=()
t0=$(now)
for i in $(seq 1 "$n_jobs"); do
	ids+=("$(curl -fs -H 'Content-Type: application/json' -d "$spec" "$trainer/v1/jobs" | jq -r .job.id)")
done
t_sub=$(now)
bad=0
for id in "${ids[@]}"; do
	[ "$(wait_job "$trainer" "$id" 300)" = SUCCEEDED ] || bad=$((bad + 1))
done
t1=$(now)
say "tiny jobs: $n_jobs submitted in $(calc %.3f "$t_sub - $t0") s, all ended in $(calc %.2f "$t1 - $t0") s:" \
	"$(calc %.2f "$n_jobs / ($t1 - $t0)") jobs/s (one worker; each: claim, tensors, 1 epoch, run + params +" \
	"metrics + artifacts in the tracker, a registered version), $bad not SUCCEEDED; worker VmHWM $(hwm "$trainer_pid") kB"

# --- Fashion-MNIST MLP through the service ------------------------------------------------
if [ ! -r "$src/train-images-idx3-ubyte.gz" ]; then
	say "fashion-mnist: skipped: $src is missing (make deps installs dataset-fashion-mnist)"
	exit 0
fi
tar -C "$src" -cf "$work/fmnist.tar" train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
	t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz || exit 1
curl -fs -o /dev/null -H 'Content-Type: application/x-tar' --data-binary @"$work/fmnist.tar" \
	"$data/v1/datasets/fmnist/versions" || { say "fashion-mnist upload failed"; exit 1; }
wait_ready fmnist || exit 1
spec='{"dataset":"fmnist@1","split":{"name":"original"},"model":{"type":"mlp","hidden":[256]},"optimizer":{"type":"adam","lr":0.001},"epochs":'$epochs',"batch_size":128,"seed":1,"experiment":"bench-fmnist","register":{"model":"bench-fmnist-mlp","alias":"champion"}}'
t0=$(now)
resp=$(curl -s -H 'Content-Type: application/json' -d "$spec" "$trainer/v1/jobs")
id=$(echo "$resp" | jq -r .job.id)
if [ -z "$id" ] || [ "$id" = null ]; then
	say "fashion-mnist job refused: $resp"
	exit 1
fi
st=$(wait_job "$trainer" "$id" 1800)
t1=$(now)
job=$(curl -fs "$trainer/v1/jobs/$id")
say "fashion-mnist MLP 784-256-10, $epochs epochs, one worker, TRAIN_THREADS=1: $st in $(calc %.1f "$t1 - $t0") s" \
	"from submit (tensor fetch, training, artifacts, registration); metrics $(echo "$job" | jq -c '.job.metrics' 2>/dev/null | cut -c1-600)"
[ "$st" = SUCCEEDED ] || say "failure: $(echo "$job" | jq -r .job.failure)"
curl -fs "$trainer/v1/jobs/$id/events" | jq -r 'select(.line | test("epoch")) | .line' 2>/dev/null | head -n "$((epochs + 2))" |
	sed 's/^/bench: trainer:   /'
say "worker VmHWM after the Fashion-MNIST job: $(hwm "$trainer_pid") kB"
[ "$st" = SUCCEEDED ] && [ "$bad" = 0 ]
