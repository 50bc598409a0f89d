/* The drift monitor's retraining request sent to a real trainer: tracker, registry, data
 * registry, trainer (WORKERS=0: jobs are queued, never trained), inference API and drift
 * monitor as processes, on the run's PostgreSQL and broker.
 *   - a job is submitted to the trainer on version 1 of an image dataset; a small image
 *     classifier is published with a reference.json and its run tagged as the trainer
 *     tags a sweep's trial runs (lathe.job_id = <that job>-trial-1,
 *     lathe.sweep_job_id = <that job>, lathe.sweep_trial = 1, lathe.dataset =
 *     <name>@<version id>), so the serving version reads as made by that job;
 *   - a version 2 of the dataset lands; brighter traffic makes a drifted window of a
 *     monitor with policy retrain: its report's lineage names the job and the dataset,
 *     the retraining request becomes SUBMITTED with the id of a new trainer job whose
 *     spec is the first job's on <name>@latest (which the trainer resolved to version
 *     2), registered as the model's challenger, with no sweep but the trial's point
 *     (found by the run's params) and the drift run name;
 *   - with a long cooldown (PATCH), a second drifted window makes a report but no
 *     second alert and no second request. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness_db.h"
#include "harness_drift.h"
#include "harness_infer.h"
#include "harness_kafka.h"
#include "harness_trainer.h"
#include "harness_util.h"

#define SIZE    4
#define PIXELS  (SIZE * SIZE)
#define CLASSES 3
#define NREF    400
#define WINDOW  100
#define MODEL   "drift-retrain-m"
#define DATASET "drift-retrain-ds"

/* The serving version's job: every member the trainer takes, a sweep included (a
 * retraining job is one training, so it drops the sweep). */
static const char first_spec[] =
	"{\"dataset\": \"" DATASET "@1\", \"split\": {\"fractions\": [0.6, 0.2, 0.2], \"seed\": 7}, "
	"\"model\": {\"type\": \"mlp\", \"hidden\": [8]}, \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01}, "
	"\"epochs\": 3, \"batch_size\": 4, \"seed\": 5, \"experiment\": \"drift-retrain\", \"run_name\": \"first\", "
	"\"register\": {\"model\": \"" MODEL "\", \"alias\": \"champion\"}, "
	"\"sweep\": {\"space\": {\"optimizer.lr\": [0.01, 0.1]}}}";

static json_t *get_job(struct th_daemon *tr, const char *id)
{
	char *path = th_fmt("/v1/jobs/%s", id);
	json_t *body = th_ok(tr, "GET", path, NULL);
	json_t *job = json_incref(json_object_get(body, "job"));
	json_decref(body);
	free(path);
	ck_assert_ptr_nonnull(job);
	return job;
}

static void set_tag(struct th_daemon *tracker, const char *run, const char *key, const char *value)
{
	json_t *b = json_pack("{s:s, s:s, s:s}", "run_id", run, "key", key, "value", value);
	char *text = json_dumps(b, JSON_COMPACT);
	json_decref(th_ok(tracker, "POST", "/api/2.0/mlflow/runs/set-tag", text));
	free(text);
	json_decref(b);
}

/* The retrains rows as "status:job_id:failure" lines, oldest first. */
static char *retrains(struct th_daemon *dm)
{
	return th_sql(dm, "drift",
		      "SELECT coalesce(string_agg(status || ':' || coalesce(job_id, '') || ':' || "
		      "coalesce(failure, ''), E'\\n' ORDER BY created_at), '') FROM retrains");
}

