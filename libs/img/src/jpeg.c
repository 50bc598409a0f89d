/* JPEG decoding through libjpeg-turbo, from memory: baseline and progressive, gray and
 * YCbCr (or Adobe RGB) to 8-bit gray or RGB, with libjpeg's defaults (islow IDCT, fancy
 * upsampling), which are PIL's, so pixels equal PIL's. CMYK and YCCK are refused.
 *
 * libjpeg reports errors through error_exit, which must not return: ours formats the
 * message and longjmps. Corruption that libjpeg only warns about (premature end of
 * file, bad Huffman code, a marker in the middle of data) is treated as an error too,
 * so a truncated upload is refused rather than padded with grey; harmless warnings
 * (extraneous bytes, unknown JFIF revision) are ignored. Nothing goes to stderr. A
 * progress monitor refuses files with absurdly many scans (a known way to make
 * progressive decoding take minutes). As in png.c, each setjmp lives in a function
 * (jd_run_*) whose locals do not change after it; the changing state is in a struct
 * jd_ctx in the caller's frame. Entry points: img_jpeg_probe, img_jpeg_decode. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#include "img_int.h"

#define JPEG_MAX_SCANS 256

struct jd_ctx {
	struct jpeg_error_mgr mgr; /* first: libjpeg hands us a pointer to it */
	jmp_buf jump;
	char msg[JMSG_LENGTH_MAX + 32];
	uint64_t max_pixels;
	enum core_status status; /* of a failure found by our own checks */
	struct img_image im;
	struct img_info info;
	struct jpeg_decompress_struct cinfo;
	struct jpeg_progress_mgr progress;
};

static void jd_on_error(j_common_ptr cinfo)
{
	struct jd_ctx *ctx = (struct jd_ctx *)cinfo->err;
	if (ctx->msg[0] == '\0')
		(*cinfo->err->format_message)(cinfo, ctx->msg);
	longjmp(ctx->jump, 1);
}

static void jd_on_message(j_common_ptr cinfo, int level)
{
	if (level >= 0)
		return; /* trace messages */
	switch (cinfo->err->msg_code) {
	case JWRN_JPEG_EOF:
	case JWRN_HIT_MARKER:
	case JWRN_HUFF_BAD_CODE:
	case JWRN_ARITH_BAD_CODE:
	case JWRN_MUST_RESYNC:
	case JWRN_NOT_SEQUENTIAL:
	case JWRN_BOGUS_PROGRESSION:
	case JWRN_TOO_MUCH_DATA:
		jd_on_error(cinfo);
		break;
	default:
		cinfo->err->num_warnings++;
	}
}

static void jd_on_progress(j_common_ptr cinfo)
{
	if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > JPEG_MAX_SCANS) {
		struct jd_ctx *ctx = (struct jd_ctx *)cinfo->err;
		snprintf(ctx->msg, sizeof ctx->msg, "more than %d scans", JPEG_MAX_SCANS);
		longjmp(ctx->jump, 1);
	}
}

/* Reads the header into ctx->info and chooses the output colour space. Runs inside
 * the caller's setjmp. */
static void jd_read_head(j_decompress_ptr cinfo, struct jd_ctx *ctx, const uint8_t *data, size_t len)
{
	jpeg_mem_src(cinfo, data, (unsigned long)len);
	jpeg_read_header(cinfo, TRUE);
	if (cinfo->image_width == 0 || cinfo->image_height == 0) {
		snprintf(ctx->msg, sizeof ctx->msg, "zero width or height");
		longjmp(ctx->jump, 1);
	}
	switch (cinfo->jpeg_color_space) {
	case JCS_GRAYSCALE:
		cinfo->out_color_space = JCS_GRAYSCALE;
		ctx->info.channels = 1;
		break;
	case JCS_YCbCr:
	case JCS_RGB:
		cinfo->out_color_space = JCS_RGB;
		ctx->info.channels = 3;
		break;
	case JCS_CMYK:
	case JCS_YCCK:
		snprintf(ctx->msg, sizeof ctx->msg, "CMYK images are not supported (convert to RGB first)");
		longjmp(ctx->jump, 1);
	default:
		snprintf(ctx->msg, sizeof ctx->msg, "unsupported colour space (%d components)", cinfo->num_components);
		longjmp(ctx->jump, 1);
	}
	ctx->info.width = cinfo->image_width;
	ctx->info.height = cinfo->image_height;
	ctx->info.format = "jpeg";
}

