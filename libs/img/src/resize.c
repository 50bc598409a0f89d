/* Resizing as Pillow's Image.resize(size, BILINEAR / BOX) does it, to the bit.
 *
 * Pillow (libImaging/Resample.c) resamples separably, horizontal pass first, then
 * vertical, each skipped when that dimension does not change. For each output pixel x
 * of an axis scaled by scale = in/out, the filter is centred on (x + 0.5) * scale and
 * stretched by max(scale, 1) (so downscaling averages over the whole footprint:
 * antialiasing); its support covers input pixels [(int)(centre - support + 0.5),
 * (int)(centre + support + 0.5)) clipped to the image; the weights filter((i - centre +
 * 0.5) / stretch) are normalised to sum 1 per output pixel, then turned into 22-bit
 * fixed point (rounded half away from zero). Each pass sums pixel * weight in 32-bit
 * integers starting from half a unit, shifts back and clips to 0..255: the image is
 * rounded to uint8 after each pass. We compute the same doubles the same way, so the
 * integers, and hence the pixels, are Pillow's.
 *
 * Speed: coefficients are computed once per (in, out, filter) and kept in a struct
 * img_resizer; where the image is long enough every window has the same length (zero
 * weights added), so loops have a constant trip count; the horizontal pass covers only
 * the rows the vertical pass reads, and works on transposed strips of rows so that
 * both passes are the same row loop: acc[] += row[] * weight over whole rows, written
 * in blocks of 16 that gcc -O2 vectorises, with an AVX2 clone picked at load time on
 * x86-64. No function call per pixel. Entry points: img_resize, img_resize_filter,
 * img_resizer_*, img_resize_into (preprocess.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "img_int.h"

#define PRECISION_BITS IMG_PRECISION_BITS

static double filter_eval(enum img_filter f, double x)
{
	if (f == IMG_FILTER_BOX)
		return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
	if (x < 0.0)
		x = -x;
	return x < 1.0 ? 1.0 - x : 0.0;
}

static double filter_support(enum img_filter f)
{
	return f == IMG_FILTER_BOX ? 0.5 : 1.0;
}

enum core_status img_buf_reserve(void **buf, size_t *cap, size_t n, struct core_error *err)
{
	if (n <= *cap && *buf)
		return CORE_OK;
	void *p = realloc(*buf, n ? n : 1);
	if (!p)
		return core_fail(err, CORE_ENOMEM, "cannot allocate %zu bytes for resizing", n);
	*buf = p;
	*cap = n;
	return CORE_OK;
}

static void coeffs_clear(struct img_coeffs *c)
{
	free(c->bounds);
	free(c->k);
	free(c->t2);
	memset(c, 0, sizeof *c);
}

/* Fills c for in_size -> out_size, unless it already holds exactly that. */
static enum core_status coeffs_prepare(struct img_coeffs *c, unsigned in_size, unsigned out_size, enum img_filter f,
				       struct core_error *err)
{
	if (c->k && c->in_size == in_size && c->out_size == out_size && c->filter == f)
		return CORE_OK;
	coeffs_clear(c);
	double scale = (double)(float)in_size / out_size; /* Pillow divides a float box width */
	double filterscale = scale < 1.0 ? 1.0 : scale;
	double support = filter_support(f) * filterscale;
	unsigned ksize = (unsigned)ceil(support) * 2 + 1;
	double *w = malloc(ksize * sizeof *w);
	c->bounds = malloc((size_t)out_size * 2 * sizeof *c->bounds);
	c->k = malloc((size_t)out_size * ksize * sizeof *c->k);
	if (!w || !c->bounds || !c->k) {
		free(w);
		coeffs_clear(c);
		return core_fail(err, CORE_ENOMEM, "cannot allocate resize coefficients (%u -> %u)", in_size, out_size);
	}
	for (unsigned xx = 0; xx < out_size; xx++) {
		double center = (xx + 0.5) * scale;
		double ss = 1.0 / filterscale;
		int xmin = (int)(center - support + 0.5);
		if (xmin < 0)
			xmin = 0;
		int xmax = (int)(center + support + 0.5);
		if (xmax > (int)in_size)
			xmax = (int)in_size;
		xmax -= xmin;
		double ww = 0.0;
		for (int x = 0; x < xmax; x++) {
			w[x] = filter_eval(f, (x + xmin - center + 0.5) * ss);
			ww += w[x];
		}
		int32_t *k = c->k + (size_t)xx * ksize;
		for (int x = 0; x < (int)ksize; x++) {
			double v = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;
			k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
				     : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
		}
		/* Where the image is at least ksize long, every window becomes ksize long
		 * (zero weights added; a window at the end moves left, its weights right):
		 * the same sums, but a constant loop length the branch predictor learns. */
		if (ksize <= in_size) {
			int shift = xmin + (int)ksize - (int)in_size;
			if (shift > 0) {
				memmove(k + shift, k, (ksize - (unsigned)shift) * sizeof *k);
				memset(k, 0, (unsigned)shift * sizeof *k);
				xmin -= shift;
			}
			xmax = (int)ksize;
		}
		c->bounds[xx * 2] = xmin;
		c->bounds[xx * 2 + 1] = xmax;
		if (xx == 0 || xmin < c->first)
			c->first = xmin;
		if (xx == 0 || xmin + xmax > c->last)
			c->last = xmin + xmax;
	}
	free(w);
	c->in_size = in_size;
	c->out_size = out_size;
	c->filter = f;
	c->ksize = ksize;
	enum core_status rc = img_taps2_build(c, err);
	if (rc != CORE_OK)
		coeffs_clear(c);
	return rc;
}