START_TEST(drifted_window_submits_a_retraining_job)
{
	struct th_infer_stack S;
	struct ml_package pkg;
	struct th_rng g = {0x7e72a1u};
	th_infer_start(&S, false, NULL, false);
	struct th_daemon *dr =
		th_daemon_start("data-registry", NULL, (const char *const[]){"PROFILE_POLL_MS=50", NULL});
	ck_assert_int_eq(th_trainer_push_images(dr, DATASET, 2, 5, 8), 1);
	json_t *v1 = th_ok(dr, "GET", "/v1/datasets/" DATASET "/versions/1", NULL);
	char *v1_id = strdup(json_string_value(json_object_get(json_object_get(v1, "version"), "id")));
	json_decref(v1);
	char turl[128], rurl[128];
	snprintf(turl, sizeof turl, "TRACKER_URL=%s", S.tracker->base_url);
	snprintf(rurl, sizeof rurl, "REGISTRY_URL=%s", S.registry->base_url);
	struct th_daemon *tr = th_trainer_start(dr, (const char *const[]){turl, rurl, NULL});

	/* the serving version's job, queued and never run */
	struct th_response sr = th_trainer_submit(tr, first_spec);
	ck_assert_msg(sr.status == 201, "%ld %s", sr.status, sr.body);
	char *job1 = strdup(json_string_value(json_object_get(json_object_get(sr.json, "job"), "id")));
	th_response_free(&sr);
	json_t *j1 = get_job(tr, job1);
	json_t *spec1 = json_incref(json_object_get(j1, "spec"));
	json_decref(j1);

	/* the version: a package, its reference, the trainer's tags on its run */
	th_infer_classifier(&pkg, SIZE, 0, CLASSES, 42, 0.02f);
	float *ref_raw = malloc(NREF * PIXELS * sizeof *ref_raw);
	double ref_b[NREF], ref_c[NREF];
	th_drift_images(&g, ref_raw, NREF, PIXELS, 60, 180);
	char *refdoc = th_drift_reference(&pkg, SIZE, CLASSES, ref_raw, NREF, ref_b, ref_c);
	char *dir = th_infer_write(&pkg);
	char *run = th_infer_log_dir(&S, dir);
	th_infer_put_run_file(&S, run, "reference.json", refdoc, strlen(refdoc));
	char *ds_tag = th_fmt("%s@%s", DATASET, v1_id);
	/* the sweep's best trial made it: its run is tagged as sweep.c tags a trial's,
	 * lathe.job_id = <job>-trial-<i>, lathe.sweep_job_id = <job>, lathe.sweep_trial = <i> */
	char *trial_tag = th_fmt("%s-trial-1", job1);
	set_tag(S.tracker, run, "lathe.job_id", trial_tag);
	set_tag(S.tracker, run, "lathe.sweep_job_id", job1);
	set_tag(S.tracker, run, "lathe.sweep_trial", "1");
	free(trial_tag);
	/* and its params are the trial's spec flattened, as run_job.c logs them: trial 1's
	 * point is optimizer.lr 0.1 */
	json_t *lr = json_real(0.1);
	char *lr_text = json_dumps(lr, JSON_ENCODE_ANY | JSON_COMPACT);
	json_t *pb = json_pack("{s:s, s:s, s:s}", "run_id", run, "key", "optimizer.lr", "value", lr_text);
	char *ptext = json_dumps(pb, JSON_COMPACT);
	json_decref(th_ok(S.tracker, "POST", "/api/2.0/mlflow/runs/log-parameter", ptext));
	free(ptext);
	json_decref(pb);
	free(lr_text);
	json_decref(lr);
	set_tag(S.tracker, run, "lathe.dataset", ds_tag);
	char *version = th_infer_register(&S, MODEL, run);
	th_infer_alias(&S, MODEL, "champion", version);

	/* new data since the version was trained: latest is now version 2 */
	ck_assert_int_eq(th_trainer_push_images(dr, DATASET, 2, 6, 8), 2);

	char trn[128], group[64];
	snprintf(trn, sizeof trn, "TRAINER_URL=%s", tr->base_url);
	snprintf(group, sizeof group, "CONSUMER_GROUP=drift-retrain-%d", (int)getpid());
	struct th_daemon *dm = th_daemon_start(
		"drift-monitor", NULL, (const char *const[]){turl, rurl, trn, group, "RETRAIN_EVERY_MS=200", NULL});
	char *body = th_fmt("{\"model\": \"%s\", \"window\": {\"size\": %d}, \"alert\": {\"policy\": \"retrain\", "
			    "\"cooldown_seconds\": 0}}",
			    MODEL, WINDOW);
	char *monitor = th_drift_monitor_create(dm, body);
	free(body);
	th_infer_start_api(&S, (const char *const[]){"PREDICTION_SAMPLE_RATE=1", NULL}, true);
	ck_assert(th_infer_wait_serving(S.ia, MODEL, version, 30000));
	struct th_kafka alerts;
	th_kafka_open(&alerts, "drift.alerts", MODEL);

	/* 1. a drifted window: report, alert, request */
	float cur_raw[WINDOW * PIXELS];
	th_drift_images(&g, cur_raw, WINDOW, PIXELS, 170, 250);
	th_drift_predict(S.ia, MODEL, cur_raw, WINDOW, PIXELS);
	json_t *reports = th_drift_wait_reports(dm, monitor, 1);
	const char *rid = json_string_value(json_object_get(json_array_get(reports, 0), "id"));
	json_t *doc = th_drift_report_doc(dm, rid);
	ck_assert(json_is_true(json_object_get(doc, "dataset_drift")));
	json_t *lineage = json_object_get(doc, "lineage");
	ck_assert_str_eq(json_string_value(json_object_get(lineage, "run_id")), run);
	ck_assert_str_eq(json_string_value(json_object_get(lineage, "version")), version);
	ck_assert_str_eq(json_string_value(json_object_get(lineage, "job_id")), job1);
	ck_assert_str_eq(json_string_value(json_object_get(lineage, "dataset")), DATASET);
	ck_assert_str_eq(json_string_value(json_object_get(lineage, "dataset_version")), v1_id);
	th_kafka_wait(&alerts, 1, 20000);
	json_t *evs = th_kafka_events_of(&alerts, MODEL);
	ck_assert_uint_eq(json_array_size(evs), 1);
	json_t *alert = json_object_get(json_array_get(evs, 0), "data");
	ck_assert_str_eq(json_string_value(json_object_get(alert, "report_id")), rid);
	ck_assert(json_is_true(json_object_get(alert, "retrain_requested")));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(alert, "lineage"), "job_id")), job1);
	json_decref(evs);

	/* the request becomes SUBMITTED with the trainer's new job */
	char *rows = NULL;
	for (int i = 0; i < 200; i++) {
		free(rows);
		rows = retrains(dm);
		if (strncmp(rows, "SUBMITTED:", 10) == 0 || strncmp(rows, "FAILED:", 7) == 0)
			break;
		usleep(100000);
	}
	ck_assert_msg(strncmp(rows, "SUBMITTED:", 10) == 0 && !strchr(rows, '\n'), "%s", rows);
	char *job2 = strndup(rows + 10, strcspn(rows + 10, ":"));
	ck_assert_uint_eq(strlen(job2), 32);
	ck_assert_str_ne(job2, job1);
	char *attempts = th_sql(dm, "drift", "SELECT attempts || ':' || report_id FROM retrains");
	char *want = th_fmt("1:%s", rid);
	ck_assert_str_eq(attempts, want);
	free(want);
	free(attempts);

	/* the new job: the first one's spec on the latest data, as the challenger, one run */
	json_t *j2 = get_job(tr, job2);
	ck_assert_str_eq(json_string_value(json_object_get(j2, "status")), "QUEUED");
	ck_assert_str_eq(json_string_value(json_object_get(j2, "model_name")), MODEL);
	json_t *spec2 = json_object_get(j2, "spec");
	ck_assert_str_eq(json_string_value(json_object_get(spec2, "dataset")), DATASET "@latest");
	json_t *reg = json_pack("{s:s, s:s}", "model", MODEL, "alias", "challenger");
	ck_assert(json_equal(json_object_get(spec2, "register"), reg));
	json_decref(reg);
	ck_assert_ptr_null(json_object_get(spec2, "sweep"));
	ck_assert_str_eq(json_string_value(json_object_get(spec2, "run_name")), "retrain " MODEL " (drift)");
	json_t *rest1 = json_deep_copy(spec1), *rest2 = json_deep_copy(spec2);
	/* the version's trial trained with lr 0.1, the sweep's base spec says 0.01 */
	ck_assert_double_eq(json_real_value(json_object_get(json_object_get(spec2, "optimizer"), "lr")), 0.1);
	const char *const changed[] = {"dataset", "register", "sweep", "run_name", "optimizer", NULL};
	for (size_t i = 0; changed[i]; i++) {
		json_object_del(rest1, changed[i]);
		json_object_del(rest2, changed[i]);
	}
	char *t1 = json_dumps(rest1, JSON_SORT_KEYS), *t2 = json_dumps(rest2, JSON_SORT_KEYS);
	ck_assert_msg(json_equal(rest1, rest2), "first %s\nretrain %s", t1, t2);
	free(t1);
	free(t2);
	json_decref(rest1);
	json_decref(rest2);
	json_decref(j2);
	/* the trainer read latest as version 2 at submit (its first log line says so) */
	char *epath = th_fmt("/v1/jobs/%s/events", job2);
	struct th_response er = th_call(tr, "GET", epath, NULL);
	ck_assert_int_eq(er.status, 200);
	th_expect_has(er.body, "on " DATASET "@2 ");
	th_response_free(&er);
	free(epath);
	char *n = th_trainer_sql(tr, "SELECT count(*) FROM jobs");
	ck_assert_str_eq(n, "2");
	free(n);
	json_decref(doc);
	json_decref(reports);

	/* 2. a long cooldown: the next drifted window is reported, nothing more */
	char *mpath = th_fmt("/v1/monitors/%s", monitor);
	json_decref(th_ok(dm, "PATCH", mpath, "{\"alert\": {\"cooldown_seconds\": 86400}}"));
	json_t *mon = th_ok(dm, "GET", mpath, NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(mon, "monitor"), "alert"),
							    "cooldown_seconds")),
			 86400);
	json_decref(mon);
	free(mpath);
	th_drift_images(&g, cur_raw, WINDOW, PIXELS, 170, 250);
	th_drift_predict(S.ia, MODEL, cur_raw, WINDOW, PIXELS);
	reports = th_drift_wait_reports(dm, monitor, 2);
	ck_assert(json_is_true(json_object_get(json_array_get(reports, 0), "dataset_drift")));
	json_decref(reports);
	/* an alert and a request would have been written with the report: wait for the
	 * outbox relay and give the retrain task a few turns */
	th_kafka_wait(&alerts, 2, 3000);
	evs = th_kafka_events_of(&alerts, MODEL);
	ck_assert_uint_eq(json_array_size(evs), 1);
	json_decref(evs);
	free(rows);
	rows = retrains(dm);
	ck_assert_msg(strncmp(rows, "SUBMITTED:", 10) == 0 && !strchr(rows, '\n'), "%s", rows);
	n = th_trainer_sql(tr, "SELECT count(*) FROM jobs");
	ck_assert_str_eq(n, "2");
	free(n);
	ck_assert(th_daemon_alive(dm));

	th_kafka_close(&alerts);
	th_daemon_stop(dm);
	th_daemon_stop(tr);
	th_daemon_stop(dr);
	th_infer_stop(&S);
	json_decref(spec1);
	free(rows);
	free(job2);
	free(monitor);
	free(version);
	free(ds_tag);
	free(run);
	free(dir);
	free(refdoc);
	free(ref_raw);
	free(job1);
	free(v1_id);
	ml_package_free(&pkg);
}
END_TEST

static Suite *retrain_suite(void)
{
	Suite *s = suite_create("drift-retrain");
	TCase *tc = tcase_create("retrain");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, drifted_window_submits_a_retraining_job);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(retrain_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
