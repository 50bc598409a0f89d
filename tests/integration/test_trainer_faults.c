/* The trainer's faults, on real processes (harness_train.h):
 *   killed_worker_is_taken_over  a trainer SIGKILLed in the middle of a job (after at
 *       least one epoch checkpoint): restarted on the same database and blob store, it
 *       takes the job over once the lease runs out (the periodic requeue), resumes from
 *       the checkpoint, and the job ends SUCCEEDED with exactly one run for it
 *       (FINISHED, one value per epoch step) and exactly one registered version;
 *   stopped_worker_hands_back  a trainer stopped by SIGTERM in the middle of a job hands it
 *       back as it shuts down (QUEUED again, with a new training.requests event), so
 *       with a lease of a minute the restarted trainer resumes it at once, from the
 *       checkpoint, and the job ends SUCCEEDED;
 *   registry_down_at_the_end  the model registry is down when a job comes to register its
 *       model: the job waits with backoff (RUNNING, its log says so), and once the
 *       registry is back on the same address and database it registers exactly one
 *       version and ends SUCCEEDED;
 *   nan_loss_fails_and_cancel_stops  a linear regression on a CSV with a learning rate that
 *       makes the loss overflow ends FAILED naming the non-finite loss, its run FAILED,
 *       and nothing is registered; on the same stack, a job cancelled while it runs
 *       stops at its next batch: CANCELLED, its run KILLED, nothing registered. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "harness_data.h"
#include "harness_train.h"

static int past_epoch_two(json_t *j)
{
	const char *st = json_string_value(json_object_get(j, "status"));
	ck_assert_msg(!st || strcmp(st, "SUCCEEDED") != 0, "the job ended before it could be killed");
	return json_integer_value(json_object_get(j, "epoch")) >= 2;
}

static size_t runs_of_job(json_t *runs, const char *id, json_t **out)
{
	size_t n = 0, i, k;
	json_t *r, *t;
	json_array_foreach(runs, i, r)
	{
		json_array_foreach(json_object_get(json_object_get(r, "data"), "tags"), k, t)
		{
			if (strcmp(json_string_value(json_object_get(t, "key")), "lathe.job_id") == 0 &&
			    strcmp(json_string_value(json_object_get(t, "value")), id) == 0) {
				*out = r;
				n++;
			}
		}
	}
	return n;
}

START_TEST(killed_worker_is_taken_over)
{
	struct th_train_stack s;
	const char *env[] = {"WORKERS=1", "JOB_LEASE_MS=2000", "KAFKA_SESSION_TIMEOUT_MS=3000", NULL};
	th_train_start(&s, env);
	th_train_push_fmnist(&s, "fmnist", 1200);
	char *id = th_train_submit(
		&s, "{\"dataset\": \"fmnist@1\", \"split\": {\"fractions\": [0.8, 0.1, 0.1], \"seed\": 3},"
		    " \"model\": {\"type\": \"mlp\", \"hidden\": [256]}, \"optimizer\": {\"type\": \"adam\", \"lr\": "
		    "0.001},"
		    " \"epochs\": 6, \"batch_size\": 16, \"seed\": 2, \"experiment\": \"faults\","
		    " \"register\": {\"model\": \"faults-mlp\"}}");
	json_t *j = th_train_wait_for(&s, id, 60000, past_epoch_two, "past epoch 2");
	json_decref(j);
	th_train_kill(&s);
	th_train_restart(&s, env);
	j = th_train_wait(&s, id, 120000);
	char *jt = json_dumps(j, JSON_COMPACT);
	ck_assert_msg(strcmp(json_string_value(json_object_get(j, "status")), "SUCCEEDED") == 0, "%s", jt);
	ck_assert_int_ge(json_integer_value(json_object_get(j, "attempt")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 6);
	const char *run_id = json_string_value(json_object_get(j, "run_id"));
	ck_assert_ptr_nonnull(run_id);

	/* it resumed from a checkpoint, not from scratch */
	char *p = th_fmt("/v1/jobs/%s/events", id);
	struct th_response ev = th_call(s.trainer, "GET", p, NULL);
	ck_assert_msg(strstr(ev.body, "resumed at epoch") != NULL, "%s", ev.body);
	th_response_free(&ev);
	free(p);

	/* one run for the job, finished, one value per step */
	json_t *runs = th_train_runs(&s, "faults"), *run = NULL;
	ck_assert_uint_eq(runs_of_job(runs, id, &run), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(run, "info"), "run_id")), run_id);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(run, "info"), "status")), "FINISHED");
	p = th_fmt("/api/2.0/mlflow/metrics/get-history?run_id=%s&metric_key=val_loss", run_id);
	json_t *h = th_train_get(s.tracker, p);
	bool seen[6] = {false};
	size_t i, distinct = 0;
	json_t *m;
	json_array_foreach(json_object_get(h, "metrics"), i, m)
	{
		json_int_t st = json_integer_value(json_object_get(m, "step"));
		ck_assert(st >= 0 && st < 6);
		distinct += !seen[st];
		seen[st] = true;
	}
	ck_assert_uint_eq(distinct, 6);
	json_decref(h);
	free(p);

	/* one version */
	json_t *all = th_train_get(s.registry, "/api/2.0/mlflow/model-versions/search?filter=name%3D%27faults-mlp%27");
	ck_assert_uint_eq(json_array_size(json_object_get(all, "model_versions")), 1);
	ck_assert_str_eq(
		json_string_value(json_object_get(json_array_get(json_object_get(all, "model_versions"), 0), "run_id")),
		run_id);
	json_decref(all);
	json_decref(runs);
	free(jt);
	json_decref(j);
	free(id);
	th_train_stop(&s);
}
END_TEST

