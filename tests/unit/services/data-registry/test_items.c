/* Unit tests of the items iterator and the upload content checks (items.c, detect.c,
 * image_header.c, through data.h and libdata-registry.a), end to end from an upload:
 * archives built by /usr/bin/python3 (PIL for the images, Debian's Fashion-MNIST for
 * IDX) are unpacked into a fresh blob store, their format detected, their content
 * checked, and their items read back: counts, classes, keys (sha256 of the content)
 * and bytes must be what python computes from the same files. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/sha256.h"
#include "data.h"
#include "harness_util.h"

static char dir[64];
static char storedir[80];
static struct blob_store *store;

static const char fixtures_py[] =
	"import csv, gzip, hashlib, io, os, shutil, sys, tarfile\n"
	"from PIL import Image\n"
	"d = sys.argv[1]\n"
	"def tar(name, files):\n"
	"    with tarfile.open(os.path.join(d, name), 'w') as t:\n"
	"        for p, data in files:\n"
	"            ti = tarfile.TarInfo(p); ti.size = len(data); t.addfile(ti, io.BytesIO(data))\n"
	"def img(fmt, w, h, seed):\n"
	"    im = Image.new('RGB', (w, h), ((seed * 40) % 256, 100, 200)); b = io.BytesIO(); im.save(b, fmt)\n"
	"    return b.getvalue()\n"
	"imgs = [('cat/1.png', img('PNG', 5, 3, 1)), ('cat/2.JPG', img('JPEG', 7, 4, 2)),\n"
	"        ('dog/a.jpeg', img('JPEG', 16, 9, 3)), ('dog/b.png', img('PNG', 1, 1, 4))]\n"
	"tar('images.tar', imgs)\n"
	"with open(os.path.join(d, 'images.txt'), 'w') as f:\n"
	"    for p, data in sorted(imgs): f.write('%s %s %d\\n' % (p, hashlib.sha256(data).hexdigest(), len(data)))\n"
	"tar('notimage.tar', [('c/x.png', b'not a png at all')])\n"
	"tar('cutjpeg.tar', [('c/x.jpg', img('JPEG', 8, 8, 1)[:20])])\n"
	"import struct, zlib\n"
	"def chunk(t, b): return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b))\n"
	"ihdr = struct.pack('>IIBBBBB', 100000, 100000, 8, 2, 0, 0, 0)\n"
	"tar('huge.tar', [('c/big.png', b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', "
	"zlib.compress(b'')) + chunk(b'IEND', b''))])\n"
	"j = img('JPEG', 9, 5, 2); com = b'\\xff\\xfe' + struct.pack('>H', 65535) + b'x' * 65533\n"
	"tar('bigcom.tar', [('c/y.jpg', j[:2] + com * 3 + j[2:])])\n"
	"fm = '/usr/share/datasets/fashion-mnist/'\n"
	"tg = [(n, open(fm + n, 'rb').read()) for n in ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')]\n"
	"tar('idx.tar', tg)\n"
	"tar('idx_nolabels.tar', tg[:1])\n"
	"tar('idx_onlylabels.tar', tg[1:])\n"
	"lab = gzip.decompress(tg[1][1])\n"
	"tar('idx_short.tar', [tg[0], ('t10k-labels-idx1-ubyte', lab[:4] + (9999).to_bytes(4, 'big') + lab[8:-1])])\n"
	"im = gzip.decompress(tg[0][1])\n"
	"print(hashlib.sha256(im[16:16 + 784]).hexdigest(), hashlib.sha256(im[-784:]).hexdigest(), lab[8], lab[-1])\n"
	"rows = [['id', 'text', 'label'], ['1', 'a,b', 'x'], ['2', 'say \"hi\"', 'y'], ['3', 'two\\nlines', 'x']]\n"
	"def csvb(rows):\n"
	"    b = io.StringIO(); csv.writer(b).writerows(rows); return b.getvalue().encode()\n"
	"tar('csv.tar', [('t/one.csv', csvb(rows)), ('t/two.csv', csvb([rows[0], ['4', '', 'z']]))])\n"
	"tar('csv_header.tar', [('t/one.csv', csvb(rows)), ('t/two.csv', csvb([['id', 'txt', 'label'], ['4', '', "
	"'z']]))])\n"
	"tar('csv_ragged.tar', [('t/one.csv', csvb(rows) + b'5,only\\n')])\n"
	"for r in rows[1:]: print(hashlib.sha256(csvb([r]).rstrip(b'\\r\\n')).hexdigest())\n";

static char py_out[4096];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/lathe-items-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char *out = th_python_fixtures(dir, fixtures_py);
	snprintf(py_out, sizeof py_out, "%s", out);
	free(out);
	snprintf(storedir, sizeof storedir, "%s/store", dir);
	struct core_error err;
	ck_assert_int_eq(blob_store_open(storedir, &store, &err), CORE_OK);
}

static void teardown(void)
{
	blob_store_close(store);
	th_rm_rf(dir);
}

static void key_hex(const uint8_t key[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", key[i]);
}

/* Unpacks a fixture tar, detects its format (must be want) and checks its content. */
static enum core_status upload(const char *fixture, enum dr_format want, const char *label,
			       struct dr_manifest_file **files, size_t *n, struct core_error *err)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, fixture);
	struct dr_unpack_opts o = {.content_type = "application/x-tar"};
	ck_assert_msg(dr_unpack(store, path, &o, files, n, err) == CORE_OK, "%s: %s", fixture, err->message);
	enum dr_format fmt;
	ck_assert_msg(dr_detect_format(*files, *n, &fmt, err) == CORE_OK, "%s: %s", fixture, err->message);
	ck_assert_int_eq(fmt, want);
	return dr_check_content(store, fmt, *files, *n, label, err);
}