/* acc[0..n) += row[0..n) * k. Written in blocks of 16 so that -O2's cheap
 * vectoriser turns the block into SIMD (a plain loop would need -O3). */
IMG_SIMD_CLONES static void acc_add(int32_t *restrict acc, const uint8_t *restrict row, int32_t k, size_t n)
{
	size_t x = 0;
	for (; x + 16 <= n; x += 16)
		for (int j = 0; j < 16; j++)
			acc[x + j] += row[x + j] * k;
	for (; x < n; x++)
		acc[x] += row[x] * k;
}

/* acc[0..n) = the rounding half + row[0..n) * k: a window's first tap and the
 * accumulator's initialisation in one pass (the same integers as the two apart). */
IMG_SIMD_CLONES static void acc_set(int32_t *restrict acc, const uint8_t *restrict row, int32_t k, size_t n)
{
	size_t x = 0;
	for (; x + 16 <= n; x += 16)
		for (int j = 0; j < 16; j++)
			acc[x + j] = (1 << (PRECISION_BITS - 1)) + row[x + j] * k;
	for (; x < n; x++)
		acc[x] = (1 << (PRECISION_BITS - 1)) + row[x] * k;
}

/* The weighted sum of the cnt rows rows[t * step] (n values each) into acc, skipping
 * the taps whose weight is 0 (windows padded to ksize, and a triangle's ends when
 * upscaling: a third of an upscale's taps), which add nothing to the sums. */
static void acc_window(int32_t *restrict acc, const uint8_t *rows, size_t step, const int32_t *k, int cnt, size_t n)
{
	int t = 0;
	while (t < cnt && k[t] == 0)
		t++;
	if (t == cnt) {
		for (size_t x = 0; x < n; x++)
			acc[x] = 1 << (PRECISION_BITS - 1);
		return;
	}
	acc_set(acc, rows + (size_t)t * step, k[t], n);
	for (t++; t < cnt; t++)
		if (k[t] != 0)
			acc_add(acc, rows + (size_t)t * step, k[t], n);
}

/* out[0..n) = clip8(acc[0..n)), in the same vectorisable blocks. */
IMG_SIMD_CLONES static void acc_store(uint8_t *restrict out, const int32_t *restrict acc, size_t n)
{
	size_t x = 0;
	for (; x + 16 <= n; x += 16)
		for (int j = 0; j < 16; j++)
			out[x + j] = img_clip8(acc[x + j]);
	for (; x < n; x++)
		out[x] = img_clip8(acc[x]);
}

#define STRIP    64 /* rows the horizontal pass transposes at a time */
#define PAD16(n) (((n) + 15) & ~(size_t)15)

/* Rows [y0, y0 + rows) of src (w wide) -> rows of dst (ow wide, dst_stride apart). A
 * horizontal pass reads a few neighbours of each pixel along the row: done directly
 * that is a scalar loop per output pixel. Instead each strip of up to STRIP rows is
 * transposed (st: column x holds the strip's pixels of that column, contiguous), so
 * that an output column is the weighted sum of a few whole input columns, with the
 * vectorised row loops; the result (ot) is transposed back. The sums are the same
 * integers in the same order. Columns are padded to 16 bytes so the row loops have no
 * scalar tail (the padding is computed and thrown away). st, ot: w and ow times
 * PAD16(STRIP * ch) bytes, zeroed when allocated; acc: PAD16(STRIP * ch) ints. */
