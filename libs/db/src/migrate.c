/* Schema migrations (face: db/db.h: db_migrate).
 *
 * A schema changes only through numbered SQL files embedded in the binary. For one
 * (schema, component) track, db_migrate:
 *   1. checks the file list (names "NNNN-what.sql", versions strictly increasing, no
 *      NUL inside) before touching the server;
 *   2. borrows one connection and takes a session-level advisory lock keyed on the
 *      schema (FNV-1a of "lathe.db_migrate:" + schema), so replicas starting together
 *      queue up and the later ones find the work done; the lock is per schema, not per
 *      component, because components share the schema's objects;
 *   3. creates the schema and <schema>.lathe_migrations if missing, reads the versions
 *      already recorded for the component;
 *   4. applies each missing file in its own transaction: BEGIN, SET LOCAL search_path,
 *      the file, the record row, COMMIT; the first failure rolls that file back and stops;
 *   5. unlocks (the server also drops the lock if the connection dies) and releases.
 * SQL here is built around the schema name quoted by PQescapeIdentifier; values go as
 * parameters. Uses stmt.c (db_exec, db_exec_sql, db_exec_dynamic) and pool.c. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/log.h"
#include "db_int.h"

static const struct db_stmt lock_stmt = {
	.name = "db_migrate_lock",
	.sql = "SELECT pg_advisory_lock($1::bigint)",
	.n_params = 1,
};

static const struct db_stmt unlock_stmt = {
	.name = "db_migrate_unlock",
	.sql = "SELECT pg_advisory_unlock($1::bigint)",
	.n_params = 1,
};

/* Reads the version from "NNNN-what.sql". Returns false when the name has no leading
 * number followed by '-', or the number is 0 or beyond INT_MAX. */
static bool parse_version(const char *name, int *out)
{
	long v = 0;
	size_t i = 0;

	for (; name[i] >= '0' && name[i] <= '9'; i++) {
		v = v * 10 + (name[i] - '0');
		if (v > INT_MAX)
			return false;
	}
	if (i == 0 || name[i] != '-' || v == 0)
		return false;
	*out = (int)v;
	return true;
}

/* Checks the list and returns the versions (malloc'd, *n_out entries) in *versions. */
static enum core_status check_files(const struct core_embedded_file *files, int **versions, size_t *n_out,
				    struct core_error *err)
{
	enum core_status rc = CORE_OK;
	size_t n = 0;
	int *v = NULL;

	while (files[n].name)
		n++;
	v = core_xcalloc(n ? n : 1, sizeof *v);
	for (size_t i = 0; i < n; i++) {
		if (!parse_version(files[i].name, &v[i])) {
			rc = core_fail(err, CORE_EINVAL, "db_migrate: %s: name must be NNNN-what.sql with NNNN > 0",
				       files[i].name);
			goto out;
		}
		if (i > 0 && v[i] <= v[i - 1]) {
			rc = core_fail(err, CORE_EINVAL,
				       "db_migrate: %s (version %d) follows %s (version %d): versions must be strictly "
				       "increasing",
				       files[i].name, v[i], files[i - 1].name, v[i - 1]);
			goto out;
		}
		if (!files[i].data || strlen((const char *)files[i].data) != files[i].len) {
			rc = core_fail(err, CORE_EINVAL, "db_migrate: %s has no text or holds a NUL byte",
				       files[i].name);
			goto out;
		}
	}
	*versions = v;
	*n_out = n;
	v = NULL;
out:
	free(v);
	return rc;
}

