/* sha256 of every file a push names (face: cli.h), on several threads: for tens of
 * thousands of small files the cost is opening and reading them, which threads overlap.
 * Workers take the next index from a shared counter; each reads with its own buffer.
 * A file whose size differs from what the walk saw is refused: it is being written,
 * and its manifest entry would lie. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "core/alloc.h"

#define CLI_HASH_BUF (256 * 1024)

enum core_status cli_hash_file(const char *local, char out[65], uint64_t *size, struct core_error *err)
{
	static __thread unsigned char buf[CLI_HASH_BUF];
	int fd = open(local, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return core_fail(err, CORE_EIO, "cannot open %s: %m", local);
	struct core_sha256 *sha = core_sha256_new();
	if (!sha) {
		close(fd);
		return core_fail(err, CORE_EIO, "libcrypto cannot make a sha256 context");
	}
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			core_fail(err, CORE_EIO, "cannot read %s: %m", local);
			core_sha256_free(sha);
			close(fd);
			return CORE_EIO;
		}
		if (n == 0)
			break;
		core_sha256_update(sha, buf, (size_t)n);
		total += (uint64_t)n;
	}
	close(fd);
	core_sha256_finish_hex(sha, out);
	if (size)
		*size = total;
	return CORE_OK;
}

struct hash_job {
	struct cli_files *f;
	struct cli_progress *progress;
	atomic_size_t next;
	atomic_bool failed;
	pthread_mutex_t mu;
	enum core_status rc;
	struct core_error err;
};

static void *hash_worker(void *arg)
{
	struct hash_job *j = arg;
	struct core_error err;
	while (!atomic_load(&j->failed)) {
		size_t i = atomic_fetch_add(&j->next, 1);
		if (i >= j->f->n)
			break;
		struct cli_file *e = &j->f->v[i];
		if (e->sha256[0])
			continue; /* the hash cache vouched for it */
		uint64_t size = 0;
		enum core_status rc = cli_hash_file(e->local, e->sha256, &size, &err);
		if (rc == CORE_OK && size != e->size)
			rc = core_fail(&err, CORE_EINVAL, "%s changed while it was read (%llu bytes, then %llu)",
				       e->local, (unsigned long long)e->size, (unsigned long long)size);
		if (rc != CORE_OK) {
			pthread_mutex_lock(&j->mu);
			if (!atomic_exchange(&j->failed, true)) {
				j->rc = rc;
				j->err = err;
			}
			pthread_mutex_unlock(&j->mu);
			break;
		}
		if (j->progress)
			cli_progress_add(j->progress, 1, size);
	}
	return NULL;
}

enum core_status cli_hash_files(struct cli_files *f, unsigned threads, struct cli_progress *progress,
				struct core_error *err)
{
	if (threads == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cores < 2 ? 2 : (unsigned)(cores > 16 ? 16 : cores);
	}
	if (threads > f->n)
		threads = f->n ? (unsigned)f->n : 1;
	struct hash_job j = {.f = f, .progress = progress, .rc = CORE_OK};
	atomic_init(&j.next, 0);
	atomic_init(&j.failed, false);
	pthread_mutex_init(&j.mu, NULL);
	pthread_t *t = core_xcalloc(threads, sizeof *t);
	unsigned started = 0;
	for (; started < threads; started++)
		if (pthread_create(&t[started], NULL, hash_worker, &j) != 0)
			break;
	if (started == 0)
		hash_worker(&j);
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	pthread_mutex_destroy(&j.mu);
	if (j.rc != CORE_OK && err)
		*err = j.err;
	return j.rc;
}
