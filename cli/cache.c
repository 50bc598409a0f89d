/* The hash cache of pushed directories (face: cli.h): a second push of 70,000 unchanged
 * files should cost their stat calls, not reading 40 MB again. One text file per
 * directory, lines "<sha256> <size> <mtime_ns> <ctime_ns> <ino> <dev> <path>" sorted
 * by path, so applying it is a merge of two sorted lists (the file is read in one go
 * and parsed in place: O(1) per file, no scanf). A file is trusted only when
 * all five stat fields match; files changed within 2 s of the save are left out, since a
 * change in the same clock tick would keep the same mtime (git's racy-file rule).
 * Everything here is best effort: no cache, a torn cache or an unwritable directory
 * only means hashing everything. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "core/alloc.h"
#include "core/file.h"

/* The cache file of root (malloc'd), or NULL when there is no place for one. */
static char *cache_path(const char *root)
{
	const char *dir = getenv("LATHE_CACHE_DIR");
	char *base = NULL;
	if (dir && *dir) {
		base = core_xstrdup(dir);
	} else if ((dir = getenv("XDG_CACHE_HOME")) && *dir) {
		base = core_xasprintf("%s/lathe", dir);
	} else if ((dir = getenv("HOME")) && *dir) {
		base = core_xasprintf("%s/.cache/lathe", dir);
	} else {
		return NULL;
	}
	char *real = realpath(root, NULL);
	if (!real) {
		free(base);
		return NULL;
	}
	char key[65];
	if (core_sha256_hex(real, strlen(real), key) != CORE_OK) {
		free(real);
		free(base);
		return NULL;
	}
	char *path = core_xasprintf("%s/hashes-%.32s", base, key);
	free(real);
	free(base);
	return path;
}

/* Reads a decimal number at *p ending at the byte stop; false when there is none. */
static bool parse_num(char **p, char stop, bool sign, unsigned long long *out)
{
	char *s = *p;
	bool neg = sign && *s == '-';
	if (neg)
		s++;
	unsigned long long v = 0;
	char *start = s;
	while (*s >= '0' && *s <= '9' && s - start < 19)
		v = v * 10 + (unsigned)(*s++ - '0');
	if (s == start || *s != stop)
		return false;
	*out = neg ? (unsigned long long)-(long long)v : v;
	*p = s + 1;
	return true;
}

/* The whole cache file of root, NUL-terminated (malloc'd), or NULL. */
static char *cache_read(const char *root, size_t *len)
{
	char *path = cache_path(root);
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	free(path);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size < ((uint64_t)1 << 34)) {
		size_t n = (size_t)st.st_size, got = 0;
		buf = core_xmalloc(n + 1);
		while (got < n) {
			ssize_t r = read(fd, buf + got, n - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		buf[got] = '\0';
		*len = got;
	}
	close(fd);
	return buf;
}

size_t cli_hash_cache_apply(const char *root, struct cli_files *f)
{
	size_t len = 0;
	char *buf = cache_read(root, &len);
	if (!buf)
		return 0;
	/* One pass over both sorted lists: each line and each file is looked at once. */
	size_t reused = 0, i = 0;
	char *end = buf + len;
	for (char *line = buf; i < f->n && line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			break; /* torn last line */
		*nl = '\0';
		char *p = line + 65;
		unsigned long long size, mtime, ctime, ino, dev;
		if (nl - line < 65 || line[64] != ' ' || !parse_num(&p, ' ', false, &size) ||
		    !parse_num(&p, ' ', true, &mtime) || !parse_num(&p, ' ', true, &ctime) ||
		    !parse_num(&p, ' ', false, &ino) || !parse_num(&p, ' ', false, &dev))
			break; /* not ours: trust none of the rest */
		line[64] = '\0';
		if (!cli_sha256_valid(line))
			break;
		int c = 1;
		while (i < f->n && (c = strcmp(f->v[i].path, p)) < 0)
			i++;
		if (i < f->n && c == 0) {
			struct cli_file *e = &f->v[i];
			if (e->size == size && e->mtime_ns == (int64_t)mtime && e->ctime_ns == (int64_t)ctime &&
			    e->ino == ino && e->dev == dev) {
				memcpy(e->sha256, line, sizeof e->sha256);
				reused++;
			}
			i++;
		}
		line = nl + 1;
	}
	free(buf);
	return reused;
}

enum core_status cli_hash_cache_save(const char *root, const struct cli_files *f, struct core_error *err)
{
	char *path = cache_path(root);
	if (!path)
		return core_fail(err, CORE_ENOENT, "no cache directory (set LATHE_CACHE_DIR or HOME)");
	enum core_status rc = CORE_OK;
	char *tmp = NULL;
	FILE *out = NULL;
	char *slash = strrchr(path, '/');
	*slash = '\0';
	rc = core_mkdir_p(path, 0700, err);
	*slash = '/';
	if (rc != CORE_OK)
		goto out;
	tmp = core_xasprintf("%s.%ld.tmp", path, (long)getpid());
	out = fopen(tmp, "w");
	if (!out) {
		rc = core_fail(err, CORE_EIO, "cannot write %s: %m", tmp);
		goto out;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t racy = ((int64_t)now.tv_sec - 2) * 1000000000 + now.tv_nsec;
	for (size_t i = 0; i < f->n; i++) {
		const struct cli_file *e = &f->v[i];
		if (!e->sha256[0] || e->mtime_ns >= racy || e->ctime_ns >= racy)
			continue;
		fprintf(out, "%s %llu %lld %lld %llu %llu %s\n", e->sha256, (unsigned long long)e->size,
			(long long)e->mtime_ns, (long long)e->ctime_ns, (unsigned long long)e->ino,
			(unsigned long long)e->dev, e->path);
	}
	if (fclose(out) != 0) {
		out = NULL;
		rc = core_fail(err, CORE_EIO, "cannot write %s: %m", tmp);
		goto out;
	}
	out = NULL;
	if (rename(tmp, path) != 0)
		rc = core_fail(err, CORE_EIO, "cannot rename %s: %m", tmp);
out:
	if (out)
		fclose(out);
	if (rc != CORE_OK && tmp)
		unlink(tmp);
	free(tmp);
	free(path);
	return rc;
}
