/* Running SQL on a borrowed connection (face: db/db.h: db_exec, db_exec_bin,
 * db_exec_sql, db_conn_pg).
 *
 * Named statements are prepared lazily (docs/style.md §10): each connection keeps the set of
 * names it has prepared (a small open-addressing table of owned name/SQL copies), so a
 * statement costs one PQprepare per connection, on its first use there, and execution
 * after that sends only the name and the parameters. pool.c empties the set whenever a
 * connection is replaced (db_int_prepared_free), which is how statements come back after
 * a reconnect. A name seen again with different SQL is refused rather than silently
 * running the first text.
 *
 * Every call ends in finish(): a count on success (rows returned, or rows affected as
 * PQcmdTuples says), or status.c's classification on failure. A connection marked
 * broken answers DB_UNAVAILABLE without touching the network until it is released. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "db_int.h"

#define PREP_MIN_CAP 16

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

/* The slot holding name, or the empty slot where it would go. c->prep_cap > 0. */
static struct db_int_prepared *prep_slot(struct db_int_prepared *table, size_t cap, const char *name)
{
	size_t i = (size_t)name_hash(name) & (cap - 1);

	while (table[i].name && strcmp(table[i].name, name) != 0)
		i = (i + 1) & (cap - 1);
	return &table[i];
}

static void prep_add(struct db_conn *c, const char *name, const char *sql)
{
	struct db_int_prepared *slot;

	if ((c->prep_len + 1) * 2 > c->prep_cap) {
		size_t cap = c->prep_cap ? c->prep_cap * 2 : PREP_MIN_CAP;
		struct db_int_prepared *table = core_xcalloc(cap, sizeof *table);

		for (size_t i = 0; i < c->prep_cap; i++)
			if (c->prep[i].name)
				*prep_slot(table, cap, c->prep[i].name) = c->prep[i];
		free(c->prep);
		c->prep = table;
		c->prep_cap = cap;
	}
	slot = prep_slot(c->prep, c->prep_cap, name);
	slot->name = core_xstrdup(name);
	slot->sql = core_xstrdup(sql);
	c->prep_len++;
}

void db_int_prepared_free(struct db_conn *c)
{
	for (size_t i = 0; i < c->prep_cap; i++) {
		free(c->prep[i].name);
		free(c->prep[i].sql);
	}
	free(c->prep);
	c->prep = NULL;
	c->prep_cap = 0;
	c->prep_len = 0;
}

/* The count a successful result stands for. */
static int result_count(const PGresult *r)
{
	const char *tuples;
	long long n;

	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return PQntuples(r);
	tuples = PQcmdTuples((PGresult *)r);
	if (!tuples || !*tuples)
		return 0;
	n = strtoll(tuples, NULL, 10);
	if (n < 0)
		return 0;
	return n > INT_MAX ? INT_MAX : (int)n;
}

/* Turns a libpq result into the db_exec convention and hands it out or frees it. */
static int finish(struct db_conn *c, PGresult *r, const char *what, PGresult **res_out, struct core_error *err)
{
	int rc;

	switch (PQresultStatus(r)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
	case PGRES_EMPTY_QUERY:
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
	case PGRES_COPY_BOTH:
		rc = result_count(r);
		break;
	default:
		rc = db_int_fail_result(c, r, what, err);
		PQclear(r);
		return rc;
	}
	if (res_out)
		*res_out = r;
	else
		PQclear(r);
	return rc;
}

/* Common entry checks. Returns 0 when c can take a call, else the failure. */
static int usable(struct db_conn *c, const char *what, PGresult **res_out, struct core_error *err)
{
	if (res_out)
		*res_out = NULL;
	if (!c) {
		core_fail(err, CORE_EINVAL, "db: %s without a connection", what);
		return DB_HARD_ERROR;
	}
	db_int_clear_error(c);
	if (!c->pg || c->broken)
		return db_int_fail(c, DB_UNAVAILABLE, err, "%s: the connection broke earlier in this borrow", what);
	return 0;
}

/* Prepares st on c unless it already is. Returns 0 or a negative db_status. */
static int ensure_prepared(struct db_conn *c, const struct db_stmt *st, const char *what, struct core_error *err)
{
	struct db_int_prepared *slot;
	PGresult *r = NULL;
	int rc = 0;

	if (c->prep_cap) {
		slot = prep_slot(c->prep, c->prep_cap, st->name);
		if (slot->name) {
			if (strcmp(slot->sql, st->sql) != 0)
				rc = db_int_fail(c, DB_HARD_ERROR, err,
						 "%s: the name is already used by a statement with different SQL",
						 what);
			goto out;
		}
	}
	r = PQprepare(c->pg, st->name, st->sql, st->n_params, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		rc = db_int_fail_result(c, r, what, err);
		goto out;
	}
	prep_add(c, st->name, st->sql);
out:
	PQclear(r);
	return rc;
}

int db_exec_bin(struct db_conn *c, const struct db_stmt *st, const char *const *values, const int *lengths,
		const int *formats, PGresult **res_out, struct core_error *err)
{
	char what[96];
	int rc;

	snprintf(what, sizeof what, "stmt %s", st && st->name ? st->name : "(null)");
	rc = usable(c, what, res_out, err);
	if (rc < 0)
		return rc;
	if (!st || !st->name || !*st->name || !st->sql || st->n_params < 0 || (st->n_params > 0 && !values))
		return db_int_fail(c, DB_HARD_ERROR, err, "%s: bad statement or missing parameters", what);
	rc = ensure_prepared(c, st, what, err);
	if (rc < 0)
		return rc;
	return finish(c, PQexecPrepared(c->pg, st->name, st->n_params, values, lengths, formats, 0), what, res_out,
		      err);
}

int db_exec(struct db_conn *c, const struct db_stmt *st, const char *const *params, PGresult **res_out,
	    struct core_error *err)
{
	return db_exec_bin(c, st, params, NULL, NULL, res_out, err);
}

/* Names a piece of plain SQL for messages: its start, on one line. */
static void describe_sql(char *out, size_t size, const char *sql)
{
	snprintf(out, size, "sql \"%.48s%s\"", sql ? sql : "(null)", sql && strlen(sql) > 48 ? "..." : "");
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

int db_exec_sql(struct db_conn *c, const char *sql, struct core_error *err)
{
	char what[80];
	int rc;

	describe_sql(what, sizeof what, sql);
	rc = usable(c, what, NULL, err);
	if (rc < 0)
		return rc;
	if (!sql)
		return db_int_fail(c, DB_HARD_ERROR, err, "%s: no SQL", what);
	return finish(c, PQexec(c->pg, sql), what, NULL, err);
}

int db_exec_dynamic(struct db_conn *c, const char *sql, int n_params, const char *const *params, PGresult **res_out,
		    struct core_error *err)
{
	char what[80];
	int rc;

	describe_sql(what, sizeof what, sql);
	rc = usable(c, what, res_out, err);
	if (rc < 0)
		return rc;
	return finish(c, PQexecParams(c->pg, sql, n_params, NULL, params, NULL, NULL, 0), what, res_out, err);
}

PGconn *db_conn_pg(struct db_conn *c)
{
	return c ? c->pg : NULL;
}
