/* Unit tests of the model package (libs/ml ml/package.h). A package we write reads back
 * with the same parameter bytes and the same predictions (plus the softmax a
 * classification package records); packages made elsewhere read and predict as their
 * makers do: one made with PyTorch (tests/unit/ml/torch_package, written by
 * gen_torch_package.py and committed, so no torch import slows the test) must give
 * torch's outputs to 1e-4, and one whose F64 weights numpy writes here must give numpy's
 * forward pass. Broken packages (bad JSON, unknown layer or field, a tensor missing,
 * extra or misshapen, a truncated weights file) are refused with CORE_EINVAL naming the
 * problem. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ml/package.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/lathe-pkg-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *buf = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

static struct ml_net *make_net(const struct ml_layer_spec *l, size_t n, struct ml_shape in, uint64_t seed)
{
	struct ml_net *net;
	struct core_error err;
	ck_assert_msg(ml_net_new(l, n, in, &net, &err) == CORE_OK, "%s", err.message);
	ml_net_init(net, seed);
	return net;
}

/* An MLP classifier over 1x4x4 inputs, its logits turned into probabilities by the
 * package's softmax. */
static const struct ml_layer_spec mlp[] = {
	{.kind = ML_FLATTEN},
	{.kind = ML_DENSE, .units = 16},
	{.kind = ML_RELU},
	{.kind = ML_DROPOUT, .rate = 0.25f},
	{.kind = ML_DENSE, .units = 3},
};

static void write_mlp_package(const char *where)
{
	struct ml_package p = {.task = "classification"};
	p.net = make_net(mlp, 5, (struct ml_shape){1, 4, 4}, 7);
	p.class_names = json_pack("[s,s,s]", "ant", "bee", "cat");
	p.preprocessing = json_pack("{s:s, s:[i,i], s:i, s:s}", "kind", "image", "size", 4, 4, "channels", 1,
				    "normalize", "unit");
	p.dataset = strdup("bugs@0123abcd");
	p.metrics = json_pack("{s:f, s:f}", "accuracy", 0.875, "log_loss", 0.3125);
	struct core_error err;
	ck_assert_msg(ml_package_write(&p, where, &err) == CORE_OK, "%s", err.message);
	ml_package_free(&p);
}