START_TEST(image_folder_items_are_the_files)
{
	struct dr_manifest_file *files;
	size_t n;
	struct core_error err = {{0}};
	ck_assert_msg(upload("images.tar", DR_FORMAT_IMAGE_FOLDER, NULL, &files, &n, &err) == CORE_OK, "%s",
		      err.message);
	ck_assert_uint_eq(n, 4);
	char path[128];
	snprintf(path, sizeof path, "%s/images.txt", dir);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	struct dr_items *it;
	ck_assert_int_eq(dr_items_open(store, DR_FORMAT_IMAGE_FOLDER, files, n, NULL, &it, &err), CORE_OK);
	const char *classes[] = {"cat", "cat", "dog", "dog"};
	const unsigned dims[][2] = {{5, 3}, {7, 4}, {16, 9}, {1, 1}};
	struct dr_item item;
	for (size_t i = 0; i < 4; i++) {
		char p[128], sha[65], got[65];
		unsigned long size;
		ck_assert_int_eq(fscanf(f, "%127s %64s %lu", p, sha, &size), 3);
		ck_assert_msg(dr_items_next(it, &item, &err) == CORE_OK, "%s", err.message);
		ck_assert_str_eq(item.path, p);
		ck_assert_str_eq(item.cls, classes[i]);
		ck_assert_uint_eq(item.len, size);
		ck_assert_uint_eq(item.index, 0);
		key_hex(item.key, got);
		ck_assert_str_eq(got, sha);
		char again[65];
		ck_assert_int_eq(core_sha256_hex(item.bytes, item.len, again), CORE_OK);
		ck_assert_str_eq(again, sha);
		/* the header probe agrees with PIL's sizes */
		int fd;
		uint64_t sz;
		ck_assert_int_eq(blob_open(store, files[i].sha256, &fd, &sz, &err), CORE_OK);
		struct img_info info;
		ck_assert_int_eq(dr_image_probe(fd, p, &info, &err), CORE_OK);
		close(fd);
		ck_assert_uint_eq(info.width, dims[i][0]);
		ck_assert_uint_eq(info.height, dims[i][1]);
	}
	fclose(f);
	ck_assert_int_eq(dr_items_next(it, &item, &err), CORE_ENOENT);
	size_t nc;
	ck_assert_ptr_null(dr_items_columns(it, &nc));
	dr_items_close(it);
	dr_manifest_free(files, n);
}
END_TEST

