/* Test images (prefix th_img_): PNG and JPEG bytes of pixels a test chose, encoded in
 * memory with libpng's and libjpeg's own encoders (not libs/img, which only decodes), so
 * image tests need no files and no python. Failures abort the test. */
#ifndef LATHE_TEST_HARNESS_IMG_H
#define LATHE_TEST_HARNESS_IMG_H
#include <stddef.h>
#include <stdint.h>

/* w x h pixels of c channels (1 gray, 3 RGB), HWC -> a malloc'd PNG; *len its size. */
void *th_img_png(unsigned w, unsigned h, unsigned c, const uint8_t *pixels, size_t *len);
/* The same as a JPEG of the given quality (1..100). */
void *th_img_jpeg(unsigned w, unsigned h, unsigned c, const uint8_t *pixels, int quality, size_t *len);
/* A w x h gray image of one value (a PNG). */
void *th_img_png_flat(unsigned w, unsigned h, uint8_t value, size_t *len);
#endif
