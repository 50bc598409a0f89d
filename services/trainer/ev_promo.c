/* Promotion's events on training.events (tr.h, tr-promotion), through the outbox inside
 * the transaction that records the decision or the rollback, as ev_jobs.c does for jobs.
 * Key and subject are the model's name, so one model's decisions stay in order:
 *   lathe.training.promotion.decided {model, challenger_version, champion_version,
 *       decision, reason, metrics, run_id, dataset, job_id}
 *   lathe.training.rollback {model, champion_version, previous_version}
 * (proto/events/training.events.schema.json). */
#include "tr.h"

int tr_ev_promotion(struct db_conn *c, const char *type, const char *model, json_t *data, struct core_error *err)
{
	json_t *ev = bus_event_new("lathe/trainer", type, model, data);
	if (!ev) {
		core_fail(err, CORE_ENOMEM, "could not build event %s", type);
		return DB_HARD_ERROR;
	}
	int rc = bus_outbox_write(c, TR_TOPIC_EVENTS, model, ev, err);
	json_decref(ev);
	return rc;
}
