/* img: decoding, resizing and preprocessing of PNG and JPEG images, the one code path
 * the data registry (profiles, tensor export) and the inference API use, so a model sees
 * at serving time exactly the pixels it was trained on.
 *
 * Pixels are 8-bit, HWC (row-major, channels interleaved), 1 channel (gray) or 3 (RGB):
 * alpha is dropped on decoding, as PIL's convert("RGB") does. Results match PIL (Pillow)
 * pixel for pixel: decoding as Image.open(...).convert("L"/"RGB") (16-bit samples keep
 * their high byte), resizing as Image.resize(size, Image.BILINEAR) (or BOX), channel
 * change as convert("L") / convert("RGB"). libs/img/README.md says how and where not.
 *
 * Untrusted input is the normal case: corrupt, truncated or hostile data gives
 * CORE_EINVAL with a message naming what is wrong, never a crash; a header claiming more
 * pixels than the limit gives CORE_ELIMIT before any pixel buffer is allocated.
 * Every function is thread-safe; a struct img_resizer belongs to one thread at a time. */
#ifndef IMG_IMG_H
#define IMG_IMG_H
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/status.h"

#define IMG_MAX_PIXELS_DEFAULT (64ull * 1024 * 1024)

struct img_limits {
	uint64_t max_pixels; /* width * height; 0: IMG_MAX_PIXELS_DEFAULT (64 Mi) */
};

struct img_info {
	unsigned width, height;
	unsigned channels;  /* what img_decode gives: 1 gray, 3 RGB (alpha dropped) */
	const char *format; /* static: "png" | "jpeg" */
};

struct img_image {
	unsigned width, height, channels; /* channels 1 or 3 */
	uint8_t *pixels;                  /* HWC, width * height * channels bytes, malloc'd */
};

/* Reads the header of a PNG or JPEG only (no pixel data is decoded or allocated) and
 * fills *out. Returns CORE_OK; CORE_EINVAL when the data is neither format, the header
 * is malformed or truncated, a dimension is zero, or the JPEG's colour space is one
 * img_decode refuses (CMYK/YCCK). Limits are not applied: see img_limits_check. */
enum core_status img_probe(const void *data, size_t len, struct img_info *out, struct core_error *err);

/* CORE_OK when info's width * height is within lim (NULL: the default), else
 * CORE_ELIMIT naming both. */
enum core_status img_limits_check(const struct img_info *info, const struct img_limits *lim, struct core_error *err);

/* Decodes a whole PNG or JPEG into *out (pixels malloc'd; free with img_image_free).
 * lim may be NULL (the default limit). Returns CORE_OK; CORE_EINVAL for data that is not
 * a well-formed, complete PNG/JPEG (the message names the problem, e.g. "png: IDAT:
 * CRC error" or "jpeg: Premature end of JPEG file"); CORE_ELIMIT when the header claims
 * more pixels than the limit (nothing allocated for pixels); CORE_ENOMEM when the pixel
 * buffer cannot be allocated. On failure *out is zeroed. */
enum core_status img_decode(const void *data, size_t len, const struct img_limits *lim, struct img_image *out,
			    struct core_error *err);

/* Appends im (8-bit, 1 or 3 channels) as a complete PNG to out (initialised by the caller,
 * its ceiling respected): gray or RGB, not interlaced, libpng's default filters and
 * compression; img_decode of it gives im's pixels back. Returns CORE_OK; CORE_EINVAL for
 * an empty image or another channel count; CORE_ELIMIT when the PNG passes out's ceiling
 * and CORE_ENOMEM (then out is as it was). */
enum core_status img_encode_png(const struct img_image *im, struct core_buf *out, struct core_error *err);

/* Frees im's pixels and zeroes it; im may be NULL or already freed. */
void img_image_free(struct img_image *im);

enum img_filter {
	IMG_FILTER_BILINEAR = 0, /* PIL's Image.BILINEAR: triangle, antialiased on downscale */
	IMG_FILTER_BOX,          /* PIL's Image.BOX: area average on downscale */
};

/* Resizes in to w x h (both >= 1) with an antialiasing triangle (bilinear) filter, as
 * PIL's Image.resize((w, h), Image.BILINEAR), into a new image *out (free with
 * img_image_free). Returns CORE_OK, CORE_EINVAL for a zero size or a malformed in, or
 * CORE_ENOMEM. */
enum core_status img_resize(const struct img_image *in, unsigned w, unsigned h, struct img_image *out,
			    struct core_error *err);
/* The same with a chosen filter. */
enum core_status img_resize_filter(const struct img_image *in, unsigned w, unsigned h, enum img_filter filter,
				   struct img_image *out, struct core_error *err);

