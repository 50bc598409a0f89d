#!/bin/sh
# A throwaway PostgreSQL cluster in a directory, on a loopback port: for `make run`
# (data kept under var/) and for test runs (a fresh cluster in a temporary directory).
#
#   tools/pg.sh start DIR PORT [--ephemeral]   initdb when DIR is new, start, wait ready
#   tools/pg.sh stop DIR                       fast shutdown (no-op when not running)
#   tools/pg.sh status DIR                     exit 0 when running
#
# PostgreSQL refuses to run as root, and CI runs as root: then the cluster belongs to
# the `postgres` system user (created by Debian's postgresql package) and every server
# command runs as that user. As a normal user the cluster is simply yours.
# --ephemeral trades durability for speed (fsync off): for tests only.
#
# A kept cluster (make run's var/pg, no --ephemeral) needs a password over TCP: the
# superuser postgres gets a random one, kept in DIR.password (mode 0600, the caller's),
# and pg_hba.conf asks for it (scram-sha-256) on 127.0.0.1 and ::1; only the server's
# own Unix socket, inside DIR (mode 0700), stays open to the cluster's owner. So no
# other local user gets in as superuser. Clients read the file:
#   PGPASSWORD=$(cat DIR.password) psql -h 127.0.0.1 -p PORT -U postgres
# An ephemeral cluster (tests, a throwaway directory) keeps trust.
set -eu

bindir=$(pg_config --bindir 2>/dev/null || true)
if [ ! -x "$bindir/initdb" ]; then
	bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[ -x "$bindir/initdb" ] || { echo "pg.sh: no PostgreSQL server binaries (run make deps)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg.sh start|stop|status DIR [PORT] [--ephemeral]" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
start)
	port=${3:?port required}
	extra=""
	if [ "${4:-}" = "--ephemeral" ]; then
		extra="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres "$dir"
		chmod 700 "$dir"
	fi
	if [ ! -f "$dir/PG_VERSION" ]; then
		as_owner "$bindir/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 ||
			as_owner "$bindir/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --no-locale >"$dir.initdb.log" 2>&1 ||
			{ cat "$dir.initdb.log" >&2; exit 1; }
		rm -f "$dir.initdb.log"
	fi
	if as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		exit 0
	fi
	# The socket lives in the data directory (owned by the server's user) so nothing
	# in /var/run is needed; clients connect over TCP on 127.0.0.1.
	as_owner "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 $extra" start >/dev/null ||
		{ tail -n 20 "$dir/server.log" >&2; exit 1; }
	if [ "${4:-}" != "--ephemeral" ]; then
		# Every start, so a cluster made before passwords existed gets one too.
		pwfile="$dir.password"
		if [ ! -s "$pwfile" ]; then
			(umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$pwfile.tmp" && mv "$pwfile.tmp" "$pwfile")
		fi
		pw=$(cat "$pwfile")
		printf "ALTER ROLE postgres PASSWORD '%s'\n" "$pw" |
			as_owner "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 >/dev/null
		hba="local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256"
		if [ "$(as_owner cat "$dir/pg_hba.conf")" != "$hba" ]; then
			printf '%s\n' "$hba" | as_owner sh -c "cat >'$dir/pg_hba.conf'"
			as_owner "$bindir/pg_ctl" -D "$dir" reload >/dev/null
		fi
	fi
	;;
stop)
	if [ -f "$dir/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		as_owner "$bindir/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null
	fi
	;;
status)
	as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1
	;;
*)
	echo "pg.sh: unknown command $cmd" >&2
	exit 2
	;;
esac
