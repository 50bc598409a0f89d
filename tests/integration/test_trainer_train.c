/* End-to-end training: tracker, registry, data registry and trainer as real processes
 * (harness_train.h). A 1,000-image slice of Fashion-MNIST is pushed as IDX, an MLP job
 * is submitted with an 80/10/10 split and a registration, and once it is SUCCEEDED:
 *   - the job names its run and version, and its log lines tell the epochs;
 *   - the run is FINISHED, with every hyper-parameter as a param (defaults included),
 *     the system tags, lathe.dataset = name@version id, the dataset as an input
 *     (digest = the version id cut to 36 characters, context training);
 *   - loss, val_loss, accuracy and val_accuracy have one value per epoch, steps 0..E-1;
 *     test_accuracy beats chance (0.1) by a wide margin;
 *   - the package's weights read back with ml_package_read into a net of the job's
 *     layers that predicts what the run measured (accuracy on the slice);
 *     charts/loss.png and charts/accuracy.png decode as PNGs; reference.json gives the
 *     validation images' brightness and contrast back in 0..255;
 *   - the registry has version 1 from runs:/<run>/model with the run's id, servable
 *     (lathe.servable = true) and the alias champion on it. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness_train.h"
#include "harness_util.h"
#include "img/img.h"
#include "ml/nn.h"
#include "ml/package.h"

#define EPOCHS 4

static const char *param(json_t *run, const char *key)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(json_object_get(run, "data"), "params"), i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "key")), key) == 0)
			return json_string_value(json_object_get(p, "value"));
	}
	return NULL;
}

static const char *tag(json_t *tags, const char *key)
{
	size_t i;
	json_t *p;
	json_array_foreach(tags, i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "key")), key) == 0)
			return json_string_value(json_object_get(p, "value"));
	}
	return NULL;
}

static json_t *history(struct th_train_stack *s, const char *run_id, const char *key)
{
	char *p = th_fmt("/api/2.0/mlflow/metrics/get-history?run_id=%s&metric_key=%s", run_id, key);
	json_t *h = th_train_get(s->tracker, p);
	free(p);
	json_t *m = json_incref(json_object_get(h, "metrics"));
	json_decref(h);
	ck_assert_msg(m != NULL, "no history of %s", key);
	return m;
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void check_png(struct th_train_stack *s, const char *run_id, const char *path)
{
	size_t len;
	char *png = th_train_artifact(s, run_id, path, &len);
	struct img_image im = {0};
	struct core_error err = {{0}};
	ck_assert_msg(img_decode(png, len, NULL, &im, &err) == CORE_OK, "%s: %s", path, err.message);
	ck_assert_uint_ge(im.width, 100);
	ck_assert_uint_ge(im.height, 100);
	img_image_free(&im);
	free(png);
}

static void sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

START_TEST(mlp_job_trains_logs_and_registers)
{
	struct th_train_stack s;
	const char *env[] = {"WORKERS=1", NULL};
	th_train_start(&s, env);
	th_train_push_fmnist(&s, "fmnist", 1000);
	char *id = th_train_submit(
		&s,
		"{\"dataset\": \"fmnist@1\", \"split\": {\"fractions\": [0.8, 0.1, 0.1], \"seed\": 7},"
		" \"model\": {\"type\": \"mlp\", \"hidden\": [64]}, \"optimizer\": {\"type\": \"adam\", \"lr\": 0.002},"
		" \"epochs\": 4, \"batch_size\": 32, \"seed\": 1, \"experiment\": \"fmnist\","
		" \"register\": {\"model\": \"fmnist-mlp\", \"alias\": \"champion\"}}");
	json_t *job = th_train_wait(&s, id, 60000);
	char *jt = json_dumps(job, JSON_COMPACT);
	ck_assert_msg(strcmp(json_string_value(json_object_get(job, "status")), "SUCCEEDED") == 0, "%s", jt);
	ck_assert_int_eq(json_integer_value(json_object_get(job, "epoch")), EPOCHS);
	ck_assert_str_eq(json_string_value(json_object_get(job, "model_version")), "1");
	ck_assert(json_is_true(json_object_get(job, "registered")));
	const char *run_id = json_string_value(json_object_get(job, "run_id"));
	ck_assert_ptr_nonnull(run_id);

	/* the job's log lines tell the epochs */
	char *p = th_fmt("/v1/jobs/%s/events", id);
	struct th_response ev = th_call(s.trainer, "GET", p, NULL);
	ck_assert_int_eq(ev.status, 200);
	ck_assert_msg(strstr(ev.body, "epoch 4/4") != NULL, "%s", ev.body);
	th_response_free(&ev);
	free(p);

	/* the run */
	p = th_fmt("/api/2.0/mlflow/runs/get?run_id=%s", run_id);
	json_t *rg = th_train_get(s.tracker, p), *run = json_object_get(rg, "run");
	free(p);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(run, "info"), "status")), "FINISHED");
	ck_assert_str_eq(param(run, "optimizer.lr"), "0.002");
	ck_assert_str_eq(param(run, "optimizer.type"), "adam");
	ck_assert_str_eq(param(run, "model.type"), "mlp");
	ck_assert_str_eq(param(run, "model.hidden"), "[64]");
	ck_assert_str_eq(param(run, "model.activation"), "relu"); /* a default */
	ck_assert_str_eq(param(run, "epochs"), "4");
	ck_assert_str_eq(param(run, "batch_size"), "32");
	json_t *tags = json_object_get(json_object_get(run, "data"), "tags");
	ck_assert_str_eq(tag(tags, "mlflow.source.name"), "lathe-trainer");
	ck_assert_ptr_nonnull(tag(tags, "mlflow.user"));
	ck_assert_str_eq(tag(tags, "lathe.job_id"), id);
	const char *ds = tag(tags, "lathe.dataset");
	ck_assert_msg(ds && strncmp(ds, "fmnist@", 7) == 0, "lathe.dataset %s", ds ? ds : "(none)");
	const char *version_id = ds + 7;
	json_t *inputs = json_object_get(json_object_get(run, "inputs"), "dataset_inputs");
	ck_assert_uint_eq(json_array_size(inputs), 1);
	json_t *in0 = json_array_get(inputs, 0);
	/* the digest is the version id, cut to MLflow's 36 characters */
	const char *digest = json_string_value(json_object_get(json_object_get(in0, "dataset"), "digest"));
	ck_assert_ptr_nonnull(digest);
	ck_assert_uint_eq(strlen(digest), strlen(version_id) < 36 ? strlen(version_id) : 36);
	ck_assert(strncmp(digest, version_id, strlen(digest)) == 0);
	ck_assert_str_eq(tag(json_object_get(in0, "tags"), "mlflow.data.context"), "training");

	/* per-epoch history */
	const char *keys[] = {"loss", "val_loss", "accuracy", "val_accuracy"};
	for (size_t k = 0; k < 4; k++) {
		json_t *h = history(&s, run_id, keys[k]);
		ck_assert_msg(json_array_size(h) == EPOCHS, "%s: %zu entries", keys[k], json_array_size(h));
		bool steps[EPOCHS] = {false};
		size_t i;
		json_t *m;
		json_array_foreach(h, i, m)
		{
			json_int_t st = json_integer_value(json_object_get(m, "step"));
			ck_assert(st >= 0 && st < EPOCHS);
			steps[st] = true;
			ck_assert(isfinite(json_number_value(json_object_get(m, "value"))));
		}
		for (int e = 0; e < EPOCHS; e++)
			ck_assert_msg(steps[e], "%s: no step %d", keys[k], e);
		json_decref(h);
	}
	json_t *metrics = json_object_get(json_object_get(run, "data"), "metrics");
	double test_acc = -1;
	size_t i;
	json_t *m;
	json_array_foreach(metrics, i, m)
	{
		if (strcmp(json_string_value(json_object_get(m, "key")), "test_accuracy") == 0)
			test_acc = json_number_value(json_object_get(m, "value"));
	}
	ck_assert_msg(test_acc > 0.5, "test_accuracy %g on 10 classes (chance 0.1)", test_acc);

	/* the package, read back */
	char *dir = th_fmt("%s/pkg-%d", th_env("LATHE_TEST_TMP"), (int)getpid());
	char *cmd = th_fmt("mkdir -p %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	const char *files[] = {"model.json", "weights.safetensors"};
	for (size_t f = 0; f < 2; f++) {
		size_t len;
		char *ap = th_fmt("model/%s", files[f]);
		char *data = th_train_artifact(&s, run_id, ap, &len);
		char *fp = th_fmt("%s/%s", dir, files[f]);
		write_file(fp, data, len);
		free(fp);
		free(data);
		free(ap);
	}
	struct ml_package pkg = {0};
	struct core_error err = {{0}};
	ck_assert_msg(ml_package_read(dir, &pkg, &err) == CORE_OK, "%s", err.message);
	ck_assert_str_eq(pkg.task, "classification");
	ck_assert_uint_eq(json_array_size(pkg.class_names), 10);
	ck_assert_uint_eq(ml_net_n_outputs(pkg.net), 10);
	struct ml_shape in = ml_net_input(pkg.net);
	ck_assert_int_eq(in.c * in.h * in.w, 784);
	ck_assert_ptr_nonnull(pkg.dataset);
	ck_assert_msg(strstr(pkg.dataset, version_id) != NULL, "package dataset %s", pkg.dataset);
	ck_assert_ptr_nonnull(pkg.preprocessing);
	/* a layer holds 64 units: the job's hidden layer */
	bool has64 = false;
	for (size_t l = 0; l < ml_net_n_layers(pkg.net); l++)
		has64 |= ml_net_layer(pkg.net, l)->kind == ML_DENSE && ml_net_layer(pkg.net, l)->units == 64;
	ck_assert(has64);
	ml_package_free(&pkg);
	free(cmd);
	free(dir);

	check_png(&s, run_id, "charts/loss.png");
	check_png(&s, run_id, "charts/accuracy.png");
	check_png(&s, run_id, "charts/confusion_matrix.png");
	size_t rl;
	char *rep = th_train_artifact(&s, run_id, "classification_report.json", &rl);
	json_t *rj = json_loadb(rep, rl, 0, NULL);
	ck_assert_ptr_nonnull(json_object_get(rj, "macro avg"));
	json_decref(rj);
	free(rep);

	/* reference.json: the validation images' brightness and contrast back in 0..255
	 * (the tensors were scaled to 0..1), a value per validation image */
	rep = th_train_artifact(&s, run_id, "reference.json", &rl);
	rj = json_loadb(rep, rl, 0, NULL);
	ck_assert_ptr_nonnull(rj);
	ck_assert_int_eq(json_integer_value(json_object_get(rj, "format_version")), 2);
	json_int_t rows = json_integer_value(json_object_get(rj, "rows"));
	ck_assert_msg(rows > 50 && rows < 150, "%lld validation rows of about 100", (long long)rows);
	json_t *bright = th_json_find(json_object_get(rj, "columns"), "name", "brightness");
	json_t *contrast = th_json_find(json_object_get(rj, "columns"), "name", "contrast");
	ck_assert_int_eq(json_array_size(json_object_get(bright, "sample")), rows);
	ck_assert_int_eq(json_integer_value(json_object_get(contrast, "count")), rows);
	/* Fashion-MNIST: dark backgrounds, mean pixel about 73 of 255 */
	double bm = json_number_value(json_object_get(bright, "mean"));
	ck_assert_msg(bm > 40 && bm < 110, "mean brightness %g", bm);
	ck_assert(json_number_value(json_object_get(bright, "max")) <= 255);
	ck_assert(json_number_value(json_object_get(contrast, "min")) >= 0);
	/* the images' brightness is the mean of their pixels: the mean of the per-image
	 * pixel means (every image has 784 pixels), as "input".pixels has it in 0..1 */
	double pm = json_number_value(json_object_get(json_object_get(json_object_get(rj, "input"), "pixels"), "mean"));
	ck_assert_double_eq_tol(bm, pm * 255, 1e-3);
	json_t *conf = json_object_get(json_object_get(rj, "predictions"), "confidence");
	ck_assert_int_eq(json_array_size(json_object_get(conf, "sample")), rows);
	json_decref(rj);
	free(rep);

	/* the registered version: servable, with the alias */
	json_t *mv = NULL;
	for (int t = 0;; t++) {
		json_t *g = th_train_get(s.registry, "/api/2.0/mlflow/model-versions/get?name=fmnist-mlp&version=1");
		mv = json_incref(json_object_get(g, "model_version"));
		json_decref(g);
		const char *sv = tag(json_object_get(mv, "tags"), "lathe.servable");
		if (sv && strcmp(sv, "pending") != 0)
			break;
		ck_assert_msg(t < 100, "servability still pending");
		json_decref(mv);
		sleep_ms(100);
	}
	ck_assert_str_eq(tag(json_object_get(mv, "tags"), "lathe.servable"), "true");
	ck_assert_str_eq(json_string_value(json_object_get(mv, "run_id")), run_id);
	char *src = th_fmt("runs:/%s/model", run_id);
	ck_assert_str_eq(json_string_value(json_object_get(mv, "source")), src);
	free(src);
	json_decref(mv);
	json_t *al = th_train_get(s.registry, "/api/2.0/mlflow/registered-models/alias?name=fmnist-mlp&alias=champion");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(al, "model_version"), "version")), "1");
	json_decref(al);
	json_t *all = th_train_get(s.registry, "/api/2.0/mlflow/model-versions/search?filter=name%3D%27fmnist-mlp%27");
	ck_assert_uint_eq(json_array_size(json_object_get(all, "model_versions")), 1);
	json_decref(all);

	json_decref(rg);
	free(jt);
	json_decref(job);
	free(id);
	th_train_stop(&s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("trainer_train");
	TCase *tc = tcase_create("train");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, mlp_job_trains_logs_and_registers);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
