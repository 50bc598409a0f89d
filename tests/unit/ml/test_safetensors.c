/* Unit tests of the safetensors writer and reader (libs/ml). The format is checked by
 * an independent reader: /usr/bin/python3 parses the header JSON and decodes the data
 * with numpy.frombuffer (the safetensors Python package is not in Debian), and a file
 * written by Python is read with ours. Bad headers are refused with a message. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ml/safetensors.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/lathe-ml-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static enum core_status write_fd(void *cls, const void *data, size_t n, struct core_error *err)
{
	int fd = *(int *)cls;
	if (write(fd, data, n) != (ssize_t)n)
		return core_fail(err, CORE_EIO, "short write");
	return CORE_OK;
}

/* Runs a Python script (given as text) with the arguments; returns its exit status. */
static int run_python(const char *script, const char *arg)
{
	char path[128], cmd[512];
	snprintf(path, sizeof path, "%s/check.py", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(script, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", path, arg);
	return system(cmd);
}

/* Writes x: F32 [3,1,2,2] with x[i] = i * 0.5 - 1, y: I64 [3] = {7, -1, 1<<40}, z: U8 [5],
 * in chunks of 3 bytes, and checks the layout from Python. */
START_TEST(written_file_reads_in_numpy)
{
	char path[128];
	snprintf(path, sizeof path, "%s/a.safetensors", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	struct ml_st_tensor t[3] = {
		{.name = "x", .dtype = ML_DTYPE_F32, .ndim = 4, .shape = {3, 1, 2, 2}},
		{.name = "y", .dtype = ML_DTYPE_I64, .ndim = 1, .shape = {3}},
		{.name = "z", .dtype = ML_DTYPE_U8, .ndim = 1, .shape = {5}},
	};
	struct ml_st_meta meta[2] = {{"classes", "[\"a\",\"b\"]"}, {"dataset", "d\xc3\xa9"}};
	struct ml_st_writer *w;
	struct core_error err;
	ck_assert_int_eq(ml_st_writer_begin(t, 3, meta, 2, write_fd, &fd, &w, &err), CORE_OK);
	uint64_t size = ml_st_writer_file_size(w);
	ck_assert_uint_eq(ml_st_writer_header_len(w) % 8, 0);
	unsigned char data[48 + 24 + 5];
	for (int i = 0; i < 12; i++) {
		float v = (float)i * 0.5f - 1;
		memcpy(data + 4 * i, &v, 4);
	}
	int64_t y[3] = {7, -1, (int64_t)1 << 40};
	memcpy(data + 48, y, 24);
	memcpy(data + 72, "\x00\x01\x02\xfe\xff", 5);
	for (size_t off = 0; off < sizeof data; off += 3) {
		size_t n = sizeof data - off < 3 ? sizeof data - off : 3;
		ck_assert_int_eq(ml_st_writer_write(w, data + off, n, &err), CORE_OK);
	}
	/* one byte too many is refused */
	ck_assert_int_eq(ml_st_writer_write(w, "x", 1, &err), CORE_EINVAL);
	ck_assert_int_eq(ml_st_writer_finish(w, &err), CORE_OK);
	close(fd);
	static const char script[] =
		"import json, struct, sys\n"
		"import numpy as np\n"
		"b = open(sys.argv[1], 'rb').read()\n"
		"n = struct.unpack('<Q', b[:8])[0]\n"
		"assert n % 8 == 0 and b[8:8+n].rstrip(b' ').endswith(b'}')\n"
		"h = json.loads(b[8:8+n])\n"
		"assert h['__metadata__'] == {'classes': '[\"a\",\"b\"]', 'dataset': 'd\\u00e9'}, h\n"
		"d = b[8+n:]\n"
		"def t(name, dt):\n"
		"    s, e = h[name]['data_offsets']\n"
		"    return np.frombuffer(d[s:e], dtype=dt).reshape(h[name]['shape'])\n"
		"assert h['x']['dtype'] == 'F32' and h['y']['dtype'] == 'I64' and h['z']['dtype'] == 'U8'\n"
		"x = t('x', '<f4')\n"
		"assert x.shape == (3, 1, 2, 2)\n"
		"assert np.array_equal(x.reshape(-1), np.arange(12, dtype=np.float32) * 0.5 - 1)\n"
		"assert t('y', '<i8').tolist() == [7, -1, 1 << 40]\n"
		"assert t('z', 'u1').tolist() == [0, 1, 2, 254, 255]\n"
		"assert h['z']['data_offsets'][1] == len(d)\n";
	ck_assert_int_eq(run_python(script, path), 0);
	/* and ours reads it back */
	fd = open(path, O_RDONLY);
	struct ml_st_header h;
	ck_assert_int_eq(ml_st_read_header(fd, &h, &err), CORE_OK);
	close(fd);
	ck_assert_uint_eq(h.data_start + 77, size);
	ck_assert_uint_eq(h.n_tensors, 3);
	const struct ml_st_tensor *x = ml_st_header_tensor(&h, "x");
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(x->ndim, 4);
	ck_assert_uint_eq(x->shape[0], 3);
	ck_assert_uint_eq(x->end, 48);
	ck_assert_str_eq(ml_st_header_meta(&h, "dataset"), "d\xc3\xa9");
	ck_assert_ptr_null(ml_st_header_meta(&h, "nope"));
	ml_st_header_free(&h);
}
END_TEST

/* A file Python writes (tensors listed out of data order, F64 and I32, a scalar, an
 * empty tensor, no metadata) parses with ours. */
START_TEST(python_written_file_parses)
{
	char path[128];
	snprintf(path, sizeof path, "%s/p.safetensors", dir);
	static const char script[] =
		"import json, struct, sys\n"
		"import numpy as np\n"
		"a = np.linspace(0, 1, 6, dtype='<f8').reshape(2, 3)\n"
		"b = np.array([1, 2, 3], dtype='<i4')\n"
		"c = np.array(5, dtype='<i8')\n"
		"e = np.zeros((0, 4), dtype='<f4')\n"
		"parts = [('b', 'I32', b), ('a', 'F64', a), ('c', 'I64', c), ('e', 'F32', e)]\n"
		"h = {}; off = 0; data = b''\n"
		"for name, dt, arr in parts:\n"
		"    raw = arr.tobytes()\n"
		"    h[name] = {'dtype': dt, 'shape': list(arr.shape), 'data_offsets': [off, off + len(raw)]}\n"
		"    off += len(raw); data += raw\n"
		"hj = json.dumps(dict(reversed(list(h.items())))).encode()\n"
		"hj += b' ' * (-len(hj) % 8)\n"
		"open(sys.argv[1], 'wb').write(struct.pack('<Q', len(hj)) + hj + data)\n";
	ck_assert_int_eq(run_python(script, path), 0);
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	struct ml_st_header h;
	struct core_error err;
	ck_assert_msg(ml_st_read_header(fd, &h, &err) == CORE_OK, "%s", err.message);
	ck_assert_uint_eq(h.n_tensors, 4);
	ck_assert_uint_eq(h.n_meta, 0);
	/* ordered by data */
	ck_assert_str_eq(h.tensors[0].name, "b");
	ck_assert_str_eq(h.tensors[1].name, "a");
	ck_assert_int_eq(h.tensors[1].dtype, ML_DTYPE_F64);
	ck_assert_uint_eq(h.tensors[1].shape[1], 3);
	ck_assert_uint_eq(h.tensors[2].ndim, 0);
	ck_assert_uint_eq(h.tensors[3].shape[0], 0);
	double a[6];
	ck_assert_int_eq(pread(fd, a, sizeof a, (off_t)(h.data_start + h.tensors[1].begin)), (ssize_t)sizeof a);
	ck_assert(a[5] == 1.0 && a[1] == 0.2);
	close(fd);
	ml_st_header_free(&h);
}
END_TEST

/* A header (as text) for a file with data_len data bytes: CORE_EINVAL expected. */
static void refused(const char *json, uint64_t data_len, const char *what)
{
	struct ml_st_header h;
	struct core_error err = {{0}};
	enum core_status rc = ml_st_parse_header(json, strlen(json), 8 + strlen(json) + data_len, &h, &err);
	ck_assert_msg(rc == CORE_EINVAL, "%s: accepted %s", what, json);
	ck_assert_msg(strstr(err.message, "safetensors") != NULL, "%s: message '%s'", what, err.message);
}

START_TEST(bad_headers_are_refused)
{
	refused("", 0, "empty");
	refused("[1]", 0, "array");
	refused("{\"x\":", 0, "truncated JSON");
	refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		"\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
		8, "duplicate key");
	refused("{\"x\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype");
	refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "size mismatch");
	refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "negative dim");
	refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "float dim");
	refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8, "extra field");
	refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "no offsets");
	refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "reversed offsets");
	refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16, "data left over");
	refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "past the file");
	refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		"\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
		20, "gap");
	refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		"\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
		12, "overlap");
	refused("{\"x\":{\"dtype\":\"U8\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]}}", 0,
		"overflowing shape");
	refused("{\"x\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, "too many dims");
	refused("{\"__metadata__\":{\"a\":1}}", 0, "non-string metadata");
	refused("{\"__metadata__\":[]}", 0, "metadata not an object");
	refused("{\"x\":[]}", 0, "tensor not an object");
	/* the smallest valid file: no tensors, no data */
	struct ml_st_header h;
	struct core_error err;
	ck_assert_int_eq(ml_st_parse_header("{}      ", 8, 16, &h, &err), CORE_OK);
	ml_st_header_free(&h);
}
END_TEST

