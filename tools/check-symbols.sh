#!/usr/bin/env bash
# Fails when a library's archive defines a global symbol without the library's prefix
# (docs/style.md §3): everything else must be static.
#   tools/check-symbols.sh build/release/lib core http ...
set -uo pipefail
libdir=$1
shift
status=0
for lib in "$@"; do
	prefixes="${lib}_"
	[ "$lib" = http ] && prefixes="http_ httpc_"
	# an ASan build adds __odr_asan.<global> beside each global: judge the global
	bad=$(nm -g --defined-only "$libdir/lib$lib.a" 2>/dev/null | awk 'NF == 3 {sub(/^__odr_asan[.]/, "", $3); print $3}' | while read -r sym; do
		ok=0
		for p in $prefixes; do case "$sym" in "$p"*) ok=1 ;; esac; done
		[ $ok = 1 ] || echo "$sym"
	done)
	if [ -n "$bad" ]; then
		echo "lib$lib.a defines symbols without its prefix: $bad"
		status=1
	fi
done
exit $status
