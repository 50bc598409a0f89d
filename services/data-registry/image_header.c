/* An image file's header, read from its blob (face: data.h), for the content checks of
 * an image-folder upload: a file that is not a PNG or JPEG, whose header is cut short,
 * or whose pixel count is past the decoder's ceiling, is refused before the version
 * exists and before anything is decoded. The parsing is libs/img's img_probe; this file
 * only feeds it a prefix of the blob (64 KiB answers for nearly every file; a JPEG with
 * large APPn/COM segments before its frame header gets a prefix twice as long, until
 * img_probe answers or the whole file was offered) and words the refusal for the
 * client, naming the file. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "data.h"

#define PROBE_FIRST (64u * 1024)
#define PROBE_MAX   (64u * 1024 * 1024)

/* Reads up to n bytes from offset off; *got says how many were there. */
static bool read_at(int fd, uint64_t off, void *buf, size_t n, size_t *got)
{
	*got = 0;
	while (*got < n) {
		ssize_t r = pread(fd, (char *)buf + *got, n - *got, (off_t)(off + *got));
		if (r < 0)
			return false;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return true;
}

/* img_probe's refusal in the words the route gives: "<name>: ...". */
static enum core_status refuse(const char *name, const char *why, struct core_error *err)
{
	if (strncmp(why, "jpeg: ", 6) == 0)
		return core_fail(err, CORE_EINVAL, "%.300s: the JPEG header is truncated or unreadable (%.200s)", name,
				 why + 6);
	if (strncmp(why, "png: ", 5) == 0)
		return core_fail(err, CORE_EINVAL, "%.300s: the PNG header is truncated or unreadable (%.200s)", name,
				 why + 5);
	return core_fail(err, CORE_EINVAL, "%.300s: not a PNG or JPEG image", name);
}

enum core_status dr_image_probe(int fd, const char *name, struct img_info *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	enum core_status st;
	for (size_t want = PROBE_FIRST;; want *= 2) {
		uint8_t *nb = realloc(buf, want);
		if (!nb) {
			st = core_fail(err, CORE_ENOMEM, "%.300s: cannot hold its first %zu bytes", name, want);
			goto out;
		}
		buf = nb;
		cap = want;
		size_t got;
		if (!read_at(fd, len, buf + len, cap - len, &got)) {
			st = core_fail(err, CORE_EIO, "%.300s: its blob cannot be read", name);
			goto out;
		}
		len += got;
		struct core_error why = {{0}};
		st = img_probe(buf, len, out, &why);
		if (st == CORE_OK)
			break;
		/* only a JPEG may need more: a PNG's IHDR is in its first 33 bytes, a signature in 8 */
		if (len < cap || cap >= PROBE_MAX || strncmp(why.message, "jpeg: ", 6) != 0) {
			st = refuse(name, why.message, err);
			goto out;
		}
	}
	if (out->width == 0 || out->height == 0) {
		st = core_fail(err, CORE_EINVAL, "%.300s: the %s header says %ux%u pixels", name, out->format,
			       out->width, out->height);
		goto out;
	}
	if ((uint64_t)out->width * out->height > IMG_MAX_PIXELS_DEFAULT)
		st = core_fail(err, CORE_EINVAL, "%.300s: %ux%u pixels is more than the %llu an image may have", name,
			       out->width, out->height, (unsigned long long)IMG_MAX_PIXELS_DEFAULT);
out:
	free(buf);
	return st;
}
