/* One-request uploads (face: data.h): the request body, already spooled to a file by
 * the handler, is unpacked with libarchive and every regular file is streamed into the
 * blob store, giving the manifest entries the version is then committed with. Also the
 * manifest path rules (dr_path_check), which a JSON manifest commit applies too.
 *
 * Nothing is trusted from the archive: each entry's path is checked before a byte of
 * it is stored, only regular files and directories are taken (links, devices, FIFOs
 * and sockets are refused, since a version is a set of files, not a filesystem), and a
 * corrupt or truncated archive fails the whole upload. A failure leaves nothing for the
 * caller to undo: blobs already written are unreferenced and the collector removes
 * them after its grace period. Memory is one read buffer whatever the sizes; only the
 * list of entries grows with the archive (bounded by max_files). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "core/alloc.h"
#include "data.h"

#define CHUNK (64 * 1024)

enum media { MEDIA_NONE, MEDIA_CSV, MEDIA_GZIP, MEDIA_TAR, MEDIA_ZIP };

void dr_manifest_free(struct dr_manifest_file *files, size_t n)
{
	if (!files)
		return;
	for (size_t i = 0; i < n; i++)
		free(files[i].path);
	free(files);
}

static int by_path(const void *a, const void *b)
{
	const struct dr_manifest_file *x = a, *y = b;
	return strcmp(x->path, y->path); /* strcmp compares as unsigned char: bytewise */
}

/* Writes s into out for a message: control bytes, DEL, backslash and bytes past 0x7f
 * that are not UTF-8 shown as \xNN, cut with "..." past about 200 bytes. */
static const char *shown(const char *s, char *out, size_t size)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && w + 8 < size; p++) {
		if (w > 200) {
			memcpy(out + w, "...", 3);
			w += 3;
			break;
		}
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			w += (size_t)snprintf(out + w, size - w, "\\x%02x", *p);
		else
			out[w++] = (char)*p;
	}
	out[w] = '\0';
	return out;
}

enum core_status dr_manifest_sort(struct dr_manifest_file *files, size_t n, struct core_error *err)
{
	if (n > 1)
		qsort(files, n, sizeof *files, by_path);
	for (size_t i = 1; i < n; i++)
		if (strcmp(files[i - 1].path, files[i].path) == 0)
			return dr_path_duplicate(files[i].path, err);
	return CORE_OK;
}

enum core_status dr_path_duplicate(const char *path, struct core_error *err)
{
	char s[256];
	return core_fail(err, CORE_EINVAL, "duplicate path '%s'", shown(path, s, sizeof s));
}

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf; /* overlong, surrogates */
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf; /* overlong, > U+10FFFF */
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

enum core_status dr_path_check(const char *path, struct core_error *err)
{
	char s[256];
	if (!path || !*path)
		return core_fail(err, CORE_EINVAL, "empty path");
	size_t len = strlen(path);
	if (len > DR_PATH_MAX)
		return core_fail(err, CORE_EINVAL, "path '%s' is longer than %d bytes", shown(path, s, sizeof s),
				 DR_PATH_MAX);
	if (path[0] == '/')
		return core_fail(err, CORE_EINVAL, "path '%s' is absolute", shown(path, s, sizeof s));
	for (const unsigned char *p = (const unsigned char *)path; *p;) {
		if (*p < 0x20 || *p == 0x7f)
			return core_fail(err, CORE_EINVAL, "path '%s' holds a control character",
					 shown(path, s, sizeof s));
		if (*p == '\\')
			return core_fail(err, CORE_EINVAL, "path '%s' holds a backslash", shown(path, s, sizeof s));
		size_t n = utf8_len(p);
		if (!n)
			return core_fail(err, CORE_EINVAL, "path '%s' is not valid UTF-8", shown(path, s, sizeof s));
		p += n;
	}
	for (const char *seg = path;;) {
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);
		if (n == 0)
			return core_fail(err, CORE_EINVAL, "path '%s' has an empty segment", shown(path, s, sizeof s));
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return core_fail(err, CORE_EINVAL, "path '%s' has a '%.*s' segment", shown(path, s, sizeof s),
					 (int)n, seg);
		if (!end)
			break;
		seg = end + 1;
	}
	return CORE_OK;
}