START_TEST(write_read_roundtrip)
{
	char pkg[128], again[128];
	snprintf(pkg, sizeof pkg, "%s/a/b", dir); /* parents are made */
	struct ml_package orig = {.task = "classification"};
	orig.net = make_net(mlp, 5, (struct ml_shape){1, 4, 4}, 7);
	write_mlp_package(pkg);

	struct ml_package p;
	struct core_error err;
	ck_assert_msg(ml_package_read(pkg, &p, &err) == CORE_OK, "%s", err.message);
	ck_assert_str_eq(p.task, "classification");
	ck_assert_str_eq(p.dataset, "bugs@0123abcd");
	ck_assert_int_eq(json_array_size(p.class_names), 3);
	ck_assert_str_eq(json_string_value(json_array_get(p.class_names, 2)), "cat");
	ck_assert_str_eq(json_string_value(json_object_get(p.preprocessing, "normalize")), "unit");
	ck_assert(json_real_value(json_object_get(p.metrics, "accuracy")) == 0.875);
	/* the softmax the package records */
	ck_assert_uint_eq(ml_net_n_layers(p.net), 6);
	ck_assert_int_eq(ml_net_layer(p.net, 5)->kind, ML_SOFTMAX);
	ck_assert_int_eq(ml_net_layer(p.net, 3)->kind, ML_DROPOUT);
	ck_assert(ml_net_layer(p.net, 3)->rate == 0.25f);
	struct ml_shape in = ml_net_input(p.net);
	ck_assert(in.c == 1 && in.h == 4 && in.w == 4);

	/* identical parameter bytes */
	ck_assert_uint_eq(ml_net_n_params(p.net), ml_net_n_params(orig.net));
	for (size_t i = 0; i < ml_net_n_params(p.net); i++) {
		struct ml_param a, b;
		ml_net_param(orig.net, i, &a);
		ml_net_param(p.net, i, &b);
		ck_assert_str_eq(a.name, b.name);
		ck_assert_uint_eq(a.n, b.n);
		ck_assert_int_eq(memcmp(a.data, b.data, a.n * sizeof(float)), 0);
	}
	/* predictions: softmax of the original's logits */
	float x[6 * 16], logits[6 * 3], probs[6 * 3];
	for (int i = 0; i < 6 * 16; i++)
		x[i] = (float)sin(i * 0.37) * 2;
	ck_assert_int_eq(ml_net_predict(orig.net, x, 6, logits, &err), CORE_OK);
	ck_assert_int_eq(ml_net_predict(p.net, x, 6, probs, &err), CORE_OK);
	for (int i = 0; i < 6; i++) {
		double mx = fmax(logits[i * 3], fmax(logits[i * 3 + 1], logits[i * 3 + 2])), s = 0;
		for (int j = 0; j < 3; j++)
			s += exp(logits[i * 3 + j] - mx);
		for (int j = 0; j < 3; j++)
			ck_assert_double_eq_tol(probs[i * 3 + j], exp(logits[i * 3 + j] - mx) / s, 1e-6);
	}

	/* a classifier's model.json that ends with logits (as hand-made ones may) reads
	 * with the softmax added: the same net */
	char path[256];
	snprintf(path, sizeof path, "%s/%s", pkg, ML_PACKAGE_MODEL_JSON);
	const char *logits_json =
		"{\"format_version\": 1, \"task\": \"classification\", \"input\": {\"shape\": [1, 4, 4]}, "
		"\"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 16}, {\"type\": "
		"\"relu\"}, {\"type\": \"dropout\"}, {\"type\": \"dense\", \"units\": 3}]}";
	size_t mlen;
	char *model_text = slurp(path, &mlen);
	spit(path, logits_json, strlen(logits_json));
	struct ml_package q;
	ck_assert_msg(ml_package_read(pkg, &q, &err) == CORE_OK, "%s", err.message);
	ck_assert_uint_eq(ml_net_n_layers(q.net), 6);
	ck_assert_ptr_null(q.class_names);
	float probs2[6 * 3];
	ck_assert_int_eq(ml_net_predict(q.net, x, 6, probs2, &err), CORE_OK);
	ck_assert_int_eq(memcmp(probs, probs2, sizeof probs), 0);
	ml_package_free(&q);
	spit(path, model_text, mlen);
	free(model_text);

	/* writing what was read gives the same two files, byte for byte (the softmax is
	 * not appended twice) */
	snprintf(again, sizeof again, "%s/again", dir);
	ck_assert_int_eq(ml_package_write(&p, again, &err), CORE_OK);
	const char *files[2] = {ML_PACKAGE_MODEL_JSON, ML_PACKAGE_WEIGHTS};
	for (int f = 0; f < 2; f++) {
		char pa[256], pb[256];
		size_t la, lb;
		snprintf(pa, sizeof pa, "%s/%s", pkg, files[f]);
		snprintf(pb, sizeof pb, "%s/%s", again, files[f]);
		char *a = slurp(pa, &la), *b = slurp(pb, &lb);
		ck_assert_uint_eq(la, lb);
		ck_assert_msg(memcmp(a, b, la) == 0, "%s differs", files[f]);
		free(a);
		free(b);
	}
	ml_package_free(&p);
	ml_package_free(&p);
	ml_package_free(&orig);
}
END_TEST

/* A CNN regressor: conv (stride, padding), pool, implicit flatten; no softmax added,
 * no class names. */
