/* Integration tests of the data registry's profiler: the real daemon on a fresh database
 * and blob store, versions committed over HTTP (blobs, then a manifest), then GET
 * .../profile once the version is READY, checked against an independent computation by
 * Debian's /usr/bin/python3 (pandas/numpy for CSV, PIL + numpy for images, gzip + numpy
 * for IDX) and against proto/profile.schema.json:
 *   - sklearn's wine CSV (its count header replaced by names), label column "target";
 *   - an image folder of PNGs and JPEGs (gray and RGB, many sizes) made here by PIL;
 *   - Fashion-MNIST's t10k IDX pair (Debian's dataset-fashion-mnist);
 *   - a corrupt PNG: the version turns FAILED naming the file, the profile read 409;
 *   - datasets.events: version.ready with the profile's blob key, version.failed with
 *     the reason, read back from the run's broker;
 *   - a SIGKILL while the profiler holds a version (the 60,000 training images): after
 *     a restart with the profiler off it is still PENDING without a profile, and a
 *     daemon with the profiler on makes it READY. */
#include <check.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness_data.h"
#include "harness.h"
#include "harness_kafka.h"
#include "harness_util.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

static struct th_daemon *d;

static char *tmp_path(const char *name)
{
	return th_fmt("%s/profiles-%d-%s", th_env("LATHE_TEST_TMP"), (int)getpid(), name);
}

/* Runs a python program with arguments and parses what it prints as JSON. */
static json_t *python_json(const char *program, const char *args)
{
	char *script = tmp_path("ref.py"), *out = tmp_path("ref.json");
	FILE *f = fopen(script, "w");
	ck_assert_ptr_nonnull(f);
	fputs(program, f);
	ck_assert_int_eq(fclose(f), 0);
	char *cmd = th_fmt("/usr/bin/python3 '%s' %s > '%s'", script, args, out);
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
	json_error_t e;
	json_t *j = json_load_file(out, 0, &e);
	ck_assert_msg(j != NULL, "python's JSON: %s", e.text);
	unlink(script);
	unlink(out);
	free(script);
	free(out);
	free(cmd);
	return j;
}

/* Puts each file (dir/path) as a blob and commits the version; returns its number. */
static json_int_t commit_files(const char *dataset, const char *dir, json_t *paths, const char *format,
			       const char *label)
{
	json_t *files = json_array();
	for (size_t i = 0; i < json_array_size(paths); i++) {
		const char *p = json_string_value(json_array_get(paths, i));
		char *full = th_fmt("%s/%s", dir, p), key[65];
		size_t len;
		char *bytes = th_data_read_file(full, &len);
		th_data_put_blob(d, bytes, len, key);
		json_array_append_new(files,
				      json_pack("{s:s, s:s, s:I}", "path", p, "sha256", key, "size", (json_int_t)len));
		free(bytes);
		free(full);
	}
	json_t *body = json_pack("{s:o, s:s}", "files", files, "format", format);
	if (label)
		json_object_set_new(body, "label_column", json_string(label));
	struct th_response r = th_data_commit(d, dataset, body);
	ck_assert_msg(r.status == 201, "commit %s: %ld %s", dataset, r.status, r.body);
	json_int_t number = json_integer_value(json_object_get(json_object_get(r.json, "version"), "number"));
	th_response_free(&r);
	json_decref(body);
	return number;
}

/* Polls the version until it leaves PENDING (at most timeout_s); returns it. */
static json_t *wait_done(struct th_daemon *dm, const char *dataset, json_int_t number, int timeout_s)
{
	char *path = th_fmt("/v1/datasets/%s/versions/%lld", dataset, (long long)number);
	json_t *v = NULL;
	for (int i = 0; i < timeout_s * 20; i++) {
		json_t *body = th_ok(dm, "GET", path, NULL);
		v = json_incref(json_object_get(body, "version"));
		json_decref(body);
		if (strcmp(json_string_value(json_object_get(v, "status")), "PENDING") != 0)
			break;
		json_decref(v);
		v = NULL;
		usleep(50 * 1000);
	}
	ck_assert_msg(v != NULL, "%s version %lld still PENDING after %d s", dataset, (long long)number, timeout_s);
	free(path);
	return v;
}