static enum media media_of(const char *content_type)
{
	static const struct {
		const char *name;
		enum media m;
	} types[] = {
		{"text/csv", MEDIA_CSV},
		{"application/gzip", MEDIA_GZIP},
		{"application/x-gzip", MEDIA_GZIP},
		{"application/x-tar", MEDIA_TAR},
		{"application/x-gtar", MEDIA_TAR},
		{"application/x-compressed-tar", MEDIA_TAR},
		{"application/tar+gzip", MEDIA_TAR},
		{"application/zip", MEDIA_ZIP},
	};
	if (!content_type)
		return MEDIA_NONE;
	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	size_t n = strcspn(content_type, "; \t");
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		if (strlen(types[i].name) == n && strncasecmp(types[i].name, content_type, n) == 0)
			return types[i].m;
	}
	return MEDIA_NONE;
}

bool dr_unpack_media_ok(const char *content_type)
{
	return media_of(content_type) != MEDIA_NONE;
}

/* What one unpacking collects. */
struct unpack {
	struct blob_store *store;
	const struct dr_unpack_opts *o;
	struct dr_manifest_file *files;
	size_t n, cap, max_files;
	uint64_t bytes; /* unpacked so far */
	uint8_t *buf;   /* CHUNK */
};

/* Appends an entry (path copied), refusing past max_files. */
static enum core_status add_file(struct unpack *u, const char *path, const char *key, uint64_t size,
				 struct core_error *err)
{
	if (u->n == u->max_files)
		return core_fail(err, CORE_ELIMIT, "the upload has more than %zu files", u->max_files);
	if (u->n == u->cap) {
		u->cap = u->cap ? 2 * u->cap : 64;
		u->files = core_xrealloc(u->files, u->cap * sizeof *u->files);
	}
	struct dr_manifest_file *f = &u->files[u->n++];
	f->path = core_xstrdup(path);
	memcpy(f->sha256, key, sizeof f->sha256);
	f->size = size;
	return CORE_OK;
}

/* A source of bytes for store_stream: the body file itself or an archive entry. Returns
 * the bytes read (0 at the end) or -1 with err filled. */
typedef ssize_t (*read_fn)(void *src, uint8_t *buf, size_t cap, const char *path, struct core_error *err);

static ssize_t read_fd(void *src, uint8_t *buf, size_t cap, const char *path, struct core_error *err)
{
	ssize_t r;
	do
		r = read(*(int *)src, buf, cap);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		core_fail(err, CORE_EIO, "reading the body of '%s': %s", path, strerror(errno));
	return r;
}

static ssize_t read_entry(void *src, uint8_t *buf, size_t cap, const char *path, struct core_error *err)
{
	la_ssize_t r = archive_read_data(src, buf, cap);
	if (r < 0) {
		char s[256];
		core_fail(err, CORE_EINVAL, "corrupt archive at '%s': %s", shown(path, s, sizeof s),
			  archive_error_string(src) ? archive_error_string(src) : "read error");
		return -1;
	}
	return r;
}

/* Streams one file into the store and records it under path. */
static enum core_status store_stream(struct unpack *u, const char *path, read_fn rd, void *src, struct core_error *err)
{
	struct blob_writer *w = NULL;
	char key[BLOB_KEY_LEN + 1];
	enum core_status st = blob_writer_new(u->store, &w, err);
	if (st != CORE_OK)
		return st;
	for (;;) {
		ssize_t r = rd(src, u->buf, CHUNK, path, err);
		if (r < 0) {
			st = rd == read_fd ? CORE_EIO : CORE_EINVAL; /* the message is in err already */
			goto fail;
		}
		if (r == 0)
			break;
		u->bytes += (uint64_t)r;
		if (u->o->max_bytes && u->bytes > u->o->max_bytes) {
			st = core_fail(err, CORE_ELIMIT, "the upload unpacks to more than %llu bytes",
				       (unsigned long long)u->o->max_bytes);
			goto fail;
		}
		if ((st = blob_writer_write(w, u->buf, (size_t)r, err)) != CORE_OK)
			goto fail;
	}
	uint64_t size = blob_writer_size(w);
	st = blob_writer_commit(w, key, err);
	if (st != CORE_OK)
		return st;
	return add_file(u, path, key, size, err);
fail:
	blob_writer_abort(w);
	return st;
}

/* The original name in a gzip header (RFC 1952 FNAME) into name, or "" when it has
 * none; -1 when the file is not gzip at all. */