START_TEST(stopped_worker_hands_back)
{
	struct th_train_stack s;
	/* a lease far longer than the test waits: only the hand-back can free the job */
	const char *env[] = {"WORKERS=1", "JOB_LEASE_MS=600000", "KAFKA_SESSION_TIMEOUT_MS=3000", NULL};
	th_train_start(&s, env);
	th_train_push_fmnist(&s, "fmnist", 600);
	char *id = th_train_submit(
		&s, "{\"dataset\": \"fmnist@1\", \"split\": {\"fractions\": [0.8, 0.1, 0.1], \"seed\": 3},"
		    " \"model\": {\"type\": \"mlp\", \"hidden\": [256]}, \"optimizer\": {\"type\": \"adam\", \"lr\": "
		    "0.001}, \"epochs\": 40, \"batch_size\": 8, \"seed\": 2, \"experiment\": \"handback\"}");
	json_t *j = th_train_wait_for(&s, id, 60000, past_epoch_two, "past epoch 2");
	json_decref(j);
	th_daemon_stop(s.trainer); /* SIGTERM: exits 0 with no error line */
	s.trainer = NULL;
	th_train_restart(&s, env);
	char *p = th_fmt("/v1/jobs/%s", id);
	json_t *doc = th_train_get(s.trainer, p);
	j = json_object_get(doc, "job");
	const char *st = json_string_value(json_object_get(j, "status"));
	ck_assert_ptr_nonnull(st);
	ck_assert_msg(strcmp(st, "QUEUED") == 0 || json_integer_value(json_object_get(j, "attempt")) >= 2,
		      "the job was not handed back: %s attempt %lld", st,
		      (long long)json_integer_value(json_object_get(j, "attempt")));
	json_decref(doc);
	free(p);
	j = th_train_wait(&s, id, 90000);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "SUCCEEDED");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 40);
	json_decref(j);
	p = th_fmt("/v1/jobs/%s/events", id);
	struct th_response ev = th_call(s.trainer, "GET", p, NULL);
	ck_assert_msg(strstr(ev.body, "handed back") != NULL, "%s", ev.body);
	ck_assert_msg(strstr(ev.body, "resumed at epoch") != NULL, "%s", ev.body);
	th_response_free(&ev);
	free(p);
	free(id);
	th_train_stop(&s);
}
END_TEST

static bool job_log_has(struct th_train_stack *s, const char *id, const char *needle, int timeout_ms)
{
	char *p = th_fmt("/v1/jobs/%s/events", id);
	bool found = false;
	for (int waited = 0; !found && waited <= timeout_ms; waited += 100) {
		struct th_response ev = th_call(s->trainer, "GET", p, NULL);
		found = ev.body && strstr(ev.body, needle) != NULL;
		th_response_free(&ev);
		if (!found)
			nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
	}
	free(p);
	return found;
}