START_TEST(bad_images_are_refused_at_upload)
{
	struct dr_manifest_file *files;
	size_t n;
	struct core_error err = {{0}};
	ck_assert_int_eq(upload("notimage.tar", DR_FORMAT_IMAGE_FOLDER, NULL, &files, &n, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "c/x.png: not a PNG or JPEG image");
	dr_manifest_free(files, n);
	ck_assert_int_eq(upload("cutjpeg.tar", DR_FORMAT_IMAGE_FOLDER, NULL, &files, &n, &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "c/x.jpg: the JPEG header is truncated"), "%s", err.message);
	dr_manifest_free(files, n);
	/* 100,000 x 100,000 is refused from the header, before any pixel is decoded */
	ck_assert_int_eq(upload("huge.tar", DR_FORMAT_IMAGE_FOLDER, NULL, &files, &n, &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "c/big.png: 100000x100000 pixels is more than"), "%s", err.message);
	dr_manifest_free(files, n);
	/* a JPEG whose frame header sits past 192 KiB of comments: the probe reads on */
	ck_assert_msg(upload("bigcom.tar", DR_FORMAT_IMAGE_FOLDER, NULL, &files, &n, &err) == CORE_OK, "%s",
		      err.message);
	ck_assert_uint_eq(n, 1);
	int fd;
	uint64_t sz;
	ck_assert_int_eq(blob_open(store, files[0].sha256, &fd, &sz, &err), CORE_OK);
	struct img_info info;
	ck_assert_int_eq(dr_image_probe(fd, files[0].path, &info, &err), CORE_OK);
	close(fd);
	ck_assert_uint_gt(sz, 3 * 65535);
	ck_assert_uint_eq(info.width, 9);
	ck_assert_uint_eq(info.height, 5);
	dr_manifest_free(files, n);
}
END_TEST

START_TEST(idx_items_are_records_with_their_labels)
{
	struct dr_manifest_file *files;
	size_t n;
	struct core_error err = {{0}};
	ck_assert_msg(upload("idx.tar", DR_FORMAT_IDX, NULL, &files, &n, &err) == CORE_OK, "%s", err.message);
	char first[65], last[65];
	unsigned first_label, last_label;
	ck_assert_int_eq(sscanf(py_out, "%64s %64s %u %u", first, last, &first_label, &last_label), 4);
	struct dr_items *it;
	ck_assert_int_eq(dr_items_open(store, DR_FORMAT_IDX, files, n, NULL, &it, &err), CORE_OK);
	struct dr_item item;
	unsigned hist[10] = {0};
	uint64_t count = 0;
	enum core_status st;
	char hex[65];
	uint8_t last_key[32];
	unsigned last_c = 99;
	while ((st = dr_items_next(it, &item, &err)) == CORE_OK) {
		ck_assert_str_eq(item.path, "t10k-images-idx3-ubyte.gz");
		ck_assert_uint_eq(item.index, count);
		ck_assert_uint_eq(item.h, 28);
		ck_assert_uint_eq(item.w, 28);
		ck_assert_ptr_nonnull(item.cls);
		unsigned c = (unsigned)strtoul(item.cls, NULL, 10);
		ck_assert_uint_lt(c, 10);
		hist[c]++;
		if (count == 0) {
			key_hex(item.key, hex);
			ck_assert_str_eq(hex, first);
			ck_assert_uint_eq(c, first_label);
		}
		memcpy(last_key, item.key, 32);
		last_c = c;
		count++;
	}
	ck_assert_msg(st == CORE_ENOENT, "%s", err.message);
	key_hex(last_key, hex);
	ck_assert_str_eq(hex, last);
	ck_assert_uint_eq(last_c, last_label);
	ck_assert_uint_eq(count, 10000);
	for (int i = 0; i < 10; i++)
		ck_assert_uint_eq(hist[i], 1000); /* Fashion-MNIST's test set is balanced */
	dr_items_close(it);
	dr_manifest_free(files, n);
}
END_TEST

START_TEST(unpaired_idx_files_are_refused_at_upload)
{
	struct dr_manifest_file *files;
	size_t n;
	struct core_error err = {{0}};
	ck_assert_int_eq(upload("idx_nolabels.tar", DR_FORMAT_IDX, NULL, &files, &n, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "'t10k-images-idx3-ubyte.gz' has no labels file ('t10k-labels-idx1-ubyte.gz')");
	dr_manifest_free(files, n);
	ck_assert_int_eq(upload("idx_onlylabels.tar", DR_FORMAT_IDX, NULL, &files, &n, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "is a labels file without its images file"));
	dr_manifest_free(files, n);
	/* labels stored plain (not gzipped), a count that disagrees: paired by name only if the
	 * suffix matches, so this images file has no labels file */
	ck_assert_int_eq(upload("idx_short.tar", DR_FORMAT_IDX, NULL, &files, &n, &err), CORE_EINVAL);
	dr_manifest_free(files, n);
}
END_TEST

START_TEST(csv_items_are_rows_with_their_label)
{
	struct dr_manifest_file *files;
	size_t n;
	struct core_error err = {{0}};
	ck_assert_msg(upload("csv.tar", DR_FORMAT_CSV, "label", &files, &n, &err) == CORE_OK, "%s", err.message);
	char want[3][65];
	const char *p = strchr(py_out, '\n');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p, "%64s %64s %64s", want[0], want[1], want[2]), 3);
	struct dr_items *it;
	ck_assert_int_eq(dr_items_open(store, DR_FORMAT_CSV, files, n, "label", &it, &err), CORE_OK);
	struct dr_item item;
	const char *cls[] = {"x", "y", "x", "z"};
	const char *text[] = {"a,b", "say \"hi\"", "two\nlines", ""};
	for (size_t i = 0; i < 4; i++) {
		ck_assert_msg(dr_items_next(it, &item, &err) == CORE_OK, "%s", err.message);
		ck_assert_str_eq(item.path, i < 3 ? "t/one.csv" : "t/two.csv");
		ck_assert_uint_eq(item.index, i < 3 ? i : 0);
		ck_assert_uint_eq(item.n_fields, 3);
		ck_assert_str_eq(item.fields[1], text[i]);
		ck_assert_str_eq(item.cls, cls[i]);
		if (i < 3) {
			char hex[65];
			key_hex(item.key, hex);
			ck_assert_str_eq(hex, want[i]);
		}
	}
	size_t nc;
	const char *const *cols = dr_items_columns(it, &nc);
	ck_assert_uint_eq(nc, 3);
	ck_assert_str_eq(cols[2], "label");
	ck_assert_int_eq(dr_items_next(it, &item, &err), CORE_ENOENT);
	dr_items_close(it);
	/* no label column: classes are NULL */
	ck_assert_int_eq(dr_items_open(store, DR_FORMAT_CSV, files, n, NULL, &it, &err), CORE_OK);
	ck_assert_int_eq(dr_items_next(it, &item, &err), CORE_OK);
	ck_assert_ptr_null(item.cls);
	dr_items_close(it);
	/* a label column the header lacks */
	ck_assert_int_eq(dr_check_content(store, DR_FORMAT_CSV, files, n, "species", &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "t/one.csv: the header has no label column 'species'");
	/* label_column with another format */
	ck_assert_int_eq(dr_items_open(store, DR_FORMAT_IDX, files, n, "label", &it, &err), CORE_EINVAL);
	dr_manifest_free(files, n);
}
END_TEST

START_TEST(bad_csv_is_refused_at_upload)
{
	struct dr_manifest_file *files;
	size_t n;
	struct core_error err = {{0}};
	ck_assert_int_eq(upload("csv_header.tar", DR_FORMAT_CSV, NULL, &files, &n, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "t/two.csv: its header differs from that of 't/one.csv'");
	dr_manifest_free(files, n);
	ck_assert_int_eq(upload("csv_ragged.tar", DR_FORMAT_CSV, NULL, &files, &n, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "t/one.csv: line 6 (row 4) has 2 fields, the header 3");
	/* a blob missing from the store */
	files[0].sha256[0] = files[0].sha256[0] == '0' ? '1' : '0';
	ck_assert_int_eq(dr_check_content(store, DR_FORMAT_CSV, files, n, NULL, &err), CORE_EIO);
	ck_assert_ptr_nonnull(strstr(err.message, "missing from the store"));
	dr_manifest_free(files, n);
}
END_TEST

START_TEST(formats_detect_and_check)
{
	struct dr_manifest_file f[3] = {{.path = "a.csv"}, {.path = "b/C.CSV"}, {.path = "x.png"}};
	enum dr_format fmt;
	struct core_error err;
	ck_assert_int_eq(dr_detect_format(f, 2, &fmt, &err), CORE_OK);
	ck_assert_int_eq(fmt, DR_FORMAT_CSV);
	ck_assert_int_eq(dr_detect_format(f, 3, &fmt, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "'x.png' is not"));
	ck_assert_int_eq(dr_detect_format(f + 2, 1, &fmt, &err), CORE_EINVAL); /* an image outside a folder */
	ck_assert_int_eq(dr_format_check(DR_FORMAT_IDX, f, 1, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "'a.csv' does not fit format idx: an idx version holds only IDX files "
				      "(*-idx<N>-ubyte, optionally .gz)");
	ck_assert_int_eq(dr_detect_format(f, 0, &fmt, &err), CORE_EINVAL);
	ck_assert_int_eq(dr_format_parse("image-folder", &fmt, &err), CORE_OK);
	ck_assert_int_eq(fmt, DR_FORMAT_IMAGE_FOLDER);
	ck_assert_str_eq(dr_format_name(DR_FORMAT_IDX), "idx");
	ck_assert_int_eq(dr_format_parse("parquet", &fmt, &err), CORE_EINVAL);
	/* image folders are <class>/<name>: one folder level */
	struct dr_manifest_file g[2] = {{.path = "cat/x.png"}, {.path = "pets/dog/y.png"}};
	ck_assert_int_eq(dr_detect_format(g, 1, &fmt, &err), CORE_OK);
	ck_assert_int_eq(fmt, DR_FORMAT_IMAGE_FOLDER);
	ck_assert_int_eq(dr_detect_format(g, 2, &fmt, &err), CORE_EINVAL);
	ck_assert_int_eq(dr_format_check(DR_FORMAT_IMAGE_FOLDER, g + 1, 1, &err), CORE_EINVAL);
	ck_assert(!dr_image_name("cat/.png"));
	ck_assert(dr_image_name("cat/x.JpEg"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("data-registry items");
	TCase *tc = tcase_create("items");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, image_folder_items_are_the_files);
	tcase_add_test(tc, bad_images_are_refused_at_upload);
	tcase_add_test(tc, idx_items_are_records_with_their_labels);
	tcase_add_test(tc, unpaired_idx_files_are_refused_at_upload);
	tcase_add_test(tc, csv_items_are_rows_with_their_label);
	tcase_add_test(tc, bad_csv_is_refused_at_upload);
	tcase_add_test(tc, formats_detect_and_check);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
