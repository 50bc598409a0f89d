#!/usr/bin/env bash
# `make bench`, data registry part (issue 9): Fashion-MNIST as 70,000 PNG files in class
# folders, pushed with `lathe data push` to a lathe-data-registry on a durable
# PostgreSQL (tools/run-bench.sh starts the cluster and the broker and calls this), next
# to the floors and peers:
#   sha256sum over the same files           the floor of a push (read + hash, all cores)
#   first push                              files/s, MB/s, seconds, and its phases (hash,
#                                           upload, commit) as `lathe data push` reports them
#   second push of the same folder          seconds and bytes uploaded (must be 0; goal <= 2 s)
#   profile                                 seconds from commit to READY (once the profiler is in)
#   tensor export of the 60k training images at 28x28 and 64x64, gray   images/s (wall and
#                                           per daemon CPU second), next to the peer: PIL +
#                                           numpy decode+convert+resize on one core
#   daemon peak RSS                         VmHWM of the daemon after each phase
#   tensors of the four Fashion-MNIST IDX files (a second dataset), the "original" split's
#   train part, at 28x28 and 64x64; every export twice: computed, then served from the store
# Parts whose routes answer 404/501 are skipped, saying so. Every line starts "bench:".
#
#   tests/bench/bench_data.sh BUILD_DIR WORK_DIR      (PG port and broker from the environment:
#       LATHE_BENCH_PG_PORT, KAFKA_BOOTSTRAP; tools/run-bench.sh sets them)
#   LATHE_BENCH_DATA_URL=http://...   use a running daemon instead of starting one
#   (tools/run-bench.sh with LATHE_BENCH_TRACKER=0 runs this part alone)
#   LATHE_BENCH_DATA_LIMIT=N          only the first N images of each file (a quick try)
#   LATHE_BENCH_CACHE=DIR             where the PNGs are kept between runs
#                                     (default build/bench-cache; written once, ~300 MB)
# The PNGs are written once (Debian's /usr/bin/python3 with numpy and PIL, from the
# dataset-fashion-mnist package) and reused. sha256sum runs first, so every figure reads
# the files from a warm page cache.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: bench_data.sh BUILD_DIR WORK_DIR}" && pwd) || exit 2
work=${2:?usage: bench_data.sh BUILD_DIR WORK_DIR}
lathe="$build/bin/lathe"
py=/usr/bin/python3
src=/usr/share/datasets/fashion-mnist
limit=${LATHE_BENCH_DATA_LIMIT:-0}
cache=${LATHE_BENCH_CACHE:-$root/build/bench-cache}
say() { echo "bench: $*"; }
# calc FORMAT EXPR: awk arithmetic, printed with printf's FORMAT ("%.3f", "%d"); EXPR in
# parentheses, or awk reads a comparison "a > b" as printf's output redirection to file b
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }

if [ ! -r "$src/train-images-idx3-ubyte.gz" ]; then
	say "data: skipped: $src is missing (make deps installs dataset-fashion-mnist)"
	exit 0
fi
if ! "$py" -c 'import numpy, PIL' 2>/dev/null; then
	say "data: skipped: $py lacks numpy or PIL (make deps installs python3-numpy, python3-pil)"
	exit 0
fi

# --- the images, written once -----------------------------------------------------------
set_dir="$cache/fashion-mnist-png"
[ "$limit" != 0 ] && set_dir="$cache/fashion-mnist-png-first-$limit"
all="$set_dir/all"     # <class>/{train,test}-NNNNN.png: the 70,000
train="$set_dir/train" # <class>/train-NNNNN.png: the 60,000, hard links into all/
if [ ! -e "$set_dir/.complete" ]; then
	rm -rf "$set_dir"
	mkdir -p "$all" "$train" || exit 1
	t0=$(date +%s.%N)
	"$py" - "$src" "$all" "$limit" <<'EOF' || { say "data: writing the PNGs failed"; exit 1; }
import gzip, os, sys
import numpy as np
from PIL import Image
src, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
classes = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
for c in classes:
    os.makedirs(os.path.join(out, c), exist_ok=True)
