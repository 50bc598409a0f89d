/* The work a daemon does besides answering HTTP: the Kafka consumers, background
 * workers and periodic tasks its svc_def declares, one thread each. svc.c starts them
 * (svc_tasks_start) once the schema is migrated and stops them (svc_tasks_stop) first
 * on shutdown, before the HTTP server drains and before anything they use is freed.
 *
 *   svc_tasks_start --> running --svc_tasks_stop: stopping set, stop_cv broadcast-->
 *   stopping: consumers stop polling (a message that arrives now is handed back
 *   unhandled), workers and periodic tasks see svc_stopping / wake from svc_sleep
 *   --every thread joined--> consumers closed (groups left) --> freed
 *
 * Invariants: a consumer's offset is committed only after its handler (handle, or
 * handle_batch for the whole batch) returned BUS_HANDLED (bus_consumer_poll does it,
 * on the consumer's thread); no task thread
 * outlives svc_tasks_stop; stopping never goes back to false.
 *
 * Entry points: svc_tasks_count, svc_tasks_init, svc_tasks_start, svc_tasks_stop, svc_tasks_destroy,
 * svc_stopping, svc_sleep. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/time.h"
#include "svc_int.h"

#define CONSUMER_POLL_MS  100  /* how soon a consumer thread notices a stop request */
#define BATCH_MAX_DEFAULT 1000 /* svc_consumer_def.batch_max 0 */

enum task_kind { TASK_CONSUMER, TASK_WORKER, TASK_PERIODIC };

struct svc_task {
	struct svc *svc;
	enum task_kind kind;
	const struct svc_consumer_def *consumer_def;
	const struct svc_worker_def *worker_def;
	const struct svc_periodic_def *periodic_def;
	long every_ms;                 /* a periodic task's period */
	struct bus_consumer *consumer; /* owned; TASK_CONSUMER */
	pthread_t thread;
	bool running; /* thread created and not joined yet */
};

void svc_tasks_init(struct svc *svc)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&svc->stop_mu, NULL);
	pthread_cond_init(&svc->stop_cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&svc->stopping, false);
	atomic_init(&svc->consumer_failed, false);
}

void svc_tasks_destroy(struct svc *svc)
{
	pthread_cond_destroy(&svc->stop_cv);
	pthread_mutex_destroy(&svc->stop_mu);
}

bool svc_stopping(struct svc *svc)
{
	return atomic_load(&svc->stopping);
}

bool svc_sleep(struct svc *svc, long ms)
{
	struct timespec t = core_deadline_us((int64_t)ms * 1000);
	pthread_mutex_lock(&svc->stop_mu);
	while (!atomic_load(&svc->stopping) && pthread_cond_timedwait(&svc->stop_cv, &svc->stop_mu, &t) == 0)
		;
	pthread_mutex_unlock(&svc->stop_mu);
	return atomic_load(&svc->stopping);
}

/* The bus handler of every consumer: once shutdown began, a message is handed back
 * unhandled (BUS_RETRY: not committed), so no new work starts. */
static enum bus_handled consumer_handle(const struct bus_message *m, void *cls)
{
	struct svc_task *t = cls;
	if (svc_stopping(t->svc))
		return BUS_RETRY;
	return t->consumer_def->handle(t->svc, t->svc->app, m);
}

/* The same for a consumer with handle_batch: a whole batch is handed back. */
static enum bus_handled consumer_handle_batch(const struct bus_message *ms, size_t n, void *cls)
{
	struct svc_task *t = cls;
	if (svc_stopping(t->svc))
		return BUS_RETRY;
	return t->consumer_def->handle_batch(t->svc, t->svc->app, ms, n);
}

