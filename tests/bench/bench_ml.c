/* Benchmark of libs/ml's training (issue 10's `make bench` part; tests/bench/bench_ml.sh
 * runs it beside the same models in PyTorch, bench_ml_torch.py, and scikit-learn,
 * bench_ml_sklearn.py, and prints the table). Fashion-MNIST from Debian's
 * dataset-fashion-mnist (the IDX files, gzip), pixels / 255, read before any clock
 * starts. Adam lr 1e-3, batch 128, seed 1, one BLAS thread unless OPENBLAS_NUM_THREADS
 * says otherwise:
 *   mlp     784-256(relu)-10, 10 epochs
 *   cnn     conv3x3(32, pad 1)-relu-pool2-conv3x3(64, pad 1)-relu-pool2-dense(128)-relu-
 *           dense(10), 3 epochs
 *   logreg  multinomial logistic regression: dense(10) on the pixels, softmax
 *           cross-entropy, Adam lr 1e-3, batch 128 (LATHE_BENCH_ML_LOGREG_EPOCHS, 10)
 * Prints one line per model:
 *   bench: ml lathe <model> epochs=E s_per_epoch=S seconds=T test_acc=A
 * Timed: the epochs (shuffle, batch gathering, forward, backward, optimiser); not timed:
 * loading, initialisation, the test-set evaluation.
 *
 *   build/release/tests/bench/bench_ml [DATA_DIR] [mlp|cnn|logreg|all]
 *   LATHE_BENCH_ML_EPOCHS=N       overrides every model's epochs (a quick try) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include "ml/nn.h"

static double bm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads a gzipped IDX file; returns the bytes after the header (n items) or NULL. */
static unsigned char *bm_idx(const char *dir, const char *name, size_t header, size_t item, size_t *n)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	gzFile f = gzopen(path, "rb");
	if (!f)
		return NULL;
	unsigned char h[16];
	if (gzread(f, h, (unsigned)header) != (int)header) {
		gzclose(f);
		return NULL;
	}
	*n = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
	unsigned char *d = malloc(*n * item);
	size_t got = 0;
	while (d && got < *n * item) {
		int r = gzread(f, d + got, (unsigned)(*n * item - got));
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	gzclose(f);
	if (!d || got != *n * item) {
		free(d);
		return NULL;
	}
	return d;
}

struct bm_set {
	float *x;
	int64_t *y;
	size_t n;
};

static int bm_load(const char *dir, const char *part, struct bm_set *s)
{
	char img[64], lab[64];
	snprintf(img, sizeof img, "%s-images-idx3-ubyte.gz", part);
	snprintf(lab, sizeof lab, "%s-labels-idx1-ubyte.gz", part);
	size_t ni, nl;
	unsigned char *px = bm_idx(dir, img, 16, 784, &ni), *lb = bm_idx(dir, lab, 8, 1, &nl);
	if (!px || !lb || ni != nl) {
		free(px);
		free(lb);
		return -1;
	}
	s->n = ni;
	s->x = malloc(ni * 784 * sizeof(float));
	s->y = malloc(ni * sizeof(int64_t));
	for (size_t i = 0; i < ni * 784; i++)
		s->x[i] = (float)px[i] / 255.0f;
	for (size_t i = 0; i < ni; i++)
		s->y[i] = lb[i];
	free(px);
	free(lb);
	return 0;
}

/* The integer in environment variable name, or def when unset or not a positive number. */
static int bm_env_int(const char *name, int def)
{
	const char *v = getenv(name);
	long x = v ? strtol(v, NULL, 10) : 0;
	return x > 0 && x < 100000 ? (int)x : def;
}

