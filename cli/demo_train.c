/* Step 2 of `lathe demo` (face: demo.h): a sweep of two learning rates submitted to the
 * trainer (its job spec: services/trainer/README.md) on the PNG dataset's 80/10/10
 * split, followed to its end; the best trial is registered and made `champion`, and
 * the step waits until the inference API serves it. The model is a small CNN (conv 8 x
 * 3x3, max-pool 2, dense 32), or with --quick an MLP of 32 units; both trials run at
 * once (parallelism 2: the trainer's two cores). cli_demo_follow_job also follows step 5's
 * retraining job. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "demo.h"

/* The sweep's grid: trial i trains with learning rate sweep_lr[i] (a grid varies its
 * one key in the list's order, services/trainer/sweep_points.c). */
static const double sweep_lr[2] = {0.001, 0.003};

static json_t *model_spec(const struct demo *d)
{
	if (d->o.quick)
		return json_pack("{s:s, s:[i]}", "type", "mlp", "hidden", 32);
	return json_pack("{s:s, s:[{s:s, s:i, s:i}, {s:s, s:i}, {s:s}, {s:s, s:i}]}", "type", "cnn", "layers", "type",
			 "conv2d", "filters", 8, "kernel", 3, "type", "maxpool", "pool", 2, "type", "flatten", "type",
			 "dense", "units", 32);
}

enum core_status cli_demo_follow_job(struct demo *d, const char *step, const char *id, json_t **job,
				     struct core_error *err)
{
	char *path = cli_demo_path("/v1/jobs/", id, "");
	enum core_status rc = CORE_OK;
	double until = cli_now() + d->o.wait_s, next_note = cli_now() + 15;
	*job = NULL;
	for (;;) {
		json_t *got = NULL;
		if ((rc = cli_demo_call(&d->trainer, "GET", path, NULL, &got, err)) != CORE_OK)
			break;
		json_decref(*job);
		*job = json_incref(json_object_get(got, "job"));
		json_decref(got);
		const char *st = json_string_value(json_object_get(*job, "status"));
		if (!st) {
			rc = core_fail(err, CORE_EINVAL, "job %s: the trainer answered no status", id);
			break;
		}
		if (strcmp(st, "SUCCEEDED") == 0)
			break;
		if (strcmp(st, "FAILED") == 0 || strcmp(st, "CANCELLED") == 0) {
			const char *why = json_string_value(json_object_get(*job, "failure"));
			rc = core_fail(err, CORE_EINVAL, "job %s %s: %s", id, st, why ? why : "(no reason given)");
			break;
		}
		if (cli_now() > until) {
			rc = core_fail(err, CORE_EIO, "job %s is still %s after %d s", id, st, d->o.wait_s);
			break;
		}
		if (cli_now() > next_note) {
			json_t *loss = json_object_get(*job, "loss");
			cli_demo_say(d, step, "job %s %s: epoch %lld, step %lld, loss %.4f", id, st,
				     (long long)json_integer_value(json_object_get(*job, "epoch")),
				     (long long)json_integer_value(json_object_get(*job, "step")),
				     json_is_number(loss) ? json_number_value(loss) : 0.0);
			next_note = cli_now() + 15;
		}
		usleep(500000);
	}
	free(path);
	return rc;
}

enum core_status cli_demo_wait_serving(struct demo *d, const char *version, struct core_error *err)
{
	char *path = cli_demo_path("/v2/models/", d->model, "");
	enum core_status rc = CORE_OK;
	double until = cli_now() + d->o.wait_s;
	for (;;) {
		json_t *got = NULL;
		struct core_error e2;
		bool serving = false;
		if (cli_demo_call(&d->infer, "GET", path, NULL, &got, &e2) == CORE_OK) {
			size_t i;
			json_t *v;
			json_array_foreach(json_object_get(got, "versions"), i, v) serving |=
				json_is_string(v) && strcmp(json_string_value(v), version) == 0;
		}
		json_decref(got);
		if (serving)
			break;
		if (cli_now() > until) {
			rc = core_fail(err, CORE_EIO, "the inference API does not serve %s version %s after %d s",
				       d->model, version, d->o.wait_s);
			break;
		}
		usleep(200000);
	}
	free(path);
	return rc;
}

