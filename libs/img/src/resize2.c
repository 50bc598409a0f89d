/* The vertical pass of an upscale, when every output row reads at most two input rows:
 * PIL's BILINEAR (an upscale's triangle, one input pixel wide on each side, covers two
 * rows) or BOX, e.g. Fashion-MNIST's 28x28 to 64x64. The weights are resize.c's own
 * (Pillow's, in 22-bit fixed point), only stored as (first input row, its weight, the
 * next row's weight) per output row; the taps left out have weight 0 and add nothing to
 * Pillow's integer sums, so the pixels are the same to the bit.
 *
 * What it saves over resize.c's general vertical pass (every window padded to the
 * longest, sums kept in a buffer of ints between taps): one loop per output row,
 * out = clip(a * k0 + b * k1) over two input rows, in blocks of 16 that gcc vectorises
 * (with the AVX2 clone of resize.c's loops). The horizontal pass stays resize.c's: a
 * scalar two-tap loop along the row measured slower than its transposed strips.
 * Entry points: img_taps2_build (from resize.c's coefficients), img_resize_v2. */
#include <stdlib.h>
#include "img_int.h"

#define HALF (1u << (IMG_PRECISION_BITS - 1))

enum core_status img_taps2_build(struct img_coeffs *c, struct core_error *err)
{
	c->t2 = NULL;
	if (c->in_size < 2)
		return CORE_OK;
	struct img_tap2 *t = malloc((size_t)c->out_size * sizeof *t);
	if (!t)
		return core_fail(err, CORE_ENOMEM, "cannot allocate resize taps (%u -> %u)", c->in_size, c->out_size);
	int lo = (int)c->in_size, hi = 0;
	for (unsigned xx = 0; xx < c->out_size; xx++) {
		const int32_t *k = c->k + (size_t)xx * c->ksize;
		int start = c->bounds[xx * 2], cnt = c->bounds[xx * 2 + 1], first = -1, last = -1;
		for (int j = 0; j < cnt; j++) {
			if (k[j] != 0) {
				if (first < 0)
					first = j;
				last = j;
			}
		}
		if (last - first > 1 || (first >= 0 && (k[first] < 0 || k[last] < 0))) {
			free(t);
			return CORE_OK; /* a downscale's window: the general path */
		}
		struct img_tap2 tap = {0, 0, 0};
		if (first >= 0) {
			tap = (struct img_tap2){start + first, k[first], last > first ? k[last] : 0};
			if (tap.i + 1 >= (int)c->in_size) /* one tap, on the last pixel: read it as the second */
				tap = (struct img_tap2){tap.i - 1, 0, tap.k0};
		}
		t[xx] = tap;
		lo = tap.i < lo ? tap.i : lo;
		hi = tap.i + 2 > hi ? tap.i + 2 : hi;
	}
	c->t2 = t;
	c->t2_first = lo;
	c->t2_last = hi;
	return CORE_OK;
}

/* The weights of an upscale are >= 0 (img_taps2_build makes sure), so the sums are too
 * and the clip is a minimum: unsigned arithmetic, which vectorises into fewer steps. */
static inline uint8_t clip8_pos(uint32_t v)
{
	v >>= IMG_PRECISION_BITS;
	return (uint8_t)(v > 255 ? 255 : v);
}

/* out[0..n) = clip(a * k0 + b * k1), in blocks of 16 that -O2 vectorises. */
IMG_SIMD_CLONES static void v2_row(uint8_t *restrict out, const uint8_t *restrict a, const uint8_t *restrict b,
				   uint32_t k0, uint32_t k1, size_t n)
{
	size_t x = 0;
	for (; x + 16 <= n; x += 16)
		for (int j = 0; j < 16; j++)
			out[x + j] = clip8_pos(HALF + a[x + j] * k0 + b[x + j] * k1);
	for (; x < n; x++)
		out[x] = clip8_pos(HALF + a[x] * k0 + b[x] * k1);
}

void img_resize_v2(const struct img_coeffs *v, const uint8_t *src, size_t stride, size_t row_len, uint8_t *dst)
{
	const struct img_tap2 *t = v->t2;
	for (unsigned yy = 0; yy < v->out_size; yy++) {
		const uint8_t *a = src + (size_t)(t[yy].i - v->t2_first) * stride;
		v2_row(dst + (size_t)yy * row_len, a, a + stride, (uint32_t)t[yy].k0, (uint32_t)t[yy].k1, row_len);
	}
}