static int gzip_name(int fd, char *name, size_t size)
{
	uint8_t h[10 + 2 + 65535 + DR_PATH_MAX + 2];
	ssize_t n = pread(fd, h, sizeof h, 0);
	name[0] = '\0';
	if (n < 10 || h[0] != 0x1f || h[1] != 0x8b || h[2] != 8)
		return -1;
	size_t at = 10;
	if (h[3] & 4) { /* FEXTRA */
		if (n < 12)
			return 0;
		at += 2 + (size_t)(h[10] | h[11] << 8);
	}
	if (!(h[3] & 8)) /* no FNAME */
		return 0;
	size_t w = 0;
	for (; at < (size_t)n && h[at] && w + 1 < size; at++)
		name[w++] = (char)h[at];
	name[w] = '\0';
	if (at >= (size_t)n || h[at]) /* unterminated or too long: let the path check refuse it */
		name[w > 0 ? w - 1 : 0] = 0x01;
	return 0;
}

/* libarchive's zip reader turns '\\' in names into '/', so a name written with a
 * backslash would pass unseen: the central directory's raw names are read first. Returns
 * CORE_OK, CORE_EINVAL naming the first such entry, or nothing when the directory cannot
 * be found (libarchive then reports the corrupt archive). */
static enum core_status zip_raw_names(int fd, uint64_t file_size, struct core_error *err)
{
	uint8_t tail[65536 + 22];
	size_t want = file_size < sizeof tail ? (size_t)file_size : sizeof tail;
	uint64_t base = file_size - want;
	ssize_t got = pread(fd, tail, want, (off_t)base);
	if (got != (ssize_t)want || want < 22)
		return CORE_OK;
	ssize_t at = (ssize_t)want - 22;
	while (at >= 0 && !(tail[at] == 'P' && tail[at + 1] == 'K' && tail[at + 2] == 5 && tail[at + 3] == 6))
		at--;
	if (at < 0)
		return CORE_OK;
	const uint8_t *e = tail + at;
	uint64_t entries = e[10] | e[11] << 8;
	uint64_t off = (uint64_t)e[16] | (uint64_t)e[17] << 8 | (uint64_t)e[18] << 16 | (uint64_t)e[19] << 24;
	if (off == 0xffffffffu || entries == 0xffff) { /* zip64: its end record holds the real numbers */
		uint8_t loc[20], z[56];
		uint64_t eocd = base + (uint64_t)at;
		if (eocd < 20 || pread(fd, loc, 20, (off_t)(eocd - 20)) != 20 || memcmp(loc, "PK\x06\x07", 4) != 0)
			return CORE_OK;
		uint64_t zoff = 0;
		for (int i = 7; i >= 0; i--)
			zoff = zoff << 8 | loc[8 + i];
		if (pread(fd, z, sizeof z, (off_t)zoff) != (ssize_t)sizeof z || memcmp(z, "PK\x06\x06", 4) != 0)
			return CORE_OK;
		entries = off = 0;
		for (int i = 7; i >= 0; i--) {
			entries = entries << 8 | z[32 + i];
			off = off << 8 | z[48 + i];
		}
	}
	char name[DR_PATH_MAX + 1], s[256];
	for (uint64_t i = 0; i < entries; i++) {
		uint8_t h[46];
		if (pread(fd, h, sizeof h, (off_t)off) != (ssize_t)sizeof h || memcmp(h, "PK\x01\x02", 4) != 0)
			return CORE_OK;
		size_t nlen = h[28] | h[29] << 8, xlen = h[30] | h[31] << 8, clen = h[32] | h[33] << 8;
		size_t take = nlen < DR_PATH_MAX ? nlen : DR_PATH_MAX;
		if (pread(fd, name, take, (off_t)(off + 46)) != (ssize_t)take)
			return CORE_OK;
		name[take] = '\0';
		if (memchr(name, '\\', take))
			return core_fail(err, CORE_EINVAL, "path '%s' holds a backslash", shown(name, s, sizeof s));
		off += 46 + nlen + xlen + clen;
	}
	return CORE_OK;
}

/* gzip, decompressed here rather than by libarchive, whose filter does not check the
 * CRC-32 and length trailer: a corrupted body must fail, not unpack to other bytes.
 * Concatenated members are one stream (as gzip -d); zero padding after the last is
 * accepted (tape blocking), anything else is not. */
struct gunzip {
	int fd;
	z_stream zs;
	bool in_eof, member_done, finished;
	uint8_t in[CHUNK], out[CHUNK];
};