/* "lr 0.001: val_accuracy 0.812 (run r)" per trial into the summary and one text. */
static void trials(struct demo *d, json_t *job, char *text, size_t cap)
{
	json_t *list = json_object_get(json_object_get(job, "metrics"), "trials"), *t, *out = json_array();
	size_t i, used = 0;
	text[0] = '\0';
	json_array_foreach(list, i, t)
	{
		json_t *m = json_object_get(t, "metrics");
		double acc = json_number_value(json_object_get(m, "val_accuracy"));
		json_int_t trial = json_integer_value(json_object_get(t, "trial"));
		const char *run = json_string_value(json_object_get(t, "run_id"));
		double lr = trial >= 0 && trial < 2 ? sweep_lr[trial] : 0;
		json_array_append_new(out, json_pack("{s:I, s:f, s:f, s:s?}", "trial", trial, "lr", lr, "val_accuracy",
						     acc, "run_id", run));
		if (used < cap)
			used += (size_t)snprintf(text + used, cap - used, "%slr %g: val_accuracy %.3f", i ? ", " : "",
						 lr, acc);
	}
	json_object_set_new(cli_demo_step(d, "train"), "trials", out);
}

enum core_status cli_demo_step_train(struct demo *d, struct core_error *err)
{
	json_t *spec = json_pack(
		"{s:s, s:{s:[f, f, f], s:i}, s:{s:i, s:i}, s:o, s:{s:s, s:f}, s:i, s:i, s:i, s:s, s:s, "
		"s:{s:s, s:s}, s:{s:s, s:{s:[f, f]}, s:s, s:s, s:i}}",
		"dataset", "", "split", "fractions", 0.8, 0.1, 0.1, "seed", 7, "image", "size", DEMO_SIDE, "channels",
		1, "model", model_spec(d), "optimizer", "type", "adam", "lr", 0.002, "epochs", d->o.epochs,
		"batch_size", 64, "seed", 1, "experiment", d->experiment, "run_name", "demo sweep", "register", "model",
		d->model, "alias", "champion", "sweep", "method", "grid", "space", "optimizer.lr", sweep_lr[0],
		sweep_lr[1], "metric", "val_accuracy", "goal", "max", "parallelism", 2);
	char *ds = core_xasprintf("%s@1", d->png_ds);
	json_object_set_new(spec, "dataset", json_string(ds));
	free(ds);
	json_t *got = NULL, *job = NULL;
	enum core_status rc = cli_demo_call(&d->trainer, "POST", "/v1/jobs", spec, &got, err);
	json_decref(spec);
	if (rc != CORE_OK)
		return rc;
	const char *id = json_string_value(json_object_get(json_object_get(got, "job"), "id"));
	snprintf(d->sweep_job, sizeof d->sweep_job, "%s", id ? id : "");
	json_decref(got);
	if (!d->sweep_job[0])
		return core_fail(err, CORE_EINVAL, "the trainer answered no job id");
	cli_demo_say(d, "train", "sweep job %s: %s, lr %g and %g, %d epoch%s, on the split's train part", d->sweep_job,
		     d->o.quick ? "MLP 784-32-10" : "CNN conv8x3x3-pool2-dense32-10", sweep_lr[0], sweep_lr[1],
		     d->o.epochs, d->o.epochs > 1 ? "s" : "");
	json_t *s = cli_demo_step(d, "train");
	json_object_set_new(s, "job", json_string(d->sweep_job));
	if ((rc = cli_demo_follow_job(d, "train", d->sweep_job, &job, err)) != CORE_OK)
		goto out;
	const char *version = json_string_value(json_object_get(job, "model_version"));
	const char *run = json_string_value(json_object_get(job, "run_id"));
	if (!version) {
		rc = core_fail(err, CORE_EINVAL, "job %s SUCCEEDED but registered no version", d->sweep_job);
		goto out;
	}
	snprintf(d->champion, sizeof d->champion, "%s", version);
	snprintf(d->champion_run, sizeof d->champion_run, "%s", run ? run : "");
	char text[512];
	trials(d, job, text, sizeof text);
	cli_demo_say(d, "train", "SUCCEEDED: %s; best registered as %s version %s, alias champion", text, d->model,
		     d->champion);
	json_object_set_new(s, "status", json_string("SUCCEEDED"));
	json_object_set_new(s, "version", json_string(d->champion));
	json_object_set_new(s, "run_id", json_string(d->champion_run));
	if ((rc = cli_demo_wait_serving(d, d->champion, err)) == CORE_OK)
		cli_demo_say(d, "train", "the inference API serves %s version %s", d->model, d->champion);
out:
	json_decref(job);
	return rc;
}
