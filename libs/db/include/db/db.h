/* db: PostgreSQL for Lathe's daemons, through libpq. The module's face.
 *
 *   pool       a fixed set of connections, made lazily and remade after the server
 *              restarts; borrowed one at a time (db_acquire / db_release)
 *   statements named prepared statements, one `static const struct db_stmt` per query
 *              next to the code that binds it (docs/style.md §9, §10), prepared once per connection
 *   db_run_tx  the one way to run a transaction: BEGIN, callback, COMMIT, retry (docs/style.md §11)
 *   db_migrate numbered SQL files, each applied once per schema and component
 *
 * Every call that talks to the server answers with the row count (>= 0) or a negative
 * enum db_status saying what to do next (docs/style.md §5), and fills a struct core_error with
 * the SQLSTATE and the server's message. Ownership: a PGresult handed out is the
 * caller's to PQclear(); a db_conn is borrowed from its pool and given back with
 * db_release; strings in configs are borrowed for the call (the pool copies them).
 *
 * Threads: the pool functions (db_pool_open/close excepted), db_run_tx, db_ping and
 * db_migrate may be called from any thread. A borrowed db_conn belongs to the thread
 * that holds it until db_release; it must not be used by two threads at once. */
#ifndef DB_DB_H
#define DB_DB_H
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/embed.h"
#include "core/status.h"

/* Status of a database call (docs/style.md §5, GNUnet/Taler four-way plus two): a call returns
 * the row count (>= 0; DB_NO_RESULTS is 0) or one of the negative codes. */
enum db_status {
	DB_TIMEOUT = -6,     /* the statement ran past the pool's statement_timeout (or was
			      * cancelled; SQLSTATE 57014): the connection stays usable; answer
			      * 503 without retrying (the same work would time out again) */
	DB_ROLLBACK = -5,    /* returned by a db_tx_fn that found the request wrong part-way
			      * (unknown id, a changed param): roll back, do not retry, log
			      * nothing; the callback has recorded why for its handler */
	DB_CONSTRAINT = -4,  /* integrity constraint violated (SQLSTATE class 23, e.g. 23505
			      * unique): the handler decides (e.g. RESOURCE_ALREADY_EXISTS);
			      * err and db_conn_constraint() name the constraint */
	DB_UNAVAILABLE = -3, /* the server cannot be reached / the connection broke: answer
			      * 503 TEMPORARILY_UNAVAILABLE, try later */
	DB_HARD_ERROR = -2,  /* our bug or a real failure: 500 */
	DB_SOFT_ERROR = -1,  /* serialization failure (40001) or deadlock (40P01): retry the
			      * transaction (db_run_tx does) */
	DB_NO_RESULTS = 0,
	DB_ONE_RESULT = 1,
};

/* Returns a static name for a status: "DB_TIMEOUT", "DB_CONSTRAINT", ..., "DB_NO_RESULTS",
 * "DB_ONE_RESULT", "DB_ROWS" for counts above 1, "DB_UNKNOWN" for other negatives.
 * Never NULL; thread-safe. */
const char *db_strerror(int status);

/* --- pool ----------------------------------------------------------------------- */

struct db_pool_config {
	const char *url;              /* libpq connection URI or key=value string, borrowed */
	const char *schema;           /* the service's schema: every connection runs SET search_path
				       * TO <schema> (quoted); NULL: leave the default */
	unsigned size;                /* connections (1..1000); the daemon sizes it to its HTTP
				       * thread pool */
	unsigned acquire_timeout_ms;  /* 0: 5000 */
	unsigned connect_timeout_s;   /* 0: 3 (libpq connect_timeout; libpq treats 1 as 2) */
	const char *application_name; /* shown in pg_stat_activity, may be NULL */
	/* PostgreSQL's statement_timeout for every connection of the pool, so no query
	 * holds a connection (and a worker) for ever: a statement running longer is
	 * cancelled by the server and its call answers DB_TIMEOUT. 0: no limit. db_migrate
	 * lifts it for its own work (a migration may rightly take long). */
	unsigned statement_timeout_ms;
};

struct db_pool;
struct db_conn;

/* Creates a pool. Opening never needs the server to be up: connections are made
 * lazily, so a daemon starts (and serves /healthz, answers 503) while PostgreSQL is
 * down.
 *   cfg  read during the call only (strings are copied)
 *   out  [out] the new pool, which the caller frees with db_pool_close; untouched on
 *        failure
 * Returns CORE_OK; CORE_EINVAL when cfg has no url, a url libpq cannot parse, or a size
 * of 0 or above 1000 (err says which). Thread-safety: call before sharing the pool. */