static int bm_run(const char *model, const struct ml_layer_spec *layers, size_t n_layers, struct ml_shape in,
		  int epochs, const struct bm_set *train, const struct bm_set *test)
{
	struct ml_net *net = NULL;
	struct ml_trainer *t = NULL;
	struct core_error err;
	float *out = NULL;
	int rc = 1;
	if (ml_net_new(layers, n_layers, in, &net, &err) != CORE_OK)
		goto fail;
	ml_net_init(net, 1);
	struct ml_train_cfg cfg = {
		.loss = ML_LOSS_SOFTMAX_CE, .optim = {.kind = ML_OPT_ADAM, .lr = 1e-3f}, .batch_size = 128, .seed = 1};
	if (ml_trainer_new(net, &cfg, &t, &err) != CORE_OK)
		goto fail;
	struct ml_data d = {.x = train->x, .y = train->y, .n = train->n, .shape = in};
	double t0 = bm_now(), loss = 0;
	for (int e = 0; e < epochs; e++) {
		double e0 = bm_now();
		if (ml_trainer_epoch(t, &d, NULL, NULL, &loss, NULL, &err) != CORE_OK)
			goto fail;
		fprintf(stderr, "%s epoch %d: loss %.4f, %.3f s\n", model, e + 1, loss, bm_now() - e0);
	}
	double secs = bm_now() - t0;
	out = malloc(test->n * 10 * sizeof(float));
	if (ml_net_predict(net, test->x, test->n, out, &err) != CORE_OK)
		goto fail;
	size_t right = 0;
	for (size_t i = 0; i < test->n; i++) {
		int best = 0;
		for (int k = 1; k < 10; k++)
			if (out[i * 10 + k] > out[i * 10 + best])
				best = k;
		right += best == test->y[i];
	}
	printf("bench: ml lathe %s epochs=%d s_per_epoch=%.4f seconds=%.3f test_acc=%.4f\n", model, epochs,
	       secs / epochs, secs, (double)right / (double)test->n);
	fflush(stdout);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "bench_ml %s: %s\n", model, err.message);
out:
	free(out);
	ml_trainer_free(t);
	ml_net_free(net);
	return rc;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
	const char *which = argc > 2 ? argv[2] : "all";
	int force = bm_env_int("LATHE_BENCH_ML_EPOCHS", 0);
	struct bm_set train, test;
	if (bm_load(dir, "train", &train) || bm_load(dir, "t10k", &test)) {
		fprintf(stderr, "bench_ml: cannot read Fashion-MNIST from %s\n", dir);
		return 2;
	}
	ml_set_threads(bm_env_int("OPENBLAS_NUM_THREADS", 1));
	int rc = 0;
	struct ml_shape img = {1, 28, 28};
	if (!strcmp(which, "all") || !strcmp(which, "mlp")) {
		struct ml_layer_spec l[] = {{.kind = ML_FLATTEN},
					    {.kind = ML_DENSE, .units = 256},
					    {.kind = ML_RELU},
					    {.kind = ML_DENSE, .units = 10}};
		rc |= bm_run("mlp", l, 4, img, force ? force : 10, &train, &test);
	}
	if (!strcmp(which, "all") || !strcmp(which, "cnn")) {
		struct ml_layer_spec l[] = {
			{.kind = ML_CONV2D, .filters = 32, .kernel = 3, .padding = 1},
			{.kind = ML_RELU},
			{.kind = ML_MAXPOOL, .pool = 2},
			{.kind = ML_CONV2D, .filters = 64, .kernel = 3, .padding = 1},
			{.kind = ML_RELU},
			{.kind = ML_MAXPOOL, .pool = 2},
			{.kind = ML_FLATTEN},
			{.kind = ML_DENSE, .units = 128},
			{.kind = ML_RELU},
			{.kind = ML_DENSE, .units = 10},
		};
		rc |= bm_run("cnn", l, 10, img, force ? force : 3, &train, &test);
	}
	if (!strcmp(which, "all") || !strcmp(which, "logreg")) {
		struct ml_layer_spec l[] = {{.kind = ML_FLATTEN}, {.kind = ML_DENSE, .units = 10}};
		rc |= bm_run("logreg", l, 2, img, force ? force : bm_env_int("LATHE_BENCH_ML_LOGREG_EPOCHS", 10),
			     &train, &test);
	}
	free(train.x);
	free(train.y);
	free(test.x);
	free(test.y);
	return rc;
}
