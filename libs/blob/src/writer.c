/* Streamed blob writes (face: blob/blob.h). The bytes go to a uniquely named file in
 * DIR/tmp while SHA-256 runs over them; commit stamps the file's mtime with the commit
 * time, fsyncs, renames it to its key's path (creating the fan-out directory) and
 * fsyncs that directory. If the blob already exists the rename replaces it: same key,
 * same bytes, and a fresh mtime, which is what keeps a blob being written again safe
 * from a concurrent garbage collection (gc.c): the rename happens under the store lock
 * taken shared, which the collector takes exclusive to re-check mtimes and unlink. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "blob_int.h"
#include "core/alloc.h"
#include "core/id.h"

struct blob_writer {
	struct blob_store *store;
	char *tmp_path;
	int fd;
	struct core_sha256 *sha;
	uint64_t size;
};

enum core_status blob_writer_new(struct blob_store *store, struct blob_writer **out, struct core_error *err)
{
	char suffix[CORE_ID_HEX_LEN + 1];
	core_id_uuid_hex(suffix);
	struct blob_writer *w = core_xcalloc(1, sizeof *w);
	w->store = store;
	w->tmp_path = core_xasprintf("%s/tmp/%s", store->dir, suffix);
	w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	w->sha = core_sha256_new();
	if (w->fd < 0 || !w->sha) {
		enum core_status rc = core_fail(err, CORE_EIO, "create %s: %s", w->tmp_path,
						w->fd < 0 ? strerror(errno) : "no SHA-256 context");
		blob_writer_abort(w);
		return rc;
	}
	*out = w;
	return CORE_OK;
}

enum core_status blob_writer_write(struct blob_writer *w, const void *data, size_t n, struct core_error *err)
{
	const char *p = data;
	size_t left = n;
	while (left > 0) {
		ssize_t k = write(w->fd, p, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return core_fail(err, errno == ENOSPC ? CORE_ENOMEM : CORE_EIO, "write blob: %s",
					 strerror(errno));
		p += k;
		left -= (size_t)k;
	}
	core_sha256_update(w->sha, data, n);
	w->size += n;
	return CORE_OK;
}

uint64_t blob_writer_size(const struct blob_writer *w)
{
	return w->size;
}

enum core_status blob_writer_commit(struct blob_writer *w, char key_out[BLOB_KEY_LEN + 1], struct core_error *err)
{
	enum core_status rc = CORE_OK;
	char *final_path = NULL, *dir = NULL;
	core_sha256_finish_hex(w->sha, key_out);
	w->sha = NULL;
	/* the grace period of a collection counts from the commit, not from the last write */
	bool flushed = futimens(w->fd, NULL) == 0 && fsync(w->fd) == 0;
	int flush_errno = errno;
	if (close(w->fd) != 0 && flushed) {
		flushed = false;
		flush_errno = errno;
	}
	w->fd = -1;
	if (!flushed) {
		rc = core_fail(err, CORE_EIO, "flush blob: %s", strerror(flush_errno));
		goto out;
	}
	final_path = blob_object_path(w->store, key_out);
	dir = core_xasprintf("%s/objects/%.2s", w->store->dir, key_out);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		rc = core_fail(err, CORE_EIO, "mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	int lock = blob_lock(w->store->lock_path, LOCK_SH);
	if (lock < 0) {
		rc = core_fail(err, CORE_EIO, "lock blob store: %s", strerror(errno));
		goto out;
	}
	int renamed = rename(w->tmp_path, final_path);
	int rename_errno = errno;
	close(lock);
	if (renamed != 0) {
		rc = core_fail(err, CORE_EIO, "store blob %s: %s", key_out, strerror(rename_errno));
		goto out;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd); /* the rename itself is durable only once its directory is */
		close(dfd);
	}
out:
	free(final_path);
	free(dir);
	blob_writer_abort(w); /* frees; the temporary file is gone after a rename */
	return rc;
}

void blob_writer_abort(struct blob_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlink(w->tmp_path);
	core_sha256_free(w->sha);
	free(w->tmp_path);
	free(w);
}

enum core_status blob_put(struct blob_store *store, const void *data, size_t n, char key_out[BLOB_KEY_LEN + 1],
			  struct core_error *err)
{
	struct blob_writer *w = NULL;
	enum core_status rc = blob_writer_new(store, &w, err);
	if (rc != CORE_OK)
		return rc;
	rc = blob_writer_write(w, data, n, err);
	if (rc != CORE_OK) {
		blob_writer_abort(w);
		return rc;
	}
	return blob_writer_commit(w, key_out, err);
}