for part in ("train", "t10k"):
    with gzip.open(os.path.join(src, part + "-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(src, part + "-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    n = len(images) if limit == 0 else min(limit, len(images))
    name = "train" if part == "train" else "test"
    for i in range(n):
        Image.fromarray(images[i], "L").save(os.path.join(out, classes[labels[i]], "%s-%05d.png" % (name, i)))
EOF
	(cd "$all" && for c in *; do mkdir -p "$train/$c" && ln "$c"/train-*.png "$train/$c/"; done) || exit 1
	touch "$set_dir/.complete"
	say "data: wrote $(find "$all" -type f | wc -l) PNGs into $set_dir in $(calc %.1f "$(date +%s.%N) - $t0") s (cached for later runs)"
fi
n_all=$(find "$all" -type f -name '*.png' | wc -l)
n_train=$(find "$train" -type f -name '*.png' | wc -l)
bytes_all=$(du -sb --apparent-size "$all" | cut -f1)
cores=$(nproc)

now() { date +%s.%N; }
# secs START END -> seconds with 3 decimals
secs() { calc %.3f "$2 - $1"; }
# ratio A B -> A/B with 2 decimals, "-" when either is missing or B is 0
ratio() {
	if [ -z "$1" ] || [ -z "$2" ] || [ "$1" = - ] || [ "$2" = - ] || [ "$(calc %d "$2 == 0")" = 1 ]; then
		echo "-"
	else
		calc %.2f "$1 / $2"
	fi
}

# --- the floor: sha256sum over the same files, every core ------------------------------
t0=$(now)
(cd "$all" && find . -type f -name '*.png' -print0 | xargs -0 -P "$cores" -n 2000 sha256sum >/dev/null)
t1=$(now)
sha_s=$(secs "$t0" "$t1")

# --- the daemon ----------------------------------------------------------------------------
daemon_pid=""
stop_daemon() {
	[ -n "$daemon_pid" ] && { kill -TERM "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; }
	daemon_pid=""
}
trap stop_daemon EXIT
if [ -n "${LATHE_BENCH_DATA_URL:-}" ]; then
	url=$LATHE_BENCH_DATA_URL
else
	pg_port=${LATHE_BENCH_PG_PORT:?LATHE_BENCH_PG_PORT is unset (tools/run-bench.sh sets it)}
	psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qtA -c "CREATE DATABASE lathe_data" >/dev/null || exit 1
	. "$root/tools/stack-lib.sh"
	port=$(free_port) || exit 1
	DATABASE_URL="postgresql://postgres@127.0.0.1:$pg_port/lathe_data" KAFKA_BROKERS="${KAFKA_BOOTSTRAP:?}" \
		BLOB_DIR="$work/data-blobs" PORT=$port LOG_LEVEL=warn \
		setsid "$build/bin/lathe-data-registry" 2>"$work/data-registry.log" &
	daemon_pid=$!
	url="http://127.0.0.1:$port"
	for _ in $(seq 1 300); do
		curl -fs -o /dev/null "$url/readyz" && break
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! curl -fs -o /dev/null "$url/readyz"; then
		tail -n 20 "$work/data-registry.log" | sed 's/^/bench:   /'
		say "data: the data registry did not start"
		exit 1
	fi
fi
export LATHE_URL=$url
# a hash cache of this run alone: the first push hashes every file, the second finds them
# in the cache (as a user's second push would); a cache left by an earlier run would make
# the first push's hash phase look free
export LATHE_CACHE_DIR="$work/lathe-cache"

# code METHOD PATH [BODY]: the HTTP status only
code() {
	if [ $# -ge 3 ]; then
		curl -s -o /dev/null -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' --data "$3" "$url$2"
	else
		curl -s -o /dev/null -w '%{http_code}' -X "$1" "$url$2"
	fi
}
# route_missing METHOD PATH [BODY]: whether the daemon lacks the route (501, or 404
# ENDPOINT_NOT_FOUND), as opposed to answering it (even with a 4xx); prints the status
route_missing() {
	local out st
	if [ $# -ge 3 ]; then
		out=$(curl -s -w '\n%{http_code}' -X "$1" -H 'Content-Type: application/json' --data "$3" "$url$2")
	else
		out=$(curl -s -w '\n%{http_code}' -X "$1" "$url$2")
	fi
	st=${out##*$'\n'}
	echo "$st"
	[ "$st" = 501 ] || { [ "$st" = 404 ] && echo "$out" | grep -q ENDPOINT_NOT_FOUND; }
}
# cpu_s PID: user + system CPU seconds of the process so far
cpu_s() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo "-"; return; }
	awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$1/stat"
}
# hwm PHASE: the daemon's peak RSS so far, recorded after PHASE
declare -a hwm_rows
hwm() {
	[ -n "$daemon_pid" ] || return 0
	hwm_rows+=("$1|$(awk '/^VmHWM/ {print $2}' "/proc/$daemon_pid/status" 2>/dev/null)")
}
field() { sed -nE "s/^$1: ([0-9]+) files, ([0-9]+) bytes.*/\\$2/p" "$3"; }

ph_hash="-" ph_up="-" ph_commit="-" push1_s="-" push1_fps="-" push1_mbs="-" push2_s="-" push2_bytes="-" profile_s="-" status=0
if st=$(route_missing POST /v1/blobs/missing '{"hashes":[]}'); then
	say "data: skipped push, profile and tensors: POST /v1/blobs/missing answers $st (the data registry's API is not in this build yet)"
else
	t0=$(now)
	"$lathe" data push "$all" --dataset fashion-mnist-png -q -m "bench: first push" >"$work/push1.out" 2>"$work/push1.err"
	rc=$?
	t1=$(now)
	if [ $rc -ne 0 ]; then
		say "data: first push failed (exit $rc): $(tail -n 1 "$work/push1.err")"
		status=1
	else
		push1_s=$(secs "$t0" "$t1")
		push1_fps=$(calc %d "$n_all / $push1_s")
		push1_mbs=$(calc %.1f "$bytes_all / 1000000 / $push1_s")
		read -r ph_hash ph_up ph_commit < <(sed -nE 's/^seconds: hash ([0-9.]+), upload ([0-9.]+), commit ([0-9.]+).*/\1 \2 \3/p' "$work/push1.out")
		hwm "push 1"
		say "data: first push: $(grep -E '^(uploaded|seconds):' "$work/push1.out" | tr '\n' ';')"
		t0=$(now)
		"$lathe" data push "$all" --dataset fashion-mnist-png -q >"$work/push2.out" 2>"$work/push2.err"
		rc=$?
		t1=$(now)
		if [ $rc -ne 0 ]; then
			say "data: second push failed (exit $rc): $(tail -n 1 "$work/push2.err")"
			status=1
		else
			push2_s=$(secs "$t0" "$t1")
			hwm "push 2"
			push2_bytes=$(field uploaded 2 "$work/push2.out")
			if [ "$push2_bytes" != 0 ]; then
				say "data: FAIL: the second push uploaded $push2_bytes bytes (must be 0)"
				status=1
			fi
		fi
	fi

	# profile: from the first commit to READY
	if [ "$push1_s" != - ]; then
		if st=$(route_missing GET /v1/datasets/fashion-mnist-png/versions/1/profile); then
			say "data: skipped profile time: GET .../profile answers $st (the profile worker is not in this build yet)"
		else
			# PENDING until the profile worker is done; a daemon that spends no CPU for
			# 15 s while the version is PENDING has no worker in this build
			idle=0 last_cpu=$(cpu_s "$daemon_pid") s=""
			for i in $(seq 1 6000); do
				s=$(curl -s "$url/v1/datasets/fashion-mnist-png/versions/1" |
					"$py" -c 'import json,sys; v=json.load(sys.stdin)["version"]; print(v["status"], v["created_at"], v.get("ready_at") or 0)')
				case "$s" in READY* | FAILED*) break ;; esac
				sleep 0.5
				[ -z "$daemon_pid" ] && [ "$i" -ge 240 ] && break # a daemon not ours: 2 minutes
				if [ $((i % 10)) = 0 ] && [ -n "$daemon_pid" ]; then
					c=$(cpu_s "$daemon_pid")
					if [ "$(calc %d "$c - $last_cpu < 0.05")" = 1 ]; then idle=$((idle + 5)); else idle=0; fi
					last_cpu=$c
					[ $idle -ge 15 ] && break
				fi
			done
			case "$s" in
			READY*) profile_s=$(echo "$s" | awk '{printf "%.3f", ($3 - $2) / 1000}') ;;
			FAILED*) say "data: FAIL: the version failed its profile: $s"; status=1 ;;
			*) say "data: skipped profile time: the version stays PENDING and the daemon is idle (no profile worker in this build yet)" ;;
			esac
			hwm "profile of the 70k version"
		fi
	fi
