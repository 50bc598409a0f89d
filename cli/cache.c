/* The hash cache of pushed directories (face: cli.h): a second push of 70,000 unchanged
 * files should cost their stat calls, not reading 40 MB again. One text file per
 * directory, lines "<sha256> <size> <mtime_ns> <ctime_ns> <ino> <dev> <path>" sorted
 * by path, so applying it is a merge of two sorted lists. A file is trusted only when
 * all five stat fields match; files changed within 2 s of the save are left out, since a
 * change in the same clock tick would keep the same mtime (git's racy-file rule).
 * Everything here is best effort: no cache, a torn cache or an unwritable directory
 * only means hashing everything. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

size_t cli_hash_cache_apply(const char *root, struct cli_files *f)
{
	char *path = cache_path(root);
	FILE *in = path ? fopen(path, "r") : NULL;
	free(path);
	if (!in)
		return 0;
	size_t reused = 0, i = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while (i < f->n && (n = getline(&line, &cap, in)) > 0) {
		if (line[n - 1] != '\n')
			break; /* torn last line */
		line[n - 1] = '\0';
		char sha[65];
		unsigned long long size, ino, dev;
		long long mtime, ctime;
		int off = 0;
		if (sscanf(line, "%64s %llu %lld %lld %llu %llu %n", sha, &size, &mtime, &ctime, &ino, &dev, &off) !=
			    6 ||
		    off == 0 || !cli_sha256_valid(sha))
			break; /* not ours: trust none of the rest */
		const char *p = line + off;
		int c = 1;
		while (i < f->n && (c = strcmp(f->v[i].path, p)) < 0)
			i++;
		if (i < f->n && c == 0) {
			struct cli_file *e = &f->v[i];
			if (e->size == size && e->mtime_ns == mtime && e->ctime_ns == ctime && e->ino == ino &&
			    e->dev == dev) {
				memcpy(e->sha256, sha, sizeof e->sha256);
				reused++;
			}
			i++;
		}
	}
	free(line);
	fclose(in);
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
