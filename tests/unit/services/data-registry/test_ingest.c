/* Unit tests of one-request uploads (ingest.c, through data.h and libdata-registry.a):
 * archives built at test time by /usr/bin/python3's tarfile, zipfile and gzip (the
 * tools clients use) are unpacked into a fresh blob store; the manifest must list the
 * files sorted, with their sha256 and size, the store must hold exactly their blobs,
 * and every hostile or broken upload (path escapes, links, devices, duplicates, a
 * corrupt gzip, an empty body) must be refused with a message naming the entry and
 * nothing in the store's tmp/. Also the path rules (dr_path_check) on their own. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/sha256.h"
#include "data.h"
#include "harness_util.h"

static char dir[64];      /* fixtures */
static char storedir[80]; /* the store */
static struct blob_store *store;

/* Every fixture, written by one python run: NAME -> bytes. */
static const char fixtures_py[] =
	"import gzip, io, os, sys, tarfile, zipfile\n"
	"d = sys.argv[1]\n"
	"def tar(name, entries, mode='w'):\n"
	"    with tarfile.open(os.path.join(d, name), mode, format=tarfile.PAX_FORMAT) as t:\n"
	"        for e in entries:\n"
	"            ti = tarfile.TarInfo(e[0])\n"
	"            data = e[1] if len(e) > 1 else None\n"
	"            if len(e) > 2: ti.type = e[2]\n"
	"            if len(e) > 3: ti.linkname = e[3]\n"
	"            if data is None and len(e) == 1: ti.type = tarfile.DIRTYPE\n"
	"            if data is not None: ti.size = len(data)\n"
	"            t.addfile(ti, io.BytesIO(data) if data is not None else None)\n"
	"good = [('a/',), ('a/x.csv', b'p,q\\n1,2\\n'), ('b.txt', b'hello\\n'), ('./c', b''),\n"
	"        ('a/sub/', ), ('a/sub/deep.bin', bytes(range(256)) * 1000)]\n"
	"tar('good.tar', good)\n"
	"tar('good.tar.gz', good, 'w:gz')\n"
	"with zipfile.ZipFile(os.path.join(d, 'good.zip'), 'w', zipfile.ZIP_DEFLATED) as z:\n"
	"    z.writestr('a/', b'')\n"
	"    for e in good:\n"
	"        if len(e) > 1: z.writestr(e[0][2:] if e[0].startswith('./') else e[0], e[1])\n"
	"tar('dotdot.tar', [('ok.txt', b'fine'), ('../x', b'evil')])\n"
	"tar('inner_dotdot.tar', [('a/../../x', b'evil')])\n"
	"tar('absolute.tar', [('/etc/passwd', b'root')])\n"
	"tar('symlink.tar', [('link', b'', tarfile.SYMTYPE, '/etc/passwd')])\n"
	"tar('hardlink.tar', [('f', b'x'), ('h', b'', tarfile.LNKTYPE, 'f')])\n"
	"tar('device.tar', [('dev', b'', tarfile.CHRTYPE)])\n"
	"tar('fifo.tar', [('fifo', b'', tarfile.FIFOTYPE)])\n"
	"tar('dup.tar', [('a.csv', b'1'), ('./a.csv', b'2')])\n"
	"tar('control.tar', [('a\\tb.csv', b'1')])\n"
	"tar('empty_segment.tar', [('a//b.csv', b'1')])\n"
	"tar('dot_segment.tar', [('a/./b.csv', b'1')])\n"
	"tar('long.tar', [('a/' * 600 + 'x', b'1')])\n"
	"tar('only_dirs.tar', [('a/',), ('a/b/',)])\n"
	"tar('empty.tar', [])\n"
	"with tarfile.open(os.path.join(d, 'latin1.tar'), 'w', format=tarfile.GNU_FORMAT, encoding='latin-1') as t:\n"
	"    ti = tarfile.TarInfo('caf\\xe9.csv'); ti.size = 1; t.addfile(ti, io.BytesIO(b'1'))\n"
	"with zipfile.ZipFile(os.path.join(d, 'backslash.zip'), 'w') as z:\n"
	"    z.writestr('a\\\\b.csv', b'1')\n"
	"zi = zipfile.ZipInfo('zlink'); zi.external_attr = (0o120777 << 16); zi.create_system = 3\n"
	"with zipfile.ZipFile(os.path.join(d, 'symlink.zip'), 'w') as z:\n"
	"    z.writestr(zi, '/etc/passwd')\n"
	"with zipfile.ZipFile(os.path.join(d, 'crc.zip'), 'w', zipfile.ZIP_STORED) as z:\n"
	"    z.writestr('a.csv', b'x,y\\n1,2\\n')\n"
	"b = bytearray(open(os.path.join(d, 'crc.zip'), 'rb').read())\n"
	"i = b.find(b'x,y'); b[i] = ord('z')\n"
	"open(os.path.join(d, 'crc.zip'), 'wb').write(bytes(b))\n"
	"payload = b'k,v\\n' + b''.join(b'%d,%d\\n' % (i, i * i) for i in range(20000))\n"
	"with open(os.path.join(d, 'named.csv.gz'), 'wb') as f:\n"
	"    with gzip.GzipFile('train.csv', 'wb', fileobj=f, mtime=0) as g: g.write(payload)\n"
	"open(os.path.join(d, 'payload.csv'), 'wb').write(payload)\n"
	"open(os.path.join(d, 'anon.gz'), 'wb').write(gzip.compress(payload, mtime=0))\n"
	"full = gzip.compress(payload, mtime=0)\n"
	"open(os.path.join(d, 'truncated.gz'), 'wb').write(full[: len(full) // 2])\n"
	"bad = bytearray(full); bad[len(bad) // 2] ^= 0xff; bad[len(bad) // 2 + 1] ^= 0x55\n"
	"open(os.path.join(d, 'corrupt.gz'), 'wb').write(bytes(bad))\n"
	"open(os.path.join(d, 'empty'), 'wb').close()\n"
	"open(os.path.join(d, 'garbage'), 'wb').write(b'this is not an archive at all\\n' * 100)\n"
	"import struct, zlib\n"
	"c = zlib.compressobj(9, zlib.DEFLATED, -15); body = c.compress(b'x') + c.flush()\n"
	"open(os.path.join(d, 'evil_name.gz'), 'wb').write(b'\\x1f\\x8b\\x08\\x08' + bytes(6) + b'../evil\\x00'\n"
	"    + body + struct.pack('<II', zlib.crc32(b'x'), 1))\n";

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/lathe-ingest-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	free(th_python_fixtures(dir, fixtures_py));
	snprintf(storedir, sizeof storedir, "%s/store", dir);
	struct core_error err;
	ck_assert_int_eq(blob_store_open(storedir, &store, &err), CORE_OK);
}

