#!/bin/sh
# A throwaway PostgreSQL cluster in a directory, on a loopback port: for `make run`
# (data kept under var/) and for test runs (a fresh cluster in a temporary directory).
#
#   tools/pg.sh start DIR PORT [--ephemeral] [--password-file FILE]
#                                initdb when DIR is new, start, wait ready
#   tools/pg.sh stop DIR         fast shutdown (no-op when not running)
#   tools/pg.sh status DIR       exit 0 when running
#
# PostgreSQL refuses to run as root, and CI runs as root: then the cluster belongs to
# the `postgres` system user (created by Debian's postgresql-common package) and every
# server command runs as that user. As a normal user the cluster is simply yours.
# The server listens on 127.0.0.1 only; its socket is in DIR, which only its owner can
# enter.
# --password-file FILE (`make run`): the superuser postgres has the password in FILE
# (created with a random one, mode 0600, when absent); TCP connections must give it
# (scram-sha-256), the socket takes only the cluster's own user (peer). A cluster made
# before this option existed (every connection trusted) is given the password and the
# rules at its next start. Without it (a test run's throwaway cluster) every loopback
# connection is trusted, for the length of the run.
# --ephemeral trades durability for speed (fsync off): for tests only.
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

# Writes the client authentication rules of a cluster with a password.
write_hba() {
	as_owner sh -c 'cat >"$1"' sh "$dir/pg_hba.conf" <<'HBA'
# Written by Lathe's tools/pg.sh: the socket (in the data directory) for the cluster's
# own user, TCP on loopback with the password (the server listens on 127.0.0.1 only).
# TYPE	DATABASE	USER	ADDRESS		METHOD
local	all		all			peer
host	all		all	127.0.0.1/32	scram-sha-256
HBA
}

case "$cmd" in
start)
	port=${3:?port required}
	shift 3
	extra=""
	pwfile=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--ephemeral) extra="-c fsync=off -c synchronous_commit=off -c full_page_writes=off" ;;
		--password-file)
			pwfile=${2:?--password-file needs a file}
			shift
			;;
		*) echo "pg.sh: unknown option $1" >&2; exit 2 ;;
		esac
		shift
	done
	if [ -n "$pwfile" ] && [ ! -s "$pwfile" ]; then
		(umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$pwfile")
	fi
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres "$dir"
		chmod 700 "$dir"
	fi
	if [ ! -f "$dir/PG_VERSION" ]; then
		auth="--auth=trust"
		pwcopy=""
		if [ -n "$pwfile" ]; then
			# a copy the server's user can read, for initdb alone
			pwcopy=$(mktemp "$dir.pw.XXXXXX")
			cat "$pwfile" >"$pwcopy"
			[ "$(id -u)" -eq 0 ] && chown postgres "$pwcopy"
			auth="--auth-local=peer --auth-host=scram-sha-256 --pwfile=$pwcopy"
		fi
		# shellcheck disable=SC2086
		as_owner "$bindir/initdb" -D "$dir" -U postgres $auth -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 ||
			as_owner "$bindir/initdb" -D "$dir" -U postgres $auth -E UTF8 --no-locale >"$dir.initdb.log" 2>&1 ||
			{ rm -f "$pwcopy"; cat "$dir.initdb.log" >&2; exit 1; }
		rm -f "$dir.initdb.log" "$pwcopy"
		if [ -n "$pwfile" ]; then write_hba; fi
	fi
	if as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		exit 0
	fi
	# The socket lives in the data directory (owned by the server's user) so nothing
	# in /var/run is needed; clients connect over TCP on 127.0.0.1.
	as_owner "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 $extra" start >/dev/null ||
		{ tail -n 20 "$dir/server.log" >&2; exit 1; }
	if [ -n "$pwfile" ] && grep -q '^[^#]*trust' "$dir/pg_hba.conf"; then
		# a cluster from before passwords: set it (the SQL on stdin, not in ps), then
		# the rules that ask for it
		printf "ALTER ROLE postgres PASSWORD '%s'" "$(cat "$pwfile")" |
			psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qX >/dev/null
		write_hba
		as_owner "$bindir/pg_ctl" -D "$dir" reload >/dev/null
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