enum core_status db_pool_open(const struct db_pool_config *cfg, struct db_pool **out, struct core_error *err);

/* Closes every connection and frees the pool. All connections must have been released:
 * closing a pool with a borrowed connection is a bug, logged at error before abort().
 * NULL is fine. Thread-safety: no other thread may use the pool any more. */
void db_pool_close(struct db_pool *pool);

/* Borrows a connection, waiting up to acquire_timeout_ms for one to be free, and
 * (re)connecting it when it was never connected, broke, or went stale while idle (the
 * server closed it, e.g. on restart). The connection is idle (no transaction open) and
 * its search_path is the pool's schema.
 * Returns the connection, to give back with db_release; NULL when none became free
 * within the timeout or the server cannot be reached (err says which, and the failure
 * is logged at warn): answer 503. Thread-safe; the connection then belongs to the
 * calling thread. */
struct db_conn *db_acquire(struct db_pool *pool, struct core_error *err);

/* Gives a connection back to its pool. A transaction left open is rolled back; a
 * connection found broken, or left mid-COPY, is closed and remade by a later acquire.
 * PGresults obtained through it stay valid (they are independent of the connection).
 * NULL is fine. Call once, from the borrowing thread: releasing a connection that is not
 * borrowed is a bug, logged at error before abort(). */
void db_release(struct db_conn *conn);

/* Whether the server answers SELECT 1 right now, within the connect timeout (for
 * /readyz). Uses an idle pooled connection when there is one (healing a stale one),
 * else a short-lived extra connection, so a busy pool still reports ready. NULL pool:
 * false. Thread-safe. */
bool db_ping(struct db_pool *pool);

/* --- statements ----------------------------------------------------------------- */

/* A named prepared statement. Declared `static const` next to the code that binds it
 * (one function per query, docs/style.md §9); prepared lazily, once per connection, and again
 * after a reconnect (each connection keeps the set of names it has prepared, emptied
 * when it reconnects). Names are unique per program: one name with two different SQL
 * texts is refused (DB_HARD_ERROR). Parameter types are inferred by the server; cast in
 * the SQL ($1::bigint) where inference is ambiguous. */
struct db_stmt {
	const char *name;
	const char *sql;
	int n_params; /* how many $n the SQL uses; params arrays have this many entries */
};

/* Runs st with text parameters.
 *   c        a borrowed connection
 *   params   st->n_params strings (NULL entry = SQL NULL); may be NULL when n_params is 0
 *   res_out  [out] may be NULL; on success gets the PGresult, which the caller
 *            PQclear()s; on failure gets NULL
 *   err      [out] may be NULL; on failure says what (statement name, SQLSTATE, message
 *            and, for DB_CONSTRAINT, the constraint)
 * Returns the number of rows returned (SELECT / ... RETURNING) or affected (INSERT,
 * UPDATE, DELETE; 0 for other commands), capped at INT_MAX; or DB_CONSTRAINT,
 * DB_SOFT_ERROR, DB_HARD_ERROR, or DB_UNAVAILABLE (the connection is then marked broken:
 * every later call on it answers DB_UNAVAILABLE at once, and the pool remakes it after
 * db_release). Failures are logged (hard at error, unavailable at warn, others debug).
 * Only the borrowing thread may call it; st is read, not kept (the connection copies
 * the name and SQL it prepares). */
int db_exec(struct db_conn *c, const struct db_stmt *st, const char *const *params, PGresult **res_out,
	    struct core_error *err);

/* The same with lengths and formats (binary parameters, bytea): values[i] is lengths[i]
 * bytes when formats[i] is 1 (binary), a NUL-terminated string when 0; lengths and
 * formats may be NULL (all text). Results come back in text format. Same returns,
 * ownership and threading as db_exec. */
int db_exec_bin(struct db_conn *c, const struct db_stmt *st, const char *const *values, const int *lengths,
		const int *formats, PGresult **res_out, struct core_error *err);

/* Runs plain SQL with no parameters (migrations, BEGIN/COMMIT, SET); sql may hold
 * several statements (the last one's count is returned). Same return convention. COPY
 * ... FROM STDIN / TO STDOUT returns 0 with the connection in COPY mode: continue on
 * db_conn_pg(c). Never build sql from client input: that is what db_exec is for.
 * Only the borrowing thread may call it. */
int db_exec_sql(struct db_conn *c, const char *sql, struct core_error *err);