static void teardown(void)
{
	blob_store_close(store);
	th_rm_rf(dir);
}

/* Files in DIR/sub (one level, or two for objects/ab/key). */
static size_t count_files(const char *sub, bool fanout)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", storedir, sub);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (fanout) {
			char inner[400];
			snprintf(inner, sizeof inner, "%s/%s", sub, e->d_name);
			n += count_files(inner, false);
		} else {
			n++;
		}
	}
	closedir(d);
	return n;
}

static enum core_status unpack(const char *fixture, const char *type, const char *filename,
			       struct dr_manifest_file **files, size_t *n, struct core_error *err)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, fixture);
	struct dr_unpack_opts o = {.content_type = type, .filename = filename};
	return dr_unpack(store, path, &o, files, n, err);
}

/* Refused with CORE_EINVAL and a message holding needle; nothing left in tmp/, nothing
 * in the store when the bad entry came first. */
static void refused(const char *fixture, const char *type, const char *needle, bool store_empty)
{
	struct dr_manifest_file *files = (void *)1;
	size_t n = 7;
	struct core_error err = {{0}};
	enum core_status st = unpack(fixture, type, NULL, &files, &n, &err);
	ck_assert_msg(st == CORE_EINVAL, "%s: status %d (%s)", fixture, st, err.message);
	ck_assert_ptr_null(files);
	ck_assert_uint_eq(n, 0);
	ck_assert_msg(strstr(err.message, needle), "%s: '%s' lacks '%s'", fixture, err.message, needle);
	ck_assert_uint_eq(count_files("tmp", false), 0);
	if (store_empty)
		ck_assert_uint_eq(count_files("objects", true), 0);
}

