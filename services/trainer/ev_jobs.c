/* The trainer's topics. Every event is a CloudEvent (source lathe/trainer, subject and
 * Kafka key = the job id, so one job's events stay in order on one partition) written
 * to the outbox inside the transaction that changes the job: state and event commit or
 * roll back together, and the relay publishes them afterwards.
 *   training.requests  lathe.training.requested  {job_id}  (submit, and a re-queue after
 *                      a lease ran out): what the workers of group `trainer` consume
 *   training.events    lathe.training.job.started   {job_id, attempt, worker}
 *                      lathe.training.job.epoch     {job_id, epoch, epochs, loss, metrics}
 *                      lathe.training.job.succeeded {job_id, run_id, model_version, metrics}
 *                      lathe.training.job.failed    {job_id, failure}
 *                      lathe.training.job.cancelled {job_id}
 * The schemas: proto/events/training.requests.schema.json, training.events.schema.json. */
#include <stdio.h>
#include "tr.h"

#define TR_EV_SOURCE "lathe/trainer"

static int write_event(struct db_conn *c, const char *topic, const char *type, const char *job_id, json_t *data,
		       struct core_error *err)
{
	json_t *ev = bus_event_new(TR_EV_SOURCE, type, job_id, data);
	if (!ev) {
		core_fail(err, CORE_ENOMEM, "could not build event %s", type);
		return DB_HARD_ERROR;
	}
	int rc = bus_outbox_write(c, topic, job_id, ev, err);
	json_decref(ev);
	return rc;
}

int tr_ev_requested(struct db_conn *c, const char *job_id, struct core_error *err)
{
	return write_event(c, TR_TOPIC_REQUESTS, "lathe.training.requested", job_id,
			   json_pack("{s:s}", "job_id", job_id), err);
}

int tr_ev_job(struct db_conn *c, const char *job_id, const char *kind, json_t *data, struct core_error *err)
{
	json_t *d = json_is_object(data) ? data : json_object();
	if (d != data)
		json_decref(data);
	json_object_set_new(d, "job_id", json_string(job_id));
	char type[64];
	snprintf(type, sizeof type, "lathe.training.job.%s", kind);
	return write_event(c, TR_TOPIC_EVENTS, type, job_id, d, err);
}