/* Runs SQL whose shape is decided at run time (a search filter compiled to SQL) as an
 * unnamed statement, parsed on every call, with n_params text parameters (NULL = SQL
 * NULL). The SQL must be assembled from the program's own fragments only: every value
 * that came from a client travels as a parameter. Fixed queries use db_exec, which
 * prepares once. Same return convention and failure handling as db_exec: rows
 * returned or affected, or a negative db_status (db_conn_sqlstate tells which error).
 * Only the borrowing thread may call it. */
int db_exec_dynamic(struct db_conn *c, const char *sql, int n_params, const char *const *params, PGresult **res_out,
		    struct core_error *err);

/* A cursor over SQL decided at run time (the same rules as db_exec_dynamic: client
 * values only as parameters), for a caller that reads rows in chunks and may stop
 * early: rows never fetched never leave the server nor fill memory. Only inside a
 * transaction (a db_run_tx callback), one cursor per connection at a time; the
 * transaction's end closes it, or db_cursor_close does.
 *   db_cursor_open   DECLAREs it; returns 0 or a negative db_status
 *   db_cursor_fetch  the next n rows (n >= 1) in *res_out (the caller PQclear()s it);
 *                    returns how many came (fewer than n: the rows ran out) or a
 *                    negative db_status
 * Same failure handling as db_exec. Only the borrowing thread may call them. */
int db_cursor_open(struct db_conn *c, const char *sql, int n_params, const char *const *params, struct core_error *err);
int db_cursor_fetch(struct db_conn *c, int n, PGresult **res_out, struct core_error *err);
int db_cursor_close(struct db_conn *c, struct core_error *err);

/* The libpq connection behind c, for COPY and the like (borrowed: never PQfinish it;
 * valid until db_release). Leaving it mid-COPY makes db_release close it. */
PGconn *db_conn_pg(struct db_conn *c);

/* The SQLSTATE ("23505") and the constraint name of the last call on c that failed,
 * or "" when the last call succeeded or the server named none. Borrowed, valid until
 * the next call on c. For handlers that tell constraints apart inside a db_tx_fn.
 * Never NULL (c NULL gives ""). Only the borrowing thread may call them. */
const char *db_conn_sqlstate(const struct db_conn *c);
const char *db_conn_constraint(const struct db_conn *c);

/* --- results -------------------------------------------------------------------- */

/* Reads column col of row row as a signed 64-bit decimal integer (int2/int4/int8 in
 * text format). Returns CORE_OK and sets *out; CORE_ENOENT when the value is SQL NULL;
 * CORE_EINVAL when row/col are out of range or the text is not an integer (err says
 * which; err may be NULL). *out is unchanged on failure. Touches only res: safe from
 * any thread that may read res. */
enum core_status db_get_int64(const PGresult *res, int row, int col, int64_t *out, struct core_error *err);

/* The text of a value (borrowed from res: valid until PQclear), or NULL when it is SQL
 * NULL or row/col are out of range. Touches only res. */
const char *db_get_text(const PGresult *res, int row, int col);

/* --- transactions --------------------------------------------------------------- */

/* DB_AUTOCOMMIT sends no BEGIN and no COMMIT: each statement of the body is a
 * transaction of its own, so it is for bodies that write in one statement (one round
 * trip instead of three). A statement that failed wrote nothing, so the body may read
 * around its write or try another form of it; it must never write in two. */
enum db_isolation { DB_READ_COMMITTED, DB_REPEATABLE_READ, DB_SERIALIZABLE, DB_AUTOCOMMIT };

/* How many times db_run_tx retries a transaction that ended in DB_SOFT_ERROR. */
#define DB_TX_RETRIES 5

/* A transaction body: runs its statements on c (which is inside BEGIN) and returns
 * >= 0 to commit (that value becomes db_run_tx's result), or a negative db_status to
 * roll back (DB_SOFT_ERROR: retry the whole transaction). Returning >= 0 after a
 * statement failed is a bug: db_run_tx then rolls back and answers DB_HARD_ERROR. */
typedef int (*db_tx_fn)(struct db_conn *c, void *cls);