static void sha_of(const void *data, size_t len, char out[65])
{
	ck_assert_int_eq(core_sha256_hex(data, len, out), CORE_OK);
}

/* The blob under key holds exactly want (len bytes). */
static void blob_holds(const char *key, const void *want, size_t len)
{
	int fd;
	uint64_t size;
	struct core_error err;
	ck_assert_int_eq(blob_open(store, key, &fd, &size, &err), CORE_OK);
	ck_assert_uint_eq(size, len);
	char *buf = malloc(len + 1);
	ck_assert_ptr_nonnull(buf);
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
	close(fd);
	ck_assert(memcmp(buf, want, len) == 0);
	free(buf);
}

/* The good archive's files, in manifest order. */
static void check_good(const char *fixture, const char *type)
{
	struct dr_manifest_file *files;
	size_t n;
	struct core_error err = {{0}};
	ck_assert_msg(unpack(fixture, type, NULL, &files, &n, &err) == CORE_OK, "%s: %s", fixture, err.message);
	ck_assert_uint_eq(n, 4);
	static uint8_t deep[256 * 1000];
	for (size_t i = 0; i < sizeof deep; i++)
		deep[i] = (uint8_t)(i % 256);
	const struct {
		const char *path;
		const void *data;
		size_t len;
	} want[] = {
		{"a/sub/deep.bin", deep, sizeof deep},
		{"a/x.csv", "p,q\n1,2\n", 8},
		{"b.txt", "hello\n", 6},
		{"c", "", 0},
	};
	for (size_t i = 0; i < n; i++) {
		char sha[65];
		sha_of(want[i].data, want[i].len, sha);
		ck_assert_str_eq(files[i].path, want[i].path);
		ck_assert_str_eq(files[i].sha256, sha);
		ck_assert_uint_eq(files[i].size, want[i].len);
		blob_holds(files[i].sha256, want[i].data, want[i].len);
	}
	ck_assert_uint_eq(count_files("objects", true), 4);
	ck_assert_uint_eq(count_files("tmp", false), 0);
	dr_manifest_free(files, n);
}

START_TEST(tar_unpacks_sorted_into_the_store)
{
	check_good("good.tar", "application/x-tar");
}
END_TEST

START_TEST(gzipped_tar_unpacks_under_every_name)
{
	check_good("good.tar.gz", "application/x-gtar");
	check_good("good.tar.gz", "application/x-tar; charset=binary");
	check_good("good.tar.gz", "Application/GZIP");
}
END_TEST

START_TEST(zip_unpacks)
{
	check_good("good.zip", "application/zip");
}
END_TEST

/* A single CSV body: "data.csv" or the given name; a single gzip: the header's name,
 * the given one, or "data"; stored decompressed. */