START_TEST(registry_down_at_the_end)
{
	struct th_train_stack s;
	const char *env[] = {"WORKERS=1", NULL};
	th_train_start(&s, env);
	th_train_push_fmnist(&s, "fmnist", 300);
	unsigned port = s.registry->port;
	char *db = strdup(s.registry->database_url);
	th_daemon_stop(s.registry);
	s.registry = NULL;
	char *id = th_train_submit(&s, "{\"dataset\": \"fmnist@1\", \"split\": {\"fractions\": [0.8, 0.1, 0.1]},"
				       " \"model\": {\"type\": \"logistic_regression\"}, \"epochs\": 2,"
				       " \"experiment\": \"down\", \"register\": {\"model\": \"down-lr\", "
				       "\"alias\": \"champion\"}}");
	ck_assert_msg(job_log_has(&s, id, "registering the model: no answer", 60000), "no retry in the job's log");
	char *p = th_fmt("/v1/jobs/%s", id);
	json_t *doc = th_train_get(s.trainer, p);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "job"), "status")), "RUNNING");
	json_decref(doc);
	free(p);

	char tport[32], turl[128];
	snprintf(tport, sizeof tport, "PORT=%u", port);
	snprintf(turl, sizeof turl, "TRACKER_URL=%s", s.tracker->base_url);
	const char *renv[] = {tport, turl, "SERVABLE_RETRY_MS=100", NULL};
	s.registry = th_daemon_start("model-registry", db, renv);
	json_t *j = th_train_wait(&s, id, 60000);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "SUCCEEDED");
	ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), "1");
	json_decref(j);
	json_t *all = th_train_get(s.registry, "/api/2.0/mlflow/model-versions/search?filter=name%3D%27down-lr%27");
	ck_assert_uint_eq(json_array_size(json_object_get(all, "model_versions")), 1);
	json_decref(all);
	json_t *al = th_train_get(s.registry, "/api/2.0/mlflow/registered-models/alias?name=down-lr&alias=champion");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(al, "model_version"), "version")), "1");
	json_decref(al);
	free(db);
	free(id);
	th_train_stop(&s);
}
END_TEST