/* A resizer keeps the filter coefficients of its last (input size, output size, filter)
 * and its work buffers, so repeated resizes of same-sized images (a dataset's items)
 * compute them once and allocate nothing. One thread at a time. */
struct img_resizer;
struct img_resizer *img_resizer_new(void);
void img_resizer_free(struct img_resizer *r);
/* As img_resize_filter, through r's cache. */
enum core_status img_resizer_run(struct img_resizer *r, const struct img_image *in, unsigned w, unsigned h,
				 enum img_filter filter, struct img_image *out, struct core_error *err);

/* Converts in to 1 channel as PIL's convert("L") (ITU-R 601-2 luma, L = (R*19595 +
 * G*38470 + B*7471 + 32768) >> 16) or to 3 by replicating gray, into a new *out; the
 * same channel count gives a copy. Returns CORE_OK, CORE_EINVAL (channels not 1 or 3),
 * or CORE_ENOMEM. */
enum core_status img_convert(const struct img_image *in, unsigned channels, struct img_image *out,
			     struct core_error *err);

enum img_norm {
	IMG_NORM_NONE = 0, /* 0..255 as float */
	IMG_NORM_UNIT,     /* x / 255 */
	IMG_NORM_MEANSTD,  /* (x / 255 - mean[c]) / std[c] */
};

struct img_prep {
	unsigned width, height; /* output size; 0 keeps the image's (both or neither) */
	unsigned channels;      /* 1 or 3; 0 keeps the image's */
	enum img_norm norm;
	float mean[3], std[3];  /* IMG_NORM_MEANSTD; a 1-channel output uses [0]; std > 0 */
	enum img_filter filter; /* 0: bilinear */
};

/* The output size of p applied to an image of info's size: *w, *h, *c. */
void img_prep_shape(const struct img_prep *p, unsigned in_w, unsigned in_h, unsigned in_c, unsigned *w, unsigned *h,
		    unsigned *c);

/* The one preprocessing path: decode, convert channels (convert("L"/"RGB")), resize
 * (p's filter), normalise, and write float32 CHW into out[c * h * w] (c, h, w from
 * img_prep_shape; with width/height 0 the caller learns them from img_probe first).
 * Equal to PIL's np.asarray(Image.open(f).convert(M).resize((w, h), BILINEAR),
 * dtype=float32) normalised as p says, transposed to CHW. Returns what img_decode
 * returns, or CORE_EINVAL for a bad p. Memory: one decoded image, plus the resized one. */
enum core_status img_preprocess(const void *data, size_t len, const struct img_limits *lim, const struct img_prep *p,
				float *out, struct core_error *err);
/* The same from pixels already decoded (IDX records, or an img_decode result). */
enum core_status img_preprocess_pixels(const struct img_image *in, const struct img_prep *p, float *out,
				       struct core_error *err);
/* Both through a resizer (NULL: none), for loops over many same-sized images. */
enum core_status img_preprocess_r(struct img_resizer *r, const void *data, size_t len, const struct img_limits *lim,
				  const struct img_prep *p, float *out, struct core_error *err);
enum core_status img_preprocess_pixels_r(struct img_resizer *r, const struct img_image *in, const struct img_prep *p,
					 float *out, struct core_error *err);

/* An image's summary statistics, the ones the data registry profiles and the inference
 * API reports per upload: its size and channel count, and its brightness (the mean of
 * all its values, numpy's arr.mean()) and contrast (their population std, arr.std()).
 * An alpha channel (channels 2 or 4) is not counted. The sums are exact integers, so a
 * caller aggregating many images (the data registry's per-channel statistics) adds
 * them up without rounding; brightness and contrast round once, at the end. */
struct img_stats {
	unsigned width, height, channels; /* as given */
	unsigned used;                    /* channels counted: 1 (gray) or 3 (RGB) */
	uint64_t n;                       /* values counted: width * height * used */
	uint64_t sum[3];                  /* per counted channel */
	unsigned __int128 sumsq[3];       /* per counted channel */
	double brightness, contrast;      /* mean and population std of the counted values */
};

/* Fills *out from width x height pixels of channels (1..4) interleaved values (HWC);
 * hist, when not NULL, gets each counted value added to its bin (hist[v]++). An empty
 * image gives NaN brightness and contrast. */
void img_stats_pixels(unsigned width, unsigned height, unsigned channels, const uint8_t *pixels, uint64_t *hist,
		      struct img_stats *out);
/* The same of a decoded image. */
void img_stats_image(const struct img_image *im, uint64_t *hist, struct img_stats *out);
/* Population mean and std of n values whose sum is s and sum of squares ss, exact until
 * the last rounding (var = (n ss - s^2) / n^2 in 128-bit integers); NaN for n = 0. */
void img_mean_std(uint64_t n, uint64_t s, unsigned __int128 ss, double *mean, double *std);
#endif
