/* Test images for the image tests (harness_img.h): PNG through libpng's simplified
 * write API, JPEG through libjpeg's memory destination. */
#include <check.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* jpeglib.h needs FILE and size_t declared first */
#include <jpeglib.h>
#include "harness_img.h"

void *th_img_png(unsigned w, unsigned h, unsigned c, const uint8_t *pixels, size_t *len)
{
	png_image im;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	im.width = w;
	im.height = h;
	im.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
	png_alloc_size_t size = 0;
	ck_assert_msg(png_image_write_to_memory(&im, NULL, &size, 0, pixels, 0, NULL), "png size: %s", im.message);
	void *out = malloc(size);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(png_image_write_to_memory(&im, out, &size, 0, pixels, 0, NULL), "png: %s", im.message);
	*len = size;
	return out;
}

void *th_img_jpeg(unsigned w, unsigned h, unsigned c, const uint8_t *pixels, int quality, size_t *len)
{
	struct jpeg_compress_struct cinfo;
	struct jpeg_error_mgr jerr;
	unsigned char *buf = NULL;
	unsigned long size = 0;

	cinfo.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&cinfo);
	jpeg_mem_dest(&cinfo, &buf, &size);
	cinfo.image_width = w;
	cinfo.image_height = h;
	cinfo.input_components = (int)c;
	cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, quality, TRUE);
	jpeg_start_compress(&cinfo, TRUE);
	while (cinfo.next_scanline < cinfo.image_height) {
		JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * w * c);
		jpeg_write_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	ck_assert_ptr_nonnull(buf);
	/* jpeg_mem_dest's buffer is malloc'd: the caller frees it with free() */
	*len = size;
	return buf;
}

void *th_img_png_flat(unsigned w, unsigned h, uint8_t value, size_t *len)
{
	uint8_t *px = malloc((size_t)w * h);
	ck_assert_ptr_nonnull(px);
	memset(px, value, (size_t)w * h);
	void *out = th_img_png(w, h, 1, px, len);
	free(px);
	return out;
}
