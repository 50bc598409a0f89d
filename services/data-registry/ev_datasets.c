/* The datasets.events topic: every change to a dataset becomes a CloudEvent (source
 * lathe/data-registry, subject and Kafka key = the dataset's name) written to the
 * outbox inside the transaction that makes the change, so state and event commit or
 * roll back together and the relay publishes them afterwards, in order per dataset.
 * Types and data (proto/events/datasets.events.schema.json):
 *   lathe.dataset.created           {name}
 *   lathe.dataset.version.created   {dataset, number, id, parent, format, file_count, bytes}
 *   lathe.dataset.version.ready     {dataset, number, id, profile_sha}   (the profiler)
 *   lathe.dataset.version.failed    {dataset, number, id, failure}       (the profiler)
 *   lathe.dataset.deleted           {name, versions} */
#include "dr.h"

int dr_ev_write(struct db_conn *c, const char *type, const char *dataset, json_t *data, struct core_error *err)
{
	json_t *ev = bus_event_new(DR_EV_SOURCE, type, dataset, data);
	if (!ev) {
		core_fail(err, CORE_ENOMEM, "could not build event %s", type);
		return DB_HARD_ERROR;
	}
	int rc = bus_outbox_write(c, DR_TOPIC, dataset, ev, err);
	json_decref(ev);
	return rc;
}