fi

# --- tensors: the 60k training images, against the peer -----------------------------------
# The daemon's export: a dataset of the training images alone (hard links to the same
# files: nothing is uploaded), its tensors at 28x28 and 64x64, gray.
declare -A t_ips t_cpu_ips peer_ips
tensors_ok=0
if [ "$push1_s" != - ]; then
	"$lathe" data push "$train" --dataset fashion-mnist-train -q >"$work/push3.out" 2>"$work/push3.err" ||
		say "data: push of the training images failed: $(tail -n 1 "$work/push3.err")"
	hwm "push of the 60k training folder"
	# wait for READY (tensors read the profiled version) when a profiler exists
	for _ in $(seq 1 3000); do
		s=$(curl -s "$url/v1/datasets/fashion-mnist-train/versions/1" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["version"]["status"])' 2>/dev/null)
		[ "$s" = PENDING ] || break
		[ "$profile_s" = - ] && break # no profiler: nothing will change
		sleep 0.2
	done
	hwm "profile of the 60k training folder"
	base="/v1/datasets/fashion-mnist-train/versions/1"
	if st=$(route_missing GET "$base/tensors?size=0"); then
		say "data: skipped tensor export: GET .../tensors answers $st (not in this build yet)"
	else
		tensors_ok=1
	fi