START_TEST(cnn_regression_roundtrip)
{
	struct ml_layer_spec cnn[] = {
		{.kind = ML_CONV2D, .filters = 3, .kernel = 3, .stride = 2, .padding = 1},
		{.kind = ML_RELU},
		{.kind = ML_MAXPOOL, .pool = 2},
		{.kind = ML_DENSE, .units = 2},
	};
	struct ml_package p = {.task = "regression"}, q;
	p.net = make_net(cnn, 4, (struct ml_shape){2, 9, 9}, 3);
	struct core_error err;
	ck_assert_msg(ml_package_write(&p, dir, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(ml_package_read(dir, &q, &err) == CORE_OK, "%s", err.message);
	ck_assert_str_eq(q.task, "regression");
	ck_assert_ptr_null(q.class_names);
	ck_assert_ptr_null(q.dataset);
	ck_assert_ptr_null(q.metrics);
	ck_assert_uint_eq(ml_net_n_layers(q.net), 4);
	ck_assert_int_eq(ml_net_layer(q.net, 2)->pool_stride, 2);
	float x[3 * 162], a[6], b[6];
	for (int i = 0; i < 3 * 162; i++)
		x[i] = (float)cos(i * 0.11);
	ck_assert_int_eq(ml_net_predict(p.net, x, 3, a, &err), CORE_OK);
	ck_assert_int_eq(ml_net_predict(q.net, x, 3, b, &err), CORE_OK);
	ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
	ml_package_free(&p);
	ml_package_free(&q);

	/* a package that is not one is not written */
	struct ml_package bad = {.task = "clustering"};
	ck_assert_int_eq(ml_package_write(&bad, dir, &err), CORE_EINVAL);
	bad = (struct ml_package){.task = "regression", .net = make_net(cnn, 4, (struct ml_shape){2, 9, 9}, 3)};
	bad.class_names = json_pack("[s,s]", "a", "b");
	ck_assert_int_eq(ml_package_write(&bad, dir, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "class_names"));
	ml_package_free(&bad);
}
END_TEST

START_TEST(reads_pytorch_package)
{
	const char *root = getenv("LATHE_ROOT");
	char pkg[512], path[600];
	snprintf(pkg, sizeof pkg, "%s/tests/unit/ml/torch_package", root && *root ? root : ".");
	struct ml_package p;
	struct core_error err;
	ck_assert_msg(ml_package_read(pkg, &p, &err) == CORE_OK, "%s", err.message);
	ck_assert_uint_eq(ml_net_n_outputs(p.net), 5);
	ck_assert_str_eq(json_string_value(json_array_get(p.class_names, 4)), "eel");
	size_t lx, ly;
	snprintf(path, sizeof path, "%s/x.bin", pkg);
	float *x = (float *)slurp(path, &lx);
	snprintf(path, sizeof path, "%s/expected.bin", pkg);
	float *want = (float *)slurp(path, &ly);
	ck_assert_uint_eq(lx, 7 * 2 * 8 * 8 * sizeof(float));
	ck_assert_uint_eq(ly, 7 * 5 * sizeof(float));
	float got[7 * 5];
	ck_assert_int_eq(ml_net_predict(p.net, x, 7, got, &err), CORE_OK);
	for (int i = 0; i < 7 * 5; i++)
		ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-4f, "output %d: %g, torch %g", i, (double)got[i],
			      (double)want[i]);
	free(x);
	free(want);
	ml_package_free(&p);
}
END_TEST

/* numpy writes an F64 safetensors of a tabular MLP (input shape [5]) and its own
 * forward pass; ours must agree. */
static const char numpy_script[] =
	"import json, struct, sys\n"
	"import numpy as np\n"
	"d = sys.argv[1]\n"
	"rng = np.random.default_rng(5)\n"
	"w0, b0 = rng.normal(size=(6, 5)), rng.normal(size=6)\n"
	"w2, b2 = rng.normal(size=(2, 6)), rng.normal(size=2)\n"
	"tensors = [('0.weight', w0), ('0.bias', b0), ('2.weight', w2), ('2.bias', b2)]\n"
	"h, blobs, off = {}, [], 0\n"
	"for name, t in tensors:\n"
	"    data = t.astype('<f8').tobytes()\n"
	"    h[name] = {'dtype': 'F64', 'shape': list(t.shape), 'data_offsets': [off, off + len(data)]}\n"
	"    blobs.append(data); off += len(data)\n"
	"text = json.dumps(h).encode()\n"
	"open(d + '/weights.safetensors', 'wb').write(struct.pack('<Q', len(text)) + text + b''.join(blobs))\n"
	"m = {'format_version': 1, 'task': 'regression', 'input': {'shape': [5]},\n"
	"     'layers': [{'type': 'dense', 'units': 6}, {'type': 'relu'}, {'type': 'dense', 'units': 2}]}\n"
	"json.dump(m, open(d + '/model.json', 'w'))\n"
	"x = rng.normal(size=(4, 5)).astype(np.float32)\n"
	"w0, b0, w2, b2 = (t.astype(np.float32) for t in (w0, b0, w2, b2))\n"
	"y = np.maximum(x @ w0.T + b0, 0) @ w2.T + b2\n"
	"x.tofile(d + '/x.bin'); y.astype(np.float32).tofile(d + '/y.bin')\n";

START_TEST(reads_numpy_f64_package)
{
	char path[256], cmd[512];
	snprintf(path, sizeof path, "%s/gen.py", dir);
	spit(path, numpy_script, strlen(numpy_script));
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", path, dir);
	ck_assert_int_eq(system(cmd), 0);
	struct ml_package p;
	struct core_error err;
	ck_assert_msg(ml_package_read(dir, &p, &err) == CORE_OK, "%s", err.message);
	struct ml_shape in = ml_net_input(p.net);
	ck_assert(in.c == 5 && in.h == 1 && in.w == 1);
	size_t lx, ly;
	snprintf(path, sizeof path, "%s/x.bin", dir);
	float *x = (float *)slurp(path, &lx);
	snprintf(path, sizeof path, "%s/y.bin", dir);
	float *want = (float *)slurp(path, &ly);
	ck_assert_uint_eq(ly, 8 * sizeof(float));
	float got[8];
	ck_assert_int_eq(ml_net_predict(p.net, x, 4, got, &err), CORE_OK);
	for (int i = 0; i < 8; i++)
		ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-4f, "output %d: %g, numpy %g", i, (double)got[i],
			      (double)want[i]);
	free(x);
	free(want);
	ml_package_free(&p);
}
END_TEST

