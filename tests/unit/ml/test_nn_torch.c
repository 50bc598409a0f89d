/* libs/ml against PyTorch, when Debian's /usr/bin/python3 has torch (python3-torch; the
 * test says "skipped" and passes when it has not): a small conv net with every layer
 * kind (conv2d with padding and with stride, relu, maxpool, tanh, flatten, dense,
 * sigmoid, dropout, softmax) is initialised by us, its weights, a batch of inputs, our
 * outputs, and our weights after three full-batch Adam steps (cross-entropy on the
 * logits of the same net without its softmax) are written with our safetensors writer;
 * a Python script reads them with numpy (the safetensors package is not in Debian), loads
 * the weights into the same nn.Sequential (state_dict names are ours), and compares
 * its forward pass (to 1e-4) and its torch.optim.Adam steps (to 1e-4). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ml/nn.h"
#include "ml/safetensors.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/lathe-nn-torch-XXXXXX");
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
	if (write(*(int *)cls, data, n) != (ssize_t)n)
		return core_fail(err, CORE_EIO, "short write");
	return CORE_OK;
}

struct blob {
	const char *name;
	int ndim;
	int64_t shape[4];
	const float *data;
	size_t n;
};

static void write_tensors(const char *path, const struct blob *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	struct ml_st_tensor t[32];
	ck_assert_uint_le(n, 32);
	for (size_t i = 0; i < n; i++) {
		t[i] = (struct ml_st_tensor){
			.name = (char *)b[i].name, .dtype = ML_DTYPE_F32, .ndim = (size_t)b[i].ndim};
		for (int d = 0; d < b[i].ndim; d++)
			t[i].shape[d] = (uint64_t)b[i].shape[d];
	}
	struct ml_st_writer *w;
	struct core_error err;
	ck_assert_int_eq(ml_st_writer_begin(t, n, NULL, 0, write_fd, &fd, &w, &err), CORE_OK);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(ml_st_writer_write(w, b[i].data, b[i].n * sizeof(float), &err), CORE_OK);
	ck_assert_int_eq(ml_st_writer_finish(w, &err), CORE_OK);
	close(fd);
}

/* Weights of net as blobs, names prefixed (prefix "" or "after."); names kept in store. */
static size_t param_blobs(struct ml_net *net, const char *prefix, struct blob *out, char names[][48], float **copies)
{
	size_t n = ml_net_n_params(net);
	for (size_t i = 0; i < n; i++) {
		struct ml_param p;
		ml_net_param(net, i, &p);
		snprintf(names[i], 48, "%s%s", prefix, p.name);
		copies[i] = malloc(p.n * sizeof(float));
		memcpy(copies[i], p.data, p.n * sizeof(float));
		out[i] = (struct blob){
			names[i], p.ndim, {p.shape[0], p.shape[1], p.shape[2], p.shape[3]}, copies[i], p.n};
	}
	return n;
}

static const char script[] =
	"import json, struct, sys\n"
	"import numpy as np\n"
	"try:\n"
	"    import torch\n"
	"    from torch import nn\n"
	"except ImportError:\n"
	"    sys.exit(77)\n"
	"def read(path):\n"
	"    b = open(path, 'rb').read()\n"
	"    n = struct.unpack('<Q', b[:8])[0]\n"
	"    h = json.loads(b[8:8 + n])\n"
	"    h.pop('__metadata__', None)\n"
	"    return {k: torch.from_numpy(np.frombuffer(b, np.float32, (v['data_offsets'][1] - v['data_offsets'][0]) // "
	"4,\n"
	"            8 + n + v['data_offsets'][0]).reshape(v['shape']).copy()) for k, v in h.items()}\n"
	"t = read(sys.argv[1])\n"
	"def net(softmax):\n"
	"    layers = [nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 3, 3, stride=2, "
	"padding=1),\n"
	"              nn.Tanh(), nn.Flatten(), nn.Linear(12, 6), nn.Sigmoid(), nn.Dropout(0.5), nn.Linear(6, 3)]\n"
	"    return nn.Sequential(*(layers + [nn.Softmax(dim=1)] if softmax else layers))\n"
	"m = net(True)\n"
	"m.load_state_dict({k: v for k, v in t.items() if k[0].isdigit()})\n"
	"m.eval()\n"
	"with torch.no_grad():\n"
	"    y = m(t['x'])\n"
	"d = (y - t['y']).abs().max().item()\n"
	"print('forward max abs difference %g' % d)\n"
	"ok = d <= 1e-4\n"
	"m = net(False)\n"
	"m.load_state_dict({k: v for k, v in t.items() if k[0].isdigit()})\n"
	"m.train()\n"
	"for mod in m:\n"
	"    if isinstance(mod, nn.Dropout): mod.p = 0.0\n"
	"opt = torch.optim.Adam(m.parameters(), lr=0.01)\n"
	"labels = t['labels'].long()\n"
	"for _ in range(3):\n"
	"    opt.zero_grad()\n"
	"    nn.functional.cross_entropy(m(t['x']), labels).backward()\n"
	"    opt.step()\n"
	"w = 0.0\n"
	"for k, v in m.state_dict().items():\n"
	"    w = max(w, (v - t['after.' + k]).abs().max().item())\n"
	"print('after 3 Adam steps: max abs weight difference %g' % w)\n"
	"ok = ok and w <= 1e-4\n"
	"sys.exit(0 if ok else 1)\n";

