#!/usr/bin/env bash
# Fails when a binary's shared libraries differ from the packages its link list
# declares (the Makefile's <svc>_PKGS; make records them in build/<variant>/links/).
#   tools/check-links.sh BINARY PKG...      PKG: pkg-config names, e.g. libpq rdkafka,
#                                           or raw -lNAME flags for libraries that ship
#                                           no pkg-config file (the Makefile's <bin>_LDLIBS)
#
# It compares the binary's own DT_NEEDED entries (what our link line put there) with
# the sonames of the declared packages' -l libraries, both ways:
#   - a library the binary needs that no declared package names is an offence (the
#     tracker must not carry OpenBLAS because the trainer uses it);
#   - a declared package the binary does not need is one too: the build links with
#     --as-needed, so such a package is unused and the list is wrong.
# The C runtime (libc, libm, libpthread, the sanitizer runtimes...) is nobody's package
# and always allowed. ldd then checks that everything resolves. ldd's full list is not
# compared: it also shows what the declared libraries load themselves (libpq's libssl,
# for one), which no link list of ours decides.
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: check-links.sh BINARY [PKG...]" >&2; exit 2; }
bin=$1
shift
cc=${CC:-cc}
[ -x "$bin" ] || { echo "check-links: $bin is not an executable" >&2; exit 2; }
runtime='^(libc|libm|libpthread|libdl|librt|libgcc_s|libasan|libubsan|libstdc\+\+|ld-linux[-a-z0-9_.]*)\.so'

soname_of() { # library file -> its SONAME (or nothing)
	readelf -d "$1" 2>/dev/null | sed -nE 's/.*\(SONAME\).*\[(.*)\]/\1/p'
}

status=0
declare -A declared=() # soname -> package
for pkg in "$@"; do
	case "$pkg" in
	-l*) flags=$pkg ;;
	*)
		flags=$(pkg-config --libs "$pkg" 2>/dev/null) || {
			echo "check-links: pkg-config knows no package $pkg"
			status=1
			continue
		}
		;;
	esac
	dirs=()
	for f in $flags; do case "$f" in -L*) dirs+=("${f#-L}") ;; esac; done
	for f in $flags; do
		case "$f" in -l*) ;; *) continue ;; esac
		name=${f#-l}
		file=""
		for d in "${dirs[@]}"; do [ -e "$d/lib$name.so" ] && file="$d/lib$name.so" && break; done
		[ -n "$file" ] || file=$("$cc" -print-file-name="lib$name.so")
		so=$(soname_of "$file")
		if [ -z "$so" ]; then
			echo "check-links: no shared library for -l$name (package $pkg)"
			status=1
			continue
		fi
		declared[$so]=$pkg
	done
done

needed=$(readelf -d "$bin" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
[ -n "$needed" ] || { echo "check-links: $bin has no NEEDED entries (not a dynamic executable?)"; exit 1; }
for so in $needed; do
	[ -n "${declared[$so]:-}" ] && continue
	grep -qE "$runtime" <<<"$so" && continue
	echo "check-links: $bin links $so, which none of its declared packages ($*) provides"
	status=1
done
for so in "${!declared[@]}"; do
	if ! grep -qxF "$so" <<<"$needed"; then
		echo "check-links: $bin declares package ${declared[$so]} but does not use $so (drop it from the list)"
		status=1
	fi
done
if ! out=$(ldd "$bin" 2>&1); then
	echo "check-links: ldd $bin failed: $out"
	status=1
elif echo "$out" | grep -q 'not found'; then
	echo "check-links: $bin has unresolved libraries:"
	echo "$out" | grep 'not found'
	status=1
fi
exit $status
