/* Integration tests of the data registry's tensor export (h_tensors.c, tensors.c, and
 * libs/ml's safetensors writer) on a real daemon, decoded by an independent reader:
 * /usr/bin/python3 parses the safetensors header by hand and np.frombuffer's the data.
 *   idx_tensors_equal_the_source  Fashion-MNIST's t10k part of the "original" split:
 *       x equals the IDX pixels / 255 exactly, y the labels, the metadata names the
 *       dataset, version, split and classes; a second request is served from the store
 *       (equal bytes, no new blob); ETag, Range (206 with Content-Range, a suffix
 *       range, an unsatisfiable range answered whole), If-None-Match (304);
 *   image_tensors_match_pil  an image folder of PNGs and JPEGs (made here with PIL):
 *       resized to 12x10 in RGB and in gray, within 1e-5 of PIL's convert + BILINEAR
 *       resize / 255, rows in the split's item order, y by sorted class;
 *   csv_tensors_standardised_from_train  a CSV with a numeric column holding missing
 *       values and a categorical one: one-hot vocabulary, the training part's mean and
 *       population std applied to the test part, missing values filled with the
 *       training mean, all recorded in the metadata; options that do not fit the format
 *       are 400; a garbage collection (grace 0) keeps the items list and the export. */
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/sha256.h"
#include "harness.h"
#include "harness_data.h"

#define DS "/v1/datasets"

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void python(const char *script, const char *args)
{
	static int n;
	char *path = th_fmt("%s/tensors-%d-%d.py", th_env("LATHE_TEST_TMP"), (int)getpid(), ++n);
	write_file(path, script, strlen(script));
	char *cmd = th_fmt("/usr/bin/python3 %s %s", path, args);
	int rc = system(cmd);
	ck_assert_msg(rc == 0, "python failed (%d): %s", rc, cmd);
	free(cmd);
	free(path);
}

/* A GET with request headers, keeping the response headers (libcurl). */
struct got {
	long status;
	char *body;
	size_t len, cap;
	char headers[4096];
	size_t hlen;
};

static size_t on_body(char *p, size_t size, size_t n, void *cls)
{
	struct got *g = cls;
	/* doubling: a body of tens of MB in 16 KiB chunks, realloc'd per chunk, is
	 * quadratic (minutes under ASan, whose realloc always copies) */
	if (g->len + size * n + 1 > g->cap) {
		g->cap = (g->len + size * n + 1) * 2;
		g->body = realloc(g->body, g->cap);
		ck_assert(g->body != NULL);
	}
	memcpy(g->body + g->len, p, size * n);
	g->len += size * n;
	g->body[g->len] = '\0';
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *cls)
{
	struct got *g = cls;
	size_t k = size * n;
	if (g->hlen + k < sizeof g->headers) {
		memcpy(g->headers + g->hlen, p, k);
		g->hlen += k;
		g->headers[g->hlen] = '\0';
	}
	return k;
}

static struct got get(struct th_daemon *d, const char *path, const char *header)
{
	struct got g = {0};
	g.body = calloc(1, 1);
	CURL *c = curl_easy_init();
	char *url = th_fmt("%s%s", d->base_url, path);
	struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &g);
	curl_easy_setopt(c, CURLOPT_TIMEOUT,
			 600L); /* under ASan the first export of Fashion-MNIST reads all 70,000 records */
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
	return g;
}

