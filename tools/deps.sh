#!/bin/sh
# Installs the Debian 12 packages Lathe builds, tests and runs with, when any is missing.
# Idempotent and quick when all are there (one dpkg query). Uses sudo when not root.
set -eu
pkgs="build-essential pkg-config libmicrohttpd-dev libjansson-dev libpq-dev librdkafka-dev
libopenblas-dev libjpeg62-turbo-dev libpng-dev check libcurl4-openssl-dev libssl-dev
postgresql prometheus curl valgrind clang-format"
missing=""
for p in $pkgs; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