/* Runs fn in a transaction (docs/style.md §11). Acquires a connection, BEGINs at iso, calls fn,
 * COMMITs (a serialization failure at COMMIT is soft too). Soft errors are retried up to
 * DB_TX_RETRIES times after a little random backoff (a few ms, doubling). A connection
 * that turns out broken before COMMIT (e.g. PostgreSQL restarted: the pooled connection
 * was stale though the server is back) is retried ONCE, at once, on a fresh connection:
 * the server has rolled that attempt back, so this is safe. A connection lost during
 * COMMIT is not retried (the outcome is unknown).
 * Under DB_AUTOCOMMIT there is no BEGIN and no COMMIT: soft errors are retried as above
 * (the failed statement wrote nothing), but a connection lost in the body is not (its
 * statement may have committed), and a body that leaves a transaction open gets
 * DB_HARD_ERROR after a ROLLBACK.
 *   name  for logs and err ("create_dataset"), borrowed
 *   cls   passed to fn
 *   err   [out] may be NULL; on failure the last failure's message, prefixed by name
 * Returns fn's result on commit; DB_UNAVAILABLE when no connection could be had; or the
 * negative status of the last failure (fn's own, or BEGIN's/COMMIT's). fn may run
 * several times: it must not keep side effects outside the transaction (reset its
 * output slots at the top). Thread-safe; fn runs in the calling thread, on a connection
 * borrowed for the attempt (never keep c beyond fn). */
int db_run_tx(struct db_pool *pool, const char *name, enum db_isolation iso, db_tx_fn fn, void *cls,
	      struct core_error *err);

/* --- parameter text (params.c) ------------------------------------------------- */

/* Decimal text of an int64 parameter, held in caller storage:
 *   struct db_i64 id; const char *params[] = {db_i64(&id, run_id)}; */
struct db_i64 {
	char text[24];
};
const char *db_i64(struct db_i64 *t, int64_t v);

/* A PostgreSQL array literal built element by element, for $n::text[] (or ::bigint[])
 * parameters that a statement unnests: n rows in one statement. Failure
 * (256 MiB reached, no memory) is sticky and reported once, by db_arr_end. */
struct db_arr {
	struct core_buf b;
	size_t n;
	bool failed;
};
void db_arr_init(struct db_arr *a);
void db_arr_add_str(struct db_arr *a, const char *s, size_t len); /* s NULL: SQL NULL */
void db_arr_add_i64(struct db_arr *a, int64_t v);
/* Closes the literal; returns its text (borrowed from a) or NULL when any step failed. */
const char *db_arr_end(struct db_arr *a);
void db_arr_free(struct db_arr *a);

/* The same for float8[] and bigint[] in PostgreSQL's binary array format, passed to
 * db_exec_bin with format 1 (the statement casts the parameter: $n::float8[]): no
 * number is printed by us nor parsed by the server, and every double (NaN, -0, the
 * infinities) arrives bit for bit. One element type per array, chosen at init. */
enum db_barr_type { DB_BARR_F64, DB_BARR_I64 };
struct db_barr {
	struct core_buf b;
	size_t n;
	enum db_barr_type type;
	bool failed;
};
void db_barr_init(struct db_barr *a, enum db_barr_type type);
void db_barr_add_f64(struct db_barr *a, double v);  /* DB_BARR_F64 arrays only */
void db_barr_add_i64(struct db_barr *a, int64_t v); /* DB_BARR_I64 arrays only */
/* Completes the array; returns its bytes (borrowed from a) and their count in *len, or
 * NULL when any step failed (a type mismatch included). */
const char *db_barr_end(struct db_barr *a, int *len);
void db_barr_free(struct db_barr *a);

/* --- migrations ----------------------------------------------------------------- */

/* Brings schema up to date with files (docs/style.md: schema changes only through numbered
 * migration files).
 *   schema     the schema the files build (created if missing); the files' unqualified
 *              names land there (search_path is set to it for each file)
 *   component  the migration track: "service" for the daemon's own files, a library's
 *              name ("bus.outbox") for its files, so tracks in one schema stay apart
 *   files      name-ordered array ending with name == NULL (core/embed.h), each named
 *              "NNNN-what.sql" (version = the leading number, > 0); versions must be
 *              strictly increasing. A file must not BEGIN/COMMIT itself, nor use
 *              statements that cannot run in a transaction block.
 * Takes a session-level pg_advisory_lock keyed on the schema (two replicas starting
 * together never race: the second waits, then finds the work done), CREATE SCHEMA IF NOT
 * EXISTS, creates <schema>.lathe_migrations (component, version, name, applied_at) if
 * missing, then applies each file whose (component, version) is not recorded, each in
 * its own transaction together with its record, in order, logging each at info.
 * Returns CORE_OK; CORE_EINVAL for a bad file list (nothing touched); CORE_EIO when the
 * server is unreachable or a file fails (err names it; that file's transaction is rolled
 * back, earlier files stay applied, later ones are not tried). Thread-safe, and safe
 * across processes: callers for one schema run one after another. Borrows one pool
 * connection for the whole run (held while waiting for the lock). */
enum core_status db_migrate(struct db_pool *pool, const char *schema, const char *component,
			    const struct core_embedded_file *files, struct core_error *err);
#endif
