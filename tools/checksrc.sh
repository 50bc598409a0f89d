#!/usr/bin/env bash
# Style checks a compiler does not make: formatting by .clang-format, banned functions,
# and the opening comment every .c file must have. Prints each offence; exits 1 when
# there is any. `tools/checksrc.sh --fix` reformats the files instead of complaining.
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
# Design notes the code relies on live in docs/; a citation of one outside the
# repository is a reference nobody else can open.
if git grep -nE 'shared/design|STYLE [0-9]|devkafka-notes' -- libs services tools tests proto 2>/dev/null | grep -v '^tools/checksrc.sh:'; then
	echo "checksrc: cite docs/ (docs/style.md §N, docs/mlflow-api.md), not documents outside the repository"
	status=1
fi
for f in $(echo "$files" | grep '\.c$'); do
	if ! head -n 1 "$f" | grep -q '^/\*'; then
		echo "checksrc: $f does not open with a comment saying what it is for"
		status=1
	fi
done
if command -v clang-format >/dev/null; then
	for f in $files; do
		if [ "${1:-}" = --fix ]; then
			clang-format -i --style=file "$f"
		elif ! clang-format --style=file "$f" | cmp -s "$f" -; then
			echo "checksrc: $f is not formatted as .clang-format says (tools/checksrc.sh --fix)"
			status=1
		fi
	done
else
	echo "checksrc: clang-format is missing (make deps installs it)"
	status=1
fi
exit $status