/* The value of a response header (case-insensitive name), copied into out. */
static bool header_value(const struct got *g, const char *name, char *out, size_t size)
{
	const char *p = g->headers;
	size_t nl = strlen(name);
	while (p && *p) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ')
				p++;
			size_t k = strcspn(p, "\r\n");
			snprintf(out, size, "%.*s", (int)(k < size ? k : size - 1), p);
			return true;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

static size_t count_blobs(struct th_daemon *d)
{
	const char *tag = strrchr(d->log_path, '-') + 1;
	char *cmd = th_fmt("find %s/blobs-%.16s/objects -type f | wc -l", th_env("LATHE_TEST_TMP"), tag);
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	ck_assert_int_eq(fscanf(p, "%zu", &n), 1);
	pclose(p);
	free(cmd);
	return n;
}

/* The reference reader: the safetensors header by hand, the tensors with numpy. */
#define READ_ST                                                                                                        \
	"import json, struct, sys, hashlib, io, os\n"                                                                  \
	"import numpy as np\n"                                                                                         \
	"def read_st(path):\n"                                                                                         \
	"    b = open(path, 'rb').read()\n"                                                                            \
	"    n = struct.unpack('<Q', b[:8])[0]\n"                                                                      \
	"    assert n % 8 == 0\n"                                                                                      \
	"    h = json.loads(b[8:8 + n])\n"                                                                             \
	"    meta = h.pop('__metadata__')\n"                                                                           \
	"    d = b[8 + n:]\n"                                                                                          \
	"    out = {}\n"                                                                                               \
	"    for k, v in h.items():\n"                                                                                 \
	"        s, e = v['data_offsets']\n"                                                                           \
	"        dt = {'F32': '<f4', 'I64': '<i8'}[v['dtype']]\n"                                                      \
	"        out[k] = np.frombuffer(d[s:e], dtype=dt).reshape(v['shape'])\n"                                       \
	"    assert max(v['data_offsets'][1] for v in h.values()) == len(d)\n"                                         \
	"    return meta, out\n"

static const char check_idx[] = READ_ST
	"import gzip\n"
	"meta, t = read_st(sys.argv[1])\n"
	"src = '/usr/share/datasets/fashion-mnist/'\n"
	"img = np.frombuffer(gzip.open(src + 't10k-images-idx3-ubyte.gz').read()[16:], np.uint8).reshape(-1, 1, 28, "
	"28)\n"
	"lab = np.frombuffer(gzip.open(src + 't10k-labels-idx1-ubyte.gz').read()[8:], np.uint8)\n"
	"x, y = t['x'], t['y']\n"
	"assert x.shape == (10000, 1, 28, 28) and x.dtype == np.float32, x.shape\n"
	"assert np.array_equal(x, img.astype(np.float32) / 255), 'x differs'\n"
	"assert np.array_equal(y, lab.astype(np.int64)), 'y differs'\n"
	"assert meta['dataset'] == 'fmnist' and meta['split'] == 'test' and meta['split_name'] == 'original', meta\n"
	"assert json.loads(meta['classes']) == [str(i) for i in range(10)]\n"
	"assert len(meta['version']) == 64\n"
	"p = json.loads(meta['preprocessing'])\n"
	"assert p['size'] == [28, 28] and p['channels'] == 1 and p['normalize'] == 'unit', p\n";

START_TEST(idx_tensors_equal_the_source)
{
	char *dir = th_data_scratch_dir("tensors-idx");
	char *tar = th_fmt("%s/fmnist", dir), *out = th_fmt("%s/test.safetensors", dir);
	char *cmd = th_fmt("mkdir -p %s && cp /usr/share/datasets/fashion-mnist/*-ubyte.gz %s", tar, tar);
	ck_assert_int_eq(system(cmd), 0);
	/* the profiler off: the predefined "original" split, asked for by name before the
	 * profiler made it, is made on first use */
	const char *env[] = {"PROFILE_POLL_MS=0", NULL};
	struct th_daemon *d = th_daemon_start("data-registry", NULL, env);
	th_data_push_dir(d, "fmnist", tar, "");

	const char *path = DS "/fmnist/versions/1/tensors?split=test&split_name=original";
	struct got g = get(d, path, NULL);
	ck_assert_msg(g.status == 200, "tensors: %ld %s", g.status, g.status == 200 ? "" : g.body);
	write_file(out, g.body, g.len);
	python(check_idx, out);
	char etag[128], want[128], sha[65], v[128];
	ck_assert_int_eq(core_sha256_hex(g.body, g.len, sha), CORE_OK);
	snprintf(want, sizeof want, "\"%s\"", sha);
	ck_assert(header_value(&g, "ETag", etag, sizeof etag));
	ck_assert_str_eq(etag, want);
	ck_assert(header_value(&g, "Accept-Ranges", v, sizeof v));
	ck_assert_str_eq(v, "bytes");

	/* again: from the store, the same bytes, no new blob */
	size_t blobs = count_blobs(d);
	struct got g2 = get(d, path, NULL);
	ck_assert_int_eq(g2.status, 200);
	ck_assert_uint_eq(g2.len, g.len);
	ck_assert(memcmp(g2.body, g.body, g.len) == 0);
	ck_assert_uint_eq(count_blobs(d), blobs);
	free(g2.body);

	/* ranges */
	struct got r = get(d, path, "Range: bytes=8-23");
	ck_assert_int_eq(r.status, 206);
	ck_assert_uint_eq(r.len, 16);
	ck_assert(memcmp(r.body, g.body + 8, 16) == 0);
	ck_assert(header_value(&r, "Content-Range", v, sizeof v));
	char *cr = th_fmt("bytes 8-23/%zu", g.len);
	ck_assert_str_eq(v, cr);
	free(cr);
	free(r.body);
	r = get(d, path, "Range: bytes=-100");
	ck_assert_int_eq(r.status, 206);
	ck_assert_uint_eq(r.len, 100);
	ck_assert(memcmp(r.body, g.body + g.len - 100, 100) == 0);
	free(r.body);
	char *far = th_fmt("Range: bytes=%zu-", g.len + 10);
	r = get(d, path, far); /* cannot be satisfied: the whole file */
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.len, g.len);
	free(r.body);
	free(far);
	char *inm = th_fmt("If-None-Match: %s", etag);
	r = get(d, path, inm);
	ck_assert_int_eq(r.status, 304);
	free(r.body);
	free(inm);

	/* bad options */
	r = get(d, DS "/fmnist/versions/1/tensors?split=test&channels=2", NULL);
	ck_assert_int_eq(r.status, 400);
	free(r.body);
	r = get(d, DS "/fmnist/versions/1/tensors?split=nope", NULL);
	ck_assert_int_eq(r.status, 404);
	free(r.body);
	r = get(d, DS "/fmnist/versions/1/tensors?split=test&features=a", NULL);
	ck_assert_int_eq(r.status, 400);
	free(r.body);

	free(g.body);
	th_daemon_stop(d);
	free(cmd);
	free(tar);
	free(out);
	free(dir);
}
END_TEST

