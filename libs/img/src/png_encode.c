/* PNG encoding through libpng, into memory (face: img/img.h, img_encode_png): what a
 * client writing an image folder (the `lathe demo`'s Fashion-MNIST as <class>/<n>.png)
 * needs, so no one hand-rolls a PNG writer. 8-bit gray or RGB, not interlaced, default
 * filters and compression; decoding the result with img_decode gives the same pixels.
 *
 * libpng reports errors by longjmp (png.c's handlers): the setjmp lives in pe_run,
 * whose locals never change after it; the message and the status live in the caller's
 * struct pe_ctx. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include "img_int.h"

struct pe_ctx {
	char msg[IMG_PNG_MSG]; /* first: img_png_on_error writes it */
	const struct img_image *im;
	struct core_buf *out;
	enum core_status status; /* of a failed append */
};

static void pe_on_write(png_structp png, png_bytep data, size_t n)
{
	struct pe_ctx *ctx = png_get_io_ptr(png);
	enum core_status rc = core_buf_append(ctx->out, data, n);
	if (rc != CORE_OK) {
		ctx->status = rc;
		png_error(png, rc == CORE_ELIMIT ? "the PNG does not fit the buffer" : "out of memory");
	}
}

static void pe_on_flush(png_structp png)
{
	(void)png;
}

/* Returns 0 when the whole PNG was written, else 1 (ctx->msg says why). */
static int pe_run(struct pe_ctx *ctx)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx, img_png_on_error, img_png_on_warning);
	if (!png)
		return 1;
	png_infop info = png_create_info_struct(png);
	int failed = 1;
	if (info && setjmp(png_jmpbuf(png)) == 0) {
		const struct img_image *im = ctx->im;
		png_set_write_fn(png, ctx, pe_on_write, pe_on_flush);
		png_set_IHDR(png, info, im->width, im->height, 8,
			     im->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
			     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
		png_write_info(png, info);
		size_t stride = (size_t)im->width * im->channels;
		for (unsigned y = 0; y < im->height; y++)
			png_write_row(png, im->pixels + (size_t)y * stride);
		png_write_end(png, NULL);
		failed = 0;
	}
	png_destroy_write_struct(&png, info ? &info : NULL);
	return failed;
}

enum core_status img_encode_png(const struct img_image *im, struct core_buf *out, struct core_error *err)
{
	if (!im || !im->pixels || im->width == 0 || im->height == 0 || (im->channels != 1 && im->channels != 3))
		return core_fail(err, CORE_EINVAL, "png: encode needs an 8-bit image of 1 or 3 channels, not empty");
	size_t start = out->len;
	struct pe_ctx ctx = {.im = im, .out = out, .status = CORE_OK};
	if (pe_run(&ctx) == 0)
		return CORE_OK;
	/* Drop what a failed write appended: the caller's buffer holds whole PNGs only. */
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return core_fail(err, ctx.status != CORE_OK ? ctx.status : CORE_ENOMEM, "png: encode: %s",
			 ctx.msg[0] ? ctx.msg : "libpng cannot start");
}
