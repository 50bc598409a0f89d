/* File helpers (face: core/file.h). The atomic write follows the classic recipe
 * (temporary file in the same directory, fsync, rename, fsync the directory) so a
 * crash leaves either the old file or the new one. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/file.h"
#include "core/id.h"

enum core_status core_mkdir_p(const char *path, mode_t mode, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	char *copy = core_xstrdup(path);
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, mode) != 0 && errno != EEXIST) {
			rc = core_fail(err, CORE_EIO, "mkdir %s: %s", copy, strerror(errno));
			goto out;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		rc = core_fail(err, CORE_EIO, "%s is not a directory", path);
out:
	free(copy);
	return rc;
}

static enum core_status write_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return CORE_EIO;
		p += w;
		n -= (size_t)w;
	}
	return CORE_OK;
}

enum core_status core_write_file_atomic(const char *path, const void *data, size_t n, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	char suffix[CORE_ID_HEX_LEN + 1];
	core_id_uuid_hex(suffix);
	char *tmp = core_xasprintf("%s.%s.tmp", path, suffix);
	char *dir_copy = core_xstrdup(path);
	int fd = -1, dir_fd = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = core_fail(err, CORE_EIO, "create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, data, n) != CORE_OK || fsync(fd) != 0) {
		rc = core_fail(err, CORE_EIO, "write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = core_fail(err, CORE_EIO, "close %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = core_fail(err, CORE_EIO, "rename %s: %s", path, strerror(errno));
		goto out;
	}
	dir_fd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd >= 0)
		fsync(dir_fd); /* best effort: the rename is done either way */
out:
	if (fd >= 0)
		close(fd);
	if (dir_fd >= 0)
		close(dir_fd);
	if (rc != CORE_OK)
		unlink(tmp);
	free(tmp);
	free(dir_copy);
	return rc;
}

enum core_status core_read_file(const char *path, size_t max, char **out, size_t *len_out, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	char *data = NULL;
	size_t len = 0, cap = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = core_fail(err, errno == ENOENT ? CORE_ENOENT : CORE_EIO, "open %s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if (cap > max + 4097)
				cap = max + 4097;
			char *p = realloc(data, cap);
			if (!p) {
				rc = core_fail(err, CORE_ENOMEM, "read %s: out of memory", path);
				goto out;
			}
			data = p;
		}
		ssize_t r = read(fd, data + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = core_fail(err, CORE_EIO, "read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			rc = core_fail(err, CORE_ELIMIT, "%s is larger than %zu bytes", path, max);
			goto out;
		}
	}
	data[len] = '\0';
	*out = data;
	data = NULL;
	if (len_out)
		*len_out = len;
out:
	if (fd >= 0)
		close(fd);
	free(data);
	return rc;
}
