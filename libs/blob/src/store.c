/* The blob store (face: blob/blob.h): key validation, paths, opening and reading, the
 * store's locks, and blob_touch. Writing lives in writer.c, garbage collection in
 * gc.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "blob_int.h"
#include "core/alloc.h"
#include "core/file.h"

enum core_status blob_store_open(const char *dir, struct blob_store **out, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	struct blob_store *s = core_xcalloc(1, sizeof *s);
	s->dir = core_xstrdup(dir);
	s->lock_path = core_xasprintf("%s/lock", dir);
	s->gc_lock_path = core_xasprintf("%s/gc.lock", dir);
	char *objects = core_xasprintf("%s/objects", dir);
	char *tmp = core_xasprintf("%s/tmp", dir);
	rc = core_mkdir_p(objects, 0755, err);
	if (rc == CORE_OK)
		rc = core_mkdir_p(tmp, 0755, err);
	free(objects);
	free(tmp);
	if (rc != CORE_OK) {
		blob_store_close(s);
		return rc;
	}
	*out = s;
	return CORE_OK;
}

void blob_store_close(struct blob_store *store)
{
	if (!store)
		return;
	free(store->dir);
	free(store->lock_path);
	free(store->gc_lock_path);
	free(store);
}

bool blob_key_valid(const char *key)
{
	if (!key)
		return false;
	size_t n = strspn(key, "0123456789abcdef");
	return n == BLOB_KEY_LEN && key[n] == '\0';
}

char *blob_object_path(const struct blob_store *store, const char *key)
{
	return core_xasprintf("%s/objects/%.2s/%s", store->dir, key, key);
}

enum core_status blob_open(struct blob_store *store, const char *key, int *fd_out, uint64_t *size_out,
			   struct core_error *err)
{
	if (!blob_key_valid(key))
		return core_fail(err, CORE_EINVAL, "malformed blob key");
	enum core_status rc = CORE_OK;
	char *path = blob_object_path(store, key);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		rc = core_fail(err, errno == ENOENT ? CORE_ENOENT : CORE_EIO, "blob %s: %s", key, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = core_fail(err, CORE_EIO, "blob %s: %s", key, strerror(errno));
		close(fd);
		goto out;
	}
	*fd_out = fd;
	if (size_out)
		*size_out = (uint64_t)st.st_size;
out:
	free(path);
	return rc;
}

bool blob_exists(struct blob_store *store, const char *key)
{
	if (!blob_key_valid(key))
		return false;
	char *path = blob_object_path(store, key);
	bool found = access(path, F_OK) == 0;
	free(path);
	return found;
}

int blob_lock(const char *path, int how)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int r;
	do
		r = flock(fd, how);
	while (r != 0 && errno == EINTR);
	if (r != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

enum core_status blob_touch(struct blob_store *store, const char *key, struct core_error *err)
{
	if (!blob_key_valid(key))
		return core_fail(err, CORE_EINVAL, "malformed blob key");
	enum core_status rc = CORE_OK;
	char *path = blob_object_path(store, key);
	/* shared, as a commit: a collector's removal is then either done (ENOENT) or
	 * not begun, and its re-check sees the fresh mtime */
	int lock = blob_lock(store->lock_path, LOCK_SH);
	if (lock < 0) {
		rc = core_fail(err, CORE_EIO, "lock blob store: %s", strerror(errno));
		goto out;
	}
	if (utimensat(AT_FDCWD, path, NULL, 0) != 0)
		rc = core_fail(err, errno == ENOENT ? CORE_ENOENT : CORE_EIO, "touch blob %s: %s", key,
			       strerror(errno));
	close(lock);
out:
	free(path);
	return rc;
}
