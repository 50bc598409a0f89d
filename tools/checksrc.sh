#!/usr/bin/env bash
# Style checks a compiler does not make (STYLE 18): banned functions, and the opening
# comment every .c file must have. Prints each offence; exits 1 when there is any.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find libs services tools tests -name '*.[ch]')
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok)[[:space:]]*\('
if grep -nE "$banned" $files; then
	echo "checksrc: banned function above (use snprintf, strtol, strtok_r, core_buf...)"
	status=1
fi
for f in $(echo "$files" | grep '\.c$'); do
	if ! head -n 1 "$f" | grep -q '^/\*'; then
		echo "checksrc: $f does not open with a comment saying what it is for"
		status=1
	fi
done
exit $status