START_TEST(matches_pytorch)
{
	/* the same layers as the script's nn.Sequential, index for index; dropout is the
	 * identity in inference, and rate 0 for the training steps (masks are not comparable) */
	struct ml_layer_spec l[] = {
		{.kind = ML_CONV2D, .filters = 4, .kernel = 3, .padding = 1},
		{.kind = ML_RELU},
		{.kind = ML_MAXPOOL, .pool = 2},
		{.kind = ML_CONV2D, .filters = 3, .kernel = 3, .stride = 2, .padding = 1},
		{.kind = ML_TANH},
		{.kind = ML_FLATTEN},
		{.kind = ML_DENSE, .units = 6},
		{.kind = ML_SIGMOID},
		{.kind = ML_DROPOUT, .rate = 0.5f},
		{.kind = ML_DENSE, .units = 3},
		{.kind = ML_SOFTMAX},
	};
	enum { B = 5, IN = 2 * 8 * 8 };
	struct ml_shape in = {2, 8, 8};
	struct ml_net *net, *train_net;
	struct core_error err;
	ck_assert_int_eq(ml_net_new(l, 11, in, &net, &err), CORE_OK);
	ml_net_init(net, 42);
	l[8].rate = 0;
	ck_assert_int_eq(ml_net_new(l, 10, in, &train_net, &err), CORE_OK); /* logits: no softmax */
	ck_assert_uint_eq(ml_net_n_params(train_net), ml_net_n_params(net));
	for (size_t i = 0; i < ml_net_n_params(net); i++) {
		struct ml_param a, b;
		ml_net_param(net, i, &a);
		ml_net_param(train_net, i, &b);
		memcpy(b.data, a.data, a.n * sizeof(float));
	}
	static float x[B * IN], y[B * 3], labels[B];
	int64_t ylab[B];
	for (int i = 0; i < B * IN; i++)
		x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
	for (int i = 0; i < B; i++) {
		ylab[i] = i % 3;
		labels[i] = (float)ylab[i];
	}
	ck_assert_int_eq(ml_net_predict(net, x, B, y, &err), CORE_OK);
	struct ml_train_cfg cfg = {
		.loss = ML_LOSS_SOFTMAX_CE, .optim = {.kind = ML_OPT_ADAM, .lr = 0.01f}, .batch_size = B, .seed = 1};
	struct ml_trainer *t;
	ck_assert_int_eq(ml_trainer_new(train_net, &cfg, &t, &err), CORE_OK);
	struct ml_data d = {.x = x, .y = ylab, .n = B, .shape = in};
	for (int s = 0; s < 3; s++)
		ck_assert_int_eq(ml_trainer_epoch(t, &d, NULL, NULL, NULL, NULL, &err), CORE_OK);

	struct blob blobs[32];
	char names[32][48];
	float *copies[32];
	size_t n = param_blobs(net, "", blobs, names, copies);
	size_t m = param_blobs(train_net, "after.", blobs + n, names + n, copies + n);
	blobs[n + m] = (struct blob){"x", 4, {B, 2, 8, 8}, x, B * IN};
	blobs[n + m + 1] = (struct blob){"y", 2, {B, 3}, y, B * 3};
	blobs[n + m + 2] = (struct blob){"labels", 1, {B}, labels, B};
	char path[128], spath[128], cmd[512];
	snprintf(path, sizeof path, "%s/net.safetensors", dir);
	write_tensors(path, blobs, n + m + 3);
	snprintf(spath, sizeof spath, "%s/check.py", dir);
	FILE *f = fopen(spath, "w");
	ck_assert_ptr_nonnull(f);
	fputs(script, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 /usr/bin/python3 %s %s", spath, path);
	int rc = system(cmd);
	ck_assert(WIFEXITED(rc));
	if (WEXITSTATUS(rc) == 77)
		printf("test_nn_torch: skipped: /usr/bin/python3 has no torch (make deps installs python3-torch)\n");
	else
		ck_assert_msg(WEXITSTATUS(rc) == 0, "PyTorch disagrees (its lines above)");
	for (size_t i = 0; i < n + m; i++)
		free(copies[i]);
	ml_trainer_free(t);
	ml_net_free(train_net);
	ml_net_free(net);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ml_nn_torch");
	TCase *tc = tcase_create("torch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, matches_pytorch);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
