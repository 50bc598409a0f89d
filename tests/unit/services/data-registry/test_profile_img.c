/* Unit tests for the image profile builder (profile_img.c): images the test makes (28x28
 * gray ones as IDX records are, RGB ones of several sizes as an image folder's are)
 * are fed one by one, and the profile is compared with numpy computed at test time by
 * Debian's /usr/bin/python3 over the same pixels (written to a raw file): class counts,
 * width/height statistics, channel counts, per-channel mean and std over all pixels
 * (gray counted as R = G = B beside RGB), the 256-bin intensity histogram, and the
 * brightness (arr.mean()) and contrast (arr.std()) columns. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"
#include "profile.h"
#include "harness_util.h"

static char *tmp_path(const char *name)
{
	const char *dir = getenv("LATHE_TEST_TMP");
	char *p;
	ck_assert(asprintf(&p, "%s/profimg-%d-%s", dir ? dir : "/tmp", (int)getpid(), name) > 0);
	return p;
}

/* Reads meta (lines "w h c class") and the raw HWC bytes, all in order. */
static const char REFERENCE_PY[] =
	"import sys, json, numpy as np\n"
	"raw = open(sys.argv[2], 'rb').read()\n"
	"imgs, off = [], 0\n"
	"for line in open(sys.argv[1]):\n"
	"    w, h, c, cls = line.split()\n"
	"    w, h, c = int(w), int(h), int(c)\n"
	"    a = np.frombuffer(raw, dtype=np.uint8, count=w * h * c, offset=off).reshape(h, w, c)\n"
	"    off += w * h * c\n"
	"    imgs.append((cls, a))\n"
	"def col(x):\n"
	"    x = np.array(x, dtype=float)\n"
	"    c, e = np.histogram(x, bins=20)\n"
	"    q = np.quantile(x, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])\n"
	"    return {'count': len(x), 'distinct': len(np.unique(x)), 'min': x.min(), 'max': x.max(), 'mean': "
	"x.mean(),\n"
	"            'std': x.std(ddof=1) if len(x) > 1 else None,\n"
	"            'quantiles': dict(zip(['p1','p5','p25','p50','p75','p95','p99'], q.tolist())),\n"
	"            'histogram': {'edges': e.tolist(), 'counts': c.tolist()}}\n"
	"rgb = any(a.shape[2] == 3 for _, a in imgs)\n"
	"chans = [np.repeat(a, 3, axis=2) if rgb and a.shape[2] == 1 else a for _, a in imgs]\n"
	"allpx = np.concatenate([a.reshape(-1, a.shape[2]) for a in chans]).astype(float)\n"
	"hist = np.histogram(np.concatenate([a.ravel() for _, a in imgs]), bins=256, range=(0, 256))[0]\n"
	"classes = {}\n"
	"for cls, _ in imgs: classes[cls] = classes.get(cls, 0) + 1\n"
	"chn = {}\n"
	"for _, a in imgs: chn[str(a.shape[2])] = chn.get(str(a.shape[2]), 0) + 1\n"
	"out = {'items': len(imgs),\n"
	"       'classes': [{'name': k, 'count': classes[k]} for k in sorted(classes, key=lambda k: k.encode())],\n"
	"       'brightness': col([a.astype(float).mean() for _, a in imgs]),\n"
	"       'contrast': col([a.astype(float).std() for _, a in imgs]),\n"
	"       'width': col([a.shape[1] for _, a in imgs]), 'height': col([a.shape[0] for _, a in imgs]),\n"
	"       'channels': chn, 'channel_mean': allpx.mean(axis=0).tolist(), 'channel_std': "
	"allpx.std(axis=0).tolist(),\n"
	"       'intensity': hist.tolist()}\n"
	"json.dump(out, sys.stdout, default=float)\n";

struct maker {
	FILE *meta, *raw;
	char *meta_path, *raw_path;
	struct dr_prof_img *p;
};

static void add_image(struct maker *m, const char *cls, unsigned w, unsigned h, unsigned c, uint64_t *s)
{
	size_t n = (size_t)w * h * c;
	uint8_t *px = malloc(n);
	ck_assert_ptr_nonnull(px);
	for (size_t i = 0; i < n; i++) {
		*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
		/* a ramp plus noise, clipped at both ends now and then */
		int v = (int)((i * 7) % 200) + (int)(*s >> 58) * 4 - 20;
		px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
	}
	fprintf(m->meta, "%u %u %u %s\n", w, h, c, cls);
	ck_assert_uint_eq(fwrite(px, 1, n, m->raw), n);
	dr_prof_img_add(m->p, cls, w, h, c, px);
	free(px);
}