/* The profile of a READY version, also checked against proto/profile.schema.json. */
static json_t *profile_of(const char *dataset, json_int_t number)
{
	json_t *v = wait_done(d, dataset, number, 120);
	ck_assert_msg(strcmp(json_string_value(json_object_get(v, "status")), "READY") == 0, "%s: %s (%s)", dataset,
		      json_string_value(json_object_get(v, "status")),
		      json_string_value(json_object_get(v, "failure")));
	ck_assert(json_is_integer(json_object_get(v, "ready_at")));
	char *path = th_fmt("/v1/datasets/%s/versions/%lld/profile", dataset, (long long)number);
	struct th_response r = th_call(d, "GET", path, NULL);
	ck_assert_msg(r.status == 200 && r.json, "GET %s: %ld %s", path, r.status, r.body);
	th_json_schema_check("proto/profile.schema.json", r.body, r.body_len, dataset);
	json_t *p = json_incref(r.json);
	ck_assert_str_eq(json_string_value(json_object_get(p, "version_id")),
			 json_string_value(json_object_get(v, "id")));
	free(path);
	th_response_free(&r);
	json_decref(v);
	return p;
}

static double real_of(const json_t *v)
{
	ck_assert_msg(json_is_number(v), "not a number");
	return json_number_value(v);
}

static void expect_close(const json_t *got, const json_t *want, const char *what, double rel)
{
	double g = real_of(got), w = real_of(want);
	ck_assert_msg(fabs(g - w) <= rel * fmax(1, fabs(w)), "%s: %.17g, reference %.17g", what, g, w);
}

/* A numeric column (or width/height) against the reference's {count, mean, std, min,
 * max, quantiles, histogram}: quantiles and edges exact when rel is 0. */
static void expect_numeric(const json_t *g, const json_t *w, const char *name, double rel)
{
	ck_assert_msg(json_integer_value(json_object_get(g, "count")) ==
			      json_integer_value(json_object_get(w, "count")),
		      "%s: count", name);
	expect_close(json_object_get(g, "min"), json_object_get(w, "min"), name, rel);
	expect_close(json_object_get(g, "max"), json_object_get(w, "max"), name, rel);
	expect_close(json_object_get(g, "mean"), json_object_get(w, "mean"), name, 1e-9);
	expect_close(json_object_get(g, "std"), json_object_get(w, "std"), name, 1e-9);
	const char *q[] = {"p1", "p5", "p25", "p50", "p75", "p95", "p99"};
	for (size_t k = 0; k < 7; k++)
		expect_close(json_object_get(json_object_get(g, "quantiles"), q[k]),
			     json_object_get(json_object_get(w, "quantiles"), q[k]), name, rel);
	ck_assert(json_is_true(json_object_get(g, "quantiles_exact")));
	json_t *gh = json_object_get(g, "histogram"), *wh = json_object_get(w, "histogram");
	for (size_t k = 0; k <= 20; k++)
		expect_close(json_array_get(json_object_get(gh, "edges"), k),
			     json_array_get(json_object_get(wh, "edges"), k), name, rel);
	if (rel == 0)
		ck_assert_msg(json_equal(json_object_get(gh, "counts"), json_object_get(wh, "counts")),
			      "%s: histogram counts differ", name);
}

static void start(void)
{
	const char *env[] = {"PROFILE_POLL_MS=100", NULL};
	d = th_daemon_start("data-registry", NULL, env);
}

static void stop(void)
{
	th_daemon_stop(d);
	d = NULL;
}

/* --- CSV ------------------------------------------------------------------------------ */

static const char WINE_PY[] =
	"import sys, json, numpy as np, pandas as pd\n"
	"df = pd.read_csv(sys.argv[1], float_precision='round_trip')\n"
	"cols = []\n"
	"for name in df.columns:\n"
	"    x = df[name].dropna().to_numpy(dtype=float)\n"
	"    c, e = np.histogram(x, bins=20)\n"
	"    q = np.quantile(x, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])\n"
	"    cols.append({'name': name, 'count': len(x), 'distinct': len(np.unique(x)), 'min': x.min(), 'max': "
	"x.max(),\n"
	"                 'mean': x.mean(), 'std': df[name].std(),\n"
	"                 'quantiles': dict(zip(['p1','p5','p25','p50','p75','p95','p99'], q.tolist())),\n"
	"                 'histogram': {'edges': e.tolist(), 'counts': c.tolist()}})\n"
	"vc = df['target'].astype(str).value_counts()\n"
	"json.dump({'items': len(df), 'columns': cols,\n"
	"           'classes': [{'name': k, 'count': int(vc[k])} for k in sorted(vc.index)]}, sys.stdout, "
	"default=float)\n";

