/* Queries on tracker.datasets, tracker.inputs and tracker.input_tags (one function per statement,
 * named as it; face: et.h), as MLflow's SQL store logs inputs: a dataset is one per (experiment,
 * name, digest) and kept as first logged; a run's input of a dataset is made once, and
 * its tags are written only when the input is new. Two statements for any number of
 * datasets: the datasets, then the inputs with their tags. */
#include "et.h"

static const struct db_stmt inputs_datasets_insert = {
	.name = "et_q_inputs_datasets_insert",
	.sql = "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile) "
	       "SELECT $1::bigint, n, d, st, s, sc, p FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], "
	       "$6::text[], $7::text[]) AS u(n, d, st, s, sc, p) "
	       "ON CONFLICT (experiment_id, name, digest) DO NOTHING",
	.n_params = 7,
};

int et_q_inputs_datasets_insert(struct db_conn *c, const char *exp_id, const char *names, const char *digests,
				const char *source_types, const char *sources, const char *schemas,
				const char *profiles, struct core_error *err)
{
	const char *params[7] = {exp_id, names, digests, source_types, sources, schemas, profiles};
	return db_exec(c, &inputs_datasets_insert, params, NULL, err);
}

static const struct db_stmt inputs_insert = {
	.name = "et_q_inputs_insert",
	.sql = "WITH u AS (SELECT * FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS a(n, d, ord)), "
	       "ins AS (INSERT INTO inputs (dataset_id, run_id) "
	       "        SELECT DISTINCT ds.dataset_id, $1 FROM u JOIN datasets ds "
	       "        ON ds.experiment_id = $2::bigint AND ds.name = u.n AND ds.digest = u.d "
	       "        ON CONFLICT (dataset_id, run_id) DO NOTHING RETURNING input_id, dataset_id) "
	       "INSERT INTO input_tags (input_id, key, value) "
	       "SELECT DISTINCT ON (ins.input_id, t.k) ins.input_id, t.k, t.v FROM ins "
	       "JOIN datasets ds ON ds.dataset_id = ins.dataset_id "
	       "JOIN u ON u.n = ds.name AND u.d = ds.digest "
	       "JOIN unnest($5::bigint[], $6::text[], $7::text[]) AS t(idx, k, v) ON t.idx = u.ord "
	       "ORDER BY ins.input_id, t.k, u.ord "
	       "ON CONFLICT (input_id, key) DO NOTHING",
	.n_params = 7,
};

int et_q_inputs_insert(struct db_conn *c, const char *run_id, const char *exp_id, const char *names,
		       const char *digests, const char *tag_idx, const char *tag_keys, const char *tag_values,
		       struct core_error *err)
{
	const char *params[7] = {run_id, exp_id, names, digests, tag_idx, tag_keys, tag_values};
	return db_exec(c, &inputs_insert, params, NULL, err);
}
