/* The fast path of PNG decoding: 8-bit, non-interlaced gray, gray+alpha, RGB and RGBA
 * images (what PIL, OpenCV and most tools write, Fashion-MNIST's 28x28 PNGs among them)
 * decoded without libpng, the way PIL decodes every PNG: walk the chunks, inflate all
 * the IDAT data in one call, undo the row filters (png_filter.c).
 *
 * Why: libpng inflates one row per call (29 bytes for a 28-pixel row), and zlib's fast
 * loop only runs with 258 bytes of output room, so every byte of a small image went
 * through zlib's byte-at-a-time state machine: three quarters of a 28x28 decode. The
 * whole stream is inflated here by libdeflate (Debian's libdeflate, what libtiff uses),
 * measured faster than zlib given the whole buffer too (libs/img/README.md, "Speed").
 *
 * The rule that keeps it safe: this path accepts only files that libpng accepts and
 * decodes to the same bytes, and declines everything else, which img_png_decode then
 * hands to libpng. It declines any other colour type, bit depth or interlacing; a tRNS,
 * PLTE or unknown critical chunk; any CRC error (ancillary chunks included); a chunk
 * name that is not four letters; a chunk over libpng's length limits; a side over
 * libpng's 1,000,000; an image over the pixel limit; IDAT chunks not in one run; a zlib
 * stream that is damaged, fails its Adler-32, ends early or late, leaves data unused or
 * declares a window smaller than the image; a filter type over 4; anything but an empty
 * IEND last; bytes after IEND. So a damaged file gets libpng's verdict and message,
 * exactly as before this path existed, at the price of a second parse (damaged files
 * only). Ancillary chunks (gAMA, pHYs, tEXt, iCCP, ...) are CRC-checked and skipped:
 * with the transformations img_png_decode sets, libpng ignores them too, and its
 * handlers only warn about bad contents.
 *
 * One difference remains, for deliberately crafted streams only: libdeflate is laxer
 * than zlib about a few things no encoder writes (a header announcing 287-288 length or
 * 31-32 distance codes, distance codes 30-31, a match under an empty distance code), so
 * such a stream, wrapped in correct CRC-32s and Adler-32, decodes here where libpng and
 * PIL refuse it. Random damage cannot get there: the CRCs catch it first.
 *
 * Memory: the pixels, plus the filtered rows (on the stack up to PF_STACK bytes, else
 * allocated and freed here), plus the IDAT data gathered when there are several chunks.
 * Entry point: img_png_fast_decode. */
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include "img_int.h"

#define PF_SIDE_MAX  1000000u /* libpng's PNG_USER_WIDTH_MAX / _HEIGHT_MAX */
#define PF_CHUNK_MAX 8000000u /* libpng's PNG_USER_CHUNK_MALLOC_MAX */
#define PF_U31_MAX   0x7fffffffu
#define PF_STACK     8192 /* filtered rows up to this size stay on the stack */
#define PF_TYPE(s)   ((uint32_t)(s)[0] << 24 | (uint32_t)(s)[1] << 16 | (uint32_t)(s)[2] << 8 | (uint32_t)(s)[3])

static uint32_t pf_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct pf_image {
	uint32_t w, h;
	unsigned bpp;    /* bytes per pixel in the file: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
	unsigned ch;     /* channels img gives: 1 or 3 */
	size_t rowbytes; /* w * bpp, without the filter byte */
	size_t idat_at;  /* offset of the first IDAT chunk */
	size_t idat_end; /* offset just past the last one */
	size_t idat_max; /* libpng's length limit for one IDAT chunk */
};

/* The longest IDAT chunk libpng 1.6 accepts for this image (png_check_chunk_length). */
static size_t pf_idat_limit(const struct pf_image *im)
{
	uint64_t row = (uint64_t)im->w * im->bpp + 1, lim;
	if (im->h > 0xffffffffu / row)
		lim = PF_U31_MAX;
	else
		lim = im->h * row;
	uint64_t rf = row > 32566 ? 32566 : row;
	lim += 6 + 5 * (lim / rf + 1);
	if (lim > PF_U31_MAX)
		lim = PF_U31_MAX;
	return lim < PF_CHUNK_MAX ? PF_CHUNK_MAX : (size_t)lim;
}

/* IHDR's fields, when they are ones this path handles (else 0). */
static int pf_ihdr(const uint8_t *d, uint64_t max_pixels, struct pf_image *im)
{
	im->w = pf_be32(d);
	im->h = pf_be32(d + 4);
	if (im->w == 0 || im->h == 0 || im->w > PF_SIDE_MAX || im->h > PF_SIDE_MAX)
		return 0;
	if ((uint64_t)im->w * im->h > max_pixels)
		return 0; /* libpng's path words the limit error */
	if (d[8] != 8 || d[10] != 0 || d[11] != 0 || d[12] != 0)
		return 0; /* depth, compression, filter method, interlacing */
	switch (d[9]) {
	case 0:
		im->bpp = 1, im->ch = 1;
		break;
	case 4:
		im->bpp = 2, im->ch = 1;
		break;
	case 2:
		im->bpp = 3, im->ch = 3;
		break;
	case 6:
		im->bpp = 4, im->ch = 3;
		break;
	default:
		return 0;
	}
	im->rowbytes = (size_t)im->w * im->bpp;
	im->idat_max = pf_idat_limit(im);
	return 1;
}

static int pf_name_ok(const uint8_t *t)
{
	for (int i = 0; i < 4; i++)
		if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z')))
			return 0;
	return 1;
}

/* Walks every chunk: IHDR first, then ancillary chunks, one run of IDAT, ancillary
 * chunks, an empty IEND ending the data. Checks each CRC. 1 and im filled, or 0. */