START_TEST(csv_profile_matches_pandas)
{
	/* sklearn's wine data: its first line is a count header; the test names the columns */
	char *dir = tmp_path("wine"), *csv = th_fmt("%s/wine.csv", dir);
	char *cmd = th_fmt("mkdir -p '%s' && (printf 'alcohol,malic_acid,ash,alcalinity,magnesium,phenols,flavanoids,"
			   "nonflav,proanth,color,hue,od280,proline,target\\n'; tail -n +2 "
			   "/usr/lib/python3/dist-packages/sklearn/datasets/data/wine_data.csv) > '%s'",
			   dir, csv);
	ck_assert_int_eq(system(cmd), 0);
	json_t *paths = json_pack("[s]", "wine.csv");
	json_int_t n = commit_files("wine", dir, paths, "csv", "target");
	json_t *p = profile_of("wine", n), *ref = python_json(WINE_PY, csv);

	ck_assert_str_eq(json_string_value(json_object_get(p, "format")), "csv");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "items")), 178);
	ck_assert_msg(json_equal(json_object_get(p, "classes"), json_object_get(ref, "classes")), "classes differ");
	json_t *gc = json_object_get(p, "columns"), *wc = json_object_get(ref, "columns");
	ck_assert_uint_eq(json_array_size(gc), 14);
	for (size_t i = 0; i < 14; i++) {
		json_t *g = json_array_get(gc, i), *w = json_array_get(wc, i);
		const char *name = json_string_value(json_object_get(w, "name"));
		ck_assert_str_eq(json_string_value(json_object_get(g, "name")), name);
		ck_assert_str_eq(json_string_value(json_object_get(g, "type")), "numeric");
		ck_assert_int_eq(json_integer_value(json_object_get(g, "missing")), 0);
		ck_assert_int_eq(json_integer_value(json_object_get(g, "distinct")),
				 json_integer_value(json_object_get(w, "distinct")));
		expect_numeric(g, w, name, 0);
	}
	json_decref(p);
	json_decref(ref);
	json_decref(paths);
	free(cmd);
	free(csv);
	free(dir);
}
END_TEST

/* --- an image folder ------------------------------------------------------------------ */

/* Makes the folder (argv[1]) and prints its paths; with argv[2] == "ref" prints the
 * reference statistics instead, decoding the files with PIL. */
