/* ia_prep_image: an uploaded PNG or JPEG -> one row of the net's input, and the image's
 * summary statistics for its prediction event.
 *
 * The image is decoded once (within the caller's pixel limit, checked from the header
 * before any pixel buffer exists), summarised with img_stats_image (the function the data
 * registry's profile uses, so drift compares like with like), then turned into the net's
 * input by img_preprocess_pixels_r with the model's img_prep: the path the data
 * registry's tensor export takes for the same bytes (img_preprocess_r is decode +
 * img_preprocess_pixels_r), so serving sees exactly the floats training saw. */
#include "ia.h"

enum core_status ia_prep_image(const struct ia_model *m, const void *data, size_t len, const struct img_limits *lim,
			       float *x, struct ia_img_stats *stats, struct core_error *err)
{
	struct img_image im = {0};
	enum core_status rc;

	if (m->kind != IA_INPUT_IMAGE)
		return core_fail(err, CORE_EINVAL, "model '%s' does not take images", m->name);
	rc = img_decode(data, len, lim, &im, err);
	if (rc != CORE_OK)
		return rc;
	unsigned w, h, c;
	img_prep_shape(&m->prep, im.width, im.height, im.channels, &w, &h, &c);
	if (w != m->w || h != m->h || c != m->c) {
		/* only for a package whose preprocessing keeps the image's size: the net takes
		 * one size, so anything else is the client's mistake */
		rc = core_fail(err, CORE_EINVAL, "the image is %ux%u with %u channel%s; model '%s' takes %ux%u with %u",
			       im.width, im.height, im.channels, im.channels == 1 ? "" : "s", m->name, m->w, m->h,
			       m->c);
		goto out;
	}
	if (stats) {
		struct img_stats st;
		img_stats_image(&im, NULL, &st);
		*stats = (struct ia_img_stats){
			.width = st.width,
			.height = st.height,
			.channels = st.channels,
			.brightness = st.brightness,
			.contrast = st.contrast,
		};
	}
	rc = img_preprocess_pixels_r(NULL, &im, &m->prep, x, err);
out:
	img_image_free(&im);
	return rc;
}
