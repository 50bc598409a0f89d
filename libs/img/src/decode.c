/* The decoding face of img: recognises PNG and JPEG by their signatures and hands the
 * bytes to png.c or jpeg.c; owns the pixel limit and img_image_free. Entry points:
 * img_probe, img_decode, img_limits_check, img_image_free. */
#include <stdlib.h>
#include <string.h>
#include "img_int.h"

enum img_kind { IMG_KIND_NONE, IMG_KIND_PNG, IMG_KIND_JPEG };

static enum img_kind img_sniff(const uint8_t *p, size_t len)
{
	static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	if (len >= 8 && memcmp(p, png_sig, 8) == 0)
		return IMG_KIND_PNG;
	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return IMG_KIND_JPEG;
	return IMG_KIND_NONE;
}

static enum core_status img_unknown(const void *data, size_t len, struct core_error *err)
{
	if (!data || len == 0)
		return core_fail(err, CORE_EINVAL, "empty image data");
	return core_fail(err, CORE_EINVAL, "not a PNG or JPEG image (unrecognised signature)");
}

uint64_t img_max_pixels(const struct img_limits *lim)
{
	return lim && lim->max_pixels ? lim->max_pixels : IMG_MAX_PIXELS_DEFAULT;
}

enum core_status img_probe(const void *data, size_t len, struct img_info *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	switch (data ? img_sniff(data, len) : IMG_KIND_NONE) {
	case IMG_KIND_PNG:
		return img_png_probe(data, len, out, err);
	case IMG_KIND_JPEG:
		return img_jpeg_probe(data, len, out, err);
	default:
		return img_unknown(data, len, err);
	}
}

enum core_status img_limits_check(const struct img_info *info, const struct img_limits *lim, struct core_error *err)
{
	uint64_t max = img_max_pixels(lim);
	uint64_t n = (uint64_t)info->width * info->height;
	if (n > max)
		return core_fail(err, CORE_ELIMIT, "%ux%u is %llu pixels, over the limit of %llu", info->width,
				 info->height, (unsigned long long)n, (unsigned long long)max);
	return CORE_OK;
}

enum core_status img_decode(const void *data, size_t len, const struct img_limits *lim, struct img_image *out,
			    struct core_error *err)
{
	memset(out, 0, sizeof *out);
	switch (data ? img_sniff(data, len) : IMG_KIND_NONE) {
	case IMG_KIND_PNG:
		return img_png_decode(data, len, img_max_pixels(lim), out, err);
	case IMG_KIND_JPEG:
		return img_jpeg_decode(data, len, img_max_pixels(lim), out, err);
	default:
		return img_unknown(data, len, err);
	}
}

void img_image_free(struct img_image *im)
{
	if (!im)
		return;
	free(im->pixels);
	memset(im, 0, sizeof *im);
}
