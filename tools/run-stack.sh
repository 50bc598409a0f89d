#!/usr/bin/env bash
# `make run`: the whole local stack in the foreground, on loopback: a PostgreSQL
# cluster kept in var/pg (its superuser's password generated once into
# var/pg.password, which DATABASE_URL carries), the devkafka broker, and the six
# daemons, each on its default port with its log in var/logs/. Ctrl-C (or SIGTERM) stops the daemons by
# PID with SIGTERM, then the broker and the database; data under var/ stays.
# Kafka state is in memory only (devkafka) and starts empty on each run.
#
# For tests, which must not touch a developer's stack: LATHE_VAR (the data directory,
# default var), LATHE_PG_PORT (default 15432) and LATHE_PORT_OFFSET (added to every
# daemon's port, default 0).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. tools/stack-lib.sh
build=${1:-build/release}
services="experiment-tracker model-registry data-registry drift-monitor trainer inference-api"
offset=${LATHE_PORT_OFFSET:-0}
declare -A ports=([experiment-tracker]=$((5000 + offset)) [model-registry]=$((5001 + offset))
	[data-registry]=$((5002 + offset)) [drift-monitor]=$((5003 + offset)) [trainer]=$((5004 + offset))
	[inference-api]=$((8080 + offset)))
pg_port=${LATHE_PG_PORT:-15432}
var=${LATHE_VAR:-var}

mkdir -p "$var/logs" "$var/blobs"
chmod 755 "$var" # the postgres user (when we run as root) must reach $var/pg
var=$(cd "$var" && pwd)
declare -A pids=()

stop_all() {
	trap - INT TERM
	echo "stopping..."
	for s in "${!pids[@]}"; do kill -TERM "${pids[$s]}" 2>/dev/null || true; done
	local status=0
	for s in "${!pids[@]}"; do
		wait "${pids[$s]}"
		rc=$?
		[ "$rc" -eq 0 ] || { echo "  $s exited with $rc (see $var/logs/$s.log)"; status=1; }
	done
	stop_devkafka
	tools/pg.sh stop "$var/pg"
	echo "stopped; data kept in $var/"
	exit "$status"
}
trap stop_all INT TERM

started=$(date +%s)
for p in $pg_port "${ports[@]}"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "port $p is taken: is another stack running? (LATHE_PG_PORT changes PostgreSQL's)" >&2
		exit 1
	fi
done
tools/pg.sh start "$var/pg" "$pg_port" --password-file "$var/pg.password" || exit 1
pg_password=$(cat "$var/pg.password")
psql_admin=(env PGPASSWORD="$pg_password" psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qtA)
if [ "$("${psql_admin[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'lathe'")" != 1 ]; then
	"${psql_admin[@]}" -c "CREATE DATABASE lathe" >/dev/null || exit 1
fi
start_devkafka "$build/bin/devkafka" "$var" || { tools/pg.sh stop "$var/pg"; exit 1; }

export DATABASE_URL="postgresql://postgres:$pg_password@127.0.0.1:$pg_port/lathe"
export KAFKA_BROKERS="$KAFKA_BOOTSTRAP"
export BLOB_DIR="$var/blobs"
export KAFKA_SESSION_TIMEOUT_MS=6000
export LOG_LEVEL=${LOG_LEVEL:-info}
export TRACKER_URL=http://127.0.0.1:${ports[experiment-tracker]} REGISTRY_URL=http://127.0.0.1:${ports[model-registry]}
export DATA_REGISTRY_URL=http://127.0.0.1:${ports[data-registry]} TRAINER_URL=http://127.0.0.1:${ports[trainer]}
export DRIFT_URL=http://127.0.0.1:${ports[drift-monitor]} # the trainer's lineage lists drift reports
# setsid: Ctrl-C reaches this script alone, which then stops the daemons before the
# broker and the database they use, rather than everything at once.
for s in $services; do
	PORT=${ports[$s]} setsid "$build/bin/lathe-$s" 2>>"$var/logs/$s.log" &
	pids[$s]=$!
done

for s in $services; do
	until curl -fs "http://127.0.0.1:${ports[$s]}/readyz" >/dev/null; do
		if ! kill -0 "${pids[$s]}" 2>/dev/null; then
			echo "$s died during start-up:" >&2
			tail -n 20 "$var/logs/$s.log" >&2
			stop_all
		fi
		if [ $(($(date +%s) - started)) -gt 60 ]; then
			echo "$s is not ready after 60 s (see $var/logs/$s.log)" >&2
			stop_all
		fi
		sleep 0.1
	done
done
echo "Lathe is up in $(($(date +%s) - started)) s (PostgreSQL :$pg_port, Kafka $KAFKA_BOOTSTRAP):"
for s in $services; do printf '  %-20s http://127.0.0.1:%s\n' "$s" "${ports[$s]}"; done
echo "logs in $var/logs/; Ctrl-C stops everything."
while :; do
	for s in "${!pids[@]}"; do
		if ! kill -0 "${pids[$s]}" 2>/dev/null; then
			echo "$s exited unexpectedly (see $var/logs/$s.log)" >&2
			unset "pids[$s]"
			stop_all
		fi
	done
	sleep 1 &
	wait $!
done