static const char IMAGES_PY[] =
	"import sys, os, json, random, numpy as np\n"
	"from PIL import Image\n"
	"root = sys.argv[1]\n"
	"def col(x):\n"
	"    x = np.array(x, dtype=float)\n"
	"    c, e = np.histogram(x, bins=20)\n"
	"    q = np.quantile(x, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])\n"
	"    return {'count': len(x), 'min': x.min(), 'max': x.max(), 'mean': x.mean(), 'std': x.std(ddof=1),\n"
	"            'quantiles': dict(zip(['p1','p5','p25','p50','p75','p95','p99'], q.tolist())),\n"
	"            'histogram': {'edges': e.tolist(), 'counts': c.tolist()}}\n"
	"if sys.argv[2] == 'make':\n"
	"    rnd = random.Random(7)\n"
	"    paths = []\n"
	"    for i in range(240):\n"
	"        cls = ['cats', 'dogs', 'birds'][i % 3]\n"
	"        w, h = rnd.randint(8, 72), rnd.randint(8, 72)\n"
	"        mode = 'L' if i % 5 == 0 else 'RGB'\n"
	"        yy, xx = np.mgrid[0:h, 0:w]\n"
	"        base = (xx * 255 // max(w - 1, 1) + yy * 3 + i) % 256\n"
	"        noise = np.array([rnd.randint(-30, 30) for _ in range(w * h)]).reshape(h, w)\n"
	"        a = np.clip(base + noise, 0, 255).astype(np.uint8)\n"
	"        if mode == 'RGB': a = np.stack([a, 255 - a, (a // 2 + i) % 256], axis=2).astype(np.uint8)\n"
	"        ext = 'png' if i % 2 == 0 else ('jpg' if i % 4 == 1 else 'JPEG')\n"
	"        os.makedirs(os.path.join(root, cls), exist_ok=True)\n"
	"        p = '%s/img%03d.%s' % (cls, i, ext)\n"
	"        Image.fromarray(a, mode).save(os.path.join(root, p), 'PNG' if ext == 'png' else 'JPEG', quality=90)\n"
	"        paths.append(p)\n"
	"    json.dump(sorted(paths), sys.stdout)\n"
	"    sys.exit(0)\n"
	"imgs = []\n"
	"for cls in sorted(os.listdir(root)):\n"
	"    for f in sorted(os.listdir(os.path.join(root, cls))):\n"
	"        a = np.asarray(Image.open(os.path.join(root, cls, f)))\n"
	"        imgs.append((cls, a if a.ndim == 3 else a[:, :, None]))\n"
	"rgb = any(a.shape[2] == 3 for _, a in imgs)\n"
	"allpx = np.concatenate([(np.repeat(a, 3, axis=2) if rgb and a.shape[2] == 1 else a).reshape(-1, 3 if rgb else "
	"1)\n"
	"                        for _, a in imgs]).astype(float)\n"
	"hist = np.histogram(np.concatenate([a.ravel() for _, a in imgs]), bins=256, range=(0, 256))[0]\n"
	"classes, chn = {}, {}\n"
	"for cls, a in imgs:\n"
	"    classes[cls] = classes.get(cls, 0) + 1\n"
	"    chn[str(a.shape[2])] = chn.get(str(a.shape[2]), 0) + 1\n"
	"json.dump({'items': len(imgs), 'classes': [{'name': k, 'count': classes[k]} for k in sorted(classes)],\n"
	"           'width': col([a.shape[1] for _, a in imgs]), 'height': col([a.shape[0] for _, a in imgs]),\n"
	"           'brightness': col([a.astype(float).mean() for _, a in imgs]),\n"
	"           'contrast': col([a.astype(float).std() for _, a in imgs]),\n"
	"           'channels': chn, 'channel_mean': allpx.mean(axis=0).tolist(), 'channel_std': "
	"allpx.std(axis=0).tolist(),\n"
	"           'intensity': hist.tolist()}, sys.stdout, default=float)\n";

static void check_images(json_t *p, json_t *ref, const char *format)
{
	ck_assert_str_eq(json_string_value(json_object_get(p, "format")), format);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "items")),
			 json_integer_value(json_object_get(ref, "items")));
	ck_assert_msg(json_equal(json_object_get(p, "classes"), json_object_get(ref, "classes")), "classes differ");
	json_t *im = json_object_get(p, "images");
	expect_numeric(json_object_get(im, "width"), json_object_get(ref, "width"), "width", 0);
	expect_numeric(json_object_get(im, "height"), json_object_get(ref, "height"), "height", 0);
	ck_assert_msg(json_equal(json_object_get(im, "channels"), json_object_get(ref, "channels")), "channels differ");
	json_t *gm = json_object_get(im, "channel_mean"), *gs = json_object_get(im, "channel_std");
	ck_assert_uint_eq(json_array_size(gm), json_array_size(json_object_get(ref, "channel_mean")));
	for (size_t c = 0; c < json_array_size(gm); c++) {
		expect_close(json_array_get(gm, c), json_array_get(json_object_get(ref, "channel_mean"), c),
			     "channel_mean", 1e-9);
		expect_close(json_array_get(gs, c), json_array_get(json_object_get(ref, "channel_std"), c),
			     "channel_std", 1e-9);
	}
	ck_assert_msg(json_equal(json_object_get(json_object_get(im, "intensity_histogram"), "counts"),
				 json_object_get(ref, "intensity")),
		      "intensity histograms differ");
	json_t *cols = json_object_get(p, "columns");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cols, 0), "name")), "brightness");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cols, 1), "name")), "contrast");
	expect_numeric(json_array_get(cols, 0), json_object_get(ref, "brightness"), "brightness", 1e-9);
	expect_numeric(json_array_get(cols, 1), json_object_get(ref, "contrast"), "contrast", 1e-9);
}