fi
# tensor_get LABEL BASE QUERY: the export twice, the first computed, the second served
# from the store; rows into t_rows
declare -a t_rows
tensor_get() {
	local label=$1 base=$2 q=$3 n=$4 size=$5 k hc c0 c1 t0 t1 s ips cps
	for k in 1 2; do
		c0=$(cpu_s "$daemon_pid")
		t0=$(now)
		hc=$(curl -s -o "$work/tensors.out" -w '%{http_code}' "$url$base/tensors?$q")
		t1=$(now)
		c1=$(cpu_s "$daemon_pid")
		if [ "$hc" != 200 ]; then
			say "data: tensor export $label ($q) answered $hc: $(head -c 300 "$work/tensors.out")"
			status=1
			return
		fi
		s=$(secs "$t0" "$t1")
		ips=$(calc %d "$n / $s")
		cps="-"
		if [ "$c0" != - ] && [ "$c1" != - ] && [ "$(calc %d "$c1 > $c0")" = 1 ]; then
			cps=$(calc %d "$n / ($c1 - $c0)")
		fi
		say "data: tensors $label request $k: $s s, $(stat -c %s "$work/tensors.out") bytes, daemon CPU $(calc %.2f "$c1 - $c0") s"
		t_rows+=("$label, req $k ($([ $k = 1 ] && echo computed || echo stored)), img/s|$ips|$size")
		[ $k = 1 ] && t_rows+=("$label, req 1, img per daemon CPU-s|$cps|$size")
		rm -f "$work/tensors.out"
	done
	hwm "tensors $label"
}
if [ $tensors_ok = 1 ]; then
	for size in 28 64; do
		tensor_get "png ${size}x$size gray" "$base" "size=$size&channels=1" "$n_train" "$size"
	done
	# the same 60k as IDX: the four Fashion-MNIST files, the predefined split "original"
	ibase=/v1/datasets/fashion-mnist-idx/versions/1
	if "$lathe" data push "$src" --dataset fashion-mnist-idx --format idx -q >"$work/push4.out" 2>"$work/push4.err"; then
		for size in 28 64; do
			tensor_get "idx ${size}x$size, split original/train" "$ibase" "split=train&size=$size&channels=1" 60000 "$size"
		done
	else
		say "data: push of the IDX files failed: $(tail -n 1 "$work/push4.err")"
		status=1
	fi