static int64_t lock_key(const char *schema)
{
	static const char prefix[] = "lathe.db_migrate:";
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (const char *p = prefix; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	for (const char *p = schema; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return (int64_t)h;
}

/* Whether the result of the "applied versions" query holds version. */
static bool recorded(const PGresult *applied, int version)
{
	for (int row = 0; row < PQntuples(applied); row++) {
		int64_t v;

		if (db_get_int64(applied, row, 0, &v, NULL) == CORE_OK && v == version)
			return true;
	}
	return false;
}

/* Logs versions recorded in the database that this binary does not carry (a newer
 * release ran here before): not an error, the schema is ahead of the code. */
static void warn_unknown(const PGresult *applied, const int *versions, size_t n, const char *schema,
			 const char *component)
{
	for (int row = 0; row < PQntuples(applied); row++) {
		int64_t v;
		bool known = false;

		if (db_get_int64(applied, row, 0, &v, NULL) != CORE_OK)
			continue;
		for (size_t i = 0; i < n && !known; i++)
			known = versions[i] == v;
		if (!known)
			core_warn("db: schema %s, component %s: migration %" PRId64
				  " is recorded but unknown to this binary",
				  schema, component, v);
	}
}

/* Applies one file and records it, in one transaction. */
static enum core_status apply_one(struct db_conn *c, const char *set_path, const char *insert_sql,
				  const char *component, const struct core_embedded_file *file, int version,
				  struct core_error *err)
{
	enum core_status rc = CORE_OK;
	char version_text[16];
	const char *params[3] = {component, version_text, file->name};

	snprintf(version_text, sizeof version_text, "%d", version);
	if (db_exec_sql(c, "BEGIN", err) < 0 || db_exec_sql(c, set_path, err) < 0 ||
	    db_exec_sql(c, (const char *)file->data, err) < 0) {
		rc = CORE_EIO;
		goto out;
	}
	if (PQtransactionStatus(db_conn_pg(c)) != PQTRANS_INTRANS) {
		rc = core_fail(err, CORE_EIO, "the file ended the transaction itself (no BEGIN/COMMIT in migrations)");
		goto out;
	}
	if (db_exec_dynamic(c, insert_sql, 3, params, NULL, err) < 0 || db_exec_sql(c, "COMMIT", err) < 0)
		rc = CORE_EIO;
out:
	if (rc != CORE_OK && !c->broken && PQtransactionStatus(db_conn_pg(c)) != PQTRANS_IDLE)
		db_exec_sql(c, "ROLLBACK", NULL);
	return rc;
}

enum core_status db_migrate(struct db_pool *pool, const char *schema, const char *component,
			    const struct core_embedded_file *files, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	struct db_conn *c = NULL;
	bool locked = false;
	int *versions = NULL;
	size_t n_files = 0;
	char key[24];
	const char *key_param[1] = {key};
	const char *component_param[1] = {component};
	char *quoted = NULL, *setup_sql = NULL, *select_sql = NULL, *set_path = NULL, *insert_sql = NULL;
	PGresult *applied = NULL;
	struct core_error e = {{0}}, final;
	const char *step = "";

	if (!pool || !schema || !*schema || !component || !*component || !files) {
		rc = core_fail(err, CORE_EINVAL, "db_migrate: needs a pool, a schema, a component and a file list");
		goto out;
	}
	rc = check_files(files, &versions, &n_files, err);
	if (rc != CORE_OK)
		goto out;
	rc = CORE_EIO; /* until the last file is in: every `goto out` below is a server failure */
	step = "connect";
	c = db_acquire(pool, &e);
	if (!c)
		goto out;
	/* The lock may wait for another replica's migrations, and a file may rightly run
	 * long (an index on a big table): the pool's statement_timeout is lifted here and
	 * put back before the connection returns to the pool. */
	step = "lift statement_timeout";
	if (pool->statement_timeout_ms && db_exec_sql(c, "SET statement_timeout = 0", &e) < 0)
		goto out;
	step = "lock";
	snprintf(key, sizeof key, "%" PRId64, lock_key(schema));
	if (db_exec(c, &lock_stmt, key_param, NULL, &e) < 0)
		goto out;
	locked = true;
	step = "quote schema";
	quoted = PQescapeIdentifier(db_conn_pg(c), schema, strlen(schema));
	if (!quoted) {
		db_int_trim_copy(e.message, sizeof e.message, PQerrorMessage(db_conn_pg(c)));
		goto out;
	}
	step = "create schema";
	setup_sql =
		core_xasprintf("CREATE SCHEMA IF NOT EXISTS %s;\n"
			       "CREATE TABLE IF NOT EXISTS %s.lathe_migrations (\n"
			       "  component text NOT NULL,\n"
			       "  version int NOT NULL,\n"
			       "  name text NOT NULL,\n"
			       "  applied_at timestamptz NOT NULL DEFAULT now(),\n"
			       "  PRIMARY KEY (component, version));\n"
			       "COMMENT ON TABLE %s.lathe_migrations IS\n"
			       "  'Migration files applied to this schema, one row per file (libs/db db_migrate)';\n"
			       "COMMENT ON COLUMN %s.lathe_migrations.component IS\n"
			       "  'Migration track: \"service\" or a library such as \"bus.outbox\"';\n"
			       "COMMENT ON COLUMN %s.lathe_migrations.version IS 'Leading number of the file name';\n"
			       "COMMENT ON COLUMN %s.lathe_migrations.name IS 'File name, e.g. 0001-init.sql';\n"
			       "COMMENT ON COLUMN %s.lathe_migrations.applied_at IS 'When the file was applied'",
			       quoted, quoted, quoted, quoted, quoted, quoted, quoted);
	if (db_exec_sql(c, setup_sql, &e) < 0)
		goto out;
	step = "read applied versions";
	select_sql = core_xasprintf("SELECT version FROM %s.lathe_migrations WHERE component = $1", quoted);
	if (db_exec_dynamic(c, select_sql, 1, component_param, &applied, &e) < 0)
		goto out;
	warn_unknown(applied, versions, n_files, schema, component);
	set_path = core_xasprintf("SET LOCAL search_path TO %s", quoted);
	insert_sql = core_xasprintf(
		"INSERT INTO %s.lathe_migrations (component, version, name) VALUES ($1, $2::int, $3)", quoted);
	for (size_t i = 0; i < n_files; i++) {
		struct core_log_field f[] = {
			CORE_LF_STR("schema", schema),
			CORE_LF_STR("component", component),
			CORE_LF_INT("version", versions[i]),
		};

		if (recorded(applied, versions[i]))
			continue;
		step = files[i].name;
		if (apply_one(c, set_path, insert_sql, component, &files[i], versions[i], &e) != CORE_OK)
			goto out;
		core_log_with(CORE_LOG_INFO, f, sizeof f / sizeof f[0], "db: applied migration %s", files[i].name);
	}
	rc = CORE_OK;
out:
	if (rc == CORE_EIO) {
		core_fail(&final, CORE_EIO, "db_migrate schema %s, component %s: %s: %s", schema, component, step,
			  e.message);
		/* an unreachable server is the operator's business (warn); a failing file is ours */
		core_log(!c || c->broken ? CORE_LOG_WARN : CORE_LOG_ERROR, "%s", final.message);
		if (err)
			*err = final;
	}
	if (locked && !c->broken)
		db_exec(c, &unlock_stmt, key_param, NULL, NULL);
	if (c && !c->broken && pool->statement_timeout_ms) {
		char sql[64];
		snprintf(sql, sizeof sql, "SET statement_timeout = %u", pool->statement_timeout_ms);
		if (db_exec_sql(c, sql, NULL) < 0)
			c->broken = true; /* closed at release, remade with the timeout */
	}
	db_release(c);
	PQclear(applied);
	free(insert_sql);
	free(set_path);
	free(select_sql);
	free(setup_sql);
	PQfreemem(quoted);
	free(versions);
	return rc;
}