START_TEST(image_folder_profile_matches_pil)
{
	char *dir = tmp_path("images"), *args = th_fmt("'%s' make", dir);
	json_t *paths = python_json(IMAGES_PY, args);
	ck_assert_uint_eq(json_array_size(paths), 240);
	json_int_t n = commit_files("pets", dir, paths, "image-folder", NULL);
	json_t *p = profile_of("pets", n);
	free(args);
	args = th_fmt("'%s' ref", dir);
	json_t *ref = python_json(IMAGES_PY, args);
	check_images(p, ref, "image-folder");
	ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(p, "images"), "channel_mean")), 3);
	json_decref(p);
	json_decref(ref);
	json_decref(paths);
	free(args);
	free(dir);
}
END_TEST

/* --- IDX ---------------------------------------------------------------------------------- */

static const char IDX_PY[] =
	"import sys, gzip, json, numpy as np\n"
	"x = np.frombuffer(gzip.open(sys.argv[1]).read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)\n"
	"y = np.frombuffer(gzip.open(sys.argv[2]).read(), dtype=np.uint8, offset=8)\n"
	"def col(v):\n"
	"    v = np.array(v, dtype=float)\n"
	"    c, e = np.histogram(v, bins=20)\n"
	"    q = np.quantile(v, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])\n"
	"    return {'count': len(v), 'min': v.min(), 'max': v.max(), 'mean': v.mean(), 'std': v.std(ddof=1),\n"
	"            'quantiles': dict(zip(['p1','p5','p25','p50','p75','p95','p99'], q.tolist())),\n"
	"            'histogram': {'edges': e.tolist(), 'counts': c.tolist()}}\n"
	"xf = x.reshape(len(x), -1).astype(float)\n"
	"json.dump({'items': len(x),\n"
	"           'classes': [{'name': str(k), 'count': int((y == k).sum())} for k in range(10)],\n"
	"           'width': col([28] * len(x)), 'height': col([28] * len(x)),\n"
	"           'brightness': col(xf.mean(axis=1)), 'contrast': col(xf.std(axis=1)),\n"
	"           'channels': {'1': len(x)}, 'channel_mean': [xf.mean()], 'channel_std': [xf.std()],\n"
	"           'intensity': np.bincount(x.ravel(), minlength=256).tolist()}, sys.stdout, default=float)\n";

START_TEST(idx_profile_matches_numpy)
{
	json_t *paths = json_pack("[s,s]", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
	json_int_t n = commit_files("fashion-test", FMNIST, paths, "idx", NULL);
	json_t *p = profile_of("fashion-test", n);
	json_t *ref = python_json(IDX_PY, FMNIST "/t10k-images-idx3-ubyte.gz " FMNIST "/t10k-labels-idx1-ubyte.gz");
	check_images(p, ref, "idx");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "items")), 10000);
	/* the profiler made the predefined split: the t10k files are its test part */
	char *q = th_fmt("SELECT count(*) FROM splits s JOIN versions v ON v.pk = s.version_pk JOIN datasets d ON "
			 "d.id = v.dataset_id WHERE d.name = 'fashion-test' AND s.name = 'original'");
	char *count = NULL;
	for (int i = 0; i < 200 && (!count || strcmp(count, "1") != 0); i++) { /* made just after READY */
		free(count);
		count = th_data_sql(d, q);
		if (strcmp(count, "1") != 0)
			usleep(50 * 1000);
	}
	ck_assert_str_eq(count, "1");
	free(count);
	free(q);
	json_decref(p);
	json_decref(ref);
	json_decref(paths);
}
END_TEST

/* --- a corrupt image -------------------------------------------------------------------- */