fi
# The peer: PIL + numpy on one core, the same files, the same operation.
for size in 28 64; do
	peer_ips[$size]=$("$py" - "$train" "$size" <<'EOF'
import os, sys, time
import numpy as np
from PIL import Image
root, size = sys.argv[1], int(sys.argv[2])
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".png"))
out = np.empty((len(files), 1, size, size), np.float32)
t0 = time.perf_counter()
for i, f in enumerate(files):
    out[i, 0] = np.asarray(Image.open(f).convert("L").resize((size, size), Image.BILINEAR), np.float32)
print(int(len(files) / (time.perf_counter() - t0)))
EOF
)
done
# libs/img's small-image path alone, one core, next to PIL + numpy on the same files in
# memory (tests/bench/bench_img.c and its peer bench_img_pil.py: CPU time, best of 3)
find "$train" -type f -name '*.png' | sort >"$work/img-list"
"$build/tests/bench/bench_img" "$work/img-list" 3 >"$work/img.out" 2>"$work/img.err" ||
	{ say "data: bench_img failed: $(tail -n 1 "$work/img.err")"; status=1; }
"$py" "$root/tests/bench/bench_img_pil.py" "$work/img-list" 3 >"$work/img-pil.out" 2>"$work/img-pil.err" ||
	{ say "data: bench_img_pil.py failed: $(tail -n 1 "$work/img-pil.err")"; status=1; }
img_ips() { sed -n "s/^bench: $1 $2x$2 float32: .* \([0-9]*\) images\/s cpu .*/\1/p" "$3"; }

# --- the table ------------------------------------------------------------------------------
say "data: Fashion-MNIST as $n_all PNGs ($(calc %.1f "$bytes_all / 1000000") MB) in class folders, $cores cores"
say "data: $(printf '%-62s %10s %10s %6s' figure Lathe 'floor/peer' ratio)"
row() { say "data: $(printf '%-62s %10s %10s %6s' "$1" "$2" "$3" "$4")"; }
sha_fps=$(calc %d "$n_all / $sha_s")
row "push 1 (s) vs sha256sum (s), all cores" "$push1_s" "$sha_s" "$(ratio "$push1_s" "$sha_s")"
row "push 1 files/s vs sha256sum files/s" "$push1_fps" "$sha_fps" "$(ratio "$push1_fps" "$sha_fps")"
row "push 1 MB/s" "$push1_mbs" "-" "-"
row "push 1 phase: hash (s)" "$ph_hash" "-" "-"
row "push 1 phase: upload (s)" "$ph_up" "-" "-"
row "push 1 phase: commit (s)" "$ph_commit" "-" "-"
row "push 2 of the same folder (s; goal <= 2)" "$push2_s" "-" "-"
row "push 2 bytes uploaded (must be 0)" "$push2_bytes" "-" "-"
row "profile, commit to READY (s)" "$profile_s" "-" "-"
for r in "${t_rows[@]}"; do
	IFS='|' read -r label ours size <<<"$r"
	row "tensors $label" "$ours" "${peer_ips[$size]:--}" "$(ratio "$ours" "${peer_ips[$size]:--}")"
done
for size in 28 64; do
	ours=$(img_ips img "$size" "$work/img.out") peer=$(img_ips pil "$size" "$work/img-pil.out")
	row "img decode + resize ${size}x$size float32, images/s per CPU s" "${ours:--}" "${peer:--}" \
		"$(ratio "${ours:--}" "${peer:--}")"
done
for r in "${hwm_rows[@]}"; do
	IFS='|' read -r label kb <<<"$r"
	row "daemon VmHWM after $label (kB)" "${kb:--}" "-" "-"
done
say "data: the peer of the tensor rows is PIL + numpy decode, convert(\"L\"), resize BILINEAR into float32 on one core, over the 60k training PNGs; the daemon runs on the same $cores cores (its CPU-second rows are per core)"
if [ -n "$daemon_pid" ] && grep -E '"level":"(error|fatal)"' "$work/data-registry.log" >/dev/null 2>&1; then
	say "data: the data registry logged errors:"
	grep -E '"level":"(error|fatal)"' "$work/data-registry.log" | head -n 10 | sed 's/^/bench:   /'
	status=1
fi
exit $status