static json_t *reference(struct maker *m)
{
	char *script = tmp_path("ref.py"), *out = tmp_path("ref.json"), *cmd;
	FILE *f = fopen(script, "w");
	ck_assert_ptr_nonnull(f);
	fputs(REFERENCE_PY, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert(asprintf(&cmd, "/usr/bin/python3 '%s' '%s' '%s' > '%s'", script, m->meta_path, m->raw_path, out) > 0);
	ck_assert_int_eq(system(cmd), 0);
	json_error_t e;
	json_t *ref = json_load_file(out, 0, &e);
	ck_assert_msg(ref != NULL, "reference JSON: %s", e.text);
	unlink(script);
	unlink(out);
	free(script);
	free(out);
	free(cmd);
	return ref;
}

/* Checks prof, as the daemon will serve it (http_json_text), against
 * proto/profile.schema.json. */
static void schema_check(const json_t *prof)
{
	size_t len;
	char *text = http_json_text(prof, JSON_COMPACT, &len);
	ck_assert_ptr_nonnull(text);
	th_json_schema_check("proto/profile.schema.json", text, len, "the profile");
	free(text);
}

static double real_of(const json_t *v)
{
	return json_is_null(v) || !v ? NAN : json_number_value(v);
}

static void expect_close(const json_t *got, const json_t *want, const char *what, double rel)
{
	double g = real_of(got), w = real_of(want);
	if (isnan(w)) {
		ck_assert_msg(json_is_null(got), "%s: %g, numpy has none", what, g);
		return;
	}
	ck_assert_msg(fabs(g - w) <= rel * fmax(1, fabs(w)), "%s: %.17g, numpy %.17g", what, g, w);
}

/* A numeric column of the profile against numpy's; rel for mean/std (computed another
 * way on each side), quantiles and edges exact. */
static void compare_col(const json_t *g, const json_t *w, const char *name, double rel)
{
	ck_assert_int_eq(json_integer_value(json_object_get(g, "count")),
			 json_integer_value(json_object_get(w, "count")));
	ck_assert_int_eq(json_integer_value(json_object_get(g, "missing")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(g, "distinct")),
			 json_integer_value(json_object_get(w, "distinct")));
	expect_close(json_object_get(g, "min"), json_object_get(w, "min"), name, rel);
	expect_close(json_object_get(g, "max"), json_object_get(w, "max"), name, rel);
	expect_close(json_object_get(g, "mean"), json_object_get(w, "mean"), name, 1e-12);
	expect_close(json_object_get(g, "std"), json_object_get(w, "std"), name, 1e-9);
	const char *q[] = {"p1", "p5", "p25", "p50", "p75", "p95", "p99"};
	for (size_t k = 0; k < 7; k++)
		expect_close(json_object_get(json_object_get(g, "quantiles"), q[k]),
			     json_object_get(json_object_get(w, "quantiles"), q[k]), name, rel);
	json_t *gh = json_object_get(g, "histogram"), *wh = json_object_get(w, "histogram");
	for (size_t k = 0; k <= 20; k++)
		expect_close(json_array_get(json_object_get(gh, "edges"), k),
			     json_array_get(json_object_get(wh, "edges"), k), name, rel);
	/* counts may move by one value at a bin edge when the values differ in the last bit */
	json_t *gc = json_object_get(gh, "counts"), *wc = json_object_get(wh, "counts");
	json_int_t diff = 0;
	for (size_t k = 0; k < 20; k++)
		diff += llabs(json_integer_value(json_array_get(gc, k)) - json_integer_value(json_array_get(wc, k)));
	ck_assert_msg(diff <= (rel == 0 ? 0 : 4), "%s: histogram counts differ by %lld", name, (long long)diff);
}

static void check_profile(const char *format, unsigned n_gray, unsigned n_rgb)
{
	struct maker m = {0};
	m.meta_path = tmp_path("meta.txt");
	m.raw_path = tmp_path("pixels.raw");
	m.meta = fopen(m.meta_path, "w");
	m.raw = fopen(m.raw_path, "wb");
	ck_assert(m.meta && m.raw);
	m.p = dr_prof_img_new(format);
	uint64_t s = 99;
	for (unsigned i = 0; i < n_gray; i++) {
		char cls[8];
		snprintf(cls, sizeof cls, "%u", i % 10);
		add_image(&m, cls, 28, 28, 1, &s);
	}
	for (unsigned i = 0; i < n_rgb; i++)
		add_image(&m, i % 3 ? "dogs" : "cats", 20 + (i * 7) % 41, 16 + (i * 5) % 23, 3, &s);
	ck_assert_int_eq(fclose(m.meta), 0);
	ck_assert_int_eq(fclose(m.raw), 0);

	json_t *prof = dr_prof_img_json(m.p, "abc"), *ref = reference(&m);
	schema_check(prof);
	ck_assert_str_eq(json_string_value(json_object_get(prof, "format")), format);
	ck_assert_str_eq(json_string_value(json_object_get(prof, "version_id")), "abc");
	ck_assert_int_eq(json_integer_value(json_object_get(prof, "items")), n_gray + n_rgb);
	ck_assert_msg(json_equal(json_object_get(prof, "classes"), json_object_get(ref, "classes")), "classes differ");
	json_t *im = json_object_get(prof, "images");
	compare_col(json_object_get(im, "width"), json_object_get(ref, "width"), "width", 0);
	compare_col(json_object_get(im, "height"), json_object_get(ref, "height"), "height", 0);
	ck_assert(json_equal(json_object_get(im, "channels"), json_object_get(ref, "channels")));
	json_t *gm = json_object_get(im, "channel_mean"), *gs = json_object_get(im, "channel_std");
	ck_assert_uint_eq(json_array_size(gm), json_array_size(json_object_get(ref, "channel_mean")));
	for (size_t c = 0; c < json_array_size(gm); c++) {
		expect_close(json_array_get(gm, c), json_array_get(json_object_get(ref, "channel_mean"), c),
			     "channel_mean", 1e-12);
		expect_close(json_array_get(gs, c), json_array_get(json_object_get(ref, "channel_std"), c),
			     "channel_std", 1e-9);
	}
	json_t *ih = json_object_get(im, "intensity_histogram");
	ck_assert(json_equal(json_object_get(ih, "counts"), json_object_get(ref, "intensity")));
	ck_assert_uint_eq(json_array_size(json_object_get(ih, "edges")), 257);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(ih, "edges"), 256)), 256);
	json_t *cols = json_object_get(prof, "columns");
	ck_assert_uint_eq(json_array_size(cols), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cols, 0), "name")), "brightness");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cols, 1), "name")), "contrast");
	compare_col(json_array_get(cols, 0), json_object_get(ref, "brightness"), "brightness", 1e-12);
	compare_col(json_array_get(cols, 1), json_object_get(ref, "contrast"), "contrast", 1e-12);
	json_decref(prof);
	json_decref(ref);
	dr_prof_img_free(m.p);
	unlink(m.meta_path);
	unlink(m.raw_path);
	free(m.meta_path);
	free(m.raw_path);
}

