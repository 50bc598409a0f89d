/* Encoding helpers of the tracking part (face: tracking.h).
 *
 * et_json_pg_double: PostgreSQL's float8 text as MLflow's JSON (non-finite values as
 * strings), for get-history, which writes JSON text directly rather than a tree. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "tracking.h"

enum core_status et_json_pg_double(struct core_buf *b, const char *pg)
{
	if (strcmp(pg, "NaN") == 0 || strcmp(pg, "Infinity") == 0 || strcmp(pg, "-Infinity") == 0) {
		enum core_status rc = core_buf_append(b, "\"", 1);
		if (rc == CORE_OK)
			rc = core_buf_append_str(b, pg);
		return rc == CORE_OK ? core_buf_append(b, "\"", 1) : rc;
	}
	return core_buf_append_str(b, pg);
}