START_TEST(single_files_are_named)
{
	char path[128];
	snprintf(path, sizeof path, "%s/payload.csv", dir);
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	static char payload[400000];
	size_t len = fread(payload, 1, sizeof payload, f);
	fclose(f);
	ck_assert_uint_gt(len, 100000);
	char sha[65];
	sha_of(payload, len, sha);
	const struct {
		const char *fixture, *type, *filename, *want;
	} cases[] = {
		{"payload.csv", "text/csv", NULL, "data.csv"},
		{"payload.csv", "text/csv; charset=utf-8", "iris/iris.csv", "iris/iris.csv"},
		{"named.csv.gz", "application/gzip", NULL, "train.csv"},
		{"named.csv.gz", "application/x-gzip", "other.csv", "other.csv"},
		{"anon.gz", "application/gzip", NULL, "data"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dr_manifest_file *files;
		size_t n;
		struct core_error err = {{0}};
		ck_assert_msg(unpack(cases[i].fixture, cases[i].type, cases[i].filename, &files, &n, &err) == CORE_OK,
			      "%s: %s", cases[i].fixture, err.message);
		ck_assert_uint_eq(n, 1);
		ck_assert_str_eq(files[0].path, cases[i].want);
		ck_assert_str_eq(files[0].sha256, sha);
		ck_assert_uint_eq(files[0].size, len);
		dr_manifest_free(files, n);
	}
	blob_holds(sha, payload, len);
	ck_assert_uint_eq(count_files("objects", true), 1);
}
END_TEST

START_TEST(escaping_paths_are_refused)
{
	refused("inner_dotdot.tar", "application/x-tar", "'a/../../x' has a '..' segment", true);
	refused("absolute.tar", "application/x-tar", "'/etc/passwd' is absolute", true);
	refused("control.tar", "application/x-tar", "'a\\x09b.csv' holds a control character", true);
	refused("empty_segment.tar", "application/x-tar", "'a//b.csv' has an empty segment", true);
	refused("dot_segment.tar", "application/x-tar", "'a/./b.csv' has a '.' segment", true);
	refused("long.tar", "application/x-tar", "longer than 1024 bytes", true);
	refused("latin1.tar", "application/x-tar", "not valid UTF-8", true);
	refused("backslash.zip", "application/zip", "'a\\x5cb.csv' holds a backslash", true);
	refused("evil_name.gz", "application/gzip", "'../evil' has a '..' segment", true);
	/* the good file before the bad entry was stored: unreferenced, the collector's */
	refused("dotdot.tar", "application/x-tar", "'../x' has a '..' segment", false);
	ck_assert_uint_eq(count_files("objects", true), 1);
}
END_TEST

START_TEST(links_devices_and_fifos_are_refused)
{
	refused("symlink.tar", "application/x-tar", "entry 'link' is a symlink", true);
	refused("symlink.zip", "application/zip", "entry 'zlink' is a symlink", true);
	refused("hardlink.tar", "application/x-tar", "entry 'h' is a hard link", false);
	refused("device.tar", "application/x-tar", "entry 'dev' is a device", false);
	refused("fifo.tar", "application/x-tar", "entry 'fifo' is a FIFO", false);
}
END_TEST

START_TEST(duplicates_and_empty_uploads_are_refused)
{
	refused("empty", "text/csv", "the upload is empty", true);
	refused("empty", "application/zip", "the upload is empty", true);
	refused("empty.tar", "application/x-tar", "no files", true);
	refused("only_dirs.tar", "application/x-tar", "no files", true);
	refused("dup.tar", "application/x-tar", "duplicate path 'a.csv'", false);
}
END_TEST

START_TEST(corrupt_and_mislabelled_bodies_are_refused)
{
	refused("truncated.gz", "application/gzip", "corrupt archive at 'data': truncated gzip data", true);
	refused("corrupt.gz", "application/gzip", "corrupt archive at 'data': corrupt gzip data", true);
	refused("garbage", "application/x-tar", "corrupt archive", true);
	refused("garbage", "application/zip", "corrupt archive", true);
	refused("garbage", "application/gzip", "not gzip data", true);
	refused("payload.csv", "application/x-gtar", "corrupt archive", true);
	refused("good.zip", "application/x-tar", "corrupt archive", true);
	refused("good.tar", "application/zip", "corrupt archive", true);
	refused("crc.zip", "application/zip", "corrupt archive at 'a.csv'", false);
	refused("good.tar", "application/octet-stream", "unsupported Content-Type", true);
	ck_assert(!dr_unpack_media_ok("application/json"));
	ck_assert(!dr_unpack_media_ok(NULL));
	ck_assert(dr_unpack_media_ok(" text/CSV ; header=present"));
	/* a bad file name given by the client */
	struct dr_manifest_file *files;
	size_t n;
	struct core_error err = {{0}};
	ck_assert_int_eq(unpack("payload.csv", "text/csv", "../x.csv", &files, &n, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "'..' segment"));
	ck_assert_uint_eq(count_files("objects", true), 0); /* corrupt entries are never committed */
}
END_TEST

START_TEST(limits_answer_elimit)
{
	char path[128];
	snprintf(path, sizeof path, "%s/good.tar", dir);
	struct dr_manifest_file *files;
	size_t n;
	struct core_error err = {{0}};
	struct dr_unpack_opts o = {.content_type = "application/x-tar", .max_files = 3};
	ck_assert_int_eq(dr_unpack(store, path, &o, &files, &n, &err), CORE_ELIMIT);
	ck_assert_ptr_nonnull(strstr(err.message, "more than 3 files"));
	o = (struct dr_unpack_opts){.content_type = "application/x-tar", .max_bytes = 1000};
	ck_assert_int_eq(dr_unpack(store, path, &o, &files, &n, &err), CORE_ELIMIT);
	ck_assert_ptr_nonnull(strstr(err.message, "more than 1000 bytes"));
	ck_assert_uint_eq(count_files("tmp", false), 0);
	o.max_bytes = 256 * 1000 + 14;
	ck_assert_int_eq(dr_unpack(store, path, &o, &files, &n, &err), CORE_OK);
	dr_manifest_free(files, n);
}
END_TEST

START_TEST(path_rules)
{
	struct core_error err;
	const char *ok[] = {"a",   "a/b/c.csv", "caf\xc3\xa9/\xe2\x82\xac.png", "\xf0\x9f\x98\x80", ".hidden", "a/..b",
			    "...", "a b/c"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		ck_assert_msg(dr_path_check(ok[i], &err) == CORE_OK, "%s: %s", ok[i], err.message);
	const char *bad[] = {"",      "/a",   "a/",       "a//b",         ".",
			     "..",    "a/..", "./a",      "a\\b",         "a\x01",
			     "a\x7f", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
			     "\xff",  "a/./b"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(dr_path_check(bad[i], &err) == CORE_EINVAL, "'%s' was taken", bad[i]);
	ck_assert_int_eq(dr_path_check(NULL, &err), CORE_EINVAL);
	char longp[DR_PATH_MAX + 2];
	memset(longp, 'x', sizeof longp);
	longp[DR_PATH_MAX] = '\0';
	ck_assert_int_eq(dr_path_check(longp, &err), CORE_OK);
	longp[DR_PATH_MAX] = 'x';
	longp[DR_PATH_MAX + 1] = '\0';
	ck_assert_int_eq(dr_path_check(longp, &err), CORE_EINVAL);
}
END_TEST

START_TEST(manifest_sort_is_bytewise_and_refuses_duplicates)
{
	struct dr_manifest_file f[4] = {{.path = "b"}, {.path = "a-b"}, {.path = "a/b"}, {.path = "\xc3\xa9"}};
	struct core_error err;
	ck_assert_int_eq(dr_manifest_sort(f, 4, &err), CORE_OK);
	ck_assert_str_eq(f[0].path, "a-b");
	ck_assert_str_eq(f[1].path, "a/b");
	ck_assert_str_eq(f[2].path, "b");
	ck_assert_str_eq(f[3].path, "\xc3\xa9");
	f[2].path = "a/b";
	ck_assert_int_eq(dr_manifest_sort(f, 4, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "duplicate path 'a/b'");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("data-registry ingest");
	TCase *tc = tcase_create("unpack");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tar_unpacks_sorted_into_the_store);
	tcase_add_test(tc, gzipped_tar_unpacks_under_every_name);
	tcase_add_test(tc, zip_unpacks);
	tcase_add_test(tc, single_files_are_named);
	tcase_add_test(tc, escaping_paths_are_refused);
	tcase_add_test(tc, links_devices_and_fifos_are_refused);
	tcase_add_test(tc, duplicates_and_empty_uploads_are_refused);
	tcase_add_test(tc, corrupt_and_mislabelled_bodies_are_refused);
	tcase_add_test(tc, limits_answer_elimit);
	suite_add_tcase(s, tc);
	tc = tcase_create("paths");
	tcase_add_test(tc, path_rules);
	tcase_add_test(tc, manifest_sort_is_bytewise_and_refuses_duplicates);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
