/* Integration tests of the data registry's splits (h_splits.c, split_build.c,
 * split.c) on real daemons:
 *   splits_of_an_image_folder  an image folder of PNGs and JPEGs (made here with
 *       /usr/bin/python3 + PIL, pushed blob by blob with a manifest) split 0.8/0.1/0.1: every class's
 *       share of every part within one item of the whole's (from the items list); the
 *       same request again answers 200 and the same split, other arguments 409, bad
 *       ones 400; a second version that adds files keeps every old item in its part;
 *       without stratification the parts have the whole's quotas;
 *   same_assignment_on_a_fresh_daemon  the same files and arguments on a second daemon
 *       with its own database and blob store give a byte-identical items list.
 *   original_split_of_idx  the Fashion-MNIST IDX files (Debian's dataset-fashion-mnist)
 *       have the predefined split "original": 60,000 train, 10,000 test. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/sha256.h"
#include "harness.h"
#include "harness_data.h"

#define DS "/v1/datasets"

/* Runs /usr/bin/python3 on script (text) with args; fails the test unless it exits 0. */
static void python(const char *script, const char *args)
{
	static int n;
	char *path = th_fmt("%s/split-%d-%d.py", th_env("LATHE_TEST_TMP"), (int)getpid(), ++n);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(script, f);
	fclose(f);
	char *cmd = th_fmt("/usr/bin/python3 %s %s", path, args);
	int rc = system(cmd);
	ck_assert_msg(rc == 0, "python failed (%d): %s", rc, cmd);
	free(cmd);
	free(path);
}

/* Makes <dir>/v1/<class>/<n>.{png,jpg} (cat 40, dog 25, bird 13 images: PNG, every
 * third a JPEG, sizes 8..20) and <dir>/v2 (the same plus 7 more per class). */
static const char make_images[] =
	"import io, os, random, sys\n"
	"from PIL import Image\n"
	"out = sys.argv[1]\n"
	"classes = {'cat': 40, 'dog': 25, 'bird': 13}\n"
	"def image(seed, fmt):\n"
	"    r = random.Random(seed)\n"
	"    w, h = r.randint(8, 20), r.randint(8, 20)\n"
	"    im = Image.new('RGB', (w, h))\n"
	"    im.putdata([(r.randrange(256), r.randrange(256), r.randrange(256)) for _ in range(w * h)])\n"
	"    b = io.BytesIO(); im.save(b, fmt, quality=95) if fmt == 'JPEG' else im.save(b, fmt)\n"
	"    return b.getvalue()\n"
	"for name, extra in (('v1', 0), ('v2', 7)):\n"
	"    for c, n in classes.items():\n"
	"        os.makedirs(f'{out}/{name}/{c}', exist_ok=True)\n"
	"        for i in range(n + extra):\n"
	"            fmt = 'JPEG' if i % 3 == 0 else 'PNG'\n"
	"            ext = 'jpg' if fmt == 'JPEG' else 'png'\n"
	"            open(f'{out}/{name}/{c}/{i:04d}.{ext}', 'wb').write(image(f'{c}-{i}', fmt))\n";

static struct th_response post_split(struct th_daemon *d, const char *dataset, long version, const char *body)
{
	char *path = th_fmt(DS "/%s/versions/%ld/splits", dataset, version);
	struct th_response r = th_call(d, "POST", path, body);
	free(path);
	return r;
}

static json_t *get_items(struct th_daemon *d, const char *dataset, long version, const char *split, char **raw)
{
	char *path = th_fmt(DS "/%s/versions/%ld/splits/%s/items", dataset, version, split);
	struct th_response r = th_call(d, "GET", path, NULL);
	ck_assert_msg(r.status == 200 && r.json, "items: %ld %s", r.status, r.body);
	json_t *items = json_incref(json_object_get(r.json, "items"));
	ck_assert(json_is_array(items));
	if (raw) {
		*raw = r.body;
		r.body = NULL;
	}
	th_response_free(&r);
	free(path);
	return items;
}

