/* The local side of a push (face: cli.h): walks a directory into the list of files a
 * manifest names, and checks paths against the server's rules (which a pull also
 * applies to what the server sends, so a hostile manifest cannot write outside the
 * target directory).
 * The walk reads each directory relative to its parent's descriptor (openat, fstatat:
 * no path lookup from the root per file), sorts each directory's names so the whole
 * list comes out in path order, and keeps the names in an arena (no allocation per
 * file): a second push of 70,000 unchanged files is mostly their fstatat calls.
 * What a push takes: every regular file under the directory, named by its path
 * relative to it with '/' separators. Entries whose name starts with '.' are skipped
 * (.git, .DS_Store, editors' swap files: never data); symbolic links are followed when
 * they lead to a regular file and skipped when they lead to a directory (no loops, no
 * surprise trees); FIFOs, sockets and devices are skipped. A name the server would
 * refuse fails the walk before anything is hashed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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

/* The paths of a list live in chunks of one arena: a walk of 70,000 files makes a few
 * dozen allocations, not 140,000. A chunk is never moved, so entries keep pointing in. */
struct cli_arena {
	struct cli_arena *next;
	size_t used, cap;
	char data[];
};

#define CLI_ARENA_CHUNK ((size_t)256 * 1024)

/* n bytes of f's arena. */
static char *arena_alloc(struct cli_files *f, size_t n)
{
	struct cli_arena *a = f->arena;
	if (!a || a->cap - a->used < n) {
		/* 4 KiB first (a directory's few names), doubling up to CLI_ARENA_CHUNK */
		size_t cap = a ? (a->cap < CLI_ARENA_CHUNK ? 2 * a->cap : CLI_ARENA_CHUNK) : 4096;
		if (cap < n)
			cap = n;
		a = core_xmalloc(sizeof *a + cap);
		a->next = f->arena;
		a->used = 0;
		a->cap = cap;
		f->arena = a;
	}
	char *p = a->data + a->used;
	a->used += n;
	return p;
}

/* A NUL-terminated copy of the n bytes at s in f's arena. */
static char *arena_strndup(struct cli_files *f, const char *s, size_t n)
{
	char *p = arena_alloc(f, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* A new zeroed entry at the end of f. */
static struct cli_file *files_push(struct cli_files *f)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 256;
		f->v = core_xrealloc(f->v, f->cap * sizeof *f->v);
	}
	struct cli_file *e = &f->v[f->n++];
	memset(e, 0, sizeof *e);
	return e;
}

void cli_files_add(struct cli_files *f, const char *path, const char *local, uint64_t size, const char *sha256)
{
	struct cli_file *e = files_push(f);
	e->path = arena_strndup(f, path, strlen(path));
	e->local = local ? arena_strndup(f, local, strlen(local)) : NULL;
	e->size = size;
	snprintf(e->sha256, sizeof e->sha256, "%s", sha256 ? sha256 : "");
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct cli_file *)a)->path, ((const struct cli_file *)b)->path);
}

void cli_files_sort(struct cli_files *f)
{
	size_t i = 1;
	while (i < f->n && strcmp(f->v[i - 1].path, f->v[i].path) <= 0)
		i++;
	if (i < f->n) /* a walk's list is sorted already: this is for lists built otherwise */
		qsort(f->v, f->n, sizeof *f->v, by_path);
}

void cli_files_free(struct cli_files *f)
{
	while (f->arena) {
		struct cli_arena *next = f->arena->next;
		free(f->arena);
		f->arena = next;
	}
	free(f->v);
	f->v = NULL;
	f->n = f->cap = 0;
}

static void set_stat(struct cli_file *e, const struct stat *st)
{
	e->size = (uint64_t)st->st_size;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	e->ino = (uint64_t)st->st_ino;
	e->dev = (uint64_t)st->st_dev;
}

/* The state of one walk: the top directory as given and the manifest path of the
 * directory being read, which grows and shrinks as the walk goes down and up. */
struct walk {
	struct cli_files *out;
	size_t *skipped;
	const char *top; /* without trailing '/' */
	size_t top_len;
	char rel[4 * 4096]; /* the current directory's manifest path, "" at the top */
	size_t rel_len;
	struct core_error *err;
};

/* One directory entry, kept for sorting: its name and whether it is a directory. */
struct dent {
	char *name;
	size_t len;
	unsigned char type; /* d_type */
};

/* Bytewise order of the paths below: a directory's name counts as name + "/", so that
 * reading sorted entries depth-first lists the paths in the order strcmp gives. */
static int by_dent(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->name, y->name, n);
	if (c != 0)
		return c;
	unsigned cx = x->len > n ? (unsigned char)x->name[n] : (x->type == DT_DIR ? '/' : 0);
	unsigned cy = y->len > n ? (unsigned char)y->name[n] : (y->type == DT_DIR ? '/' : 0);
	return (int)cx - (int)cy;
}

/* "<top>/<rel>/<name>" for a message (malloc'd). */
static char *local_of(const struct walk *w, const char *name)
{
	return core_xasprintf("%s%s%.*s/%s", w->top, w->rel_len ? "/" : "", (int)w->rel_len, w->rel, name);
}

static enum core_status walk_dir(struct walk *w, int dfd);