static la_ssize_t gunzip_read(struct archive *a, void *cls, const void **buf)
{
	struct gunzip *g = cls;
	*buf = g->out;
	if (g->finished)
		return 0;
	g->zs.next_out = g->out;
	g->zs.avail_out = CHUNK;
	while (g->zs.avail_out == CHUNK) {
		if (g->zs.avail_in == 0 && !g->in_eof) {
			ssize_t r;
			do
				r = read(g->fd, g->in, CHUNK);
			while (r < 0 && errno == EINTR);
			if (r < 0) {
				archive_set_error(a, errno, "reading the body: %s", strerror(errno));
				return -1;
			}
			g->in_eof = r == 0;
			g->zs.next_in = g->in;
			g->zs.avail_in = (uInt)r;
		}
		if (g->member_done) { /* between members: another one, padding, or the end */
			while (g->zs.avail_in && g->zs.next_in[0] == 0) {
				g->zs.next_in++;
				g->zs.avail_in--;
			}
			if (g->zs.avail_in == 0) {
				if (g->in_eof) {
					g->finished = true;
					break;
				}
				continue;
			}
			if (inflateReset(&g->zs) != Z_OK) {
				archive_set_error(a, EILSEQ, "gzip: cannot restart");
				return -1;
			}
			g->member_done = false;
		}
		if (g->zs.avail_in == 0 && g->in_eof) {
			archive_set_error(a, EILSEQ, "truncated gzip data");
			return -1;
		}
		int z = inflate(&g->zs, Z_NO_FLUSH);
		if (z == Z_STREAM_END) {
			g->member_done = true;
		} else if (z != Z_OK && z != Z_BUF_ERROR) {
			archive_set_error(a, EILSEQ, "corrupt gzip data: %s", g->zs.msg ? g->zs.msg : "inflate failed");
			return -1;
		}
	}
	return (la_ssize_t)(CHUNK - g->zs.avail_out);
}

static bool is_gzip(int fd)
{
	uint8_t m[2];
	return pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

/* Why an entry of this type is refused, or NULL when it is taken. */
static const char *refused_type(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return "a hard link";
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
	case AE_IFDIR:
		return NULL;
	case AE_IFLNK:
		return "a symlink";
	case AE_IFCHR:
	case AE_IFBLK:
		return "a device";
	case AE_IFIFO:
		return "a FIFO";
	case AE_IFSOCK:
		return "a socket";
	default:
		return "of an unknown type";
	}
}

/* The entries of an opened archive. single_name: the name of a raw (single gzipped)
 * file; NULL when a raw entry is not acceptable. */
static enum core_status unpack_entries(struct unpack *u, struct archive *a, enum media m, const char *single_name,
				       struct core_error *err)
{
	char s[256];
	for (bool first = true;; first = false) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) /* ARCHIVE_WARN: e.g. an unknown pax keyword, the entry is fine */
			return core_fail(err, CORE_EINVAL, "corrupt archive: %s",
					 archive_error_string(a) ? archive_error_string(a) : "unreadable");
		if (first) {
			int base = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
			bool ok = m == MEDIA_ZIP ? base == ARCHIVE_FORMAT_ZIP
						 : base == ARCHIVE_FORMAT_TAR ||
							   (base == ARCHIVE_FORMAT_RAW && m == MEDIA_GZIP);
			if (!ok)
				return core_fail(err, CORE_EINVAL, "the body is not %s",
						 m == MEDIA_ZIP    ? "a zip archive"
						 : m == MEDIA_GZIP ? "gzip data"
								   : "a tar archive");
		}
		if ((archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_RAW) {
			enum core_status st = dr_path_check(single_name, err);
			if (st == CORE_OK)
				st = store_stream(u, single_name, read_entry, a, err);
			if (st != CORE_OK)
				return st;
			continue;
		}
		const char *path = archive_entry_pathname(e);
		if (!path)
			return core_fail(err, CORE_EINVAL, "an archive entry has no path");
		const char *why = refused_type(e);
		if (why)
			return core_fail(err, CORE_EINVAL,
					 "entry '%s' is %s: only regular files and directories are taken",
					 shown(path, s, sizeof s), why);
		while (path[0] == '.' && path[1] == '/')
			path += 2;
		if (archive_entry_filetype(e) == AE_IFDIR) {
			size_t n = strlen(path);
			while (n > 0 && path[n - 1] == '/')
				n--;
			if (n == 0 || (n == 1 && path[0] == '.')) /* "./" or "." itself */
				continue;
			char *dir = core_xstrndup(path, n);
			enum core_status st = dr_path_check(dir, err);
			free(dir);
			if (st != CORE_OK)
				return st;
			continue;
		}
		enum core_status st = dr_path_check(path, err);
		if (st == CORE_OK)
			st = store_stream(u, path, read_entry, a, err);
		if (st != CORE_OK)
			return st;
	}
	return CORE_OK;
}