/* |count(part, class) - f_part * n_class| <= 1 for every part and class. */
static void check_stratified(json_t *items, const char *const *parts, const double *fr, size_t n_parts)
{
	json_t *per_class = json_object(); /* class -> {part -> n, "": total} */
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		const char *c = json_string_value(json_object_get(it, "class")),
			   *p = json_string_value(json_object_get(it, "split"));
		ck_assert_ptr_nonnull(c);
		ck_assert_ptr_nonnull(p);
		json_t *m = json_object_get(per_class, c);
		if (!m) {
			m = json_object();
			json_object_set_new(per_class, c, m);
		}
		json_object_set_new(m, p, json_integer(json_integer_value(json_object_get(m, p)) + 1));
		json_object_set_new(m, "", json_integer(json_integer_value(json_object_get(m, "")) + 1));
	}
	const char *c;
	json_t *m;
	json_object_foreach(per_class, c, m)
	{
		double n = (double)json_integer_value(json_object_get(m, ""));
		for (size_t k = 0; k < n_parts; k++) {
			double got = (double)json_integer_value(json_object_get(m, parts[k]));
			ck_assert_msg(fabs(got - fr[k] * n) <= 1.0, "class %s part %s: %g of %g", c, parts[k], got, n);
		}
	}
	json_decref(per_class);
}

static const char *const parts3[] = {"train", "val", "test"};
static const double fr3[] = {0.8, 0.1, 0.1};
#define ARGS3 "\"fractions\": {\"train\": 0.8, \"val\": 0.1, \"test\": 0.1}"

START_TEST(splits_of_an_image_folder)
{
	char *dir = th_data_scratch_dir("split-images");
	python(make_images, dir);
	struct th_daemon *d = th_daemon_start("data-registry", NULL, NULL);
	char *v1tar = th_fmt("%s/v1", dir), *v2tar = th_fmt("%s/v2", dir);
	ck_assert_int_eq(th_data_push_dir(d, "pets", v1tar, ""), 1);

	struct th_response r = post_split(d, "pets", 1, "{\"name\": \"s1\", " ARGS3 ", \"seed\": 1}");
	ck_assert_msg(r.status == 201, "create: %ld %s", r.status, r.body);
	json_t *s = json_incref(json_object_get(r.json, "split"));
	th_response_free(&r);
	ck_assert_str_eq(json_string_value(json_object_get(s, "name")), "s1");
	ck_assert(json_is_true(json_object_get(s, "stratify"))); /* the default: the version has classes */
	json_t *counts = json_object_get(s, "counts");
	ck_assert_int_eq(json_integer_value(json_object_get(counts, "train")) +
				 json_integer_value(json_object_get(counts, "val")) +
				 json_integer_value(json_object_get(counts, "test")),
			 78);
	/* per class: cat 40 -> 32/4/4 exactly */
	json_t *cc = json_object_get(json_object_get(s, "class_counts"), "train");
	ck_assert_int_eq(json_integer_value(json_object_get(cc, "cat")), 32);

	/* the same again: 200 and the same split; the keys' order does not matter */
	r = post_split(d, "pets", 1,
		       "{\"seed\": 1, \"name\": \"s1\", \"fractions\": {\"test\": 0.1, \"val\": 0.1, \"train\": 0.8}}");
	ck_assert_msg(r.status == 200, "again: %ld %s", r.status, r.body);
	ck_assert(json_equal(json_object_get(r.json, "split"), s));
	th_response_free(&r);
	/* other arguments: 409; bad ones: 400; unknown version: 404 */
	r = post_split(d, "pets", 1, "{\"name\": \"s1\", " ARGS3 ", \"seed\": 2}");
	th_expect_error(&r, 409, "RESOURCE_CONFLICT", "s1");
	th_response_free(&r);
	r = post_split(d, "pets", 1, "{\"name\": \"s2\", \"fractions\": {\"train\": 0.8, \"test\": 0.3}}");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "sum to 1");
	th_response_free(&r);
	r = post_split(d, "pets", 1, "{\"name\": \"s2\", \"fractions\": {\"train\": \"x\"}}");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", NULL);
	th_response_free(&r);
	r = post_split(d, "pets", 1, "{\"name\": \"a/b\", " ARGS3 "}");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "a/b");
	th_response_free(&r);
	r = post_split(d, "pets", 1, "{\"name\": \"original\", " ARGS3 "}");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "original");
	th_response_free(&r);
	r = post_split(d, "pets", 9, "{\"name\": \"s2\", " ARGS3 "}");
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
	r = post_split(d, "nope", 1, "{\"name\": \"s2\", " ARGS3 "}");
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
	r = th_call(d, "GET", DS "/pets/versions/1/splits/nope", NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", "nope");
	th_response_free(&r);

	/* reads */
	json_t *one = th_ok(d, "GET", DS "/pets/versions/1/splits/s1", NULL);
	ck_assert(json_equal(json_object_get(one, "split"), s));
	json_decref(one);
	json_t *list = th_ok(d, "GET", DS "/pets/versions/1/splits", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(list, "splits")), 1);
	json_decref(list);

	/* the items list: every file once, stratified */
	json_t *items1 = get_items(d, "pets", 1, "s1", NULL);
	ck_assert_uint_eq(json_array_size(items1), 78);
	check_stratified(items1, parts3, fr3, 3);

	/* version 2 adds 21 files: the old items keep their parts */
	ck_assert_int_eq(th_data_push_dir(d, "pets", v2tar, ""), 2);
	r = post_split(d, "pets", 2, "{\"name\": \"s1\", " ARGS3 ", \"seed\": 1}");
	ck_assert_msg(r.status == 201, "create on v2: %ld %s", r.status, r.body);
	th_response_free(&r);
	json_t *items2 = get_items(d, "pets", 2, "s1", NULL);
	ck_assert_uint_eq(json_array_size(items2), 99);
	json_t *part_of = json_object();
	size_t i;
	json_t *it;
	json_array_foreach(items2, i, it)
	{
		json_object_set(part_of, json_string_value(json_object_get(it, "item")), json_object_get(it, "split"));
	}
	json_array_foreach(items1, i, it)
	{
		const char *key = json_string_value(json_object_get(it, "item"));
		ck_assert_msg(json_equal(json_object_get(part_of, key), json_object_get(it, "split")),
			      "item %s moved from %s", key, json_string_value(json_object_get(it, "split")));
	}
	check_stratified(items2, parts3, fr3, 3);
	json_decref(part_of);

	/* without stratification: the whole's quotas (78: 62.4, 7.8, 7.8 -> 62, 8, 8) */
	r = post_split(d, "pets", 1, "{\"name\": \"flat\", " ARGS3 ", \"stratify\": false, \"seed\": 5}");
	ck_assert_msg(r.status == 201, "flat: %ld %s", r.status, r.body);
	counts = json_object_get(json_object_get(r.json, "split"), "counts");
	ck_assert_int_eq(json_integer_value(json_object_get(counts, "train")), 62);
	ck_assert_int_eq(json_integer_value(json_object_get(counts, "val")), 8);
	ck_assert_int_eq(json_integer_value(json_object_get(counts, "test")), 8);
	th_response_free(&r);

	json_decref(items1);
	json_decref(items2);
	json_decref(s);
	th_daemon_stop(d);
	free(v1tar);
	free(v2tar);
	free(dir);
}
END_TEST

