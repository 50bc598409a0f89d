/* The retrain task (face: dm.h, retrain.c section): a drifted window of a monitor whose
 * policy is retrain leaves a PENDING row in drift.retrains, written in the transaction
 * of its report (so a crash loses no request); this periodic task sends them to the
 * trainer, one at a time, oldest first. The row is locked (FOR UPDATE SKIP LOCKED) for
 * the length of the call, so two replicas never send the same request; a trainer (or
 * registry, or tracker) that does not answer leaves it PENDING for the next run; a
 * refusal (no job spec to retrain with, a spec the trainer rejects) marks it FAILED with
 * the reason. If the daemon dies after the trainer queued the job but before the row is
 * marked, the request is sent again: at least once, as everything on the bus. */
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include "core/time.h"
#include "dm.h"

#define RETRAINS_PER_RUN 16

struct retrain_tx {
	struct svc *svc;
	bool sent; /* a request was found (and answered or left pending) */
	struct core_error err;
};

static int retrain_tx(struct db_conn *c, void *cls)
{
	struct retrain_tx *x = cls;
	PGresult *res = NULL;
	x->sent = false;
	int rc = dm_q_retrain_next(c, &res, &x->err);
	if (rc != 1) {
		PQclear(res);
		return rc;
	}
	const char *id = db_get_text(res, 0, 0), *model = db_get_text(res, 0, 1), *version = db_get_text(res, 0, 2);
	char *job = NULL;
	struct core_error perr = {{0}};
	enum core_status prc = dm_peer_retrain(dm_app(x->svc)->settings, model, version, NULL, &job, &perr);
	x->sent = true;
	if (prc == CORE_OK) {
		rc = dm_q_retrain_update(c, id, "SUBMITTED", job, NULL, core_now_ms(), &x->err);
		core_info("drift: model '%s' version %s: retraining job %s submitted", model, version, job);
	} else if (prc == CORE_EINVAL) {
		rc = dm_q_retrain_update(c, id, "FAILED", NULL, perr.message, core_now_ms(), &x->err);
		core_warn("drift: model '%s' version %s: no retraining: %s", model, version, perr.message);
	} else {
		core_warn("drift: model '%s' version %s: retraining request kept for later: %s", model, version,
			  perr.message);
		x->sent = false; /* the trainer is away: stop this run */
		rc = 0;
	}
	free(job);
	PQclear(res);
	return rc;
}

void dm_retrain_run(struct svc *svc, void *app)
{
	(void)app;
	for (int i = 0; i < RETRAINS_PER_RUN && !svc_stopping(svc); i++) {
		struct retrain_tx x = {.svc = svc};
		int rc = db_run_tx(svc_db(svc), "dm_retrain", DB_READ_COMMITTED, retrain_tx, &x, &x.err);
		if (rc < 0)
			core_warn("drift: the retrain task: %s", x.err.message);
		if (rc < 0 || !x.sent)
			break;
	}
}

long dm_retrain_every(const void *app)
{
	return ((const struct dm_app *)app)->settings->retrain_every_ms;
}