static int pf_walk(const uint8_t *data, size_t len, uint64_t max_pixels, struct pf_image *im)
{
	enum { BEFORE, IN_IDAT, AFTER } state = BEFORE;
	size_t pos = 8;
	int first = 1;
	while (len - pos >= 12) {
		const uint8_t *c = data + pos;
		uint32_t n = pf_be32(c);
		if (n > len - pos - 12 || !pf_name_ok(c + 4))
			return 0;
		uint32_t type = PF_TYPE(c + 4);
		if (n > (type == PF_TYPE("IDAT") ? im->idat_max : PF_CHUNK_MAX))
			return 0;
		uint32_t crc = libdeflate_crc32(0, c + 4, n + 4);
		if (crc != pf_be32(c + 8 + n))
			return 0;
		size_t next = pos + 12 + n;
		if (first) {
			if (type != PF_TYPE("IHDR") || n != 13 || !pf_ihdr(c + 8, max_pixels, im))
				return 0;
			first = 0;
		} else if (type == PF_TYPE("IDAT")) {
			if (state == AFTER)
				return 0;
			if (state == BEFORE)
				im->idat_at = pos;
			im->idat_end = next;
			state = IN_IDAT;
		} else if (type == PF_TYPE("IEND")) {
			return state != BEFORE && n == 0 && next == len;
		} else if ((c[4] & 0x20) == 0 || type == PF_TYPE("tRNS")) {
			return 0; /* a critical chunk (PLTE, a second IHDR, unknown) or transparency */
		} else if (state == IN_IDAT) {
			state = AFTER;
		}
		pos = next;
	}
	return 0; /* no IEND */
}

/* Inflates the IDAT run into out[0..size): exactly size bytes, the stream ending with
 * the last IDAT's data, its Adler-32 right. 1 or 0. The data of several IDAT chunks is
 * gathered first (libdeflate wants the stream in one piece). */
static int pf_inflate(const uint8_t *data, const struct pf_image *im, uint8_t *out, size_t size)
{
	size_t n = 0;
	for (size_t pos = im->idat_at; pos < im->idat_end; pos += 12 + (size_t)pf_be32(data + pos))
		n += pf_be32(data + pos);
	if (n < 2)
		return 0;
	const uint8_t *in = data + im->idat_at + 8;
	uint8_t *joined = NULL;
	if (n != pf_be32(data + im->idat_at)) {
		if (!(joined = malloc(n)))
			return 0;
		size_t at = 0;
		for (size_t pos = im->idat_at; pos < im->idat_end; pos += 12 + (size_t)pf_be32(data + pos)) {
			memcpy(joined + at, data + pos + 8, pf_be32(data + pos));
			at += pf_be32(data + pos);
		}
		in = joined;
	}
	/* libpng lets zlib take the window size from the stream's header and inflates row
	 * by row, so a distance reaching back beyond that window is an error there; one
	 * call into the whole buffer would not notice. A window smaller than the image
	 * (rare: libpng's own writer shrinks it only when the data fits) goes to libpng. */
	unsigned wbits = (in[0] >> 4) + 8u;
	int ok = 0;
	if (wbits >= 15 || size <= (size_t)1 << wbits) {
		struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
		size_t used = 0;
		ok = d && libdeflate_zlib_decompress_ex(d, in, n, out, size, &used, NULL) == LIBDEFLATE_SUCCESS &&
		     used == n;
		libdeflate_free_decompressor(d);
	}
	free(joined);
	return ok;
}

/* Undoes the filters of the inflated rows (each a filter byte and rowbytes bytes) into
 * px (w * ch bytes a row). Gray and RGB go straight into px; with alpha the row is
 * unfiltered in place (the next row's filter needs it whole), then alpha is dropped. */
static int pf_unfilter(const struct pf_image *im, uint8_t *raw, uint8_t *px)
{
	size_t rb = im->rowbytes, stride = (size_t)im->w * im->ch;
	const uint8_t *prev = NULL;
	for (uint32_t y = 0; y < im->h; y++) {
		uint8_t *row = raw + (size_t)y * (rb + 1), *dst = px + (size_t)y * stride;
		if (im->bpp == im->ch) {
			if (img_png_unfilter_row(row[0], row + 1, prev, dst, rb, im->bpp) != 0)
				return 0;
			prev = dst;
			continue;
		}
		if (img_png_unfilter_row(row[0], row + 1, prev, row + 1, rb, im->bpp) != 0)
			return 0;
		prev = row + 1;
		if (im->bpp == 2) {
			for (uint32_t x = 0; x < im->w; x++)
				dst[x] = prev[2 * x];
		} else {
			for (uint32_t x = 0; x < im->w; x++)
				memcpy(dst + 3 * x, prev + 4 * x, 3);
		}
	}
	return 1;
}

int img_png_fast_decode(const uint8_t *data, size_t len, uint64_t max_pixels, struct img_image *out)
{
	struct pf_image im = {0};
	if (len < 8 || !pf_walk(data, len, max_pixels, &im))
		return 0;
	size_t raw_len = (im.rowbytes + 1) * im.h;
	uint8_t stack[PF_STACK];
	uint8_t *raw = raw_len <= sizeof stack ? stack : malloc(raw_len);
	uint8_t *px = raw ? malloc((size_t)im.w * im.h * im.ch) : NULL;
	int ok = px && pf_inflate(data, &im, raw, raw_len) && pf_unfilter(&im, raw, px);
	if (raw != stack)
		free(raw);
	if (!ok) {
		free(px);
		return 0;
	}
	*out = (struct img_image){.width = im.w, .height = im.h, .channels = im.ch, .pixels = px};
	return 1;
}