static const char make_images[] =
	"import io, os, random, sys\n"
	"from PIL import Image\n"
	"out = sys.argv[1]\n"
	"classes = {'cat': 9, 'dog': 7, 'ant': 4}\n"
	"if True:\n"
	"    for c, n in classes.items():\n"
	"        os.makedirs(f'{out}/imgs/{c}', exist_ok=True)\n"
	"        for i in range(n):\n"
	"            r = random.Random(f'{c}-{i}')\n"
	"            w, h = r.randint(9, 40), r.randint(9, 40)\n"
	"            mode = 'L' if i % 4 == 1 else 'RGB'\n"
	"            im = Image.new('RGB', (w, h))\n"
	"            im.putdata([(r.randrange(256), r.randrange(256), r.randrange(256)) for _ in range(w * h)])\n"
	"            im = im.convert(mode)\n"
	"            fmt = 'JPEG' if i % 3 == 0 else 'PNG'\n"
	"            im.save(f'{out}/imgs/{c}/{i:03d}.' + ('jpg' if fmt == 'JPEG' else 'png'), fmt)\n";

/* argv: tensors file, items list, image folder, mode (RGB|L) */
static const char check_images[] =
	READ_ST "from PIL import Image\n"
		"meta, t = read_st(sys.argv[1])\n"
		"items = json.load(open(sys.argv[2]))['items']\n"
		"mode = sys.argv[4]\n"
		"files = {}\n"
		"for c in os.listdir(sys.argv[3]):\n"
		"    for f in os.listdir(os.path.join(sys.argv[3], c)):\n"
		"        files[c + '/' + f] = open(os.path.join(sys.argv[3], c, f), 'rb').read()\n"
		"by_key = {hashlib.sha256(v).hexdigest(): k for k, v in files.items()}\n"
		"order = sorted(files, key=lambda p: p.encode())\n"
		"assert [by_key[i['item']] for i in items] == order\n"
		"train = [by_key[i['item']] for i in items if i['split'] == 'train']\n"
		"classes = json.loads(meta['classes'])\n"
		"assert classes == ['ant', 'cat', 'dog'], classes\n"
		"x, y = t['x'], t['y']\n"
		"c = 3 if mode == 'RGB' else 1\n"
		"assert x.shape == (len(train), c, 10, 12), x.shape\n"
		"for k, p in enumerate(train):\n"
		"    im = Image.open(io.BytesIO(files[p])).convert(mode).resize((12, 10), Image.BILINEAR)\n"
		"    a = np.asarray(im, dtype=np.float32).reshape(10, 12, c).transpose(2, 0, 1) / 255\n"
		"    diff = np.abs(a - x[k]).max()\n"
		"    assert diff <= 1e-5, (p, diff)\n"
		"    assert y[k] == classes.index(p.split('/')[0])\n";