/* An archive (tar, gzip, zip) through libarchive; gzip through gunzip_read. */
static enum core_status unpack_archive(struct unpack *u, const char *body_path, int fd, uint64_t size, enum media m,
				       struct core_error *err)
{
	char name[DR_PATH_MAX + 2] = "";
	const char *single = NULL;
	bool gz = is_gzip(fd);
	if (m == MEDIA_GZIP) {
		if (!gz || gzip_name(fd, name, sizeof name) < 0)
			return core_fail(err, CORE_EINVAL, "the body is not gzip data");
		single = u->o->filename ? u->o->filename : name[0] ? name : "data";
	}
	if (m == MEDIA_ZIP && zip_raw_names(fd, size, err) != CORE_OK)
		return CORE_EINVAL;
	struct archive *a = archive_read_new();
	if (!a)
		return core_fail(err, CORE_ENOMEM, "libarchive: out of memory");
	/* No filter: nothing that could run an external program; gzip is ours. */
	if (m == MEDIA_ZIP) {
		archive_read_support_format_zip(a);
	} else {
		archive_read_support_format_tar(a);
		archive_read_support_format_gnutar(a);
		if (m == MEDIA_GZIP)
			archive_read_support_format_raw(a); /* bids last: a gzipped tar stays a tar */
	}
	struct gunzip *g = NULL;
	int r;
	if (gz && m != MEDIA_ZIP) {
		g = core_xcalloc(1, sizeof *g);
		g->fd = fd;
		if (inflateInit2(&g->zs, 16 + MAX_WBITS) != Z_OK) {
			free(g);
			archive_read_free(a);
			return core_fail(err, CORE_ENOMEM, "zlib: cannot start inflating");
		}
		r = archive_read_open(a, g, NULL, gunzip_read, NULL);
	} else {
		r = archive_read_open_filename(a, body_path, CHUNK);
	}
	enum core_status st;
	if (r != ARCHIVE_OK)
		st = core_fail(err, CORE_EINVAL, "corrupt archive: %s",
			       archive_error_string(a) ? archive_error_string(a) : "unreadable");
	else
		st = unpack_entries(u, a, m, single, err);
	archive_read_free(a);
	if (g) {
		inflateEnd(&g->zs);
		free(g);
	}
	return st;
}

enum core_status dr_unpack(struct blob_store *store, const char *body_path, const struct dr_unpack_opts *opts,
			   struct dr_manifest_file **out, size_t *n, struct core_error *err)
{
	*out = NULL;
	*n = 0;
	struct unpack u = {.store = store, .o = opts, .max_files = opts->max_files ? opts->max_files : DR_MAX_FILES};
	enum media m = media_of(opts->content_type);
	if (m == MEDIA_NONE)
		return core_fail(err, CORE_EINVAL, "unsupported Content-Type '%s' for an upload",
				 opts->content_type ? opts->content_type : "");
	if (opts->filename && dr_path_check(opts->filename, err) != CORE_OK)
		return CORE_EINVAL;
	int fd = open(body_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return core_fail(err, CORE_EIO, "opening the upload body: %s", strerror(errno));
	struct stat sb;
	enum core_status st;
	if (fstat(fd, &sb) != 0) {
		st = core_fail(err, CORE_EIO, "reading the upload body: %s", strerror(errno));
		goto done;
	}
	if (sb.st_size == 0) {
		st = core_fail(err, CORE_EINVAL, "the upload is empty");
		goto done;
	}
	u.buf = core_xmalloc(CHUNK);
	if (m == MEDIA_CSV)
		st = store_stream(&u, opts->filename ? opts->filename : "data.csv", read_fd, &fd, err);
	else
		st = unpack_archive(&u, body_path, fd, (uint64_t)sb.st_size, m, err);
	if (st == CORE_OK && u.n == 0)
		st = core_fail(err, CORE_EINVAL, "the archive holds no files");
	if (st == CORE_OK)
		st = dr_manifest_sort(u.files, u.n, err);
done:
	close(fd);
	free(u.buf);
	if (st != CORE_OK) {
		dr_manifest_free(u.files, u.n);
		return st;
	}
	*out = u.files;
	*n = u.n;
	return CORE_OK;
}