static void *consumer_main(void *arg)
{
	struct svc_task *t = arg;
	while (!svc_stopping(t->svc)) {
		if (bus_consumer_poll(t->consumer, CONSUMER_POLL_MS) < 0) {
			/* fatal: librdkafka cannot go on (logged by bus); the daemon stays up,
			 * not ready, until an orchestrator restarts it */
			atomic_store(&t->svc->consumer_failed, true);
			svc_sleep(t->svc, 1000);
		}
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	struct svc_task *t = arg;
	t->worker_def->run(t->svc, t->svc->app);
	if (!svc_stopping(t->svc))
		core_info("worker %s returned before shutdown", t->worker_def->name);
	return NULL;
}

static void *periodic_main(void *arg)
{
	struct svc_task *t = arg;
	while (!svc_sleep(t->svc, t->every_ms))
		t->periodic_def->run(t->svc, t->svc->app);
	return NULL;
}

size_t svc_tasks_count(const struct svc_def *def)
{
	size_t n = 0;
	for (const struct svc_consumer_def *c = def->consumers; c && c->group_id; c++)
		n++;
	for (const struct svc_worker_def *w = def->workers; w && w->name; w++)
		n++;
	for (const struct svc_periodic_def *p = def->periodic; p && p->name; p++)
		n++;
	return n;
}

static enum core_status new_consumer(struct svc *svc, struct svc_task *t, struct core_error *err)
{
	const struct svc_consumer_def *cd = t->consumer_def;
	size_t n_slots = sizeof cd->topics / sizeof cd->topics[0];
	if (!cd->handle == !cd->handle_batch || !cd->topics[0] || cd->topics[n_slots - 1])
		return core_fail(err, CORE_EINVAL,
				 "consumer of group %s needs one handler (handle or handle_batch) and 1 to %zu topics",
				 cd->group_id, n_slots - 1);
	const char *group = cd->group_id_of ? cd->group_id_of(svc->app) : cd->group_id;
	if (cd->group_id_of && (!group || !*group))
		return core_fail(err, CORE_EINVAL, "consumer %s: its group_id_of gave no group", cd->group_id);
	struct bus_config bc;
	svc_bus_config(svc, &bc); /* brokers, timeouts and the deployment's properties */
	if (cd->handle_batch)
		return bus_consumer_new_batch(&bc, group, cd->topics, consumer_handle_batch,
					      cd->batch_max ? cd->batch_max : BATCH_MAX_DEFAULT, cd->batch_wait_ms, t,
					      &t->consumer, err);
	return bus_consumer_new(&bc, group, cd->topics, consumer_handle, t, &t->consumer, err);
}

enum core_status svc_tasks_start(struct svc *svc, struct core_error *err)
{
	const struct svc_def *def = svc->def;
	size_t n = svc_tasks_count(def);
	if (n == 0)
		return CORE_OK;
	svc->tasks = core_xcalloc(n, sizeof *svc->tasks);
	for (const struct svc_consumer_def *c = def->consumers; c && c->group_id; c++)
		svc->tasks[svc->n_tasks++] = (struct svc_task){.svc = svc, .kind = TASK_CONSUMER, .consumer_def = c};
	for (const struct svc_worker_def *w = def->workers; w && w->name; w++)
		svc->tasks[svc->n_tasks++] = (struct svc_task){.svc = svc, .kind = TASK_WORKER, .worker_def = w};
	for (const struct svc_periodic_def *p = def->periodic; p && p->name; p++)
		svc->tasks[svc->n_tasks++] = (struct svc_task){.svc = svc, .kind = TASK_PERIODIC, .periodic_def = p};

	for (size_t i = 0; i < svc->n_tasks; i++) {
		struct svc_task *t = &svc->tasks[i];
		void *(*main_fn)(void *) = consumer_main;
		enum core_status rc = CORE_OK;
		if (t->kind == TASK_CONSUMER) {
			rc = new_consumer(svc, t, err);
		} else if (t->kind == TASK_WORKER) {
			main_fn = worker_main;
			if (!t->worker_def->run)
				rc = core_fail(err, CORE_EINVAL, "worker %s has no run function", t->worker_def->name);
		} else {
			main_fn = periodic_main;
			const struct svc_periodic_def *p = t->periodic_def;
			t->every_ms = p->every_ms_of ? p->every_ms_of(svc->app) : p->every_ms;
			if (!p->run || (!p->every_ms_of && t->every_ms <= 0))
				rc = core_fail(err, CORE_EINVAL,
					       "periodic task %s needs a run function and every_ms > 0", p->name);
			else if (t->every_ms <= 0)
				continue; /* turned off by the service's setting */
		}
		if (rc != CORE_OK)
			return rc;
		int e = pthread_create(&t->thread, NULL, main_fn, t);
		if (e != 0)
			return core_fail(err, CORE_EIO, "cannot start a task thread: %s", strerror(e));
		t->running = true;
	}
	struct core_log_field f[] = {CORE_LF_INT("tasks", (long long)svc->n_tasks)};
	core_log_with(CORE_LOG_INFO, f, 1, "consumers, workers and periodic tasks started");
	return CORE_OK;
}

void svc_tasks_stop(struct svc *svc)
{
	pthread_mutex_lock(&svc->stop_mu);
	atomic_store(&svc->stopping, true);
	pthread_cond_broadcast(&svc->stop_cv);
	pthread_mutex_unlock(&svc->stop_mu);
	if (!svc->tasks)
		return;
	core_info("stopping consumers, workers and periodic tasks");
	for (size_t i = 0; i < svc->n_tasks; i++) {
		if (svc->tasks[i].running)
			pthread_join(svc->tasks[i].thread, NULL);
		svc->tasks[i].running = false;
	}
	/* every handler has returned and committed: leave the groups, so the partitions
	 * move to another member now rather than after the session times out */
	for (size_t i = 0; i < svc->n_tasks; i++)
		bus_consumer_free(svc->tasks[i].consumer);
	free(svc->tasks);
	svc->tasks = NULL;
	svc->n_tasks = 0;
	core_info("consumers, workers and periodic tasks stopped");
}