/* Writes the MLP package, then replaces model.json with text, and expects read to fail
 * with status and a message containing want. */
static void expect_bad_model(const char *text, enum core_status status, const char *want)
{
	char pkg[128], path[256];
	snprintf(pkg, sizeof pkg, "%s/bad", dir);
	write_mlp_package(pkg);
	snprintf(path, sizeof path, "%s/%s", pkg, ML_PACKAGE_MODEL_JSON);
	spit(path, text, strlen(text));
	struct ml_package p;
	struct core_error err = {{0}};
	ck_assert_int_eq(ml_package_read(pkg, &p, &err), status);
	ck_assert_msg(strstr(err.message, want) != NULL, "message '%s' lacks '%s'", err.message, want);
	ck_assert_ptr_null(p.net);
	ck_assert_ptr_null(p.class_names);
}

#define HEAD "{\"format_version\": 1, \"task\": \"classification\", \"input\": {\"shape\": [1, 4, 4]}, "

START_TEST(bad_packages_are_refused)
{
	/* the good one, for reference */
	expect_bad_model(HEAD "\"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 16}, {\"type\": "
			      "\"relu\"}, {\"type\": \"dropout\"}, {\"type\": \"dense\", \"units\": 3}], \"x\": {",
			 CORE_EINVAL, "model.json: not JSON");
	expect_bad_model(HEAD "\"layers\": [{\"type\": \"flatten\"}, {\"type\": \"lstm\", \"units\": 16}]}",
			 CORE_EINVAL, "layers[1]: unknown layer type 'lstm'");
	expect_bad_model(HEAD "\"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 16, "
			      "\"activation\": \"relu\"}]}",
			 CORE_EINVAL, "layers[1] (dense): unknown field 'activation'");
	/* 17 units where the weights have 16 */
	expect_bad_model(HEAD "\"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 17}, {\"type\": "
			      "\"relu\"}, {\"type\": \"dropout\"}, {\"type\": \"dense\", \"units\": 3}]}",
			 CORE_EINVAL, "tensor '1.weight' has shape [16, 16], layer 1 (dense) needs [17, 16]");
	/* one dense layer more than the weights have */
	expect_bad_model(HEAD "\"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 16}, {\"type\": "
			      "\"relu\"}, {\"type\": \"dropout\"}, {\"type\": \"dense\", \"units\": 3}, {\"type\": "
			      "\"dense\", \"units\": 3}]}",
			 CORE_EINVAL, "tensor '5.weight' is missing");
	/* one fewer: the weights hold a tensor no layer has */
	expect_bad_model(HEAD "\"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 16}, {\"type\": "
			      "\"relu\"}, {\"type\": \"dropout\"}, {\"type\": \"relu\"}]}",
			 CORE_EINVAL, "tensor '4.weight' is not a parameter");
	/* layers that do not fit their input: ml_net_new's message */
	expect_bad_model(HEAD "\"layers\": [{\"type\": \"conv2d\", \"filters\": 2, \"kernel\": 5}]}", CORE_EINVAL,
			 "layer 0 (conv2d): kernel 5 is larger than its 4x4 input");
	expect_bad_model(HEAD "\"layers\": [{\"type\": \"dense\"}]}", CORE_EINVAL,
			 "layers[0] (dense): 'units' is missing");
	expect_bad_model(HEAD "\"layers\": []}", CORE_EINVAL, "layers must be a non-empty array");
	expect_bad_model("{\"format_version\": 2, \"task\": \"classification\"}", CORE_EINVAL, "format_version");
	expect_bad_model("{\"format_version\": 1, \"task\": \"clustering\"}", CORE_EINVAL, "task");
	expect_bad_model("[1, 2]", CORE_EINVAL, "not a JSON object");
	expect_bad_model(HEAD "\"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 16}, {\"type\": "
			      "\"relu\"}, {\"type\": \"dropout\"}, {\"type\": \"dense\", \"units\": 3}], "
			      "\"output\": {\"shape\": [4]}}",
			 CORE_EINVAL, "output.shape must be [3]");
	expect_bad_model(HEAD "\"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 16}, {\"type\": "
			      "\"relu\"}, {\"type\": \"dropout\"}, {\"type\": \"dense\", \"units\": 3}], "
			      "\"class_names\": [\"a\", \"b\"]}",
			 CORE_EINVAL, "class_names must be 3 strings");
	expect_bad_model("{\"format_version\": 1, \"task\": \"regression\", \"input\": {\"shape\": [1, 4]}, "
			 "\"layers\": [{\"type\": \"relu\"}]}",
			 CORE_EINVAL, "input.shape");

	/* the weights file: missing, truncated, not safetensors, wrong dtype */
	char pkg[128], path[256];
	snprintf(pkg, sizeof pkg, "%s/w", dir);
	write_mlp_package(pkg);
	snprintf(path, sizeof path, "%s/%s", pkg, ML_PACKAGE_WEIGHTS);
	size_t len;
	char *w = slurp(path, &len);
	struct ml_package p;
	struct core_error err;
	spit(path, w, len - 4);
	ck_assert_int_eq(ml_package_read(pkg, &p, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "weights.safetensors"));
	spit(path, "not a safetensors file", 22);
	ck_assert_int_eq(ml_package_read(pkg, &p, &err), CORE_EINVAL);
	char *f32 = strstr(w + 8, "\"F32\""); /* the first tensor made I32: same size, wrong type */
	ck_assert_ptr_nonnull(f32);
	f32[1] = 'I';
	spit(path, w, len);
	ck_assert_int_eq(ml_package_read(pkg, &p, &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "is I32, not F32 or F64") != NULL, "%s", err.message);
	unlink(path);
	ck_assert_int_eq(ml_package_read(pkg, &p, &err), CORE_ENOENT);
	free(w);
	snprintf(path, sizeof path, "%s/nowhere", dir);
	ck_assert_int_eq(ml_package_read(path, &p, &err), CORE_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.message, "model.json"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ml_package");
	TCase *tc = tcase_create("package");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, write_read_roundtrip);
	tcase_add_test(tc, cnn_regression_roundtrip);
	tcase_add_test(tc, reads_pytorch_package);
	tcase_add_test(tc, reads_numpy_f64_package);
	tcase_add_test(tc, bad_packages_are_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