static void pass_horizontal(const struct img_coeffs *c, const uint8_t *src, unsigned w, unsigned ch, unsigned y0,
			    unsigned rows, uint8_t *dst, size_t dst_stride, uint8_t *restrict st, uint8_t *restrict ot,
			    int32_t *acc)
{
	unsigned ow = c->out_size, ks = c->ksize;
	for (unsigned s0 = 0; s0 < rows; s0 += STRIP) {
		unsigned n = rows - s0 < STRIP ? rows - s0 : STRIP;
		size_t len = PAD16((size_t)n * ch);
		for (unsigned j = 0; j < n; j++) {
			const uint8_t *row = src + (size_t)(y0 + s0 + j) * w * ch;
			uint8_t *col = st + (size_t)j * ch;
			if (ch == 1) {
				for (unsigned x = 0; x < w; x++)
					col[x * len] = row[x];
			} else {
				for (unsigned x = 0; x < w; x++)
					memcpy(col + x * len, row + (size_t)x * 3, 3);
			}
		}
		for (unsigned xx = 0; xx < ow; xx++) {
			const int32_t *k = c->k + (size_t)xx * ks;
			int start = c->bounds[xx * 2], cnt = c->bounds[xx * 2 + 1];
			acc_window(acc, st + (size_t)start * len, len, k, cnt, len);
			acc_store(ot + xx * len, acc, len);
		}
		for (unsigned j = 0; j < n; j++) {
			uint8_t *row = dst + (size_t)(s0 + j) * dst_stride;
			const uint8_t *col = ot + (size_t)j * ch;
			if (ch == 1) {
				for (unsigned xx = 0; xx < ow; xx++)
					row[xx] = col[xx * len];
			} else {
				for (unsigned xx = 0; xx < ow; xx++)
					memcpy(row + (size_t)xx * 3, col + xx * len, 3);
			}
		}
	}
}

/* src holds rows starting at input row `first`, stride bytes apart, of which the
 * first n are summed (n may run into padding after the row_len real bytes); dst
 * gets the output rows, row_len bytes each. acc: n ints. */
static void pass_vertical(const struct img_coeffs *c, const uint8_t *src, size_t stride, size_t n, size_t row_len,
			  unsigned first, int32_t *restrict acc, uint8_t *dst)
{
	for (unsigned yy = 0; yy < c->out_size; yy++) {
		const int32_t *k = c->k + (size_t)yy * c->ksize;
		int ymin = c->bounds[yy * 2] - (int)first, cnt = c->bounds[yy * 2 + 1];
		acc_window(acc, src + (size_t)ymin * stride, stride, k, cnt, n);
		acc_store(dst + (size_t)yy * row_len, acc, row_len);
	}
}

/* As img_buf_reserve, zeroing a new buffer (so padding bytes are never undefined). */
static enum core_status buf_reserve_zero(uint8_t **buf, size_t *cap, size_t n, struct core_error *err)
{
	if (n <= *cap && *buf)
		return CORE_OK;
	free(*buf);
	*buf = calloc(n ? n : 1, 1);
	*cap = *buf ? n : 0;
	if (!*buf)
		return core_fail(err, CORE_ENOMEM, "cannot allocate %zu bytes for resizing", n);
	return CORE_OK;
}