START_TEST(image_tensors_match_pil)
{
	char *dir = th_data_scratch_dir("tensors-img");
	python(make_images, dir);
	char *tar = th_fmt("%s/imgs", dir);
	struct th_daemon *d = th_daemon_start("data-registry", NULL, NULL);
	th_data_push_dir(d, "pics", tar, "");
	struct th_response r =
		th_call(d, "POST", DS "/pics/versions/1/splits",
			"{\"name\": \"tt\", \"fractions\": {\"train\": 0.75, \"test\": 0.25}, \"seed\": 3}");
	ck_assert_msg(r.status == 201, "split: %ld %s", r.status, r.body);
	th_response_free(&r);
	r = th_call(d, "GET", DS "/pics/versions/1/splits/tt/items", NULL);
	ck_assert_int_eq(r.status, 200);
	char *items = th_fmt("%s/items.json", dir);
	write_file(items, r.body, r.body_len);
	th_response_free(&r);
	const char *modes[2] = {"RGB", "L"};
	for (int m = 0; m < 2; m++) {
		char *path = th_fmt(DS "/pics/versions/1/tensors?split=train&size=12x10&channels=%d", m ? 1 : 3);
		struct got g = get(d, path, NULL);
		ck_assert_msg(g.status == 200, "tensors: %ld %s", g.status, g.body);
		char *out = th_fmt("%s/%s.safetensors", dir, modes[m]);
		write_file(out, g.body, g.len);
		char *args = th_fmt("%s %s %s %s", out, items, tar, modes[m]);
		python(check_images, args);
		free(args);
		free(out);
		free(g.body);
		free(path);
	}
	/* images of several sizes and no size=: a clear 400 */
	struct got g = get(d, DS "/pics/versions/1/tensors?split=train", NULL);
	ck_assert_int_eq(g.status, 400);
	ck_assert_ptr_nonnull(strstr(g.body, "size="));
	free(g.body);
	th_daemon_stop(d);
	free(items);
	free(tar);
	free(dir);
}
END_TEST

static const char make_csv[] =
	"import random, sys\n"
	"r = random.Random(5)\n"
	"with open(sys.argv[1], 'w') as f:\n"
	"    f.write('a,b,color,label\\n')\n"
	"    for i in range(60):\n"
	"        a = round(r.uniform(-5, 5), 3)\n"
	"        b = '' if i % 7 == 3 else str(round(r.uniform(0, 100), 2))\n"
	"        f.write(f'{a},{b},{r.choice([\"red\", \"green\", \"blue\"])},{r.choice([\"yes\", \"no\"])}\\n')\n";

/* argv: tensors file, items list, csv */
static const char check_csv[] = READ_ST
	"meta, t = read_st(sys.argv[1])\n"
	"items = json.load(open(sys.argv[2]))['items']\n"
	"rows = [l.rstrip('\\n').split(',') for l in open(sys.argv[3])][1:]\n"
	"key = lambda r: hashlib.sha256(','.join(r).encode()).hexdigest()\n"
	"assert [key(r) for r in rows] == [i['item'] for i in items]\n"
	"train = [r for r, i in zip(rows, items) if i['split'] == 'train']\n"
	"test = [r for r, i in zip(rows, items) if i['split'] == 'test']\n"
	"def col(rs, k): return np.array([float(r[k]) for r in rs if r[k] != ''])\n"
	"ma, sa = col(train, 0).mean(), col(train, 0).std()\n"
	"mb, sb = col(train, 1).mean(), col(train, 1).std()\n"
	"vocab = sorted(set(r[2] for r in train))\n"
	"want = []\n"
	"for r in test:\n"
	"    b = float(r[1]) if r[1] != '' else mb\n"
	"    want.append([(float(r[0]) - ma) / sa, (b - mb) / sb] + [1.0 if r[2] == v else 0.0 for v in vocab])\n"
	"want = np.array(want, dtype=np.float64)\n"
	"x, y = t['x'], t['y']\n"
	"assert x.shape == want.shape, (x.shape, want.shape)\n"
	"assert np.abs(x - want).max() < 1e-5, np.abs(x - want).max()\n"
	"assert y.tolist() == [['no', 'yes'].index(r[3]) for r in test]\n"
	"assert json.loads(meta['features']) == ['a', 'b'] + ['color=' + v for v in vocab]\n"
	"p = json.loads(meta['preprocessing'])\n"
	"assert p['standardize'] and p['fit_split'] == 'train'\n"
	"cb = p['columns'][1]\n"
	"assert abs(cb['mean'] - mb) < 1e-9 and abs(cb['std'] - sb) < 1e-9 and cb['fill'] == cb['mean'], cb\n"
	"assert p['columns'][2]['vocabulary'] == vocab\n";

