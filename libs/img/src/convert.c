/* Channel changes as PIL does them: RGB -> L with PIL's fixed-point ITU-R 601-2 luma
 * (Convert.c's L24: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16), L -> RGB by
 * replication. Entry points: img_convert, img_rgb_to_gray (preprocess.c). */
#include <stdlib.h>
#include <string.h>
#include "img_int.h"

void img_rgb_to_gray(const uint8_t *src, size_t n, uint8_t *dst)
{
	for (size_t i = 0; i < n; i++, src += 3)
		dst[i] = (uint8_t)(((uint32_t)src[0] * 19595 + (uint32_t)src[1] * 38470 + (uint32_t)src[2] * 7471 +
				    0x8000) >>
				   16);
}

enum core_status img_convert(const struct img_image *in, unsigned channels, struct img_image *out,
			     struct core_error *err)
{
	memset(out, 0, sizeof *out);
	if (!in || !in->pixels || (in->channels != 1 && in->channels != 3))
		return core_fail(err, CORE_EINVAL, "convert: not an image of 1 or 3 channels");
	if (channels != 1 && channels != 3)
		return core_fail(err, CORE_EINVAL, "convert: %u channels asked; 1 or 3 are possible", channels);
	size_t n = (size_t)in->width * in->height;
	uint8_t *px = malloc(n * channels + 1);
	if (!px)
		return core_fail(err, CORE_ENOMEM, "convert: cannot allocate %ux%u pixels", in->width, in->height);
	if (channels == in->channels) {
		memcpy(px, in->pixels, n * channels);
	} else if (channels == 1) {
		img_rgb_to_gray(in->pixels, n, px);
	} else {
		for (size_t i = 0; i < n; i++)
			px[i * 3] = px[i * 3 + 1] = px[i * 3 + 2] = in->pixels[i];
	}
	*out = (struct img_image){.width = in->width, .height = in->height, .channels = channels, .pixels = px};
	return CORE_OK;
}
