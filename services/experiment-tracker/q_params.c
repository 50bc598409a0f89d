/* Queries on tracker.params (one function per statement, named as it; face: et.h). Params are write-once: a
 * writer first looks for a key already logged with another value (the run row is
 * locked, so no other writer can slip in between), then inserts the rest, ignoring
 * keys logged before with the same value. */
#include "et.h"

static const struct db_stmt params_conflict = {
	.name = "et_q_params_conflict",
	.sql = "SELECT p.key, p.value, u.v FROM unnest($2::text[], $3::text[]) AS u(k, v) "
	       "JOIN params p ON p.run_id = $1 AND p.key = u.k WHERE p.value <> u.v LIMIT 1",
	.n_params = 3,
};

int et_q_params_conflict(struct db_conn *c, const char *run_id, const char *keys, const char *values,
			 PGresult **res_out, struct core_error *err)
{
	const char *params[3] = {run_id, keys, values};
	return db_exec(c, &params_conflict, params, res_out, err);
}

static const struct db_stmt params_insert = {
	.name = "et_q_params_insert",
	.sql = "INSERT INTO params (run_id, key, value) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS u(k, v) "
	       "ON CONFLICT (run_id, key) DO NOTHING",
	.n_params = 3,
};

int et_q_params_insert(struct db_conn *c, const char *run_id, const char *keys, const char *values,
		       struct core_error *err)
{
	const char *params[3] = {run_id, keys, values};
	return db_exec(c, &params_insert, params, NULL, err);
}
