/* The evaluations' runner (tr.h, tr-promotion): a periodic task of the processes that
 * train (WORKERS > 0) claims the oldest QUEUED evaluation, or a RUNNING one whose lease
 * ran out (its worker died, or the registry or tracker did not answer it), runs it
 * (evaluate.c, no transaction open) and records the decision with its
 * lathe.training.promotion.decided event in one transaction, guarded by the lease.
 * It goes on until none is left or the daemon stops. The lease is long
 * (TR_EVAL_LEASE_MS at least: an evaluation is not interrupted to renew it), so a
 * dead worker's evaluation waits that long; a peer that does not answer shortens it,
 * and the evaluation is claimed again TR_EVAL_RETRY_MS later. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "core/log.h"
#include "tr.h"

struct claim_ctx {
	const char *worker;
	long lease_ms;
	char id[TR_JOB_ID_LEN + 1], model[256], challenger[32], champion[32];
	bool has_champion;
	struct core_error err;
};

static int claim_tx(struct db_conn *c, void *cls)
{
	struct claim_ctx *x = cls;
	PGresult *res = NULL;
	int rc = tr_q_eval_claim(c, x->worker, core_now_ms(), x->lease_ms, &res, &x->err);
	if (rc > 0) {
		snprintf(x->id, sizeof x->id, "%s", db_get_text(res, 0, 0));
		snprintf(x->model, sizeof x->model, "%s", db_get_text(res, 0, 1));
		snprintf(x->challenger, sizeof x->challenger, "%s", db_get_text(res, 0, 2));
		const char *ch = db_get_text(res, 0, 3);
		x->has_champion = ch != NULL;
		snprintf(x->champion, sizeof x->champion, "%s", ch ? ch : "");
	}
	PQclear(res);
	return rc;
}

struct retry_ctx {
	const struct claim_ctx *cl;
	struct core_error err;
};

static int retry_tx(struct db_conn *c, void *cls)
{
	struct retry_ctx *x = cls;
	return tr_q_eval_retry_at(c, x->cl->id, x->cl->worker, core_now_ms() + TR_EVAL_RETRY_MS, &x->err);
}

struct finish_ctx {
	const struct claim_ctx *cl;
	const char *status;
	const struct tr_eval_out *out;
	const char *failure;
	struct core_error err;
};

static int finish_tx(struct db_conn *c, void *cls)
{
	struct finish_ctx *x = cls;
	const struct claim_ctx *cl = x->cl;
	bool done = strcmp(x->status, "DONE") == 0;
	int rc = tr_q_eval_finish(c, cl->id, cl->worker, x->status, done ? x->out->decision : NULL,
				  done ? x->out->reason : x->failure, done ? x->out->metrics : NULL,
				  done ? x->out->run_id : NULL, core_now_ms(), &x->err);
	if (rc > 0 && done) {
		json_t *data = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:O, s:s, s:s, s:s, s:s}", "evaluation_id", cl->id,
					 "model", cl->model, "champion_version", cl->has_champion ? cl->champion : NULL,
					 "challenger_version", cl->challenger, "decision", x->out->decision, "metrics",
					 x->out->metrics, "reason", x->out->reason, "run_id", x->out->run_id, "dataset",
					 x->out->dataset, "job_id", x->out->job_id);
		int e = tr_ev_promotion(c, "lathe.training.promotion.decided", cl->model, data, &x->err);
		if (e < 0)
			rc = e;
	}
	return rc;
}

/* Runs one claimed evaluation; false when none was claimable. */
static bool run_one(struct svc *svc, const char *worker, long lease_ms)
{
	struct claim_ctx cl = {.worker = worker, .lease_ms = lease_ms};
	int n = db_run_tx(svc_db(svc), "tr_promo_claim", DB_READ_COMMITTED, claim_tx, &cl, &cl.err);
	if (n < 0)
		core_warn("evaluations: claim failed: %s", cl.err.message);
	if (n <= 0)
		return false;
	struct tr_eval_row row = {.id = cl.id,
				  .model = cl.model,
				  .challenger = cl.challenger,
				  .champion = cl.has_champion ? cl.champion : NULL};
	struct tr_eval_out out;
	struct core_error err = {{0}};
	enum core_status rc = tr_evaluate(svc, &row, &out, &err);
	struct core_log_field f[] = {CORE_LF_STR("evaluation", cl.id), CORE_LF_STR("model", cl.model)};
	if (rc == CORE_EIO) {
		struct retry_ctx rx = {.cl = &cl};
		core_log_with(CORE_LOG_WARN, f, 2, "evaluation %s: will retry in %d ms: %s", cl.id, TR_EVAL_RETRY_MS,
			      err.message);
		if (db_run_tx(svc_db(svc), "tr_promo_retry", DB_READ_COMMITTED, retry_tx, &rx, &rx.err) < 0)
			core_log_with(CORE_LOG_WARN, f, 2, "evaluation %s: retry not scheduled: %s", cl.id,
				      rx.err.message);
	} else {
		struct finish_ctx fx = {
			.cl = &cl, .status = rc == CORE_OK ? "DONE" : "FAILED", .out = &out, .failure = err.message};
		if (rc != CORE_OK)
			core_log_with(CORE_LOG_WARN, f, 2, "evaluation %s failed: %s", cl.id, err.message);
		if (db_run_tx(svc_db(svc), "tr_promo_finish", DB_READ_COMMITTED, finish_tx, &fx, &fx.err) < 0)
			core_log_with(CORE_LOG_WARN, f, 2, "evaluation %s: not recorded: %s", cl.id, fx.err.message);
	}
	json_decref(out.metrics);
	return rc != CORE_EIO;
}

void tr_promo_run(struct svc *svc, void *app)
{
	(void)app;
	char host[64] = "", worker[128];
	gethostname(host, sizeof host - 1);
	snprintf(worker, sizeof worker, "%.60s:%ld/promotion", host, (long)getpid());
	long lease = tr_app(svc)->settings->lease_ms;
	if (lease < TR_EVAL_LEASE_MS)
		lease = TR_EVAL_LEASE_MS;
	while (!svc_stopping(svc) && run_one(svc, worker, lease))
		;
}

long tr_promo_every(const void *app_)
{
	const struct tr_app *app = app_;
	return app->settings->workers > 0 ? 500 : 0;
}
