/* The trainer's statements on policies and evaluations (tr.h, tr-promotion), one
 * function per statement, named as its function. An evaluation is claimed as a job is:
 * the claim takes a lease (worker, lease_until) and the finish counts only while that
 * worker still holds it, so a worker that lost its evaluation cannot record a decision. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tr.h"

static const char *dbl(char buf[32], double v)
{
	snprintf(buf, 32, "%.17g", v);
	return buf;
}

static const struct db_stmt tr_q_policy_get_stmt = {
	.name = "tr_q_policy_get",
	.sql = "SELECT metric, min_improvement, max_recall_drop, mode, updated_at FROM policies WHERE model = $1",
	.n_params = 1,
};

int tr_q_policy_get(struct db_conn *c, const char *model, PGresult **res, struct core_error *err)
{
	const char *params[1] = {model};
	return db_exec(c, &tr_q_policy_get_stmt, params, res, err);
}

void tr_policy_from_row(const PGresult *res, struct tr_policy *p)
{
	tr_policy_default(p);
	if (!res || PQntuples(res) < 1)
		return;
	snprintf(p->metric, sizeof p->metric, "%s", db_get_text(res, 0, 0));
	p->min_improvement = strtod(db_get_text(res, 0, 1), NULL);
	p->max_recall_drop = strtod(db_get_text(res, 0, 2), NULL);
	snprintf(p->mode, sizeof p->mode, "%s", db_get_text(res, 0, 3));
}

static const struct db_stmt tr_q_policy_put_stmt = {
	.name = "tr_q_policy_put",
	.sql = "INSERT INTO policies (model, metric, min_improvement, max_recall_drop, mode, updated_at) "
	       "VALUES ($1, $2, $3::float8, $4::float8, $5, $6::bigint) ON CONFLICT (model) DO UPDATE SET "
	       "metric = EXCLUDED.metric, min_improvement = EXCLUDED.min_improvement, "
	       "max_recall_drop = EXCLUDED.max_recall_drop, mode = EXCLUDED.mode, updated_at = EXCLUDED.updated_at",
	.n_params = 6,
};

int tr_q_policy_put(struct db_conn *c, const char *model, const struct tr_policy *p, int64_t now,
		    struct core_error *err)
{
	char a[32], b[32];
	struct db_i64 t;
	const char *params[6] = {model,   p->metric,      dbl(a, p->min_improvement), dbl(b, p->max_recall_drop),
				 p->mode, db_i64(&t, now)};
	return db_exec(c, &tr_q_policy_put_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_policy_delete_stmt = {
	.name = "tr_q_policy_delete",
	.sql = "DELETE FROM policies WHERE model = $1",
	.n_params = 1,
};

int tr_q_policy_delete(struct db_conn *c, const char *model, struct core_error *err)
{
	const char *params[1] = {model};
	return db_exec(c, &tr_q_policy_delete_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_eval_insert_stmt = {
	.name = "tr_q_eval_insert",
	.sql = "INSERT INTO evaluations (id, model, challenger_version, champion_version, created_at) "
	       "VALUES ($1, $2, $3, $4, $5::bigint) "
	       "ON CONFLICT (model, challenger_version, (coalesce(champion_version, ''))) DO NOTHING",
	.n_params = 5,
};

int tr_q_eval_insert(struct db_conn *c, const char *id, const char *model, const char *challenger, const char *champion,
		     int64_t now, struct core_error *err)
{
	struct db_i64 t;
	const char *params[5] = {id, model, challenger, champion, db_i64(&t, now)};
	return db_exec(c, &tr_q_eval_insert_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_eval_find_stmt = {
	.name = "tr_q_eval_find",
	.sql = "SELECT " TR_EVAL_COLS " FROM evaluations e WHERE e.model = $1 AND e.challenger_version = $2 "
	       "AND coalesce(e.champion_version, '') = coalesce($3, '')",
	.n_params = 3,
};

int tr_q_eval_find(struct db_conn *c, const char *model, const char *challenger, const char *champion, PGresult **res,
		   struct core_error *err)
{
	const char *params[3] = {model, challenger, champion};
	return db_exec(c, &tr_q_eval_find_stmt, params, res, err);
}

static const struct db_stmt tr_q_eval_get_stmt = {
	.name = "tr_q_eval_get",
	.sql = "SELECT " TR_EVAL_COLS " FROM evaluations e WHERE e.id = $1",
	.n_params = 1,
};

int tr_q_eval_get(struct db_conn *c, const char *id, PGresult **res, struct core_error *err)
{
	const char *params[1] = {id};
	return db_exec(c, &tr_q_eval_get_stmt, params, res, err);
}

/* $1 model or NULL, ($2, $3) the keyset of the previous page's last row or NULL. */
static const struct db_stmt tr_q_eval_list_stmt = {
	.name = "tr_q_eval_list",
	.sql = "SELECT " TR_EVAL_COLS " FROM evaluations e WHERE ($1::text IS NULL OR e.model = $1) "
	       "AND ($3::text IS NULL OR (e.created_at, e.id) < ($2::bigint, $3::text)) "
	       "ORDER BY e.created_at DESC, e.id DESC LIMIT $4::bigint",
	.n_params = 4,
};