/* Adds the entry name of the directory dfd (the walk's current one). */
static enum core_status walk_entry(struct walk *w, int dfd, const struct dent *d)
{
	struct stat st;
	enum core_status rc = CORE_OK;
	unsigned char type = d->type;
	if (type != DT_DIR && type != DT_REG && type != DT_LNK) {
		/* unknown to readdir (some file systems), or a special file: ask the inode */
		if (fstatat(dfd, d->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			char *l = local_of(w, d->name);
			rc = core_fail(w->err, CORE_EIO, "cannot stat %s: %m", l);
			free(l);
			return rc;
		}
		type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : S_ISLNK(st.st_mode) ? DT_LNK : 0;
		if (!type) {
			(*w->skipped)++; /* a FIFO, a socket, a device */
			return CORE_OK;
		}
	}
	size_t saved = w->rel_len;
	if (saved + 1 + d->len >= sizeof w->rel) {
		char *l = local_of(w, d->name);
		rc = core_fail(w->err, CORE_EINVAL,
			       "cannot push %s: the server refuses its name (it is longer than "
			       "1024 bytes)",
			       l);
		free(l);
		return rc;
	}
	if (saved)
		w->rel[w->rel_len++] = '/';
	memcpy(w->rel + w->rel_len, d->name, d->len + 1);
	w->rel_len += d->len;
	if (type == DT_DIR) {
		/* O_NOFOLLOW: a directory swapped for a link since readdir is not followed */
		int fd = openat(dfd, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			rc = core_fail(w->err, CORE_EIO, "cannot read the directory %s/%s: %m", w->top, w->rel);
		} else {
			rc = walk_dir(w, fd);
		}
	} else {
		/* a regular file's lstat is its stat: one system call per file, not two; a link
		 * counts when it leads to a regular file */
		int r = fstatat(dfd, d->name, &st, type == DT_LNK ? 0 : AT_SYMLINK_NOFOLLOW);
		if (r != 0 && type == DT_REG) {
			rc = core_fail(w->err, CORE_EIO, "cannot stat %s/%s: %m", w->top, w->rel);
		} else if (r != 0 || !S_ISREG(st.st_mode)) {
			(*w->skipped)++; /* a link to a directory or nowhere, or a file replaced since */
		} else {
			const char *why;
			if (!cli_path_valid(w->rel, &why)) {
				rc = core_fail(w->err, CORE_EINVAL,
					       "cannot push %s/%s: the server refuses its name (%s)", w->top, w->rel,
					       why);
			} else {
				struct cli_file *e = files_push(w->out);
				e->path = arena_strndup(w->out, w->rel, w->rel_len);
				e->local = arena_alloc(w->out, w->top_len + 1 + w->rel_len + 1);
				memcpy(e->local, w->top, w->top_len);
				e->local[w->top_len] = '/';
				memcpy(e->local + w->top_len + 1, w->rel, w->rel_len + 1);
				set_stat(e, &st);
			}
		}
	}
	w->rel_len = saved;
	w->rel[saved] = '\0';
	return rc;
}

/* Adds the files below the directory dfd (owned: closed here), in path order. Its
 * entries are read first and sorted (by_dent), then visited: a directory of 7,000
 * files costs one sort of its names, and the whole list comes out sorted. */
static enum core_status walk_dir(struct walk *w, int dfd)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return core_fail(w->err, CORE_EIO, "cannot read the directory %s/%s: %m", w->top, w->rel);
	}
	enum core_status rc = CORE_OK;
	struct dent *v = NULL;
	size_t n = 0, cap = 0;
	struct cli_files names = {0}; /* an arena for the names */
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.') {
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				(*w->skipped)++;
			errno = 0;
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			v = core_xrealloc(v, cap * sizeof *v);
		}
		size_t len = strlen(e->d_name);
		v[n++] = (struct dent){.name = arena_strndup(&names, e->d_name, len), .len = len, .type = e->d_type};
		errno = 0;
	}
	if (errno != 0)
		rc = core_fail(w->err, CORE_EIO, "cannot read the directory %s/%s: %m", w->top, w->rel);
	if (rc == CORE_OK && n > 1)
		qsort(v, n, sizeof *v, by_dent);
	for (size_t i = 0; i < n && rc == CORE_OK; i++)
		rc = walk_entry(w, dirfd(d), &v[i]);
	free(v);
	cli_files_free(&names);
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
		struct walk *w = core_xcalloc(1, sizeof *w);
		char *top = core_xstrndup(root, n);
		*w = (struct walk){.out = out, .skipped = &skip, .top = top, .top_len = n, .err = err};
		int fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			rc = core_fail(err, CORE_EIO, "cannot read the directory %s: %m", top);
		else
			rc = walk_dir(w, fd);
		free(top);
		free(w);
	} else if (S_ISREG(st.st_mode)) {
		const char *base = strrchr(root, '/');
		base = base ? base + 1 : root;
		const char *why;
		if (!cli_path_valid(base, &why)) {
			rc = core_fail(err, CORE_EINVAL, "cannot push %s: the server refuses its name (%s)", root, why);
		} else {
			cli_files_add(out, base, root, 0, NULL);
			set_stat(&out->v[out->n - 1], &st);
		}
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
