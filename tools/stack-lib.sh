# Shell functions shared by tools/run-tests.sh, tools/run-stack.sh and tools/run-bench.sh:
# starting and stopping the local PostgreSQL cluster and devkafka broker. Sourced, not run.

# Prints a TCP port on 127.0.0.1, below the ephemeral range, that nothing listens on
# right now.
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000)) # below 32768: Linux hands out 32768-60999 to outgoing connections
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "free_port: no free port found" >&2
	return 1
}

# start_devkafka BIN DIR [DEVKAFKA_ARGS...]: starts the broker with its bootstrap file and
# control FIFO in DIR; sets DEVKAFKA_PID and KAFKA_BOOTSTRAP.
start_devkafka() {
	local bin=$1 dir=$2 i
	shift 2
	rm -f "$dir/kafka.bootstrap"
	# its own session: a terminal's Ctrl-C goes to the script, which stops it last
	setsid "$bin" -f "$dir/kafka.bootstrap" -c "$dir/kafka.ctl" "$@" >"$dir/devkafka.log" 2>&1 &
	DEVKAFKA_PID=$!
	for i in $(seq 1 100); do
		[ -s "$dir/kafka.bootstrap" ] && break
		kill -0 "$DEVKAFKA_PID" 2>/dev/null || { cat "$dir/devkafka.log" >&2; return 1; }
		sleep 0.1
	done
	[ -s "$dir/kafka.bootstrap" ] || { echo "devkafka did not start" >&2; return 1; }
	KAFKA_BOOTSTRAP=$(cat "$dir/kafka.bootstrap")
}

stop_devkafka() {
	if [ -n "${DEVKAFKA_PID:-}" ]; then
		kill -TERM "$DEVKAFKA_PID" 2>/dev/null || true
		wait "$DEVKAFKA_PID" 2>/dev/null || true
		DEVKAFKA_PID=""
	fi
}
