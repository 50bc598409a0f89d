/* The models.events topic: every change that matters to serving becomes a CloudEvent
 * (source lathe/model-registry, subject and Kafka key = the model's name) written to
 * the outbox inside the transaction that makes the change, so state and event commit
 * or roll back together and the relay publishes them afterwards, in order per model.
 * The event types and their data are described in proto/events/models.events.schema.json:
 *   lathe.model.version.created, lathe.model.version.stage_changed,
 *   lathe.model.version.deleted, lathe.model.alias.set, lathe.model.alias.moved,
 *   lathe.model.alias.deleted, lathe.model.renamed, lathe.model.deleted */
#include "mr.h"

int mr_ev_write(struct db_conn *c, const char *type, const char *name, json_t *data, struct core_error *err)
{
	json_t *ev = bus_event_new(MR_EV_SOURCE, type, name, data);
	if (!ev) {
		core_fail(err, CORE_ENOMEM, "could not build event %s", type);
		return DB_HARD_ERROR;
	}
	int rc = bus_outbox_write(c, MR_TOPIC, name, ev, err);
	json_decref(ev);
	return rc;
}
