/* Garbage collection of a blob store (face: blob/blob.h: blob_gc, blob_sweep_tmp).
 * The store cannot know which blobs are still wanted: the owning service answers that
 * through a callback, batch by batch, so memory stays bounded (one batch of keys)
 * whatever the store's size. What makes it safe against a writer committing the same
 * content meanwhile is the mtime: a commit stamps its blob with the commit time under
 * the store lock taken shared (writer.c), and a blob is removed only if, under that
 * lock taken exclusive, its mtime is still older than the cutoff computed when the
 * collection began.
 *
 *   blob_gc: gc.lock (exclusive: one collection at a time)
 *     -> blob_sweep_tmp (stale partial writes)
 *     -> each objects/xx/: each file older than the cutoff joins the batch
 *        -> batch full, or the walk ended: flush_batch
 *           refs(keys) -> each unreferenced one: lock exclusive, stat again, unlink
 *           it if still older than the cutoff, unlock
 *
 * Fan-out directories are never removed (blob.h says why). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "blob_int.h"
#include "core/alloc.h"

struct gc_run {
	struct blob_store *store;
	const struct blob_gc_options *o;
	struct blob_gc_stats *st;
	struct timespec cutoff; /* mtimes at or before it are old */
	size_t cap, n;          /* the batch: capacity, keys in it */
	char (*keys)[BLOB_KEY_LEN + 1];
	const char **ptrs; /* ptrs[i] = keys[i], for the callback */
	uint64_t *sizes;   /* sizes at the scan, for a dry run's count */
	bool *referenced;  /* the callback's answers */
};

/* The realtime clock minus age_s: file mtimes are realtime. */
static struct timespec cutoff_of(long age_s)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	now.tv_sec -= age_s;
	return now;
}

static bool is_old(const struct stat *sb, const struct timespec *cutoff)
{
	return sb->st_mtim.tv_sec < cutoff->tv_sec ||
	       (sb->st_mtim.tv_sec == cutoff->tv_sec && sb->st_mtim.tv_nsec <= cutoff->tv_nsec);
}

static bool cancelled(const struct blob_gc_options *o)
{
	return o->cancelled && o->cancelled(o->cancelled_cls);
}

enum core_status blob_sweep_tmp(struct blob_store *store, long age_s, bool dry_run, uint64_t *removed, uint64_t *bytes,
				struct core_error *err)
{
	enum core_status rc = CORE_OK;
	uint64_t n = 0, b = 0;
	struct timespec cutoff = cutoff_of(age_s);
	char *tmp = core_xasprintf("%s/tmp", store->dir);
	DIR *d = opendir(tmp);
	if (!d) {
		rc = core_fail(err, CORE_EIO, "open %s: %s", tmp, strerror(errno));
		goto out;
	}
	for (struct dirent *e; (errno = 0, e = readdir(d));) {
		struct stat sb;
		if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* ".", "..", or gone: committed or aborted meanwhile */
		if (!S_ISREG(sb.st_mode) || !is_old(&sb, &cutoff))
			continue;
		if (!dry_run && unlinkat(dirfd(d), e->d_name, 0) != 0)
			continue; /* gone meanwhile */
		n++;
		b += (uint64_t)sb.st_size;
	}
	if (errno != 0)
		rc = core_fail(err, CORE_EIO, "read %s: %s", tmp, strerror(errno));
	closedir(d);
out:
	free(tmp);
	if (removed)
		*removed = n;
	if (bytes)
		*bytes = b;
	return rc;
}

/* Removes the unreferenced keys of a batch that are still old, each under the
 * exclusive store lock (taken per blob: a commit waits for one unlink at most, not for
 * a batch of them); counts them. */
static enum core_status remove_unreferenced(struct gc_run *g, struct core_error *err)
{
	int lock = open(g->store->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock < 0)
		return core_fail(err, CORE_EIO, "open blob store lock: %s", strerror(errno));
	enum core_status rc = CORE_OK;
	for (size_t i = 0; i < g->n && rc == CORE_OK; i++) {
		if (g->referenced[i])
			continue;
		char *path = blob_object_path(g->store, g->keys[i]);
		struct stat sb;
		int r;
		do
			r = flock(lock, LOCK_EX);
		while (r != 0 && errno == EINTR);
		if (r != 0) {
			rc = core_fail(err, CORE_EIO, "lock blob store: %s", strerror(errno));
		} else {
			if (lstat(path, &sb) == 0) {
				if (!is_old(&sb, &g->cutoff)) {
					g->st->kept_young++; /* committed again since the scan */
				} else if (unlink(path) == 0) {
					g->st->removed++;
					g->st->removed_bytes += (uint64_t)sb.st_size;
				}
			}
			flock(lock, LOCK_UN);
		}
		free(path);
	}
	close(lock);
	return rc;
}

/* Asks the service about the batch and removes (or, dry, counts) what it does not
 * reference. Empties the batch. */
