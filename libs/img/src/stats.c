/* An image's summary statistics (img_stats_pixels): size, channels, brightness and
 * contrast, computed once here for both the data registry's image profile and the
 * inference API's per-upload prediction events, so the drift monitor compares numbers
 * made the same way. Sums are kept in integers (64-bit sums, 128-bit sums of squares)
 * so that the only rounding is the last division. */
#include <math.h>
#include <string.h>

#include "img/img.h"

void img_mean_std(uint64_t n, uint64_t s, unsigned __int128 ss, double *mean, double *std)
{
	if (n == 0) {
		*mean = NAN;
		*std = NAN;
		return;
	}
	unsigned __int128 num = (unsigned __int128)n * ss - (unsigned __int128)s * s;
	*mean = (double)s / (double)n;
	*std = sqrt((double)num / ((double)n * (double)n));
}

/* The counting loop, with and without the histogram, so the common call (no histogram)
 * has no per-value branch. */
static void count(uint64_t npix, unsigned channels, unsigned used, const uint8_t *pixels, uint64_t *hist, uint64_t s[3],
		  unsigned __int128 ss[3])
{
	for (unsigned c = 0; c < used; c++) {
		uint64_t cs = 0;
		unsigned __int128 css = 0;
		const uint8_t *px = pixels + c;
		if (hist)
			for (uint64_t i = 0; i < npix; i++, px += channels) {
				cs += *px;
				css += (unsigned)*px * *px;
				hist[*px]++;
			}
		else
			for (uint64_t i = 0; i < npix; i++, px += channels) {
				cs += *px;
				css += (unsigned)*px * *px;
			}
		s[c] = cs;
		ss[c] = css;
	}
}

void img_stats_pixels(unsigned width, unsigned height, unsigned channels, const uint8_t *pixels, uint64_t *hist,
		      struct img_stats *out)
{
	memset(out, 0, sizeof *out);
	out->width = width;
	out->height = height;
	out->channels = channels;
	/* an alpha channel, if a caller passes one, is skipped */
	out->used = channels == 0 ? 0 : channels < 3 ? 1 : 3;
	uint64_t npix = (uint64_t)width * height;
	if (!pixels || out->used == 0)
		npix = 0;
	count(npix, channels, out->used, pixels, hist, out->sum, out->sumsq);
	out->n = npix * out->used;
	uint64_t all_s = 0;
	unsigned __int128 all_ss = 0;
	for (unsigned c = 0; c < out->used; c++) {
		all_s += out->sum[c];
		all_ss += out->sumsq[c];
	}
	img_mean_std(out->n, all_s, all_ss, &out->brightness, &out->contrast);
}

void img_stats_image(const struct img_image *im, uint64_t *hist, struct img_stats *out)
{
	img_stats_pixels(im->width, im->height, im->channels, im->pixels, hist, out);
}
