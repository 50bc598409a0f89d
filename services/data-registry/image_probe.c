/* PNG and JPEG dimensions from the header alone (face: data.h), for the content checks
 * of an image-folder upload: a file that is neither, or whose header is cut short, or
 * whose pixel count is past the decoder's ceiling, is refused before the version
 * exists. It reads only what it must (PNG: the IHDR chunk; JPEG: the markers up to the
 * first SOFn, skipping the segments before it), so a large image costs a few reads.
 * A stand-in for libs/img's img_probe until that library lands; full decodability is
 * the profiler's to find out. */
#include <string.h>
#include <unistd.h>
#include "data.h"

static bool read_at(int fd, uint64_t off, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The SOF markers that carry dimensions: C0-CF except DHT (C4), JPG (C8) and DAC (CC). */
static bool is_sof(uint8_t m)
{
	return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
}

static enum core_status probe_jpeg(int fd, const char *name, struct dr_image_info *out, struct core_error *err)
{
	uint64_t off = 2;
	for (int segments = 0; segments < 10000; segments++) {
		uint8_t m[2];
		if (!read_at(fd, off, m, 2))
			break;
		if (m[0] != 0xff)
			return core_fail(err, CORE_EINVAL, "%.300s: broken JPEG marker at byte %llu", name,
					 (unsigned long long)off);
		if (m[1] == 0xff) { /* fill byte */
			off++;
			continue;
		}
		if (m[1] == 0xd9 || m[1] == 0xda) /* end of image or start of scan before any SOF */
			break;
		if (m[1] == 0x01 || (m[1] >= 0xd0 && m[1] <= 0xd7)) { /* markers without a length */
			off += 2;
			continue;
		}
		uint8_t seg[7];
		if (!read_at(fd, off + 2, seg, 2))
			break;
		unsigned len = (unsigned)seg[0] << 8 | seg[1];
		if (len < 2)
			return core_fail(err, CORE_EINVAL, "%.300s: broken JPEG segment length", name);
		if (is_sof(m[1])) {
			if (len < 8 || !read_at(fd, off + 2, seg, 7))
				break;
			out->height = (unsigned)seg[3] << 8 | seg[4];
			out->width = (unsigned)seg[5] << 8 | seg[6];
			out->format = "jpeg";
			return CORE_OK;
		}
		off += 2 + len;
	}
	return core_fail(err, CORE_EINVAL, "%.300s: the JPEG header is truncated (no frame header)", name);
}

enum core_status dr_image_probe(int fd, const char *name, struct dr_image_info *out, struct core_error *err)
{
	uint8_t h[24];
	memset(out, 0, sizeof *out);
	bool whole = read_at(fd, 0, h, sizeof h);
	enum core_status st;
	if (whole && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0) {
		if (be32(h + 8) != 13 || memcmp(h + 12, "IHDR", 4) != 0)
			return core_fail(err, CORE_EINVAL, "%.300s: the PNG does not start with its IHDR chunk", name);
		out->width = be32(h + 16);
		out->height = be32(h + 20);
		out->format = "png";
		st = CORE_OK;
	} else if (read_at(fd, 0, h, 3) && h[0] == 0xff && h[1] == 0xd8 && h[2] == 0xff) {
		st = probe_jpeg(fd, name, out, err);
	} else {
		return core_fail(err, CORE_EINVAL, "%.300s: not a PNG or JPEG image", name);
	}
	if (st != CORE_OK)
		return st;
	if (out->width == 0 || out->height == 0)
		return core_fail(err, CORE_EINVAL, "%.300s: the %s header says %ux%u pixels", name, out->format,
				 out->width, out->height);
	if ((uint64_t)out->width * out->height > DR_IMAGE_MAX_PIXELS)
		return core_fail(err, CORE_EINVAL, "%.300s: %ux%u pixels is more than the %u an image may have", name,
				 out->width, out->height, DR_IMAGE_MAX_PIXELS);
	return CORE_OK;
}
