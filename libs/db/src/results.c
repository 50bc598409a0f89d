/* Reading values out of a PGresult (face: db/db.h: db_get_int64, db_get_text).
 *
 * Results arrive in text format; these helpers tell SQL NULL apart from "" (which libpq's
 * PQgetvalue does not) and parse integers strictly (the whole text, in range), so a
 * q_*.c function reads its columns in one line each. They never touch a connection. */
#include <errno.h>
#include <stdlib.h>
#include "db/db.h"

static bool in_range(const PGresult *res, int row, int col)
{
	return res && row >= 0 && col >= 0 && row < PQntuples(res) && col < PQnfields(res);
}

enum core_status db_get_int64(const PGresult *res, int row, int col, int64_t *out, struct core_error *err)
{
	const char *text;
	char *end = NULL;
	long long v;

	if (!in_range(res, row, col))
		return core_fail(err, CORE_EINVAL, "db: no value at row %d, column %d", row, col);
	if (PQgetisnull(res, row, col))
		return core_fail(err, CORE_ENOENT, "db: column %s is NULL", PQfname(res, col));
	text = PQgetvalue(res, row, col);
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return core_fail(err, CORE_EINVAL, "db: column %s is not a 64-bit integer: '%.40s'", PQfname(res, col),
				 text);
	*out = (int64_t)v;
	return CORE_OK;
}

const char *db_get_text(const PGresult *res, int row, int col)
{
	if (!in_range(res, row, col) || PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}