START_TEST(nan_loss_fails_and_cancel_stops)
{
	struct th_train_stack s;
	const char *env[] = {"WORKERS=1", NULL};
	th_train_start(&s, env);
	/* y = 3 x1 - 2 x2 + 5: a regression a huge learning rate blows up */
	size_t cap = 64 * 300 + 32;
	char *csv = malloc(cap);
	ck_assert_ptr_nonnull(csv);
	size_t n = (size_t)snprintf(csv, cap, "x1,x2,y\n");
	for (int r = 0; r < 300; r++) {
		double x1 = (r % 17) * 0.5, x2 = (r % 11) * 0.3;
		n += (size_t)snprintf(csv + n, cap - n, "%.3f,%.3f,%.3f\n", x1, x2, 3 * x1 - 2 * x2 + 5);
	}
	struct th_data_file f = {"data.csv", csv};
	json_t *man = th_data_manifest(s.data, &f, 1, true);
	struct th_response r = th_data_commit(s.data, "lin", man);
	ck_assert_msg(r.status == 200 || r.status == 201, "%ld %s", r.status, r.body);
	th_response_free(&r);
	json_decref(man);
	free(csv);
	for (int t = 0;; t++) {
		json_t *v = th_train_get(s.data, "/v1/datasets/lin/versions/1");
		json_t *ver = json_object_get(v, "version") ? json_object_get(v, "version") : v;
		bool ready = strcmp(json_string_value(json_object_get(ver, "status")), "READY") == 0;
		json_decref(v);
		if (ready)
			break;
		ck_assert_msg(t < 300, "not READY");
		struct timespec ts = {0, 100000000L};
		nanosleep(&ts, NULL);
	}
	char *id = th_train_submit(
		&s,
		"{\"dataset\": \"lin@1\", \"split\": {\"fractions\": [0.8, 0.1, 0.1], \"seed\": 1}, \"target\": \"y\","
		" \"model\": {\"type\": \"linear_regression\"},"
		" \"optimizer\": {\"type\": \"sgd\", \"lr\": 10, \"momentum\": 0.9},"
		" \"epochs\": 5, \"batch_size\": 8, \"seed\": 1, \"experiment\": \"nan\","
		" \"register\": {\"model\": \"nan-model\"}}");
	json_t *j = th_train_wait(&s, id, 60000);
	char *jt = json_dumps(j, JSON_COMPACT);
	ck_assert_msg(strcmp(json_string_value(json_object_get(j, "status")), "FAILED") == 0, "%s", jt);
	const char *failure = json_string_value(json_object_get(j, "failure"));
	ck_assert_msg(failure && strstr(failure, "not finite"), "%s", jt);
	ck_assert(!json_is_true(json_object_get(j, "registered")));
	const char *run_id = json_string_value(json_object_get(j, "run_id"));
	ck_assert_ptr_nonnull(run_id);
	char *p = th_fmt("/api/2.0/mlflow/runs/get?run_id=%s", run_id);
	json_t *rg = th_train_get(s.tracker, p);
	ck_assert_str_eq(
		json_string_value(json_object_get(json_object_get(json_object_get(rg, "run"), "info"), "status")),
		"FAILED");
	json_decref(rg);
	free(p);
	json_t *all = th_train_get(s.registry, "/api/2.0/mlflow/model-versions/search?filter=name%3D%27nan-model%27");
	ck_assert_uint_eq(json_array_size(json_object_get(all, "model_versions")), 0);
	json_decref(all);
	free(jt);
	json_decref(j);
	free(id);

	/* a cancel stops a running job at its next batch: CANCELLED, run KILLED */
	id = th_train_submit(
		&s,
		"{\"dataset\": \"lin@1\", \"split\": {\"fractions\": [0.8, 0.1, 0.1], \"seed\": 1}, \"target\": \"y\","
		" \"model\": {\"type\": \"linear_regression\"}, \"optimizer\": {\"type\": \"sgd\", \"lr\": 0.001},"
		" \"epochs\": 100000, \"batch_size\": 1, \"seed\": 1, \"experiment\": \"nan\","
		" \"register\": {\"model\": \"nan-model\"}}");
	j = th_train_wait_for(&s, id, 60000, past_epoch_two, "past epoch 2");
	json_decref(j);
	p = th_fmt("/v1/jobs/%s/cancel", id);
	struct th_response cr = th_call(s.trainer, "POST", p, "{}");
	ck_assert_msg(cr.status == 200 || cr.status == 202, "cancel: %ld %s", cr.status, cr.body);
	th_response_free(&cr);
	free(p);
	j = th_train_wait(&s, id, 20000);
	jt = json_dumps(j, JSON_COMPACT);
	ck_assert_msg(strcmp(json_string_value(json_object_get(j, "status")), "CANCELLED") == 0, "%s", jt);
	ck_assert_int_lt(json_integer_value(json_object_get(j, "epoch")), 100000);
	p = th_fmt("/api/2.0/mlflow/runs/get?run_id=%s", json_string_value(json_object_get(j, "run_id")));
	rg = th_train_get(s.tracker, p);
	ck_assert_str_eq(
		json_string_value(json_object_get(json_object_get(json_object_get(rg, "run"), "info"), "status")),
		"KILLED");
	json_decref(rg);
	free(p);
	all = th_train_get(s.registry, "/api/2.0/mlflow/model-versions/search?filter=name%3D%27nan-model%27");
	ck_assert_uint_eq(json_array_size(json_object_get(all, "model_versions")), 0);
	json_decref(all);
	free(jt);
	json_decref(j);
	free(id);
	th_train_stop(&s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("trainer_faults");
	TCase *tc = tcase_create("faults");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, killed_worker_is_taken_over);
	tcase_add_test(tc, stopped_worker_hands_back);
	tcase_add_test(tc, registry_down_at_the_end);
	tcase_add_test(tc, nan_loss_fails_and_cancel_stops);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