int tr_q_eval_list(struct db_conn *c, const char *model, int64_t after_created, const char *after_id, long limit,
		   PGresult **res, struct core_error *err)
{
	struct db_i64 a, l;
	const char *params[4] = {model, db_i64(&a, after_created), after_id, db_i64(&l, limit)};
	return db_exec(c, &tr_q_eval_list_stmt, params, res, err);
}

static const struct db_stmt tr_q_eval_claim_stmt = {
	.name = "tr_q_eval_claim",
	.sql = "UPDATE evaluations e SET status = 'RUNNING', worker = $1, lease_until = $2::bigint + $3::bigint, "
	       "attempt = e.attempt + 1 WHERE e.id = (SELECT id FROM evaluations WHERE status = 'QUEUED' "
	       "OR (status = 'RUNNING' AND lease_until < $2::bigint) ORDER BY created_at, id LIMIT 1 "
	       "FOR UPDATE SKIP LOCKED) RETURNING " TR_EVAL_COLS,
	.n_params = 3,
};

int tr_q_eval_claim(struct db_conn *c, const char *worker, int64_t now, long lease_ms, PGresult **res,
		    struct core_error *err)
{
	struct db_i64 t, l;
	const char *params[3] = {worker, db_i64(&t, now), db_i64(&l, lease_ms)};
	return db_exec(c, &tr_q_eval_claim_stmt, params, res, err);
}

static const struct db_stmt tr_q_eval_finish_stmt = {
	.name = "tr_q_eval_finish",
	.sql = "UPDATE evaluations SET status = $3, decision = $4, reason = $5, metrics = $6::jsonb, run_id = $7, "
	       "ended_at = $8::bigint, worker = NULL, lease_until = NULL "
	       "WHERE id = $1 AND status = 'RUNNING' AND worker = $2",
	.n_params = 8,
};

int tr_q_eval_finish(struct db_conn *c, const char *id, const char *worker, const char *status, const char *decision,
		     const char *reason, json_t *metrics, const char *run_id, int64_t now, struct core_error *err)
{
	struct db_i64 t;
	char *m = metrics ? json_dumps(metrics, JSON_COMPACT) : NULL;
	const char *params[8] = {
		id, worker, status, decision, reason, m, run_id && *run_id ? run_id : NULL, db_i64(&t, now)};
	int rc = db_exec(c, &tr_q_eval_finish_stmt, params, NULL, err);
	free(m);
	return rc;
}

static const struct db_stmt tr_q_eval_retry_at_stmt = {
	.name = "tr_q_eval_retry_at",
	.sql = "UPDATE evaluations SET lease_until = $3::bigint WHERE id = $1 AND status = 'RUNNING' AND worker = $2",
	.n_params = 3,
};

int tr_q_eval_retry_at(struct db_conn *c, const char *id, const char *worker, int64_t at, struct core_error *err)
{
	struct db_i64 t;
	const char *params[3] = {id, worker, db_i64(&t, at)};
	return db_exec(c, &tr_q_eval_retry_at_stmt, params, NULL, err);
}