START_TEST(corrupt_png_fails_naming_the_file)
{
	char *dir = tmp_path("broken");
	char *cmd = th_fmt("mkdir -p '%s/ok' '%s/bad' && /usr/bin/python3 -c \"from PIL import Image; "
			   "Image.new('RGB', (4, 3), (9, 8, 7)).save('%s/ok/a.png')\" && "
			   "(printf '\\211PNG\\r\\n\\032\\n'; head -c 200 /dev/zero) > '%s/bad/b.png'",
			   dir, dir, dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	json_t *paths = json_pack("[s,s]", "bad/b.png", "ok/a.png");
	json_int_t n = commit_files("broken", dir, paths, "image-folder", NULL);
	json_t *v = wait_done(d, "broken", n, 60);
	ck_assert_str_eq(json_string_value(json_object_get(v, "status")), "FAILED");
	const char *failure = json_string_value(json_object_get(v, "failure"));
	ck_assert_msg(failure && strstr(failure, "bad/b.png"), "failure: %s", failure ? failure : "(null)");
	ck_assert(json_is_null(json_object_get(v, "ready_at")));
	char *path = th_fmt("/v1/datasets/broken/versions/%lld/profile", (long long)n);
	struct th_response r = th_call(d, "GET", path, NULL);
	th_expect_error(&r, 409, "RESOURCE_CONFLICT", "bad/b.png");
	th_response_free(&r);
	/* latest names only READY versions */
	r = th_call(d, "GET", "/v1/datasets/broken/versions/latest", NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
	json_decref(v);
	json_decref(paths);
	free(path);
	free(cmd);
	free(dir);
}
END_TEST

/* --- datasets.events ---------------------------------------------------------------------- */

/* Every event on datasets.events whose subject is one of ours (starts with prefix),
 * read from the beginning of every partition until want of them came (and a second
 * more, for extras) or timeout. */
static json_t *read_events(const char *prefix, size_t want, int timeout_ms)
{
	struct th_kafka k;
	th_kafka_open(&k, "datasets.events", prefix);
	th_kafka_wait(&k, want, timeout_ms);
	json_t *events = json_incref(k.events);
	th_kafka_close(&k);
	return events;
}

/* The one event of type about dataset in events; fails the test unless there is one. */
static json_t *event(json_t *events, const char *type, const char *dataset)
{
	json_t *found = NULL, *ev;
	size_t i;
	json_array_foreach(events, i, ev)
	{
		if (strcmp(json_string_value(json_object_get(ev, "type")), type) == 0 &&
		    strcmp(json_string_value(json_object_get(ev, "subject")), dataset) == 0) {
			ck_assert_msg(found == NULL, "two %s events for %s", type, dataset);
			found = ev;
		}
	}
	ck_assert_msg(found != NULL, "no %s event for %s", type, dataset);
	ck_assert_str_eq(json_string_value(json_object_get(found, "source")), "lathe/data-registry");
	return json_object_get(found, "data");
}

START_TEST(ready_and_failed_versions_give_their_events)
{
	unsigned char b[4];
	ck_assert_int_eq(getrandom(b, sizeof b, 0), (ssize_t)sizeof b);
	char prefix[32], good[64], bad[64];
	snprintf(prefix, sizeof prefix, "prof%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
	snprintf(good, sizeof good, "%s-good", prefix);
	snprintf(bad, sizeof bad, "%s-bad", prefix);
	char *dir = tmp_path("events");
	char *cmd = th_fmt("mkdir -p '%s' && printf 'a,b\\n1,x\\n2,y\\n' > '%s/ok.csv' && "
			   "printf 'a,b\\n1,x\\n2\\n' > '%s/ragged.csv'",
			   dir, dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	json_t *p1 = json_pack("[s]", "ok.csv"), *p2 = json_pack("[s]", "ragged.csv");
	json_int_t n1 = commit_files(good, dir, p1, "csv", NULL), n2 = commit_files(bad, dir, p2, "csv", NULL);
	json_t *v1 = wait_done(d, good, n1, 60), *v2 = wait_done(d, bad, n2, 60);
	ck_assert_str_eq(json_string_value(json_object_get(v1, "status")), "READY");
	ck_assert_str_eq(json_string_value(json_object_get(v2, "status")), "FAILED");
	ck_assert_msg(strstr(json_string_value(json_object_get(v2, "failure")), "ragged.csv"), "failure: %s",
		      json_string_value(json_object_get(v2, "failure")));

	/* two created, two version.created, one ready, one failed */
	json_t *events = read_events(prefix, 6, 30000);
	json_t *ready = event(events, "lathe.dataset.version.ready", good);
	ck_assert_int_eq(json_integer_value(json_object_get(ready, "number")), n1);
	ck_assert_str_eq(json_string_value(json_object_get(ready, "id")), json_string_value(json_object_get(v1, "id")));
	char *q = th_fmt(
		"SELECT profile_sha FROM versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = '%s'", good);
	char *sha = th_data_sql(d, q);
	free(q);
	ck_assert_str_eq(json_string_value(json_object_get(ready, "profile_sha")), sha);
	json_t *failed = event(events, "lathe.dataset.version.failed", bad);
	ck_assert_str_eq(json_string_value(json_object_get(failed, "failure")),
			 json_string_value(json_object_get(v2, "failure")));
	ck_assert_str_eq(json_string_value(json_object_get(failed, "id")),
			 json_string_value(json_object_get(v2, "id")));
	/* the profile is the blob the event names */
	char *url = th_fmt("/v1/blobs/%s", sha);
	struct th_response r = th_call(d, "GET", url, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "items")), 2);
	th_response_free(&r);
	free(url);
	free(sha);
	json_decref(events);
	json_decref(v1);
	json_decref(v2);
	json_decref(p1);
	json_decref(p2);
	free(cmd);
	free(dir);
}
END_TEST

START_TEST(sigkill_mid_profile_leaves_the_version_pending)
{
	char *db = th_db_create();
	char *blob_env = th_fmt("BLOB_DIR=%s/blobs-profile-kill", th_env("LATHE_TEST_TMP"));
	const char *off[] = {blob_env, "PROFILE_POLL_MS=0", NULL};
	const char *on[] = {blob_env, "PROFILE_POLL_MS=50", NULL};
	/* commit with the profiler off, so the kill can wait for it to start */
	d = th_daemon_start("data-registry", db, off);
	json_t *paths = json_pack("[s,s]", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
	json_int_t n = commit_files("fashion-train", FMNIST, paths, "idx", NULL);
	th_daemon_stop(d);

	d = th_daemon_start("data-registry", db, on);
	/* the profiler holds the version's row lock while it reads the 60,000 images */
	bool held = false;
	for (int i = 0; i < 2000 && !held; i++) {
		char *s = th_data_sql(d, "SELECT count(*) FROM (SELECT pk FROM versions WHERE status = 'PENDING' "
					 "FOR SHARE SKIP LOCKED) s");
		char *pending = th_data_sql(d, "SELECT count(*) FROM versions WHERE status = 'PENDING'");
		held = strcmp(s, "0") == 0 && strcmp(pending, "1") == 0;
		free(s);
		free(pending);
		if (!held)
			usleep(2 * 1000);
	}
	ck_assert_msg(held, "never saw the profiler holding the version");
	th_daemon_kill9(d);

	d = th_daemon_start("data-registry", db, off);
	json_t *v = NULL;
	char *path = th_fmt("/v1/datasets/fashion-train/versions/%lld", (long long)n);
	json_t *body = th_ok(d, "GET", path, NULL);
	v = json_object_get(body, "version");
	ck_assert_str_eq(json_string_value(json_object_get(v, "status")), "PENDING");
	ck_assert(json_is_null(json_object_get(v, "ready_at")));
	char *sha = th_data_sql(d, "SELECT coalesce(profile_sha, '') FROM versions");
	ck_assert_str_eq(sha, "");
	free(sha);
	json_decref(body);
	th_daemon_stop(d);

	d = th_daemon_start("data-registry", db, on);
	v = wait_done(d, "fashion-train", n, 120);
	ck_assert_str_eq(json_string_value(json_object_get(v, "status")), "READY");
	json_decref(v);
	char *ppath = th_fmt("%s/profile", path);
	body = th_ok(d, "GET", ppath, NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(body, "items")), 60000);
	json_t *classes = json_object_get(body, "classes");
	ck_assert_uint_eq(json_array_size(classes), 10);
	for (size_t i = 0; i < 10; i++)
		ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(classes, i), "count")), 6000);
	json_decref(body);
	th_daemon_stop(d);
	d = NULL;
	json_decref(paths);
	free(ppath);
	free(path);
	free(blob_env);
	free(db);
}
END_TEST

static Suite *profiles_suite(void)
{
	Suite *s = suite_create("data_profiles");
	TCase *tc = tcase_create("profiles");
	tcase_add_checked_fixture(tc, start, stop);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, csv_profile_matches_pandas);
	tcase_add_test(tc, image_folder_profile_matches_pil);
	tcase_add_test(tc, idx_profile_matches_numpy);
	tcase_add_test(tc, corrupt_png_fails_naming_the_file);
	tcase_add_test(tc, ready_and_failed_versions_give_their_events);
	suite_add_tcase(s, tc);
	tc = tcase_create("crash");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, sigkill_mid_profile_leaves_the_version_pending);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(profiles_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
