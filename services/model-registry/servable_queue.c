/* The servability checks that wait for the tracker, answered off the request path
 * (face: mr.h, mr_servable_enqueue and mr_servable_run).
 *
 * model-versions/create never calls the tracker: a source only the tracker can judge
 * gets the tag lathe.servable = "pending" and a servable_checks row (migration 0004) in
 * the creating transaction, and the answer is at once. The registry's periodic task
 * (main.c) then, every MR_SERVABLE_POLL_MS:
 *
 *   claim  up to CLAIM_BATCH due rows in one short transaction (attempts + 1, next_at
 *          pushed past a lease, FOR UPDATE SKIP LOCKED: replicas share the queue; a
 *          claimer that dies lets the lease expire and the check comes due again)
 *   ask    the tracker for each (servable.c; TRACKER_TIMEOUT_MS per call), outside any
 *          transaction
 *   record an answer: one transaction that locks the model (events stay in commit
 *          order), removes the row (0 rows: the version went, or was answered: nothing
 *          to do), sets lathe.servable / lathe.servable_reason and writes
 *          lathe.model.version.servable_checked
 *   retry  no answer (timeout, refused, 5xx): next_at = now + SERVABLE_RETRY_MS doubled
 *          per attempt (at most a minute), until SERVABLE_CHECK_ATTEMPTS attempts; the
 *          last unanswered one is recorded as "the tracker could not be reached"
 *
 * A hung tracker therefore costs this one thread TRACKER_TIMEOUT_MS per attempt and
 * never a client request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include "mr.h"

#define CLAIM_BATCH       4
#define MAX_RETRY_MS      60000
#define PENDING           "pending"
#define EV_SERVABLE_CHECK "lathe.model.version.servable_checked"

int mr_servable_enqueue(struct db_conn *c, int64_t model_id, int64_t version, const char *request_id,
			struct core_error *err)
{
	int rc = mr_q_set_version_tag(c, model_id, version, MR_TAG_SERVABLE, PENDING, err);
	if (rc >= 0)
		rc = mr_q_insert_servable_check(c, model_id, version, core_now_ms(), request_id, err);
	return rc;
}

/* --- claim ------------------------------------------------------------------------ */

struct claimed {
	int64_t model_id, version, attempts;
	char *source;     /* owned */
	char *request_id; /* owned */
};

struct claim_ctx {
	int64_t lease_ms;
	struct claimed items[CLAIM_BATCH];
	size_t n;
	struct core_error err;
};

static void claimed_free(struct claim_ctx *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->items[i].source);
		free(x->items[i].request_id);
	}
	x->n = 0;
}

static int claim_tx(struct db_conn *c, void *cls)
{
	struct claim_ctx *x = cls;
	PGresult *res = NULL;
	int64_t now = core_now_ms();
	claimed_free(x);
	int rc = mr_q_claim_servable_checks(c, now, now + x->lease_ms, CLAIM_BATCH, &res, &x->err);
	for (int r = 0; rc > 0 && r < PQntuples(res) && x->n < CLAIM_BATCH; r++) {
		struct claimed *it = &x->items[x->n];
		if (db_get_int64(res, r, 0, &it->model_id, NULL) != CORE_OK ||
		    db_get_int64(res, r, 1, &it->version, NULL) != CORE_OK ||
		    db_get_int64(res, r, 2, &it->attempts, NULL) != CORE_OK)
			continue;
		it->source = core_xstrdup(db_get_text(res, r, 3) ? db_get_text(res, r, 3) : "");
		it->request_id = core_xstrdup(db_get_text(res, r, 4) ? db_get_text(res, r, 4) : "");
		x->n++;
	}
	PQclear(res);
	return rc < 0 ? rc : (int)x->n;
}

/* --- record ----------------------------------------------------------------------- */

struct record_ctx {
	const struct claimed *it;
	const struct mr_servable *answer;
	int64_t retry_at; /* > 0: no answer, try again then (the tags stay "pending") */
	struct core_error err;
};

