/* libpng's error and warning handlers, shared by the decoder (png.c) and the encoder
 * (png_encode.c) and kept in a file of their own, so a program that only encodes (the
 * `lathe` command) links neither the decoder nor what it stands on (libdeflate). The
 * error pointer is a context whose first member is char msg[IMG_PNG_MSG] (img_int.h). */
#include <png.h>
#include <stdio.h>
#include "img_int.h"

void img_png_on_error(png_structp png, png_const_charp msg)
{
	char *first = png_get_error_ptr(png);
	if (first[0] == '\0')
		snprintf(first, IMG_PNG_MSG, "%s", msg);
	png_longjmp(png, 1);
}

void img_png_on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}
