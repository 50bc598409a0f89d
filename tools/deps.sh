#!/bin/sh
# Installs the Debian 12 packages Lathe builds, tests and runs with, when any is missing.
# Idempotent and quick when all are there (one dpkg query). Uses sudo when not root.
#
# It starts no system service and leaves none behind: `make run` and the tests run their
# own PostgreSQL cluster (tools/pg.sh) on a loopback port, and need nothing else.
# - PostgreSQL: the server binaries only (postgresql-15, not the `postgresql`
#   metapackage), with create_main_cluster = false written to postgresql-common's
#   createcluster.d before the install, so no cluster "main" is created and nothing
#   listens on 5432, now or after a reboot.
# - promtool (the tests check /metrics with it): Debian has it only inside the
#   `prometheus` package, whose install starts a Prometheus server on :9090, enables it
#   at boot and brings a dozen JavaScript packages. So promtool alone is taken out of
#   that package (apt-get download, dpkg-deb -x) into /usr/local/bin; nothing else of
#   it is installed. (promtool is a static Go program: it needs no other file.)
# - wrk, python3-fastapi, python3-uvicorn (and python3-uvloop, python3-httptools, which
#   uvicorn uses when present, as a tuned deployment would): `make bench`'s inference
#   part and its FastAPI peer (tests/bench/bench_infer.sh).
# - chromium: the drift report page is checked in a real browser, headless
#   (tests/integration/test_drift_report_html.c); no display or desktop is needed.
# - While apt-get installs, a policy-rc.d refusing every service start is in place
#   (invoke-rc.d and deb-systemd-invoke ask it), unless the machine has its own.
# A machine set up by an older version of this script may have a cluster "main" and a
# Prometheus service: `pg_dropcluster --stop 15 main` and `apt-get purge prometheus`
# remove them; this script never removes anything.
set -eu
pkgs="build-essential pkg-config libmicrohttpd-dev libjansson-dev libpq-dev librdkafka-dev libcairo2-dev fonts-dejavu-core
libopenblas-dev libjpeg62-turbo-dev libpng-dev libdeflate-dev check libcurl4-openssl-dev libssl-dev
postgresql-15 curl jq valgrind clang-format libarchive-dev libcsv-dev zlib1g-dev
dataset-fashion-mnist python3-numpy python3-pandas python3-pil python3-scipy python3-sklearn python3-torch
wrk python3-fastapi python3-uvicorn python3-uvloop python3-httptools chromium"
missing=""
for p in $pkgs; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
need_promtool=0
command -v promtool >/dev/null 2>&1 || need_promtool=1
[ -z "$missing" ] && [ "$need_promtool" = 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
work=$(mktemp -d)
policy=/usr/sbin/policy-rc.d
own_policy=0
cleanup() {
	[ "$own_policy" = 1 ] && $sudo rm -f "$policy"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

$sudo apt-get update -qq

if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	$sudo mkdir -p /etc/postgresql-common/createcluster.d
	conf=/etc/postgresql-common/createcluster.d/lathe-no-main-cluster.conf
	if [ ! -e "$conf" ]; then
		printf '%s\n' "# Written by Lathe's tools/deps.sh: no default cluster; Lathe runs its own." \
			"create_main_cluster = false" >"$work/createcluster.conf"
		$sudo install -m 0644 "$work/createcluster.conf" "$conf"
	fi
	if [ ! -e "$policy" ]; then
		printf '%s\n' '#!/bin/sh' "# Lathe's tools/deps.sh: no service starts while it installs packages." \
			'exit 101' >"$work/policy-rc.d"
		own_policy=1
		$sudo install -m 0755 "$work/policy-rc.d" "$policy"
	fi
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing
fi

if [ "$need_promtool" = 1 ]; then
	echo "deps: installing promtool alone, from Debian's prometheus package, into /usr/local/bin"
	# apt downloads as the user _apt where it can: let it write here
	[ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1 && chown _apt "$work"
	(cd "$work" && apt-get download -qq prometheus)
	dpkg-deb -x "$work"/prometheus_*.deb "$work/x"
	$sudo install -m 0755 "$work/x/usr/bin/promtool" /usr/local/bin/promtool
	promtool --version >/dev/null
fi