static int record_tx(struct db_conn *c, void *cls)
{
	struct record_ctx *x = cls;
	const struct claimed *it = x->it;
	PGresult *res = NULL;
	if (x->retry_at > 0)
		return mr_q_reschedule_servable_check(c, it->model_id, it->version, x->retry_at, &x->err);
	int rc = mr_q_lock_model_by_id(c, it->model_id, &res, &x->err);
	if (rc <= 0)
		goto out; /* the model is gone, and its versions with it */
	char *name = core_xstrdup(db_get_text(res, 0, 0));
	PQclear(res);
	res = NULL;
	rc = mr_q_delete_servable_check(c, it->model_id, it->version, &x->err);
	if (rc <= 0) {
		free(name);
		goto out; /* the version is gone, or another replica answered */
	}
	rc = mr_q_set_version_tag(c, it->model_id, it->version, MR_TAG_SERVABLE, x->answer->servable ? "true" : "false",
				  &x->err);
	if (rc >= 0)
		rc = x->answer->servable
			     ? mr_q_delete_version_tag(c, it->model_id, it->version, MR_TAG_SERVABLE_REASON, &x->err)
			     : mr_q_set_version_tag(c, it->model_id, it->version, MR_TAG_SERVABLE_REASON,
						    x->answer->reason, &x->err);
	if (rc >= 0) {
		char v[24];
		snprintf(v, sizeof v, "%lld", (long long)it->version);
		json_t *data =
			json_pack("{s:s, s:s, s:b}", "name", name, "version", v, "servable", x->answer->servable);
		if (!x->answer->servable)
			json_object_set_new(data, "servable_reason", json_string(x->answer->reason));
		rc = mr_ev_write(c, EV_SERVABLE_CHECK, name, data, &x->err);
	}
	free(name);
out:
	PQclear(res);
	return rc < 0 ? rc : 0;
}

/* The delay before attempt number `attempts + 1`: retry_ms doubled per attempt made. */
static int64_t retry_delay(const struct mr_settings *s, int64_t attempts)
{
	int64_t d = s->servable_retry_ms;
	for (int64_t i = 1; i < attempts && d < MAX_RETRY_MS; i++)
		d *= 2;
	return d < MAX_RETRY_MS ? d : MAX_RETRY_MS;
}

static void check_one(struct svc *svc, const struct mr_settings *s, const struct claimed *it)
{
	struct mr_servable answer;
	mr_servable_check(s, it->source, *it->request_id ? it->request_id : NULL, &answer);
	struct record_ctx x = {.it = it, .answer = &answer};
	if (answer.unreachable && it->attempts < s->servable_attempts)
		x.retry_at = core_now_ms() + retry_delay(s, it->attempts);
	int rc = db_run_tx(svc_db(svc), "record_servable_check", DB_READ_COMMITTED, record_tx, &x, &x.err);
	if (rc < 0)
		core_warn("servability: recording the check of version %lld of model %lld failed (retried when "
			  "its lease ends): %s",
			  (long long)it->version, (long long)it->model_id, x.err.message);
}

void mr_servable_run(struct svc *svc, void *app)
{
	const struct mr_settings *s = ((struct mr_app *)app)->settings;
	struct claim_ctx x = {0};
	/* A claim is held for as long as its batch may take: two calls per check. */
	x.lease_ms = 2 * s->tracker_timeout_ms * CLAIM_BATCH + 10000;
	while (!svc_stopping(svc)) {
		int rc = db_run_tx(svc_db(svc), "claim_servable_checks", DB_READ_COMMITTED, claim_tx, &x, &x.err);
		if (rc <= 0) {
			if (rc < 0)
				core_warn("servability: claiming pending checks failed: %s", x.err.message);
			break;
		}
		for (size_t i = 0; i < x.n && !svc_stopping(svc); i++)
			check_one(svc, s, &x.items[i]);
	}
	claimed_free(&x);
}