static void write_raw(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

START_TEST(bad_lengths_are_refused)
{
	char path[128];
	snprintf(path, sizeof path, "%s/bad", dir);
	struct ml_st_header h;
	struct core_error err;
	/* shorter than the length field */
	write_raw(path, "\x02\x00\x00", 3);
	int fd = open(path, O_RDONLY);
	ck_assert_int_eq(ml_st_read_header(fd, &h, &err), CORE_EINVAL);
	close(fd);
	/* a length of 2^63: above the bound, never allocated */
	write_raw(path, "\x00\x00\x00\x00\x00\x00\x00\x80{}", 10);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(ml_st_read_header(fd, &h, &err), CORE_EINVAL);
	close(fd);
	/* a length past the end of the file */
	write_raw(path, "\x10\x00\x00\x00\x00\x00\x00\x00{}", 10);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(ml_st_read_header(fd, &h, &err), CORE_EINVAL);
	close(fd);
}
END_TEST

START_TEST(writer_refuses_bad_input)
{
	int fd = -1;
	struct ml_st_writer *w;
	struct core_error err;
	struct ml_st_tensor dup[2] = {{.name = "x", .dtype = ML_DTYPE_U8, .ndim = 1, .shape = {1}},
				      {.name = "x", .dtype = ML_DTYPE_U8, .ndim = 1, .shape = {1}}};
	ck_assert_int_eq(ml_st_writer_begin(dup, 2, NULL, 0, write_fd, &fd, &w, &err), CORE_EINVAL);
	ck_assert_ptr_null(w);
	struct ml_st_tensor meta_name = {.name = "__metadata__", .dtype = ML_DTYPE_U8, .ndim = 1, .shape = {1}};
	ck_assert_int_eq(ml_st_writer_begin(&meta_name, 1, NULL, 0, write_fd, &fd, &w, &err), CORE_EINVAL);
	struct ml_st_tensor huge = {.name = "h", .dtype = ML_DTYPE_F64, .ndim = 3, .shape = {1u << 30, 1u << 30, 64}};
	ck_assert_int_eq(ml_st_writer_begin(&huge, 1, NULL, 0, write_fd, &fd, &w, &err), CORE_EINVAL);
	/* an unfinished tensor is named at finish */
	char path[128];
	snprintf(path, sizeof path, "%s/short", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct ml_st_tensor two[2] = {{.name = "a", .dtype = ML_DTYPE_U8, .ndim = 1, .shape = {2}},
				      {.name = "b", .dtype = ML_DTYPE_U8, .ndim = 1, .shape = {2}}};
	ck_assert_int_eq(ml_st_writer_begin(two, 2, NULL, 0, write_fd, &fd, &w, &err), CORE_OK);
	ck_assert_int_eq(ml_st_writer_write(w, "abc", 3, &err), CORE_OK);
	ck_assert_int_eq(ml_st_writer_finish(w, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "'b'"));
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ml_safetensors");
	TCase *tc = tcase_create("safetensors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, written_file_reads_in_numpy);
	tcase_add_test(tc, python_written_file_parses);
	tcase_add_test(tc, bad_headers_are_refused);
	tcase_add_test(tc, bad_lengths_are_refused);
	tcase_add_test(tc, writer_refuses_bad_input);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
