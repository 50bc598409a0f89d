/* The drift monitor's stream, with tracker, registry, inference API and drift monitor as
 * real processes and the run's broker: a small image classifier is published with a
 * reference.json (format 2) whose brightness and contrast samples the test draws and
 * whose prediction shares it computes with its own forward pass; the inference API
 * serves it with every prediction sent to inference.predictions; the drift monitor
 * reads them in windows of 200 rows.
 *   - reference-like images give a report with no dataset drift, scores equal to
 *     scipy's ks_2samp on the same values, the lineage of the version;
 *   - brighter images give brightness drift and dataset drift, the gauges, a
 *     drift.alerts event naming the report, and (policy retrain) a retraining request,
 *     which the retrain task marks FAILED because the version was not made by the
 *     trainer (the message says so);
 *   - a model with no monitor gets one with the defaults at its first prediction, unless
 *     its package has no reference (then none, and a warning);
 *   - the drift monitor killed (SIGKILL) in the middle of a window and started again
 *     resumes that window from drift.windows: the report counts each prediction once;
 *   - a new serving version closes the old version's window (a report of what it held)
 *     and fills a window of its own against its reference. */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness_db.h"
#include "harness_drift.h"
#include "harness_infer.h"
#include "harness_kafka.h"
#include "harness_util.h"

#define SIZE    4
#define PIXELS  (SIZE * SIZE)
#define CLASSES 3
#define NREF    400
#define WINDOW  200

static struct th_infer_stack S;
static struct ml_package pkg;

static json_t *column(json_t *doc, const char *name)
{
	json_t *c = th_json_find(json_object_get(doc, "columns"), "column_name", name);
	ck_assert_msg(c != NULL, "no column %s", name);
	return c;
}

/* scipy's ks_2samp p-values of (ref_b, cur_b) and (ref_c, cur_c). */
static void scipy_ks(const double *ref_b, const double *cur_b, const double *ref_c, const double *cur_c, size_t n_cur,
		     double out[2])
{
	char *path = th_fmt("%s/ks-%d.txt", th_env("LATHE_TEST_TMP"), (int)getpid());
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	const double *xs[4] = {ref_b, cur_b, ref_c, cur_c};
	size_t ns[4] = {NREF, n_cur, NREF, n_cur};
	for (int s = 0; s < 4; s++) {
		for (size_t i = 0; i < ns[s]; i++)
			fprintf(f, "%.17g ", xs[s][i]);
		fprintf(f, "\n");
	}
	fclose(f);
	static const char body[] =
		"from scipy.stats import ks_2samp\n"
		"rows = [list(map(float, l.split())) for l in open(sys.argv[1])]\n"
		"print(repr(ks_2samp(rows[0], rows[1]).pvalue), repr(ks_2samp(rows[2], rows[3]).pvalue))\n";
	ck_assert_uint_eq(th_python_numbers(path, NULL, body, out, 2), 2);
	unlink(path);
	free(path);
}

static bool metrics_have(struct th_daemon *dm, const char *line)
{
	struct th_response r = th_call(dm, "GET", "/metrics", NULL);
	bool has = r.body && strstr(r.body, line);
	th_response_free(&r);
	return has;
}

