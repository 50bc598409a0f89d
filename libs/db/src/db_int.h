/* Private to libs/db: the pool and connection structs, shared by pool.c (lifecycle),
 * stmt.c (execution), tx.c and migrate.c, and the helpers status.c offers them for
 * turning a failed libpq call into an enum db_status. Never included from outside. */
#ifndef DB_INT_H
#define DB_INT_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "db/db.h"

/* A statement this connection has prepared; name and sql are owned copies. */
struct db_int_prepared {
	char *name;
	char *sql;
};

struct db_conn {
	struct db_pool *pool;
	PGconn *pg;          /* NULL: not connected (never yet, or closed after breaking) */
	bool broken;         /* a call during this borrow found it unusable */
	bool in_use;         /* borrowed (between db_acquire and db_release) */
	uint64_t generation; /* successful connects so far (for logs) */
	/* statements prepared on the current PGconn: open addressing on name, cap a power
	 * of two (or 0), at most half full; emptied whenever pg is replaced */
	struct db_int_prepared *prep;
	size_t prep_cap, prep_len;
	/* the last call's failure; all empty after a success */
	char sqlstate[6];
	char constraint[64]; /* NAMEDATALEN */
	struct core_error last_err;
};

struct db_pool {
	char *url;
	char *schema;   /* NULL: leave search_path alone */
	char *app_name; /* NULL: libpq's default */
	unsigned size;
	unsigned acquire_timeout_ms;
	unsigned connect_timeout_s;
	unsigned statement_timeout_ms; /* 0: none */
	pthread_mutex_t lock;          /* guards idle, n_idle and each conn's in_use */
	pthread_cond_t freed;          /* signalled when a connection goes back to idle */
	struct db_conn *conns;         /* size entries, fixed for the pool's life */
	struct db_conn **idle;         /* stack of free connections: the last pushed goes out first */
	unsigned n_idle;
};

/* status.c: records a failure on c (sqlstate, constraint, last_err) and copies the
 * message to err. res may be NULL (no result at all). The status comes from the
 * SQLSTATE and the connection's state; DB_UNAVAILABLE marks c broken. what names the
 * statement for the message ("stmt insert_run", "sql \"BEGIN\""). Logs the failure
 * (hard at error, unavailable at warn, others at debug). Returns the status. */
int db_int_fail_result(struct db_conn *c, const PGresult *res, const char *what, struct core_error *err);

/* status.c: records a failure that did not come from the server (bad argument, broken
 * connection, name clash) with the given status; formats like core_fail. */
int db_int_fail(struct db_conn *c, int status, struct core_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* status.c: clears c's record of the last failure (at the start of each call). */
void db_int_clear_error(struct db_conn *c);

/* status.c: copies s into out (size bytes) as one line: trailing newlines and spaces
 * dropped (libpq messages end with "\n"), inner newlines and tabs made spaces. */
void db_int_trim_copy(char *out, size_t size, const char *s);

/* stmt.c: forgets every prepared statement and frees the set (the PGconn is being
 * replaced or closed). */
void db_int_prepared_free(struct db_conn *c);
#endif
