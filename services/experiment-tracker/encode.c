/* Encoding helpers of the tracking part (face: et.h).
 *
 * et_json_pg_double: PostgreSQL's float8 text as MLflow's JSON (non-finite values as
 * strings), for get-history, which writes JSON text directly rather than a tree. It
 * writes a value exactly as runs/get and runs/search do (entities.c reads the same
 * text into a jansson tree that http_json_text writes): integers as PostgreSQL prints
 * them, other values through core_fmt_double, so one metric reads the same on every
 * route (PostgreSQL's "1e+300" is written "1e300", as jansson spells reals). */
#include <stdlib.h>
#include <string.h>
#include "core/fmt.h"
#include "et.h"

enum core_status et_json_pg_double(struct core_buf *b, const char *pg)
{
	char num[CORE_FMT_DOUBLE_MAX];
	if (strcmp(pg, "NaN") == 0 || strcmp(pg, "Infinity") == 0 || strcmp(pg, "-Infinity") == 0) {
		enum core_status rc = core_buf_append(b, "\"", 1);
		if (rc == CORE_OK)
			rc = core_buf_append_str(b, pg);
		return rc == CORE_OK ? core_buf_append(b, "\"", 1) : rc;
	}
	if (!strpbrk(pg, ".eE"))
		return core_buf_append_str(b, pg);
	return core_buf_append(b, num, core_fmt_double(strtod(pg, NULL), CORE_FMT_JSON_REAL, num));
}
