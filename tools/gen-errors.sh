#!/bin/sh
# Generates the C face of proto/errors.csv: an enum http_error_code (HTTP_EC_<NAME>),
# and tables of names, HTTP statuses and default messages indexed by it.
#   tools/gen-errors.sh proto/errors.csv OUT_PREFIX   -> OUT_PREFIX.h, OUT_PREFIX.c
set -eu
csv=$1
out=$2
rows=$(grep -v '^#' "$csv" | grep -v '^[[:space:]]*$')
{
	echo "/* generated from proto/errors.csv by tools/gen-errors.sh: do not edit */"
	echo "#ifndef HTTP_ERRORS_GEN_H"
	echo "#define HTTP_ERRORS_GEN_H"
	echo "enum http_error_code {"
	echo "\tHTTP_EC_NONE = 0, /* no error: lets structs leave an error code unset */"
	echo "$rows" | awk -F, '{ printf "\tHTTP_EC_%s,\n", $1 }'
	echo "\tHTTP_EC__COUNT"
	echo "};"
	echo "extern const char *const http_error_names[HTTP_EC__COUNT];"
	echo "extern const unsigned http_error_statuses[HTTP_EC__COUNT];"
	echo "extern const char *const http_error_messages[HTTP_EC__COUNT];"
	echo "#endif"
} > "$out.h.tmp"
{
	echo "/* generated from proto/errors.csv by tools/gen-errors.sh: do not edit */"
	echo "#include \"http/errors_gen.h\""
	echo "const char *const http_error_names[HTTP_EC__COUNT] = {"
	echo "\t\"NONE\","
	echo "$rows" | awk -F, '{ printf "\t\"%s\",\n", $1 }'
	echo "};"
	echo "const unsigned http_error_statuses[HTTP_EC__COUNT] = {"
	echo "\t200,"
	echo "$rows" | awk -F, '{ printf "\t%s,\n", $2 }'
	echo "};"
	echo "const char *const http_error_messages[HTTP_EC__COUNT] = {"
	echo "\t\"\","
	echo "$rows" | awk -F, '{ msg=$3; for (i = 4; i <= NF; i++) msg = msg "," $i; gsub(/"/, "\\\"", msg); printf "\t\"%s\",\n", msg }'
	echo "};"
} > "$out.c.tmp"
mv "$out.h.tmp" "$out.h"
mv "$out.c.tmp" "$out.c"
