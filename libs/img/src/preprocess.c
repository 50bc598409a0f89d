/* The one preprocessing path, shared by the data registry's tensor export and the
 * inference API: decode -> channels -> resize -> normalise -> float32 CHW.
 *
 * The order is PIL's Image.open(f).convert(M).resize(size, BILINEAR), with two
 * equivalences used to save work and memory: RGB -> L happens before resizing (as in
 * PIL), in place in the decoded image; L -> RGB happens after resizing, by writing the
 * resized gray plane into each of the three output planes (resizing three equal planes
 * gives three equal planes, so the result is the same). Normalisation goes through a
 * 256-entry table per channel computed in float32 as numpy would: (x / 255 - mean) / std.
 * Memory: the decoded image, plus the resized one (the resizer's, reused across calls
 * when the caller passes one), plus the caller's output.
 * Entry points: img_prep_shape, img_preprocess[_r], img_preprocess_pixels[_r]. */
#include <stdlib.h>
#include <string.h>
#include "img_int.h"

void img_prep_shape(const struct img_prep *p, unsigned in_w, unsigned in_h, unsigned in_c, unsigned *w, unsigned *h,
		    unsigned *c)
{
	*w = p->width ? p->width : in_w;
	*h = p->height ? p->height : in_h;
	*c = p->channels ? p->channels : in_c;
}

static enum core_status prep_check(const struct img_prep *p, struct core_error *err)
{
	if (!p)
		return core_fail(err, CORE_EINVAL, "preprocess: no parameters");
	if (p->channels != 0 && p->channels != 1 && p->channels != 3)
		return core_fail(err, CORE_EINVAL, "preprocess: %u channels asked; 1 or 3 are possible", p->channels);
	if ((p->width == 0) != (p->height == 0))
		return core_fail(err, CORE_EINVAL, "preprocess: width and height must both be given or both be 0");
	if (p->filter != IMG_FILTER_BILINEAR && p->filter != IMG_FILTER_BOX)
		return core_fail(err, CORE_EINVAL, "preprocess: unknown filter %d", (int)p->filter);
	if (p->norm == IMG_NORM_MEANSTD) {
		for (unsigned i = 0; i < 3; i++)
			if (!(p->std[i] > 0.0f) && (i == 0 || p->channels != 1))
				return core_fail(err, CORE_EINVAL, "preprocess: std[%u] must be > 0", i);
	} else if (p->norm != IMG_NORM_NONE && p->norm != IMG_NORM_UNIT) {
		return core_fail(err, CORE_EINVAL, "preprocess: unknown normalisation %d", (int)p->norm);
	}
	return CORE_OK;
}

static void prep_table(const struct img_prep *p, unsigned ch, float lut[256])
{
	for (unsigned v = 0; v < 256; v++) {
		float x = (float)v;
		if (p->norm == IMG_NORM_UNIT)
			x = x / 255.0f;
		else if (p->norm == IMG_NORM_MEANSTD)
			x = (x / 255.0f - p->mean[ch]) / p->std[ch];
		lut[v] = x;
	}
}

/* One gray plane, computed rather than looked up, in blocks of 16 that -O2 vectorises
 * (the same float operations as the table, so the same values). */
static void prep_plane(const uint8_t *restrict s, size_t n, enum img_norm norm, float mean, float std,
		       float *restrict out)
{
	size_t i = 0;
	if (norm == IMG_NORM_NONE) {
		for (; i + 16 <= n; i += 16)
			for (int j = 0; j < 16; j++)
				out[i + j] = (float)s[i + j];
		for (; i < n; i++)
			out[i] = (float)s[i];
	} else if (norm == IMG_NORM_UNIT) {
		for (; i + 16 <= n; i += 16)
			for (int j = 0; j < 16; j++)
				out[i + j] = (float)s[i + j] / 255.0f;
		for (; i < n; i++)
			out[i] = (float)s[i] / 255.0f;
	} else {
		for (; i + 16 <= n; i += 16)
			for (int j = 0; j < 16; j++)
				out[i + j] = ((float)s[i + j] / 255.0f - mean) / std;
		for (; i < n; i++)
			out[i] = ((float)s[i] / 255.0f - mean) / std;
	}
}