START_TEST(gray_records)
{
	check_profile("idx", 500, 0);
}
END_TEST

START_TEST(rgb_folder)
{
	check_profile("image-folder", 0, 120);
}
END_TEST

START_TEST(mixed_gray_and_rgb)
{
	check_profile("image-folder", 40, 60);
}
END_TEST

START_TEST(no_images)
{
	struct dr_prof_img *p = dr_prof_img_new("image-folder");
	json_t *j = dr_prof_img_json(p, "v");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "items")), 0);
	ck_assert(json_is_null(json_object_get(j, "classes")));
	json_t *im = json_object_get(j, "images");
	ck_assert_uint_eq(json_array_size(json_object_get(im, "channel_mean")), 0);
	ck_assert(json_is_null(json_object_get(json_object_get(im, "width"), "mean")));
	schema_check(j);
	char *text = json_dumps(j, 0);
	ck_assert_ptr_nonnull(text);
	free(text);
	json_decref(j);
	dr_prof_img_free(p);
}
END_TEST

static Suite *profile_img_suite(void)
{
	Suite *s = suite_create("profile_img");
	TCase *tc = tcase_create("numpy");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, gray_records);
	tcase_add_test(tc, rgb_folder);
	tcase_add_test(tc, mixed_gray_and_rgb);
	tcase_add_test(tc, no_images);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(profile_img_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
