/* A version's manifest, pure: the path rules every file of a version obeys (whether it
 * came in a JSON manifest or out of an archive), the canonical order (bytewise by path,
 * no duplicates) and the id that order gives (sha256 of "<sha256> <size> <path>\n" per
 * file, nothing else), and the format the paths announce. No I/O. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/sha256.h"
#include "dr.h"

enum dr_format dr_format_lookup(const char *s)
{
	for (enum dr_format f = DR_FORMAT_CSV; f <= DR_FORMAT_IMAGE_FOLDER; f++)
		if (s && strcmp(s, dr_format_name(f)) == 0)
			return f;
	return 0;
}

/* Length of the UTF-8 sequence at s (at most left bytes), 0 when malformed. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	unsigned min;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		n = 2, min = 0x80, cp = c & 0x1f;
	else if ((c & 0xf0) == 0xe0)
		n = 3, min = 0x800, cp = c & 0x0f;
	else if ((c & 0xf8) == 0xf0)
		n = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

enum core_status dr_path_check_len(const char *path, size_t len, struct core_error *err)
{
	/* The message quotes the path only up to its first byte we would not print. */
	if (len == 0)
		return core_fail(err, CORE_EINVAL, "Invalid path '': empty");
	if (len > DR_PATH_MAX)
		return core_fail(err, CORE_EINVAL, "Invalid path '%.64s...': longer than %d bytes", path, DR_PATH_MAX);
	if (path[0] == '/')
		return core_fail(err, CORE_EINVAL, "Invalid path '%.*s': absolute (starts with '/')", (int)len, path);
	const unsigned char *p = (const unsigned char *)path;
	size_t seg = 0; /* start of the current segment */
	for (size_t i = 0; i <= len; i++) {
		if (i == len || p[i] == '/') {
			size_t sl = i - seg;
			if (sl == 0)
				return core_fail(err, CORE_EINVAL, "Invalid path '%.*s': empty segment", (int)len,
						 path);
			if ((sl == 1 && p[seg] == '.') || (sl == 2 && p[seg] == '.' && p[seg + 1] == '.'))
				return core_fail(err, CORE_EINVAL, "Invalid path '%.*s': '.' or '..' segment", (int)len,
						 path);
			seg = i + 1;
			continue;
		}
		if (p[i] == '\\')
			return core_fail(err, CORE_EINVAL, "Invalid path '%.*s': backslash", (int)i, path);
		if (p[i] == 0 || p[i] < 0x20 || p[i] == 0x7f)
			return core_fail(err, CORE_EINVAL, "Invalid path '%.*s...': NUL or control character", (int)i,
					 path);
		if (p[i] >= 0x80) {
			size_t n = utf8_len(p + i, len - i);
			if (n == 0)
				return core_fail(err, CORE_EINVAL, "Invalid path '%.*s...': not valid UTF-8", (int)i,
						 path);
			i += n - 1;
		}
	}
	return CORE_OK;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct dr_manifest_file *)a)->path, ((const struct dr_manifest_file *)b)->path);
}

enum core_status dr_manifest_order(struct dr_manifest_file *files, size_t n, struct core_error *err)
{
	if (n > 1)
		qsort(files, n, sizeof *files, by_path);
	for (size_t i = 1; i < n; i++)
		if (strcmp(files[i - 1].path, files[i].path) == 0)
			return core_fail(err, CORE_EINVAL, "Duplicate path '%s'", files[i].path);
	return CORE_OK;
}

void dr_manifest_id(const struct dr_manifest_file *files, size_t n, char id_out[65], uint64_t *bytes_out)
{
	struct core_sha256 *h = core_sha256_new();
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		char head[96];
		int hl = snprintf(head, sizeof head, "%s %" PRIu64 " ", files[i].sha256, files[i].size);
		core_sha256_update(h, head, (size_t)hl);
		core_sha256_update(h, files[i].path, strlen(files[i].path));
		core_sha256_update(h, "\n", 1);
		bytes += files[i].size;
	}
	core_sha256_finish_hex(h, id_out);
	if (bytes_out)
		*bytes_out = bytes;
}

static bool ends_with_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* *-idx[0-9]-ubyte or *-idx[0-9]-ubyte.gz, on the file's base name. */
static bool idx_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *m = strstr(base, "-idx");
	if (!m || m == base || m[4] < '0' || m[4] > '9')
		return false;
	return strcmp(m + 5, "-ubyte") == 0 || strcmp(m + 5, "-ubyte.gz") == 0;
}

static bool image_folder_name(const char *path)
{
	const char *slash = strchr(path, '/');
	if (!slash || slash == path || strchr(slash + 1, '/') || !slash[1])
		return false;
	return ends_with_ci(path, ".png") || ends_with_ci(path, ".jpg") || ends_with_ci(path, ".jpeg");
}

enum dr_format dr_format_detect(const struct dr_manifest_file *files, size_t n)
{
	if (n == 0)
		return 0;
	bool csv = true, idx = true, img = true;
	for (size_t i = 0; i < n; i++) {
		csv = csv && ends_with_ci(files[i].path, ".csv");
		idx = idx && idx_name(files[i].path);
		img = img && image_folder_name(files[i].path);
	}
	return csv ? DR_FORMAT_CSV : idx ? DR_FORMAT_IDX : img ? DR_FORMAT_IMAGE_FOLDER : 0;
}
