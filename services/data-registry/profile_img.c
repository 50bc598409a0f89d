/* The image profile (formats image-folder and idx), fed one decoded image at a time.
 *
 * Per image: its class, width, height and channel count, and its pixels' sum and sum
 * of squares in integers (img_stats_pixels, libs/img: the inference API reports the same
 * numbers per upload), from which come its brightness (the mean of all its values,
 * numpy's arr.mean()) and contrast (their population std, arr.std()), two numeric
 * columns with the usual statistics (profile_col.c). Over all images, kept exact in
 * integers (sums in 64 bits, sums of squares in 128): per-channel mean and population
 * std over every pixel, and a 256-bin histogram of every channel value (edges 0..256,
 * as numpy.histogram(values, bins=256, range=(0, 256))). Gray images count as R = G = B
 * in the channel statistics when the version also has RGB images (what a model that
 * converts everything to RGB sees), and once per pixel in the intensity histogram. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "img/img.h"
#include "profile.h"
#include "stats/stats.h"

struct dr_prof_img {
	char *format;
	uint64_t items;
	struct stats_counts *classes;
	struct dr_prof_num *width, *height, *brightness, *contrast;
	uint64_t channels[5]; /* images by channel count (1..4) */
	/* gray images: pixels, sum, sum of squares; RGB images the same per channel */
	uint64_t gray_n, gray_s, rgb_n, rgb_s[3];
	unsigned __int128 gray_ss, rgb_ss[3];
	uint64_t intensity[256];
};

struct dr_prof_img *dr_prof_img_new(const char *format)
{
	struct dr_prof_img *p = core_xcalloc(1, sizeof *p);

	p->format = core_xstrdup(format);
	p->classes = stats_counts_new(0);
	p->width = dr_prof_num_new(0, 0);
	p->height = dr_prof_num_new(0, 0);
	p->brightness = dr_prof_num_new(0, 0);
	p->contrast = dr_prof_num_new(0, 0);
	return p;
}

void dr_prof_img_free(struct dr_prof_img *p)
{
	if (!p)
		return;
	free(p->format);
	stats_counts_free(p->classes);
	dr_prof_num_free(p->width);
	dr_prof_num_free(p->height);
	dr_prof_num_free(p->brightness);
	dr_prof_num_free(p->contrast);
	free(p);
}

void dr_prof_img_add(struct dr_prof_img *p, const char *cls, unsigned width, unsigned height, unsigned channels,
		     const uint8_t *pixels)
{
	struct img_stats st;

	p->items++;
	if (cls)
		stats_counts_add(p->classes, cls, strlen(cls));
	dr_prof_num_add(p->width, width);
	dr_prof_num_add(p->height, height);
	if (channels >= 1 && channels <= 4)
		p->channels[channels]++;
	/* the inference API's prediction events use the same function: drift compares like
	 * with like */
	img_stats_pixels(width, height, channels, pixels, p->intensity, &st);
	uint64_t npix = (uint64_t)width * height;
	if (st.used == 1) {
		p->gray_n += npix;
		p->gray_s += st.sum[0];
		p->gray_ss += st.sumsq[0];
	} else if (st.used == 3) {
		p->rgb_n += npix;
		for (unsigned c = 0; c < 3; c++) {
			p->rgb_s[c] += st.sum[c];
			p->rgb_ss[c] += st.sumsq[c];
		}
	}
	dr_prof_num_add(p->brightness, st.brightness);
	dr_prof_num_add(p->contrast, st.contrast);
}

static json_t *real_or_null(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static json_t *numeric_column(const char *name, struct dr_prof_num *c)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "type", json_string("numeric"));
	dr_prof_num_json(c, o);
	return o;
}

static json_t *images_json(struct dr_prof_img *p)
{
	json_t *im = json_object(), *w = json_object(), *h = json_object(), *ch = json_object();

	dr_prof_num_json(p->width, w);
	dr_prof_num_json(p->height, h);
	json_object_set_new(im, "width", w);
	json_object_set_new(im, "height", h);
	for (unsigned c = 1; c <= 4; c++)
		if (p->channels[c]) {
			char key[2] = {(char)('0' + c), 0};
			json_object_set_new(ch, key, json_integer((json_int_t)p->channels[c]));
		}
	json_object_set_new(im, "channels", ch);

	json_t *means = json_array(), *stds = json_array();
	double mean, std;
	if (p->rgb_n) {
		for (unsigned c = 0; c < 3; c++) {
			img_mean_std(p->rgb_n + p->gray_n, p->rgb_s[c] + p->gray_s, p->rgb_ss[c] + p->gray_ss, &mean,
				     &std);
			json_array_append_new(means, real_or_null(mean));
			json_array_append_new(stds, real_or_null(std));
		}
	} else if (p->gray_n) {
		img_mean_std(p->gray_n, p->gray_s, p->gray_ss, &mean, &std);
		json_array_append_new(means, real_or_null(mean));
		json_array_append_new(stds, real_or_null(std));
	}
	json_object_set_new(im, "channel_mean", means);
	json_object_set_new(im, "channel_std", stds);

	json_t *hist = json_object(), *edges = json_array(), *counts = json_array();
	for (unsigned v = 0; v <= 256; v++)
		json_array_append_new(edges, json_integer(v));
	for (unsigned v = 0; v < 256; v++)
		json_array_append_new(counts, json_integer((json_int_t)p->intensity[v]));
	json_object_set_new(hist, "edges", edges);
	json_object_set_new(hist, "counts", counts);
	json_object_set_new(im, "intensity_histogram", hist);
	return im;
}

json_t *dr_prof_img_json(struct dr_prof_img *p, const char *version_id)
{
	json_t *o = json_object(), *cols = json_array();

	json_object_set_new(o, "version_id", json_string(version_id));
	json_object_set_new(o, "format", json_string(p->format));
	json_object_set_new(o, "items", json_integer((json_int_t)p->items));
	json_object_set_new(o, "classes", dr_prof_classes_json(p->classes));
	json_array_append_new(cols, numeric_column("brightness", p->brightness));
	json_array_append_new(cols, numeric_column("contrast", p->contrast));
	json_object_set_new(o, "columns", cols);
	json_object_set_new(o, "images", images_json(p));
	return o;
}
