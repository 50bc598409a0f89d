/* img's private header: the format decoders (png.c, jpeg.c) that decode.c dispatches
 * to, and the resizer's internals shared by resize.c and preprocess.c. */
#ifndef IMG_INT_H
#define IMG_INT_H
#include <stdint.h>
#include "img/img.h"

/* The limit lim stands for (NULL or 0: the default). */
uint64_t img_max_pixels(const struct img_limits *lim);

/* libpng's error and warning handlers (png_err.c) for png.c and png_encode.c: the error pointer is a
 * context whose first member is char msg[IMG_PNG_MSG]; the first error's text goes there,
 * then longjmp. Warnings are ignored (libpng says nothing on stderr). */
#define IMG_PNG_MSG 200
struct png_struct_def;
void img_png_on_error(struct png_struct_def *png, const char *msg);
void img_png_on_warning(struct png_struct_def *png, const char *msg);

enum core_status img_png_probe(const uint8_t *data, size_t len, struct img_info *out, struct core_error *err);
enum core_status img_png_decode(const uint8_t *data, size_t len, uint64_t max_pixels, struct img_image *out,
				struct core_error *err);
/* libpng alone, without png_fast.c (img_png_decode's fallback; the tests compare both). */
enum core_status img_png_decode_libpng(const uint8_t *data, size_t len, uint64_t max_pixels, struct img_image *out,
				       struct core_error *err);
/* png_fast.c: decodes an 8-bit non-interlaced gray / gray+alpha / RGB / RGBA PNG that
 * libpng would accept into *out (pixels malloc'd) and returns 1; returns 0, with nothing
 * allocated, for every other file (other formats, damage, limits): libpng's turn. */
int img_png_fast_decode(const uint8_t *data, size_t len, uint64_t max_pixels, struct img_image *out);
/* png_filter.c: undoes PNG filter `type` (0..4) on one row of n bytes, bpp bytes a
 * pixel; prev is the row above unfiltered (NULL for the first row); dst may be src.
 * 0, or -1 for a type over 4. */
int img_png_unfilter_row(unsigned type, const uint8_t *src, const uint8_t *prev, uint8_t *dst, size_t n, unsigned bpp);
enum core_status img_jpeg_probe(const uint8_t *data, size_t len, struct img_info *out, struct core_error *err);
enum core_status img_jpeg_decode(const uint8_t *data, size_t len, uint64_t max_pixels, struct img_image *out,
				 struct core_error *err);

/* Pillow's fixed point: weights carry 22 fractional bits (Resample.c's PRECISION_BITS). */
#define IMG_PRECISION_BITS (32 - 8 - 2)

/* Row loops get an AVX2 version beside the baseline one, chosen at load time (gcc's
 * function multiversioning): x86-64's baseline SSE2 has no 32-bit multiply. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define IMG_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define IMG_SIMD_CLONES
#endif

/* A fixed-point sum back to a byte, clipped to 0..255, without branches (the shift is
 * arithmetic, so v <= 0 gives <= 0). */
static inline uint8_t img_clip8(int32_t v)
{
	int32_t t = v >> IMG_PRECISION_BITS;
	t = t < 0 ? 0 : t;
	return (uint8_t)(t > 255 ? 255 : t);
}

/* One output pixel of a two-tap axis: input pixels i and i + 1, weights k0 and k1. */
struct img_tap2 {
	int32_t i, k0, k1;
};

/* Filter coefficients of one axis (in_size -> out_size), in Pillow's fixed point. */
struct img_coeffs {
	unsigned in_size, out_size;
	enum img_filter filter;
	unsigned ksize;  /* coefficients per output pixel (some trailing ones 0) */
	int *bounds;     /* [2 * out_size]: first input index, count */
	int32_t *k;      /* [out_size * ksize] */
	int first, last; /* the input range all windows together cover */
	/* the same weights as two adjacent taps per output pixel, when no window has more
	 * nonzero ones (upscaling); else NULL. t2_first..t2_last: the inputs they read */
	struct img_tap2 *t2;
	int t2_first, t2_last;
};

struct img_resizer {
	struct img_coeffs h, v;
	uint8_t *tmp; /* the horizontal pass's rows */
	size_t tmp_cap;
	int32_t *acc; /* one row of the vertical pass's sums */
	size_t acc_cap;
	uint8_t *st, *ot; /* a transposed strip of the horizontal pass's input, output */
	size_t st_cap, ot_cap;
	uint8_t *out; /* preprocess: the resized image */
	size_t out_cap;
	uint8_t *conv; /* preprocess: the channel-converted image */
	size_t conv_cap;
};

/* Resizes src (w x h x c, c 1 or 3) into dst (ow x oh x c, allocated by the caller)
 * through r's cached coefficients and buffers. CORE_OK or CORE_ENOMEM. */
enum core_status img_resize_into(struct img_resizer *r, const uint8_t *src, unsigned w, unsigned h, unsigned c,
				 unsigned ow, unsigned oh, enum img_filter filter, uint8_t *dst,
				 struct core_error *err);
/* resize2.c: fills c->t2 from c's weights when every window has at most two nonzero
 * ones side by side (c->t2 stays NULL otherwise). CORE_OK or CORE_ENOMEM. */
enum core_status img_taps2_build(struct img_coeffs *c, struct core_error *err);
/* resize2.c: the vertical pass through v->t2: src holds input rows from v->t2_first
 * on, stride bytes apart; dst gets v->out_size rows of row_len bytes. */
void img_resize_v2(const struct img_coeffs *v, const uint8_t *src, size_t stride, size_t row_len, uint8_t *dst);
/* Frees r's buffers (not r itself). */
void img_resizer_clear(struct img_resizer *r);
/* Grows *buf to at least n bytes. CORE_OK or CORE_ENOMEM. */
enum core_status img_buf_reserve(void **buf, size_t *cap, size_t n, struct core_error *err);

/* RGB -> L as PIL's convert("L"), n pixels; dst may equal src (it is written behind). */
void img_rgb_to_gray(const uint8_t *src, size_t n, uint8_t *dst);
#endif
