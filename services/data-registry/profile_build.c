/* From a version's files to its profile (face: profile.h): the one loop over the
 * version's items (data.h's iterator, in manifest order, one file or record in memory at
 * a time) that feeds the builder of its format, decoding image files with libs/img on
 * the way. Kept apart from profile_worker.c, which owns the database side, because the
 * items live behind data.h and the database behind dr.h. */
#include <stdlib.h>

#include "data.h"
#include "img/img.h"
#include "profile.h"

/* Items between two looks at the stop callback. */
#define STOP_CHECK_EVERY 256

enum core_status dr_prof_build(struct blob_store *store, enum dr_format fmt, const struct dr_manifest_file *files,
			       size_t n, const char *label_column, const char *version_id, bool (*stopping)(void *cls),
			       void *stopping_cls, json_t **out, struct core_error *err)
{
	struct dr_items *it = NULL;
	struct dr_prof_tab *tab = NULL;
	struct dr_prof_img *img = NULL;
	struct dr_item item;
	uint64_t count = 0;
	size_t nc = 0;
	const char *const *cols;

	*out = NULL;
	enum core_status st = dr_items_open(store, fmt, files, n, label_column, &it, err);
	if (st != CORE_OK)
		goto out;
	if (fmt != DR_FORMAT_CSV)
		img = dr_prof_img_new(fmt == DR_FORMAT_IDX ? "idx" : "image-folder");
	while ((st = dr_items_next(it, &item, err)) == CORE_OK) {
		if (++count % STOP_CHECK_EVERY == 0 && stopping && stopping(stopping_cls)) {
			st = CORE_ENOENT;
			goto out;
		}
		if (fmt == DR_FORMAT_CSV) {
			if (!tab) {
				cols = dr_items_columns(it, &nc);
				tab = dr_prof_tab_new(cols, cols ? nc : 0, label_column);
			}
			dr_prof_tab_add(tab, item.fields, item.n_fields, item.cls);
		} else if (fmt == DR_FORMAT_IDX) {
			dr_prof_img_add(img, item.cls, item.w, item.h, 1, item.pixels);
		} else {
			struct img_image im = {0};
			struct img_limits lim = {0};
			struct core_error derr = {{0}};
			if (img_decode(item.bytes, item.len, &lim, &im, &derr) != CORE_OK) {
				st = core_fail(err, CORE_EINVAL, "%s: %s", item.path, derr.message);
				goto out;
			}
			dr_prof_img_add(img, item.cls, im.width, im.height, im.channels, im.pixels);
			img_image_free(&im);
		}
	}
	if (st != CORE_ENOENT)
		goto out;
	if (fmt == DR_FORMAT_CSV && !tab) { /* a header and no rows */
		cols = dr_items_columns(it, &nc);
		tab = dr_prof_tab_new(cols, cols ? nc : 0, label_column);
	}
	*out = tab ? dr_prof_tab_json(tab, version_id) : dr_prof_img_json(img, version_id);
	st = CORE_OK;
out:
	dr_prof_tab_free(tab);
	dr_prof_img_free(img);
	dr_items_close(it);
	return st;
}