START_TEST(same_assignment_on_a_fresh_daemon)
{
	char *dir = th_data_scratch_dir("split-fresh");
	python(make_images, dir);
	char *v1tar = th_fmt("%s/v1", dir);
	char *raw[2];
	for (int k = 0; k < 2; k++) {
		/* each daemon has its own database and blob store */
		struct th_daemon *d = th_daemon_start("data-registry", NULL, NULL);
		ck_assert_int_eq(th_data_push_dir(d, "pets", v1tar, ""), 1);
		struct th_response r = post_split(d, "pets", 1, "{\"name\": \"s\", " ARGS3 ", \"seed\": 11}");
		ck_assert_msg(r.status == 201, "create: %ld %s", r.status, r.body);
		th_response_free(&r);
		json_decref(get_items(d, "pets", 1, "s", &raw[k]));
		th_daemon_stop(d);
	}
	ck_assert_str_eq(raw[0], raw[1]);
	free(raw[0]);
	free(raw[1]);
	free(v1tar);
	free(dir);
}
END_TEST

START_TEST(original_split_of_idx)
{
	char *dir = th_data_scratch_dir("split-idx");
	char *tar = th_fmt("%s/fmnist", dir);
	char *cmd = th_fmt("mkdir -p %s && cp /usr/share/datasets/fashion-mnist/*-ubyte.gz %s", tar, tar);
	ck_assert_int_eq(system(cmd), 0);
	struct th_daemon *d = th_daemon_start("data-registry", NULL, NULL);
	ck_assert_int_eq(th_data_push_dir(d, "fmnist", tar, ""), 1);
	json_t *s = th_ok(d, "GET", DS "/fmnist/versions/1/splits/original", NULL);
	json_t *counts = json_object_get(json_object_get(s, "split"), "counts");
	ck_assert_int_eq(json_integer_value(json_object_get(counts, "train")), 60000);
	ck_assert_int_eq(json_integer_value(json_object_get(counts, "test")), 10000);
	json_t *cc = json_object_get(json_object_get(json_object_get(s, "split"), "class_counts"), "test");
	ck_assert_int_eq(json_integer_value(json_object_get(cc, "7")), 1000);
	json_decref(s);
	th_daemon_stop(d);
	free(cmd);
	free(tar);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("data_splits");
	TCase *tc = tcase_create("splits");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, splits_of_an_image_folder);
	tcase_add_test(tc, same_assignment_on_a_fresh_daemon);
	tcase_add_test(tc, original_split_of_idx);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
