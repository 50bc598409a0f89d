/* PNG's five row filters undone (None, Sub, Up, Average, Paeth: the PNG specification,
 * "Filter method 0"), for 8-bit samples, bpp bytes per pixel, one row at a time. The
 * first row of an image has no row above: the specification reads it as zeros, so Up
 * becomes None, Paeth becomes Sub and Average halves the left neighbour only; those
 * cases are spelled out rather than fed a row of zeros, so no buffer is needed for it.
 * Used by png_fast.c (the whole-image decoder); libpng does the same for everything
 * else. Entry point: img_png_unfilter_row. */
#include <stdlib.h>
#include <string.h>
#include "img_int.h"

/* The Paeth predictor, without branches: p = a + b - c, the nearest of a, b, c to p
 * (ties: a, then b), written with |p - a| = |b - c| etc. so nothing overflows. */
static inline uint8_t paeth(int a, int b, int c)
{
	int pa = b - c, pb = a - c, pc = pa + pb;
	pa = abs(pa);
	pb = abs(pb);
	pc = abs(pc);
	return (uint8_t)((pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c));
}

static void unfilter_sub(const uint8_t *src, uint8_t *dst, size_t n, size_t lead, unsigned bpp)
{
	size_t i;
	for (i = 0; i < lead; i++)
		dst[i] = src[i];
	for (; i < n; i++)
		dst[i] = (uint8_t)(src[i] + dst[i - bpp]);
}

int img_png_unfilter_row(unsigned type, const uint8_t *src, const uint8_t *prev, uint8_t *dst, size_t n, unsigned bpp)
{
	size_t i, lead = bpp < n ? bpp : n;
	switch (type) {
	case 0: /* None */
		if (dst != src)
			memcpy(dst, src, n);
		return 0;
	case 2: /* Up */
		if (prev) {
			for (i = 0; i < n; i++)
				dst[i] = (uint8_t)(src[i] + prev[i]);
			return 0;
		}
		if (dst != src)
			memcpy(dst, src, n);
		return 0;
	case 4: /* Paeth */
		if (prev) {
			for (i = 0; i < lead; i++)
				dst[i] = (uint8_t)(src[i] + prev[i]); /* Paeth(0, b, 0) = b */
			for (; i < n; i++)
				dst[i] = (uint8_t)(src[i] + paeth(dst[i - bpp], prev[i], prev[i - bpp]));
			return 0;
		}
		unfilter_sub(src, dst, n, lead, bpp); /* Paeth(a, 0, 0) = a: Sub */
		return 0;
	case 1: /* Sub */
		unfilter_sub(src, dst, n, lead, bpp);
		return 0;
	case 3: /* Average */
		if (prev) {
			for (i = 0; i < lead; i++)
				dst[i] = (uint8_t)(src[i] + (prev[i] >> 1));
			for (; i < n; i++)
				dst[i] = (uint8_t)(src[i] + ((dst[i - bpp] + prev[i]) >> 1));
		} else {
			for (i = 0; i < lead; i++)
				dst[i] = src[i];
			for (; i < n; i++)
				dst[i] = (uint8_t)(src[i] + (dst[i - bpp] >> 1));
		}
		return 0;
	default:
		return -1;
	}
}
