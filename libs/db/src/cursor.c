/* Row streams for queries whose result may be cut short (face: db/db.h, db_cursor_*).
 *
 * A search page with a byte budget must not fetch max_results rows of 900 kB each only
 * to hand out three: PQexecParams reads the whole result into memory. A cursor
 * (DECLARE ... NO SCROLL CURSOR, then FETCH FORWARD n) lets the caller take rows in
 * chunks and stop when its page is full; the rows never fetched never leave the server.
 * The query is the caller's run-time SQL with its $n parameters, as for
 * db_exec_dynamic (PostgreSQL analyses DECLARE's query with the parameters bound).
 * Cursors live until the transaction ends, so these run inside db_run_tx's callback;
 * one open cursor per connection at a time (its name is fixed). Uses stmt.c. */
#include <stdio.h>
#include <stdlib.h>
#include "core/alloc.h"
#include "db_int.h"

#define CURSOR_NAME "db_cursor"

int db_cursor_open(struct db_conn *c, const char *sql, int n_params, const char *const *params, struct core_error *err)
{
	char *declare = core_xasprintf("DECLARE " CURSOR_NAME " NO SCROLL CURSOR FOR %s", sql);
	int rc = db_exec_dynamic(c, declare, n_params, params, NULL, err);
	free(declare);
	return rc < 0 ? rc : 0;
}

int db_cursor_fetch(struct db_conn *c, int n, PGresult **res_out, struct core_error *err)
{
	char fetch[64];
	snprintf(fetch, sizeof fetch, "FETCH FORWARD %d FROM " CURSOR_NAME, n > 0 ? n : 1);
	return db_exec_dynamic(c, fetch, 0, NULL, res_out, err);
}

int db_cursor_close(struct db_conn *c, struct core_error *err)
{
	int rc = db_exec_sql(c, "CLOSE " CURSOR_NAME, err);
	return rc < 0 ? rc : 0;
}