START_TEST(csv_tensors_standardised_from_train)
{
	char *dir = th_data_scratch_dir("tensors-csv");
	char *csvdir = th_fmt("%s/csv", dir), *csv = th_fmt("%s/csv/data.csv", dir);
	char *mk = th_fmt("mkdir -p %s", csvdir);
	ck_assert_int_eq(system(mk), 0);
	free(mk);
	python(make_csv, csv);
	/* grace 0: a collection may take any blob no row references */
	const char *env[] = {"BLOB_GC_GRACE_S=0", NULL};
	struct th_daemon *d = th_daemon_start("data-registry", NULL, env);
	th_data_push_dir(d, "tab", csvdir, ", \"label_column\": \"label\"");
	struct th_response r = th_call(d, "POST", DS "/tab/versions/1/splits",
				       "{\"name\": \"tt\", \"fractions\": {\"train\": 0.7, \"test\": 0.3}}");
	ck_assert_msg(r.status == 201, "split: %ld %s", r.status, r.body);
	th_response_free(&r);
	r = th_call(d, "GET", DS "/tab/versions/1/splits/tt/items", NULL);
	ck_assert_int_eq(r.status, 200);
	char *items = th_fmt("%s/items.json", dir), *out = th_fmt("%s/test.safetensors", dir);
	write_file(items, r.body, r.body_len);
	th_response_free(&r);
	struct got g = get(d, DS "/tab/versions/1/tensors?split=test&standardize=true", NULL);
	ck_assert_msg(g.status == 200, "tensors: %ld %s", g.status, g.body);
	write_file(out, g.body, g.len);
	char *args = th_fmt("%s %s %s", out, items, csv);
	python(check_csv, args);
	free(args);
	/* the collector keeps the items list and the export: both still served, unchanged */
	sleep(1);
	json_decref(th_ok(d, "POST", "/v1/admin/gc", NULL));
	struct got again = get(d, DS "/tab/versions/1/tensors?split=test&standardize=true", NULL);
	ck_assert_int_eq(again.status, 200);
	ck_assert_uint_eq(again.len, g.len);
	ck_assert(memcmp(again.body, g.body, g.len) == 0);
	free(again.body);
	r = th_call(d, "GET", DS "/tab/versions/1/splits/tt/items", NULL);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	free(g.body);
	/* options that do not fit */
	g = get(d, DS "/tab/versions/1/tensors?split=test&size=28", NULL);
	ck_assert_int_eq(g.status, 400);
	free(g.body);
	g = get(d, DS "/tab/versions/1/tensors?split=test&features=a,nope", NULL);
	ck_assert_int_eq(g.status, 400);
	ck_assert_ptr_nonnull(strstr(g.body, "nope"));
	free(g.body);
	g = get(d, DS "/tab/versions/1/tensors?split=test&features=label", NULL);
	ck_assert_int_eq(g.status, 400);
	free(g.body);
	th_daemon_stop(d);
	free(items);
	free(out);
	free(csv);
	free(csvdir);
	free(dir);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	Suite *s = suite_create("data_tensors");
	TCase *tc = tcase_create("tensors");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, idx_tensors_equal_the_source);
	tcase_add_test(tc, image_tensors_match_pil);
	tcase_add_test(tc, csv_tensors_standardised_from_train);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