static enum core_status flush_batch(struct gc_run *g, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	if (g->n == 0)
		return CORE_OK;
	memset(g->referenced, 0, g->n * sizeof *g->referenced);
	rc = g->o->refs(g->o->refs_cls, g->ptrs, g->n, g->referenced, err);
	if (rc != CORE_OK)
		goto out;
	for (size_t i = 0; i < g->n; i++) {
		if (g->referenced[i]) {
			g->st->kept_referenced++;
		} else if (g->o->dry_run) {
			g->st->removed++;
			g->st->removed_bytes += g->sizes[i];
		}
	}
	if (!g->o->dry_run)
		rc = remove_unreferenced(g, err);
out:
	g->n = 0;
	return rc;
}

/* Walks one fan-out directory (objects/<name>), adding its old blobs to the batch and
 * flushing it whenever it fills. */
static enum core_status walk_fanout(struct gc_run *g, int objects_fd, const char *name, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	int fd = openat(objects_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR
			       ? CORE_OK
			       : core_fail(err, CORE_EIO, "open objects/%s: %s", name, strerror(errno));
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return core_fail(err, CORE_EIO, "open objects/%s: %s", name, strerror(errno));
	}
	for (struct dirent *e; (errno = 0, e = readdir(d));) {
		struct stat sb;
		/* a key whose first two characters are not this directory's is not a blob */
		if (!blob_key_valid(e->d_name) || strncmp(e->d_name, name, 2) != 0 ||
		    fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
			continue;
		g->st->scanned++;
		if (!is_old(&sb, &g->cutoff)) {
			g->st->kept_young++;
			continue;
		}
		memcpy(g->keys[g->n], e->d_name, BLOB_KEY_LEN + 1);
		g->sizes[g->n] = (uint64_t)sb.st_size;
		if (++g->n == g->cap) {
			if ((rc = flush_batch(g, err)) != CORE_OK)
				goto out;
			if (cancelled(g->o)) {
				g->st->cancelled = true;
				goto out;
			}
		}
	}
	if (errno != 0)
		rc = core_fail(err, CORE_EIO, "read objects/%s: %s", name, strerror(errno));
out:
	closedir(d);
	return rc;
}

static bool is_fanout_name(const char *name)
{
	return strlen(name) == 2 && strspn(name, "0123456789abcdef") == 2;
}

enum core_status blob_gc(struct blob_store *store, const struct blob_gc_options *opts, struct blob_gc_stats *stats,
			 struct core_error *err)
{
	enum core_status rc = CORE_OK;
	struct gc_run g = {.store = store, .o = opts, .st = stats};
	char *objects = NULL;
	DIR *d = NULL;
	int gc_lock = -1;
	memset(stats, 0, sizeof *stats);
	if (!opts->refs || opts->grace_s < 0)
		return core_fail(err, CORE_EINVAL, "blob_gc needs a refs callback and a grace period >= 0");

	gc_lock = blob_lock(store->gc_lock_path, LOCK_EX);
	if (gc_lock < 0) {
		rc = core_fail(err, CORE_EIO, "lock blob store for collection: %s", strerror(errno));
		goto out;
	}
	/* computed once the lock is ours: a collection that waited for another one must
	 * not use a cutoff older than the commits that happened while it waited */
	g.cutoff = cutoff_of(opts->grace_s);
	if (opts->tmp_age_s >= 0 && (rc = blob_sweep_tmp(store, opts->tmp_age_s, opts->dry_run, &stats->tmp_removed,
							 &stats->tmp_bytes, err)) != CORE_OK)
		goto out;

	g.cap = opts->batch ? opts->batch : BLOB_GC_BATCH;
	g.keys = core_xcalloc(g.cap, sizeof *g.keys);
	g.ptrs = core_xcalloc(g.cap, sizeof *g.ptrs);
	g.sizes = core_xcalloc(g.cap, sizeof *g.sizes);
	g.referenced = core_xcalloc(g.cap, sizeof *g.referenced);
	for (size_t i = 0; i < g.cap; i++)
		g.ptrs[i] = g.keys[i];

	objects = core_xasprintf("%s/objects", store->dir);
	if (!(d = opendir(objects))) {
		rc = core_fail(err, CORE_EIO, "open %s: %s", objects, strerror(errno));
		goto out;
	}
	for (struct dirent *e; (errno = 0, e = readdir(d));) {
		if (!is_fanout_name(e->d_name))
			continue;
		if (cancelled(opts))
			stats->cancelled = true;
		if (stats->cancelled || (rc = walk_fanout(&g, dirfd(d), e->d_name, err)) != CORE_OK || stats->cancelled)
			goto out;
	}
	if (errno != 0) {
		rc = core_fail(err, CORE_EIO, "read %s: %s", objects, strerror(errno));
		goto out;
	}
	rc = flush_batch(&g, err);
out:
	if (d)
		closedir(d);
	free(objects);
	free(g.keys);
	free(g.ptrs);
	free(g.sizes);
	free(g.referenced);
	if (gc_lock >= 0)
		close(gc_lock);
	return rc;
}