enum core_status img_resize_into(struct img_resizer *r, const uint8_t *src, unsigned w, unsigned h, unsigned ch,
				 unsigned ow, unsigned oh, enum img_filter filter, uint8_t *dst, struct core_error *err)
{
	enum core_status rc;
	int need_h = ow != w, need_v = oh != h;
	if (!need_h && !need_v) {
		memcpy(dst, src, (size_t)w * h * ch);
		return CORE_OK;
	}
	if (need_h && (rc = coeffs_prepare(&r->h, w, ow, filter, err)) != CORE_OK)
		return rc;
	if (need_v && (rc = coeffs_prepare(&r->v, h, oh, filter, err)) != CORE_OK)
		return rc;
	size_t row_len = (size_t)ow * ch, row_pad = PAD16(row_len), strip = PAD16((size_t)STRIP * ch);
	size_t acc_len = row_pad > strip ? row_pad : strip;
	if ((rc = img_buf_reserve((void **)&r->acc, &r->acc_cap, acc_len * sizeof *r->acc, err)) != CORE_OK)
		return rc;
	if (need_h && ((rc = buf_reserve_zero(&r->st, &r->st_cap, (size_t)w * strip, err)) != CORE_OK ||
		       (rc = buf_reserve_zero(&r->ot, &r->ot_cap, (size_t)ow * strip, err)) != CORE_OK))
		return rc;
	if (!need_v) {
		pass_horizontal(&r->h, src, w, ch, 0, h, dst, row_len, r->st, r->ot, r->acc);
		return CORE_OK;
	}
	if (!need_h) {
		if (r->v.t2)
			img_resize_v2(&r->v, src + (size_t)r->v.t2_first * row_len, row_len, row_len, dst);
		else
			pass_vertical(&r->v, src, row_len, row_len, row_len, 0, r->acc, dst);
		return CORE_OK;
	}
	/* only the input rows the vertical pass reads, with rows padded to 16 bytes */
	unsigned first = (unsigned)(r->v.t2 ? r->v.t2_first : r->v.first);
	unsigned last = (unsigned)(r->v.t2 ? r->v.t2_last : r->v.last);
	if ((rc = buf_reserve_zero(&r->tmp, &r->tmp_cap, row_pad * (last - first), err)) != CORE_OK)
		return rc;
	pass_horizontal(&r->h, src, w, ch, first, last - first, r->tmp, row_pad, r->st, r->ot, r->acc);
	if (r->v.t2)
		img_resize_v2(&r->v, r->tmp, row_pad, row_len, dst);
	else
		pass_vertical(&r->v, r->tmp, row_pad, row_pad, row_len, first, r->acc, dst);
	return CORE_OK;
}

static enum core_status check_image(const struct img_image *in, unsigned w, unsigned h, enum img_filter filter,
				    struct core_error *err)
{
	if (!in || !in->pixels || in->width == 0 || in->height == 0 || (in->channels != 1 && in->channels != 3))
		return core_fail(err, CORE_EINVAL, "resize: not an image of 1 or 3 channels");
	if (w == 0 || h == 0)
		return core_fail(err, CORE_EINVAL, "resize: zero width or height (%ux%u)", w, h);
	if (filter != IMG_FILTER_BILINEAR && filter != IMG_FILTER_BOX)
		return core_fail(err, CORE_EINVAL, "resize: unknown filter %d", (int)filter);
	return CORE_OK;
}

struct img_resizer *img_resizer_new(void)
{
	return calloc(1, sizeof(struct img_resizer));
}

void img_resizer_clear(struct img_resizer *r)
{
	coeffs_clear(&r->h);
	coeffs_clear(&r->v);
	free(r->tmp);
	free(r->acc);
	free(r->st);
	free(r->ot);
	free(r->out);
	free(r->conv);
	memset(r, 0, sizeof *r);
}

void img_resizer_free(struct img_resizer *r)
{
	if (!r)
		return;
	img_resizer_clear(r);
	free(r);
}

enum core_status img_resizer_run(struct img_resizer *r, const struct img_image *in, unsigned w, unsigned h,
				 enum img_filter filter, struct img_image *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	enum core_status rc = check_image(in, w, h, filter, err);
	if (rc != CORE_OK)
		return rc;
	uint8_t *px = malloc((size_t)w * h * in->channels);
	if (!px)
		return core_fail(err, CORE_ENOMEM, "resize: cannot allocate %ux%u pixels", w, h);
	rc = img_resize_into(r, in->pixels, in->width, in->height, in->channels, w, h, filter, px, err);
	if (rc != CORE_OK) {
		free(px);
		return rc;
	}
	*out = (struct img_image){.width = w, .height = h, .channels = in->channels, .pixels = px};
	return CORE_OK;
}

enum core_status img_resize_filter(const struct img_image *in, unsigned w, unsigned h, enum img_filter filter,
				   struct img_image *out, struct core_error *err)
{
	struct img_resizer r = {0};
	enum core_status rc = img_resizer_run(&r, in, w, h, filter, out, err);
	img_resizer_clear(&r);
	return rc;
}

enum core_status img_resize(const struct img_image *in, unsigned w, unsigned h, struct img_image *out,
			    struct core_error *err)
{
	return img_resize_filter(in, w, h, IMG_FILTER_BILINEAR, out, err);
}
