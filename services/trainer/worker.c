/* The job runners: WORKERS threads per process, each a member of the Kafka consumer
 * group `trainer` on training.requests, and the periodic task that takes back jobs
 * whose worker died.
 *
 * One runner's loop: poll its consumer; the handler claims the job the event names
 * (tr_q_job_claim: QUEUED, or RUNNING with an expired lease) in one transaction with
 * the job's `started` event and log line, and only then answers BUS_HANDLED, so the
 * offset is committed after the claim is durable. A redelivered event finds the job
 * claimed (or ended) and is simply committed. The job then runs on the same thread
 * (run_job.c) while the consumer is not polled: a job longer than the group's
 * max.poll.interval makes the member rejoin afterwards, which costs a rebalance and
 * loses nothing.
 *
 * Takeover: a worker holds its job by a lease (JOB_LEASE_MS) that its heartbeats
 * renew. When a worker is SIGKILLed its offset is usually committed already, so no
 * event comes back; the periodic task (every lease/2) puts every RUNNING job whose
 * lease ran out back to QUEUED and writes a fresh training.requests event for it, in
 * one transaction. The next runner to claim it resumes from the job's last epoch
 * checkpoint. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/log.h"
#include "core/time.h"
#include "ml/nn.h"
#include "tr.h"

#define POLL_MS 200

struct runner {
	struct svc *svc;
	struct tr_app *app;
	char name[96]; /* the worker column: host:pid/index, unique per process instance */
	struct bus_consumer *consumer;
	bool have_job;
	struct tr_job job; /* the job claimed by the last handler call */
	pthread_t thread;
	bool started;
};

struct claim_ctx {
	const char *id, *worker;
	long lease_ms;
	struct tr_job *job;
	bool claimed;
	struct core_error err;
};

static int claim_tx(struct db_conn *c, void *cls)
{
	struct claim_ctx *x = cls;
	PGresult *res = NULL;
	int64_t now = core_now_ms();
	x->claimed = false;
	tr_job_clear(x->job);
	int rc = tr_q_job_claim(c, x->id, x->worker, now, x->lease_ms, &res, &x->err);
	if (rc <= 0)
		goto out;
	if (tr_job_from_row(res, 0, x->job, &x->err) != CORE_OK) {
		rc = DB_HARD_ERROR;
		goto out;
	}
	char line[256];
	snprintf(line, sizeof line, "claimed by %s (attempt %d)%s", x->worker, x->job->attempt,
		 x->job->checkpoint ? ", resuming from its checkpoint" : "");
	if ((rc = tr_q_job_event_append(c, x->id, "info", line, now, &x->err)) < 0)
		goto out;
	json_t *d = json_pack("{s:s, s:i}", "worker", x->worker, "attempt", x->job->attempt);
	if ((rc = tr_ev_job(c, x->id, "started", d, &x->err)) < 0)
		goto out;
	x->claimed = true;
	rc = 1;
out:
	PQclear(res);
	return rc;
}

/* The job id a training.requests event names (data.job_id, else the key). */
static bool event_job_id(const struct bus_message *m, char id[TR_JOB_ID_LEN + 1])
{
	json_t *ev = NULL;
	struct core_error err = {{0}};
	const char *s = NULL;
	if (bus_event_parse(m->payload, m->len, &ev, &err) == CORE_OK)
		s = json_string_value(json_object_get(json_object_get(ev, "data"), "job_id"));
	bool ok = false;
	if (s && strlen(s) == TR_JOB_ID_LEN) {
		memcpy(id, s, TR_JOB_ID_LEN + 1);
		ok = true;
	} else if (!s && m->key && m->key_len == TR_JOB_ID_LEN) {
		memcpy(id, m->key, TR_JOB_ID_LEN);
		id[TR_JOB_ID_LEN] = '\0';
		ok = true;
	}
	json_decref(ev);
	return ok;
}