/* Called after the setjmp: error_exit may longjmp from here on. */
static void jd_setup(struct jd_ctx *ctx)
{
	ctx->cinfo.err = jpeg_std_error(&ctx->mgr);
	ctx->mgr.error_exit = jd_on_error;
	ctx->mgr.emit_message = jd_on_message;
	jpeg_create_decompress(&ctx->cinfo);
	ctx->progress.progress_monitor = jd_on_progress;
	ctx->cinfo.progress = &ctx->progress;
}

static int jd_run_probe(struct jd_ctx *ctx, const uint8_t *data, size_t len)
{
	j_decompress_ptr cinfo = &ctx->cinfo;
	if (setjmp(ctx->jump)) {
		jpeg_destroy_decompress(&ctx->cinfo);
		return 1;
	}
	jd_setup(ctx);
	jd_read_head(cinfo, ctx, data, len);
	jpeg_destroy_decompress(cinfo);
	return 0;
}

static int jd_run_decode(struct jd_ctx *ctx, const uint8_t *data, size_t len)
{
	j_decompress_ptr cinfo = &ctx->cinfo;
	if (setjmp(ctx->jump)) {
		jpeg_destroy_decompress(&ctx->cinfo);
		return 1;
	}
	jd_setup(ctx);
	jd_read_head(cinfo, ctx, data, len);
	uint64_t pixels = (uint64_t)ctx->info.width * ctx->info.height;
	if (pixels > ctx->max_pixels) {
		snprintf(ctx->msg, sizeof ctx->msg, "%ux%u is %llu pixels, over the limit of %llu", ctx->info.width,
			 ctx->info.height, (unsigned long long)pixels, (unsigned long long)ctx->max_pixels);
		ctx->status = CORE_ELIMIT;
		longjmp(ctx->jump, 1);
	}
	jpeg_start_decompress(cinfo);
	unsigned c = ctx->info.channels;
	if ((unsigned)cinfo->output_components != c || cinfo->output_width != ctx->info.width ||
	    cinfo->output_height != ctx->info.height) {
		snprintf(ctx->msg, sizeof ctx->msg, "unexpected output layout");
		longjmp(ctx->jump, 1);
	}
	size_t stride = (size_t)ctx->info.width * c;
	ctx->im.pixels = malloc(stride * ctx->info.height);
	if (!ctx->im.pixels) {
		snprintf(ctx->msg, sizeof ctx->msg, "cannot allocate %ux%u pixels", ctx->info.width, ctx->info.height);
		ctx->status = CORE_ENOMEM;
		longjmp(ctx->jump, 1);
	}
	ctx->im.width = ctx->info.width;
	ctx->im.height = ctx->info.height;
	ctx->im.channels = c;
	while (cinfo->output_scanline < cinfo->output_height) {
		JSAMPROW rows[16];
		unsigned n = 0;
		while (n < 16 && cinfo->output_scanline + n < cinfo->output_height) {
			rows[n] = ctx->im.pixels + (size_t)(cinfo->output_scanline + n) * stride;
			n++;
		}
		if (jpeg_read_scanlines(cinfo, rows, n) == 0) {
			snprintf(ctx->msg, sizeof ctx->msg, "no progress reading scanlines");
			longjmp(ctx->jump, 1);
		}
	}
	jpeg_finish_decompress(cinfo);
	jpeg_destroy_decompress(cinfo);
	return 0;
}

static enum core_status jd_result(int r, struct jd_ctx *ctx, struct core_error *err)
{
	if (r > 0)
		return core_fail(err, ctx->status != CORE_OK ? ctx->status : CORE_EINVAL, "jpeg: %s",
				 ctx->msg[0] ? ctx->msg : "malformed data");
	return CORE_OK;
}

enum core_status img_jpeg_probe(const uint8_t *data, size_t len, struct img_info *out, struct core_error *err)
{
	struct jd_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	enum core_status rc = jd_result(jd_run_probe(&ctx, data, len), &ctx, err);
	if (rc == CORE_OK)
		*out = ctx.info;
	return rc;
}

enum core_status img_jpeg_decode(const uint8_t *data, size_t len, uint64_t max_pixels, struct img_image *out,
				 struct core_error *err)
{
	struct jd_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	ctx.max_pixels = max_pixels;
	enum core_status rc = jd_result(jd_run_decode(&ctx, data, len), &ctx, err);
	if (rc != CORE_OK) {
		free(ctx.im.pixels);
		return rc;
	}
	*out = ctx.im;
	return CORE_OK;
}
