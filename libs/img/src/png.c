/* PNG decoding through libpng, from memory. Every colour type and bit depth becomes 8-bit
 * gray or RGB as PIL's Image.open(...).convert("L"/"RGB") sees it: palettes expanded,
 * 1/2/4-bit gray scaled to 0..255, 16-bit samples keep their high byte (PIL's "RGB;16B"
 * unpacking), alpha and tRNS dropped, gamma and colour profiles ignored (PIL ignores
 * them too). Interlaced images are read pass by pass into the image itself, so memory
 * is the image and libpng's row buffers, nothing per row.
 *
 * libpng reports errors by longjmp. Each setjmp lives in a small function (pd_run_*)
 * whose own locals are never changed after it; everything that changes (the message,
 * the pixel buffer) lives in a struct pd_ctx owned by the caller's frame, so the
 * longjmp path sees current values and frees what was allocated. Warnings are ignored
 * (libpng says nothing on stderr). img_png_decode tries png_fast.c first, which takes
 * the common 8-bit layouts and declines the rest (and anything damaged) to libpng here.
 * Entry points: img_png_probe, img_png_decode, img_png_decode_libpng. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "img_int.h"

struct pd_ctx {
	char msg[IMG_PNG_MSG]; /* first: img_png_on_error writes it */
	const uint8_t *data;
	size_t len, pos;
	uint64_t max_pixels;
	enum core_status status; /* of a failure found by our own checks */
	struct img_image im;     /* pixels allocated once the header passed */
	struct img_info info;
};

static void pd_on_read(png_structp png, png_bytep out, size_t n)
{
	struct pd_ctx *ctx = png_get_io_ptr(png);
	if (n > ctx->len - ctx->pos)
		png_error(png, "truncated data");
	memcpy(out, ctx->data + ctx->pos, n);
	ctx->pos += n;
}

/* Reads the header into ctx->info. Runs inside the caller's setjmp. */
static void pd_read_header(png_structp png, png_infop info, struct pd_ctx *ctx)
{
	png_set_read_fn(png, ctx, pd_on_read);
#ifdef PNG_IGNORE_ADLER32
	/* zlib's Adler-32 runs per row on a few dozen bytes at a time, about 7% of a
	 * 28x28 decode; every IDAT chunk's CRC-32 (checked, as every critical chunk's)
	 * already covers the same bytes, so corrupt data still fails ("IDAT: CRC error"). */
	png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
	png_read_info(png, info);
	png_uint_32 w = 0, h = 0;
	int depth = 0, color = 0;
	png_get_IHDR(png, info, &w, &h, &depth, &color, NULL, NULL, NULL);
	if (w == 0 || h == 0)
		png_error(png, "zero width or height");
	ctx->info.width = w;
	ctx->info.height = h;
	ctx->info.channels = (color & PNG_COLOR_MASK_COLOR) ? 3 : 1;
	ctx->info.format = "png";
}

static int pd_run_probe(struct pd_ctx *ctx)
{
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, img_png_on_error, img_png_on_warning);
	if (!png)
		return -1;
	png_infop info = png_create_info_struct(png);
	if (!info) {
		png_destroy_read_struct(&png, NULL, NULL);
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_read_struct(&png, &info, NULL);
		return 1;
	}
	pd_read_header(png, info, ctx);
	png_destroy_read_struct(&png, &info, NULL);
	return 0;
}

static int pd_run_decode(struct pd_ctx *ctx)
{
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, img_png_on_error, img_png_on_warning);
	if (!png)
		return -1;
	png_infop info = png_create_info_struct(png);
	if (!info) {
		png_destroy_read_struct(&png, NULL, NULL);
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_read_struct(&png, &info, NULL);
		return 1;
	}
	pd_read_header(png, info, ctx);
	uint64_t pixels = (uint64_t)ctx->info.width * ctx->info.height;
	if (pixels > ctx->max_pixels) {
		snprintf(ctx->msg, sizeof ctx->msg, "%ux%u is %llu pixels, over the limit of %llu", ctx->info.width,
			 ctx->info.height, (unsigned long long)pixels, (unsigned long long)ctx->max_pixels);
		ctx->status = CORE_ELIMIT;
		png_destroy_read_struct(&png, &info, NULL);
		return 1;
	}
	int depth = png_get_bit_depth(png, info);
	int color = png_get_color_type(png, info);
	if (depth == 16)
		png_set_strip_16(png); /* the high byte, as PIL's 16-bit unpackers */
	if (color == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	png_set_strip_alpha(png); /* also the alpha a palette's tRNS would add */
	int passes = png_set_interlace_handling(png);
	png_read_update_info(png, info);
	unsigned c = ctx->info.channels;
	if (png_get_channels(png, info) != c || png_get_bit_depth(png, info) != 8 ||
	    png_get_rowbytes(png, info) != (size_t)ctx->info.width * c)
		png_error(png, "unexpected pixel layout after transformation");
	size_t stride = (size_t)ctx->info.width * c;
	ctx->im.pixels = malloc(stride * ctx->info.height);
	if (!ctx->im.pixels) {
		snprintf(ctx->msg, sizeof ctx->msg, "cannot allocate %ux%u pixels", ctx->info.width, ctx->info.height);
		ctx->status = CORE_ENOMEM;
		png_destroy_read_struct(&png, &info, NULL);
		return 1;
	}
	ctx->im.width = ctx->info.width;
	ctx->im.height = ctx->info.height;
	ctx->im.channels = c;
	for (int pass = 0; pass < passes; pass++)
		for (unsigned y = 0; y < ctx->info.height; y++)
			png_read_row(png, ctx->im.pixels + y * stride, NULL);
	png_read_end(png, NULL); /* the CRCs and chunks after the image: a truncated file fails */
	png_destroy_read_struct(&png, &info, NULL);
	return 0;
}

static enum core_status pd_result(int r, struct pd_ctx *ctx, struct core_error *err)
{
	if (r < 0)
		return core_fail(err, CORE_ENOMEM, "png: cannot create the decoder");
	if (r > 0)
		return core_fail(err, ctx->status != CORE_OK ? ctx->status : CORE_EINVAL, "png: %s",
				 ctx->msg[0] ? ctx->msg : "malformed data");
	return CORE_OK;
}

enum core_status img_png_probe(const uint8_t *data, size_t len, struct img_info *out, struct core_error *err)
{
	struct pd_ctx ctx = {.data = data, .len = len};
	enum core_status rc = pd_result(pd_run_probe(&ctx), &ctx, err);
	if (rc == CORE_OK)
		*out = ctx.info;
	return rc;
}

enum core_status img_png_decode(const uint8_t *data, size_t len, uint64_t max_pixels, struct img_image *out,
				struct core_error *err)
{
	if (img_png_fast_decode(data, len, max_pixels, out))
		return CORE_OK;
	return img_png_decode_libpng(data, len, max_pixels, out, err);
}

enum core_status img_png_decode_libpng(const uint8_t *data, size_t len, uint64_t max_pixels, struct img_image *out,
				       struct core_error *err)
{
	struct pd_ctx ctx = {.data = data, .len = len, .max_pixels = max_pixels};
	enum core_status rc = pd_result(pd_run_decode(&ctx), &ctx, err);
	if (rc != CORE_OK) {
		free(ctx.im.pixels);
		return rc;
	}
	*out = ctx.im;
	return CORE_OK;
}
