/* Status names and error classification for libs/db (face: db/db.h, db_strerror).
 *
 * Every failed server call ends here: db_int_fail_result reads the SQLSTATE, decides
 * which of the four negative statuses it is (docs/style.md §5), records it on the connection
 * (db_conn_sqlstate / db_conn_constraint, and the message db_run_tx reports), fills the
 * caller's core_error and logs once. The rule, in order:
 *   connection no longer CONNECTION_OK          -> DB_UNAVAILABLE (mark broken)
 *   40001 serialization, 40P01 deadlock         -> DB_SOFT_ERROR
 *   57014 query_canceled (statement_timeout)    -> DB_TIMEOUT
 *   class 23 integrity constraint               -> DB_CONSTRAINT
 *   class 08 (but 08P01 protocol violation),
 *   57P01..57P03 shutdown / cannot connect now  -> DB_UNAVAILABLE (mark broken)
 *   anything else, or no SQLSTATE               -> DB_HARD_ERROR
 * Hard errors log at error, except class 22 (a value refused: usually a client's) at
 * warn; unavailable and timeouts at warn; the rest at debug.
 * Callers: stmt.c (every exec), tx.c, migrate.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/log.h"
#include "db_int.h"

const char *db_strerror(int status)
{
	switch (status) {
	case DB_TIMEOUT:
		return "DB_TIMEOUT";
	case DB_ROLLBACK:
		return "DB_ROLLBACK";
	case DB_CONSTRAINT:
		return "DB_CONSTRAINT";
	case DB_UNAVAILABLE:
		return "DB_UNAVAILABLE";
	case DB_HARD_ERROR:
		return "DB_HARD_ERROR";
	case DB_SOFT_ERROR:
		return "DB_SOFT_ERROR";
	case DB_NO_RESULTS:
		return "DB_NO_RESULTS";
	case DB_ONE_RESULT:
		return "DB_ONE_RESULT";
	default:
		return status > 1 ? "DB_ROWS" : "DB_UNKNOWN";
	}
}

const char *db_conn_sqlstate(const struct db_conn *c)
{
	return c ? c->sqlstate : "";
}

const char *db_conn_constraint(const struct db_conn *c)
{
	return c ? c->constraint : "";
}

void db_int_trim_copy(char *out, size_t size, const char *s)
{
	size_t n;

	snprintf(out, size, "%s", s ? s : "");
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\r'))
		out[--n] = '\0';
	/* one line: libpq breaks its hints with "\n\t"; each run of those becomes a space */
	n = 0;
	for (const char *p = out; *p; p++) {
		bool blank = *p == '\n' || *p == '\r' || *p == '\t';

		if (!blank)
			out[n++] = *p;
		else if (n > 0 && out[n - 1] != ' ')
			out[n++] = ' ';
	}
	out[n] = '\0';
}

void db_int_clear_error(struct db_conn *c)
{
	c->sqlstate[0] = '\0';
	c->constraint[0] = '\0';
	c->last_err.message[0] = '\0';
}

static int classify(const PGconn *pg, const char *sqlstate)
{
	static const char *const unavailable[] = {"57P01", "57P02", "57P03"};

	if (!pg || PQstatus(pg) != CONNECTION_OK)
		return DB_UNAVAILABLE;
	if (!sqlstate || strlen(sqlstate) != 5)
		return DB_HARD_ERROR;
	if (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0)
		return DB_SOFT_ERROR;
	if (strcmp(sqlstate, "57014") == 0)
		return DB_TIMEOUT;
	if (strncmp(sqlstate, "23", 2) == 0)
		return DB_CONSTRAINT;
	if (strncmp(sqlstate, "08", 2) == 0 && strcmp(sqlstate, "08P01") != 0)
		return DB_UNAVAILABLE;
	for (size_t i = 0; i < sizeof unavailable / sizeof unavailable[0]; i++)
		if (strcmp(sqlstate, unavailable[i]) == 0)
			return DB_UNAVAILABLE;
	return DB_HARD_ERROR;
}

static enum core_log_level level_for(int status)
{
	switch (status) {
	case DB_HARD_ERROR:
		return CORE_LOG_ERROR;
	case DB_UNAVAILABLE:
	case DB_TIMEOUT:
		return CORE_LOG_WARN;
	default:
		return CORE_LOG_DEBUG;
	}
}

static void log_failure(const struct db_conn *c, int status)
{
	struct core_log_field f[] = {
		CORE_LF_STR("status", db_strerror(status)),
		CORE_LF_STR("sqlstate", c->sqlstate),
	};

	enum core_log_level level = level_for(status);
	/* Class 22 (data exception) is the server refusing a parameter's value, which
	 * nearly always came from a client (a LIKE pattern ending in '\', a number out of
	 * range): the caller answers 400, so it is no fault of ours. */
	if (level == CORE_LOG_ERROR && strncmp(c->sqlstate, "22", 2) == 0)
		level = CORE_LOG_WARN;
	core_log_with(level, f, sizeof f / sizeof f[0], "db: %s", c->last_err.message);
}

int db_int_fail_result(struct db_conn *c, const PGresult *res, const char *what, struct core_error *err)
{
	char message[400];
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int status = classify(c->pg, sqlstate);

	if (!primary && res)
		primary = PQresultErrorMessage(res);
	if ((!primary || !*primary) && c->pg)
		primary = PQerrorMessage(c->pg);
	db_int_trim_copy(message, sizeof message, primary && *primary ? primary : "no result from libpq");
	snprintf(c->sqlstate, sizeof c->sqlstate, "%s", sqlstate ? sqlstate : "");
	snprintf(c->constraint, sizeof c->constraint, "%s", constraint ? constraint : "");
	if (sqlstate && constraint)
		core_fail(&c->last_err, CORE_EIO, "%s: SQLSTATE %s: %s (constraint %s)", what, sqlstate, message,
			  constraint);
	else if (sqlstate)
		core_fail(&c->last_err, CORE_EIO, "%s: SQLSTATE %s: %s", what, sqlstate, message);
	else
		core_fail(&c->last_err, CORE_EIO, "%s: %s", what, message);
	if (status == DB_UNAVAILABLE)
		c->broken = true;
	if (err)
		*err = c->last_err;
	log_failure(c, status);
	return status;
}

int db_int_fail(struct db_conn *c, int status, struct core_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->last_err.message, sizeof c->last_err.message, fmt, ap);
	va_end(ap);
	c->sqlstate[0] = '\0';
	c->constraint[0] = '\0';
	if (status == DB_UNAVAILABLE)
		c->broken = true;
	if (err)
		*err = c->last_err;
	log_failure(c, status);
	return status;
}
