/* The lineage's statements on jobs (face: the lineage section of tr.h), one function per
 * statement, named as in q_jobs.c. Both read only jobs that registered a model version:
 * the others have no place in a model's lineage. */
#include "tr.h"

static const struct db_stmt tr_q_lineage_job_of_version_stmt = {
	.name = "tr_q_lineage_job_of_version",
	.sql = "SELECT " TR_JOB_COLS " FROM jobs j WHERE j.model_name = $1 AND j.model_version = $2 AND j.registered "
	       "ORDER BY j.created_at DESC, j.id DESC LIMIT 1",
	.n_params = 2,
};

int tr_q_lineage_job_of_version(struct db_conn *c, const char *model, const char *version, PGresult **res,
				struct core_error *err)
{
	const char *params[2] = {model, version};
	return db_exec(c, &tr_q_lineage_job_of_version_stmt, params, res, err);
}

/* The spec's dataset is "name" or "name@ref": compared as text, so a name holding LIKE's
 * wildcards matches only itself. */
static const struct db_stmt tr_q_lineage_jobs_of_dataset_stmt = {
	.name = "tr_q_lineage_jobs_of_dataset",
	.sql = "SELECT " TR_JOB_COLS " FROM jobs j WHERE j.registered AND j.model_version IS NOT NULL "
	       "AND (j.spec->>'dataset' = $1 OR left(j.spec->>'dataset', length($1) + 1) = $1 || '@') "
	       "ORDER BY j.created_at DESC, j.id DESC LIMIT $2::bigint",
	.n_params = 2,
};

int tr_q_lineage_jobs_of_dataset(struct db_conn *c, const char *name, long limit, PGresult **res,
				 struct core_error *err)
{
	struct db_i64 l;
	const char *params[2] = {name, db_i64(&l, limit)};
	return db_exec(c, &tr_q_lineage_jobs_of_dataset_stmt, params, res, err);
}