START_TEST(stream_reports_alerts_and_resumes)
{
	const char *model = "drift-stream-m";
	struct th_rng g = {0xd21f7u};
	th_infer_start(&S, false, NULL, false);
	th_infer_classifier(&pkg, SIZE, 0, CLASSES, 42, 0.02f);

	/* publish the version with its reference at the run's root */
	float *ref_raw = malloc(NREF * PIXELS * sizeof *ref_raw);
	double ref_b[NREF], ref_c[NREF];
	th_drift_images(&g, ref_raw, NREF, PIXELS, 60, 180);
	char *refdoc = th_drift_reference(&pkg, SIZE, CLASSES, ref_raw, NREF, ref_b, ref_c);
	char *dir = th_infer_write(&pkg);
	char *run = th_infer_log_dir(&S, dir);
	th_infer_put_run_file(&S, run, "reference.json", refdoc, strlen(refdoc));
	char *version = th_infer_register(&S, model, run);
	th_infer_alias(&S, model, "champion", version);

	char turl[128], rurl[128], group[64];
	snprintf(turl, sizeof turl, "TRACKER_URL=%s", S.tracker->base_url);
	snprintf(rurl, sizeof rurl, "REGISTRY_URL=%s", S.registry->base_url);
	snprintf(group, sizeof group, "CONSUMER_GROUP=drift-test-%d", (int)getpid());
	const char *env[] = {turl, rurl, group, "TRAINER_URL=http://127.0.0.1:9", "RETRAIN_EVERY_MS=200", NULL};
	struct th_daemon *dm = th_daemon_start("drift-monitor", NULL, env);
	char *body = th_fmt("{\"model\": \"%s\", \"window\": {\"size\": %d}, \"alert\": {\"policy\": \"retrain\", "
			    "\"cooldown_seconds\": 0}}",
			    model, WINDOW);
	char *monitor = th_drift_monitor_create(dm, body);
	free(body);

	th_infer_start_api(&S, (const char *const[]){"PREDICTION_SAMPLE_RATE=1", NULL}, true);
	ck_assert(th_infer_wait_serving(S.ia, model, version, 30000));
	struct th_kafka alerts;
	th_kafka_open(&alerts, "drift.alerts", model);

	/* 1. reference-like traffic: no drift, scipy's scores */
	float cur_raw[WINDOW * PIXELS];
	double cur_b[WINDOW], cur_c[WINDOW];
	th_drift_images(&g, cur_raw, WINDOW, PIXELS, 60, 180);
	th_drift_summaries(cur_raw, WINDOW, PIXELS, cur_b, cur_c);
	th_drift_predict(S.ia, model, cur_raw, WINDOW, PIXELS);
	json_t *reports = th_drift_wait_reports(dm, monitor, 1);
	json_t *first = json_array_get(reports, 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(first, "window"), "rows")), WINDOW);
	ck_assert_str_eq(json_string_value(json_object_get(first, "model_version")), version);
	json_t *doc = th_drift_report_doc(dm, json_string_value(json_object_get(first, "id")));
	ck_assert(json_is_false(json_object_get(doc, "dataset_drift")));
	double want[2];
	scipy_ks(ref_b, cur_b, ref_c, cur_c, WINDOW, want);
	const char *names[2] = {"brightness", "contrast"};
	for (int i = 0; i < 2; i++) {
		json_t *c = column(doc, names[i]);
		ck_assert_str_eq(json_string_value(json_object_get(c, "stattest_name")), "ks");
		double got = json_real_value(json_object_get(c, "drift_score"));
		ck_assert_msg(fabs(got - want[i]) <= 1e-9 * fmax(1e-3, want[i]), "%s: %.17g, scipy %.17g", names[i],
			      got, want[i]);
		ck_assert(json_is_false(json_object_get(c, "drift_detected")));
	}
	json_t *lineage = json_object_get(doc, "lineage");
	ck_assert_str_eq(json_string_value(json_object_get(lineage, "run_id")), run);
	ck_assert_str_eq(json_string_value(json_object_get(lineage, "version")), version);
	json_t *pred = json_object_get(json_object_get(doc, "predictions"), "columns");
	ck_assert_ptr_nonnull(th_json_find(pred, "column_name", "label"));
	ck_assert_ptr_nonnull(th_json_find(pred, "column_name", "confidence"));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "window"), "rows")), WINDOW);
	json_decref(doc);
	json_decref(reports);

	/* 2. brighter images: brightness drifts, and the dataset with it */
	th_drift_images(&g, cur_raw, WINDOW, PIXELS, 170, 250);
	th_drift_predict(S.ia, model, cur_raw, WINDOW, PIXELS);
	reports = th_drift_wait_reports(dm, monitor, 2);
	const char *second = json_string_value(json_object_get(json_array_get(reports, 0), "id"));
	doc = th_drift_report_doc(dm, second);
	char *doctext = json_dumps(doc, JSON_COMPACT);
	th_json_schema_check("proto/drift-report.schema.json", doctext, strlen(doctext), "the drifted report");
	free(doctext);
	ck_assert(json_is_true(json_object_get(doc, "dataset_drift")));
	ck_assert(json_is_true(json_object_get(column(doc, "brightness"), "drift_detected")));
	char *line = th_fmt("drift_dataset_detected{model=\"%s\"} 1", model);
	ck_assert_msg(metrics_have(dm, line), "no %s", line);
	free(line);
	line = th_fmt("drift_detected{model=\"%s\",feature=\"brightness\"} 1", model);
	ck_assert_msg(metrics_have(dm, line), "no %s", line);
	free(line);
	line = th_fmt("drift_score{model=\"%s\",feature=\"brightness\",method=\"ks\"}", model);
	ck_assert_msg(metrics_have(dm, line), "no %s", line);
	free(line);

	th_kafka_wait(&alerts, 1, 20000);
	json_t *evs = th_kafka_events_of(&alerts, model);
	ck_assert_uint_eq(json_array_size(evs), 1);
	char *evtext = json_dumps(json_array_get(evs, 0), JSON_COMPACT);
	th_json_schema_check("proto/events/drift.alerts.schema.json", evtext, strlen(evtext), "the drift.alerts event");
	free(evtext);
	json_t *alert = json_object_get(json_array_get(evs, 0), "data");
	ck_assert_str_eq(json_string_value(json_object_get(alert, "report_id")), second);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(alert, "lineage"), "run_id")), run);
	ck_assert(json_is_true(json_object_get(alert, "retrain_requested")));
	bool named = false;
	size_t k;
	json_t *dc;
	json_array_foreach(json_object_get(alert, "drifted_columns"), k, dc)
	{
		named |= strcmp(json_string_value(dc), "brightness") == 0;
	}
	ck_assert_msg(named, "the alert does not name brightness");
	json_decref(evs);

	/* the retraining request: made, and refused as the version has no trainer job */
	char *status = NULL;
	for (int i = 0; i < 100; i++) {
		free(status);
		status = th_sql(dm, "drift", "SELECT status || ':' || coalesce(failure, '') FROM retrains");
		if (strncmp(status, "FAILED", 6) == 0)
			break;
		usleep(100000);
	}
	ck_assert_msg(strstr(status, "FAILED:") && strstr(status, "lathe.job_id"), "%s", status);
	free(status);
	json_decref(doc);
	json_decref(reports);

	/* 3. killed in the middle of a window: the window resumes */
	th_drift_images(&g, cur_raw, WINDOW, PIXELS, 60, 180);
	th_drift_predict(S.ia, model, cur_raw, WINDOW / 2, PIXELS);
	char *rows = NULL;
	for (int i = 0; i < 300; i++) {
		free(rows);
		rows = th_sql(dm, "drift", "SELECT rows FROM windows");
		if ((int)strtol(rows, NULL, 10) == WINDOW / 2)
			break;
		usleep(100000);
	}
	ck_assert_int_eq((int)strtol(rows, NULL, 10), WINDOW / 2);
	free(rows);
	char *db = strdup(dm->database_url);
	th_daemon_kill9(dm);
	dm = th_daemon_start("drift-monitor", db, env);
	th_drift_predict(S.ia, model, cur_raw + (WINDOW / 2) * PIXELS, WINDOW / 2, PIXELS);
	reports = th_drift_wait_reports(dm, monitor, 3);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(json_array_get(reports, 0), "window"), "rows")),
		WINDOW);
	doc = th_drift_report_doc(dm, json_string_value(json_object_get(json_array_get(reports, 0), "id")));
	json_t *b = column(doc, "brightness");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(b, "current"), "count")), WINDOW);
	json_decref(doc);
	json_decref(reports);

	/* 4. a model nobody set a monitor for gets one at its first prediction; one whose
	 * package has no reference.json gets none (said at warn) */
	char *run2 = th_infer_log_dir(&S, dir);
	th_infer_put_run_file(&S, run2, "reference.json", refdoc, strlen(refdoc));
	char *v2 = th_infer_register(&S, "drift-stream-auto", run2);
	th_infer_alias(&S, "drift-stream-auto", "champion", v2);
	char *v3 = th_infer_publish(&S, "drift-stream-noref", &pkg, "champion");
	ck_assert(th_infer_wait_serving(S.ia, "drift-stream-auto", v2, 30000));
	ck_assert(th_infer_wait_serving(S.ia, "drift-stream-noref", v3, 30000));
	th_drift_predict(S.ia, "drift-stream-noref", cur_raw, 10, PIXELS);
	th_drift_predict(S.ia, "drift-stream-auto", cur_raw, 10, PIXELS);
	json_t *auto_mon = NULL;
	for (int i = 0; i < 300 && !auto_mon; i++) {
		json_t *page = th_ok(dm, "GET", "/v1/monitors?model=drift-stream-auto", NULL);
		json_t *m = json_array_get(json_object_get(page, "monitors"), 0);
		auto_mon = m ? json_incref(m) : NULL;
		json_decref(page);
		if (!auto_mon)
			usleep(100000);
	}
	ck_assert_msg(auto_mon != NULL, "no monitor made for drift-stream-auto");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(auto_mon, "window"), "size")), 1000);
	json_decref(auto_mon);
	bool said = false; /* its partition may be read after the other model's */
	for (int i = 0; i < 300 && !said; i++) {
		said = th_daemon_log_has(dm, "drift-stream-noref", "is not watched");
		if (!said)
			usleep(100000);
	}
	ck_assert_msg(said, "no warning that drift-stream-noref is not watched");
	json_t *none = th_ok(dm, "GET", "/v1/monitors?model=drift-stream-noref", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(none, "monitors")), 0);
	json_decref(none);
	ck_assert(th_daemon_alive(dm));

	/* 5. a new serving version: the old version's window closes with what it held (50),
	 * and the new version's predictions fill a window of their own */
	th_drift_predict(S.ia, model, cur_raw, 50, PIXELS);
	for (int i = 0; i < 300; i++) {
		char *r = th_sql(dm, "drift",
				 "SELECT rows FROM windows w JOIN monitors m ON m.id = w.monitor_id "
				 "WHERE m.model = 'drift-stream-m'");
		bool done = strtol(r, NULL, 10) == 50;
		free(r);
		if (done)
			break;
		usleep(100000);
	}
	char *vnew = th_infer_register(&S, model, run);
	th_infer_alias(&S, model, "champion", vnew);
	ck_assert(th_infer_wait_serving(S.ia, model, vnew, 30000));
	th_drift_predict(S.ia, model, cur_raw, WINDOW, PIXELS);
	reports = th_drift_wait_reports(dm, monitor, 5);
	/* both may be written by one batch, at one created_at: tell them by version */
	json_t *newest = json_array_get(reports, 0), *closed = json_array_get(reports, 1);
	if (strcmp(json_string_value(json_object_get(newest, "model_version")), version) == 0) {
		json_t *t = newest;
		newest = closed;
		closed = t;
	}
	ck_assert_str_eq(json_string_value(json_object_get(closed, "model_version")), version);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(closed, "window"), "rows")), 50);
	ck_assert_str_eq(json_string_value(json_object_get(newest, "model_version")), vnew);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(newest, "window"), "rows")), WINDOW);
	json_decref(reports);
	free(vnew);

	th_kafka_close(&alerts);
	th_daemon_stop(dm);
	th_infer_stop(&S);
	free(v2);
	free(v3);
	free(run2);
	free(db);
	free(monitor);
	free(version);
	free(run);
	free(dir);
	free(refdoc);
	free(ref_raw);
	ml_package_free(&pkg);
}
END_TEST

static Suite *stream_suite(void)
{
	Suite *s = suite_create("drift-stream");
	TCase *tc = tcase_create("stream");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, stream_reports_alerts_and_resumes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stream_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
