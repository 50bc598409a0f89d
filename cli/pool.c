/* Runs a batch of independent jobs (uploads, downloads) on a few threads (face: cli.h).
 * Each worker owns one curl handle for all its jobs, so HTTP/1.1 keep-alive reuses its
 * connection: N workers = N connections to the server. Workers take the next index
 * from a shared counter; the first failure is kept and stops new jobs from starting. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "core/alloc.h"

struct pool {
	cli_job_fn fn;
	void *arg;
	size_t n;
	atomic_size_t next;
	atomic_bool failed;
	pthread_mutex_t mu;
	enum core_status rc;
	struct core_error err;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct core_error err;
	CURL *h = cli_http_handle();
	if (!h) {
		pthread_mutex_lock(&p->mu);
		if (!atomic_exchange(&p->failed, true))
			p->rc = core_fail(&p->err, CORE_EIO, "curl cannot make a handle");
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	while (!atomic_load(&p->failed)) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n)
			break;
		enum core_status rc = p->fn(h, i, p->arg, &err);
		if (rc != CORE_OK) {
			pthread_mutex_lock(&p->mu);
			if (!atomic_exchange(&p->failed, true)) {
				p->rc = rc;
				p->err = err;
			}
			pthread_mutex_unlock(&p->mu);
		}
	}
	curl_easy_cleanup(h);
	return NULL;
}

enum core_status cli_pool_run(size_t n, unsigned threads, cli_job_fn fn, void *arg, struct core_error *err)
{
	if (n == 0)
		return CORE_OK;
	if (threads == 0)
		threads = 1;
	if (threads > n)
		threads = (unsigned)n;
	struct pool p = {.fn = fn, .arg = arg, .n = n, .rc = CORE_OK};
	atomic_init(&p.next, 0);
	atomic_init(&p.failed, false);
	pthread_mutex_init(&p.mu, NULL);
	pthread_t *t = core_xcalloc(threads, sizeof *t);
	unsigned started = 0;
	for (; started < threads; started++)
		if (pthread_create(&t[started], NULL, worker, &p) != 0)
			break;
	if (started == 0)
		worker(&p); /* no thread at all: do the work here */
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	pthread_mutex_destroy(&p.mu);
	if (p.rc != CORE_OK && err)
		*err = p.err;
	return p.rc;
}