/* src: w*h pixels of sc channels (1 or 3); out: c planes. */
static void prep_write(const struct img_prep *p, const uint8_t *src, size_t n, unsigned sc, unsigned c, float *out)
{
	float lut[256];
	for (unsigned ch = 0; ch < c; ch++) {
		float *plane = out + ch * n;
		if (sc == 1) {
			prep_plane(src, n, p->norm, p->mean[ch], p->std[ch], plane);
			continue;
		}
		prep_table(p, ch, lut);
		const uint8_t *s = src + ch;
		for (size_t i = 0; i < n; i++)
			plane[i] = lut[s[i * 3]];
	}
}

/* The work after decoding. px may be rewritten in place when writable is set. */
static enum core_status prep_run(struct img_resizer *r, uint8_t *px, int writable, unsigned w, unsigned h, unsigned sc,
				 const struct img_prep *p, float *out, struct core_error *err)
{
	enum core_status rc;
	unsigned ow, oh, c;
	img_prep_shape(p, w, h, sc, &ow, &oh, &c);
	size_t n = (size_t)w * h;
	const uint8_t *cur = px;
	if (sc == 3 && c == 1) {
		uint8_t *dst = px;
		if (!writable) {
			if ((rc = img_buf_reserve((void **)&r->conv, &r->conv_cap, n, err)) != CORE_OK)
				return rc;
			dst = r->conv;
		}
		img_rgb_to_gray(px, n, dst);
		cur = dst;
		sc = 1;
	}
	if (ow != w || oh != h) {
		size_t on = (size_t)ow * oh * sc;
		if ((rc = img_buf_reserve((void **)&r->out, &r->out_cap, on, err)) != CORE_OK)
			return rc;
		if ((rc = img_resize_into(r, cur, w, h, sc, ow, oh, p->filter, r->out, err)) != CORE_OK)
			return rc;
		cur = r->out;
	}
	prep_write(p, cur, (size_t)ow * oh, sc, c, out);
	return CORE_OK;
}

enum core_status img_preprocess_pixels_r(struct img_resizer *r, const struct img_image *in, const struct img_prep *p,
					 float *out, struct core_error *err)
{
	enum core_status rc = prep_check(p, err);
	if (rc != CORE_OK)
		return rc;
	if (!in || !in->pixels || in->width == 0 || in->height == 0 || (in->channels != 1 && in->channels != 3))
		return core_fail(err, CORE_EINVAL, "preprocess: not an image of 1 or 3 channels");
	struct img_resizer local = {0};
	rc = prep_run(r ? r : &local, in->pixels, 0, in->width, in->height, in->channels, p, out, err);
	img_resizer_clear(&local);
	return rc;
}

enum core_status img_preprocess_r(struct img_resizer *r, const void *data, size_t len, const struct img_limits *lim,
				  const struct img_prep *p, float *out, struct core_error *err)
{
	enum core_status rc = prep_check(p, err);
	if (rc != CORE_OK)
		return rc;
	struct img_image im;
	if ((rc = img_decode(data, len, lim, &im, err)) != CORE_OK)
		return rc;
	struct img_resizer local = {0};
	rc = prep_run(r ? r : &local, im.pixels, 1, im.width, im.height, im.channels, p, out, err);
	img_resizer_clear(&local);
	img_image_free(&im);
	return rc;
}

enum core_status img_preprocess_pixels(const struct img_image *in, const struct img_prep *p, float *out,
				       struct core_error *err)
{
	return img_preprocess_pixels_r(NULL, in, p, out, err);
}

enum core_status img_preprocess(const void *data, size_t len, const struct img_limits *lim, const struct img_prep *p,
				float *out, struct core_error *err)
{
	return img_preprocess_r(NULL, data, len, lim, p, out, err);
}