static enum bus_handled on_request(const struct bus_message *m, void *cls)
{
	struct runner *r = cls;
	char id[TR_JOB_ID_LEN + 1];
	if (svc_stopping(r->svc))
		return BUS_RETRY; /* the next member of the group takes it */
	if (!event_job_id(m, id)) {
		core_warn("training.requests: an event without a job id at offset %lld skipped", (long long)m->offset);
		return BUS_HANDLED;
	}
	struct claim_ctx x = {.id = id, .worker = r->name, .lease_ms = r->app->settings->lease_ms, .job = &r->job};
	int rc = db_run_tx(svc_db(r->svc), "tr_worker_claim", DB_READ_COMMITTED, claim_tx, &x, &x.err);
	if (rc < 0) {
		struct core_log_field f[] = {CORE_LF_STR("job_id", id)};
		core_log_with(CORE_LOG_WARN, f, 1, "claim failed, the event comes back: %s", x.err.message);
		return BUS_RETRY;
	}
	r->have_job = x.claimed;
	return BUS_HANDLED;
}

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	while (!svc_stopping(r->svc)) {
		if (bus_consumer_poll(r->consumer, POLL_MS) < 0) {
			svc_sleep(r->svc, 1000);
			continue;
		}
		if (!r->have_job)
			continue;
		r->have_job = false;
		tr_run_job(r->svc, r->app, r->name, &r->job);
		tr_job_clear(&r->job);
	}
	return NULL;
}

void tr_worker_run(struct svc *svc, void *app_)
{
	struct tr_app *app = app_;
	long n = app->settings->workers;
	if (n <= 0)
		return;
	ml_set_threads((int)(app->settings->train_threads > 0 ? app->settings->train_threads : 1));
	struct runner *rs = core_xcalloc((size_t)n, sizeof *rs);
	char host[64] = "host";
	gethostname(host, sizeof host - 1);
	struct bus_config bc;
	svc_bus_config(svc, &bc);
	const char *topics[] = {TR_TOPIC_REQUESTS, NULL};
	for (long i = 0; i < n; i++) {
		struct runner *r = &rs[i];
		struct core_error err = {{0}};
		r->svc = svc;
		r->app = app;
		snprintf(r->name, sizeof r->name, "%.60s:%ld/%ld", host, (long)getpid(), i);
		if (bus_consumer_new(&bc, TR_GROUP, topics, on_request, r, &r->consumer, &err) != CORE_OK) {
			core_error("worker %ld: no consumer: %s", i, err.message);
			continue;
		}
		if (pthread_create(&r->thread, NULL, runner_main, r) != 0) {
			core_error("worker %ld: no thread", i);
			continue;
		}
		r->started = true;
	}
	struct core_log_field f[] = {CORE_LF_INT("workers", n)};
	core_log_with(CORE_LOG_INFO, f, 1, "job runners started");
	while (!svc_sleep(svc, 60000))
		;
	for (long i = 0; i < n; i++)
		if (rs[i].started)
			pthread_join(rs[i].thread, NULL);
	/* each handler has returned: leave the group, so the partitions move on now */
	for (long i = 0; i < n; i++) {
		bus_consumer_free(rs[i].consumer);
		tr_job_clear(&rs[i].job);
	}
	free(rs);
}

/* --- the periodic takeover ------------------------------------------------------- */

struct requeue_ctx {
	int n;
	struct core_error err;
};

static int requeue_tx(struct db_conn *c, void *cls)
{
	struct requeue_ctx *x = cls;
	PGresult *res = NULL;
	int64_t now = core_now_ms();
	x->n = 0;
	int rc = tr_q_jobs_requeue_expired(c, now, &res, &x->err);
	for (int i = 0; rc > 0 && i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0);
		int e = tr_q_job_event_append(c, id, "warn", "its worker's lease expired: queued again", now, &x->err);
		if (e >= 0)
			e = tr_ev_requested(c, id, &x->err);
		if (e < 0) {
			rc = e;
			break;
		}
		x->n++;
	}
	PQclear(res);
	return rc < 0 ? rc : 1;
}

void tr_worker_requeue(struct svc *svc, void *app)
{
	(void)app;
	struct requeue_ctx x = {0};
	if (db_run_tx(svc_db(svc), "tr_worker_requeue", DB_READ_COMMITTED, requeue_tx, &x, &x.err) < 0) {
		core_warn("requeue of expired jobs failed: %s", x.err.message);
		return;
	}
	if (x.n > 0) {
		struct core_log_field f[] = {CORE_LF_INT("jobs", x.n)};
		core_log_with(CORE_LOG_INFO, f, 1, "jobs with an expired lease queued again");
	}
}

long tr_worker_requeue_every(const void *app_)
{
	const struct tr_app *app = app_;
	if (app->settings->lease_ms <= 0)
		return 0;
	long ms = app->settings->lease_ms / 2;
	return ms < 100 ? 100 : ms;
}
