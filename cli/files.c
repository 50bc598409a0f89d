/* The local side of a push (face: cli.h): walks a directory into the list of files a
 * manifest names, and checks paths against the server's rules (which a pull also
 * applies to what the server sends, so a hostile manifest cannot write outside the
 * target directory).
 * What a push takes: every regular file under the directory, named by its path
 * relative to it with '/' separators. Entries whose name starts with '.' are skipped
 * (.git, .DS_Store, editors' swap files: never data); symbolic links are followed when
 * they lead to a regular file and skipped when they lead to a directory (no loops, no
 * surprise trees); FIFOs, sockets and devices are skipped. A name the server would
 * refuse fails the walk before anything is hashed. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "core/alloc.h"

/* Length of the UTF-8 sequence starting at s (1..4), or 0 when it is malformed. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	unsigned cp = c & (0x3f >> (n - 1));
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool cli_path_valid(const char *path, const char **why)
{
	const char *w = NULL;
	size_t len = strlen(path);
	if (len == 0)
		w = "it is empty";
	else if (len > 1024)
		w = "it is longer than 1024 bytes";
	else if (path[0] == '/')
		w = "it is absolute";
	if (w)
		goto out;
	const unsigned char *p = (const unsigned char *)path;
	for (size_t i = 0; i < len;) {
		if (p[i] == '\\') {
			w = "it holds a backslash";
			goto out;
		}
		if (p[i] < 0x20 || p[i] == 0x7f) {
			w = "it holds a control character";
			goto out;
		}
		size_t n = utf8_len(p + i);
		if (n == 0) {
			w = "it is not valid UTF-8";
			goto out;
		}
		i += n;
	}
	for (const char *seg = path;;) {
		size_t n = strcspn(seg, "/");
		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
			w = "it has an empty, '.' or '..' segment";
			goto out;
		}
		if (!seg[n])
			break;
		seg += n + 1;
	}
out:
	if (why)
		*why = w;
	return w == NULL;
}

void cli_files_add(struct cli_files *f, const char *path, const char *local, uint64_t size, const char *sha256)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 256;
		f->v = core_xrealloc(f->v, f->cap * sizeof *f->v);
	}
	struct cli_file *e = &f->v[f->n++];
	e->path = core_xstrdup(path);
	e->local = local ? core_xstrdup(local) : NULL;
	e->size = size;
	e->mtime_ns = e->ctime_ns = 0;
	e->ino = e->dev = 0;
	snprintf(e->sha256, sizeof e->sha256, "%s", sha256 ? sha256 : "");
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct cli_file *)a)->path, ((const struct cli_file *)b)->path);
}

void cli_files_sort(struct cli_files *f)
{
	if (f->n > 1)
		qsort(f->v, f->n, sizeof *f->v, by_path);
}

void cli_files_free(struct cli_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].path);
		free(f->v[i].local);
	}
	free(f->v);
	f->v = NULL;
	f->n = f->cap = 0;
}

static void add_stat(struct cli_files *out, const char *path, const char *local, const struct stat *st)
{
	cli_files_add(out, path, local, (uint64_t)st->st_size, NULL);
	struct cli_file *e = &out->v[out->n - 1];
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	e->ino = (uint64_t)st->st_ino;
	e->dev = (uint64_t)st->st_dev;
}

/* Adds the files below local (whose manifest path is rel, "" at the top). */
static enum core_status walk_dir(const char *local, const char *rel, struct cli_files *out, size_t *skipped,
				 struct core_error *err)
{
	DIR *d = opendir(local);
	if (!d)
		return core_fail(err, CORE_EIO, "cannot read the directory %s: %m", local);
	enum core_status rc = CORE_OK;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.') {
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				(*skipped)++;
			continue;
		}
		char *child = core_xasprintf("%s/%s", local, e->d_name);
		char *child_rel = rel[0] ? core_xasprintf("%s/%s", rel, e->d_name) : core_xstrdup(e->d_name);
		struct stat lst, st;
		if (lstat(child, &lst) != 0) {
			rc = core_fail(err, CORE_EIO, "cannot stat %s: %m", child);
		} else if (S_ISDIR(lst.st_mode)) {
			rc = walk_dir(child, child_rel, out, skipped, err);
		} else if (S_ISREG(lst.st_mode) ||
			   (S_ISLNK(lst.st_mode) && stat(child, &st) == 0 && S_ISREG(st.st_mode))) {
			/* a regular file's lstat is its stat: one system call per file, not two */
			const char *why;
			if (!cli_path_valid(child_rel, &why))
				rc = core_fail(err, CORE_EINVAL, "cannot push %s: the server refuses its name (%s)",
					       child, why);
			else
				add_stat(out, child_rel, child, S_ISREG(lst.st_mode) ? &lst : &st);
		} else {
			(*skipped)++; /* a link to a directory or nowhere, a FIFO, a socket, a device */
		}
		free(child);
		free(child_rel);
		if (rc != CORE_OK)
			break;
		errno = 0;
	}
	if (rc == CORE_OK && errno != 0)
		rc = core_fail(err, CORE_EIO, "cannot read the directory %s: %m", local);
	closedir(d);
	return rc;
}

enum core_status cli_files_walk(const char *root, struct cli_files *out, size_t *skipped, struct core_error *err)
{
	size_t skip = 0;
	enum core_status rc = CORE_OK;
	cli_files_free(out);
	struct stat st;
	if (stat(root, &st) != 0) {
		rc = core_fail(err, errno == ENOENT ? CORE_ENOENT : CORE_EIO, "cannot read %s: %m", root);
	} else if (S_ISDIR(st.st_mode)) {
		size_t n = strlen(root);
		while (n > 1 && root[n - 1] == '/')
			n--;
		char *top = core_xstrndup(root, n);
		rc = walk_dir(top, "", out, &skip, err);
		free(top);
	} else if (S_ISREG(st.st_mode)) {
		const char *base = strrchr(root, '/');
		base = base ? base + 1 : root;
		const char *why;
		if (!cli_path_valid(base, &why))
			rc = core_fail(err, CORE_EINVAL, "cannot push %s: the server refuses its name (%s)", root, why);
		else
			add_stat(out, base, root, &st);
	} else {
		rc = core_fail(err, CORE_EINVAL, "%s is neither a regular file nor a directory", root);
	}
	if (rc != CORE_OK) {
		cli_files_free(out);
		return rc;
	}
	cli_files_sort(out);
	if (skipped)
		*skipped = skip;
	return CORE_OK;
}
