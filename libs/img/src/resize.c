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
 * img_resizer; the horizontal pass covers only the rows the vertical pass reads; the
 * vertical pass accumulates whole rows (a loop the compiler vectorises). No function
 * call per pixel. Entry points: img_resize, img_resize_filter, img_resizer_*,
 * img_resize_into (preprocess.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "img_int.h"

#define PRECISION_BITS (32 - 8 - 2)

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
		c->bounds[xx * 2] = xmin;
		c->bounds[xx * 2 + 1] = xmax;
	}
	free(w);
	c->in_size = in_size;
	c->out_size = out_size;
	c->filter = f;
	c->ksize = ksize;
	return CORE_OK;
}

static inline uint8_t clip8(int32_t v)
{
	if (v >= (1 << PRECISION_BITS << 8))
		return 255;
	if (v <= 0)
		return 0;
	return (uint8_t)(v >> PRECISION_BITS);
}

/* Rows [y0, y0 + rows) of src (w wide) -> rows of dst (ow wide). */
static void pass_horizontal(const struct img_coeffs *c, const uint8_t *src, unsigned w, unsigned ch, unsigned y0,
			    unsigned rows, uint8_t *dst)
{
	unsigned ow = c->out_size, ks = c->ksize;
	for (unsigned y = 0; y < rows; y++) {
		const uint8_t *in = src + (size_t)(y0 + y) * w * ch;
		uint8_t *out = dst + (size_t)y * ow * ch;
		if (ch == 1) {
			for (unsigned xx = 0; xx < ow; xx++) {
				const int32_t *k = c->k + (size_t)xx * ks;
				const uint8_t *p = in + c->bounds[xx * 2];
				int n = c->bounds[xx * 2 + 1];
				int32_t s = 1 << (PRECISION_BITS - 1);
				for (int x = 0; x < n; x++)
					s += p[x] * k[x];
				out[xx] = clip8(s);
			}
		} else {
			for (unsigned xx = 0; xx < ow; xx++) {
				const int32_t *k = c->k + (size_t)xx * ks;
				const uint8_t *p = in + (size_t)c->bounds[xx * 2] * 3;
				int n = c->bounds[xx * 2 + 1];
				int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
				for (int x = 0; x < n; x++) {
					s0 += p[x * 3] * k[x];
					s1 += p[x * 3 + 1] * k[x];
					s2 += p[x * 3 + 2] * k[x];
				}
				out[xx * 3] = clip8(s0);
				out[xx * 3 + 1] = clip8(s1);
				out[xx * 3 + 2] = clip8(s2);
			}
		}
	}
}

/* acc[0..n) += row[0..n) * k. Written in blocks of 16 so that -O2's cheap
 * vectoriser turns the block into SIMD (a plain loop would need -O3). */
static void acc_add(int32_t *restrict acc, const uint8_t *restrict row, int32_t k, size_t n)
{
	size_t x = 0;
	for (; x + 16 <= n; x += 16)
		for (int j = 0; j < 16; j++)
			acc[x + j] += row[x + j] * k;
	for (; x < n; x++)
		acc[x] += row[x] * k;
}

/* out[0..n) = clip8(acc[0..n)), in the same vectorisable blocks (clip8 without
 * branches: the shift is arithmetic, so v <= 0 gives <= 0). */
static inline uint8_t clip8_flat(int32_t v)
{
	int32_t t = v >> PRECISION_BITS;
	t = t < 0 ? 0 : t;
	return (uint8_t)(t > 255 ? 255 : t);
}

static void acc_store(uint8_t *restrict out, const int32_t *restrict acc, size_t n)
{
	size_t x = 0;
	for (; x + 16 <= n; x += 16)
		for (int j = 0; j < 16; j++)
			out[x + j] = clip8_flat(acc[x + j]);
	for (; x < n; x++)
		out[x] = clip8_flat(acc[x]);
}

/* src holds rows starting at input row `first` (row_len bytes each); dst gets oh rows. */
static void pass_vertical(const struct img_coeffs *c, const uint8_t *src, size_t row_len, unsigned first,
			  int32_t *restrict acc, uint8_t *dst)
{
	for (unsigned yy = 0; yy < c->out_size; yy++) {
		const int32_t *k = c->k + (size_t)yy * c->ksize;
		int ymin = c->bounds[yy * 2] - (int)first, n = c->bounds[yy * 2 + 1];
		for (size_t x = 0; x < row_len; x++)
			acc[x] = 1 << (PRECISION_BITS - 1);
		for (int y = 0; y < n; y++)
			acc_add(acc, src + (size_t)(ymin + y) * row_len, k[y], row_len);
		acc_store(dst + (size_t)yy * row_len, acc, row_len);
	}
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
	if (!need_v) {
		pass_horizontal(&r->h, src, w, ch, 0, h, dst);
		return CORE_OK;
	}
	size_t row_len = (size_t)ow * ch;
	if ((rc = img_buf_reserve((void **)&r->acc, &r->acc_cap, row_len * sizeof *r->acc, err)) != CORE_OK)
		return rc;
	if (!need_h) {
		pass_vertical(&r->v, src, row_len, 0, r->acc, dst);
		return CORE_OK;
	}
	/* only the input rows the vertical pass reads */
	unsigned first = (unsigned)r->v.bounds[0];
	unsigned last = (unsigned)(r->v.bounds[(oh - 1) * 2] + r->v.bounds[(oh - 1) * 2 + 1]);
	if ((rc = img_buf_reserve((void **)&r->tmp, &r->tmp_cap, row_len * (last - first), err)) != CORE_OK)
		return rc;
	pass_horizontal(&r->h, src, w, ch, first, last - first, r->tmp);
	pass_vertical(&r->v, r->tmp, row_len, first, r->acc, dst);
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
