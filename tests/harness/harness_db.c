/* One SQL statement on a daemon's database (face: harness_db.h), for tests that write a
 * row the daemon will read, or count what a request left behind. */
#include "harness_db.h"
#include <check.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

char *th_sql(struct th_daemon *d, const char *schema, const char *text)
{
	PGconn *c = PQconnectdb(d->database_url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	char *path = th_fmt("SET search_path TO %s", schema);
	PQclear(PQexec(c, path));
	free(path);
	PGresult *res = PQexec(c, text);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", text,
		      PQerrorMessage(c));
	char *out = strdup(PQntuples(res) > 0 && PQnfields(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	PQfinish(c);
	return out;
}
