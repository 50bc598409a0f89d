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

/* n images whose pixels scatter around a per-image level drawn in [lo, hi). */
static void images(struct th_rng *g, float *raw, size_t n, double lo, double hi)
{
	for (size_t r = 0; r < n; r++) {
		double level = lo + (hi - lo) * th_urand(g);
		for (size_t i = 0; i < PIXELS; i++) {
			double v = round(level + 30 * th_nrand(g));
			raw[r * PIXELS + i] = (float)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}
}

/* Brightness (mean) and contrast (population std) of each image, as the inference API
 * computes them for its events. */
static void summaries(const float *raw, size_t n, double *bright, double *contrast)
{
	for (size_t r = 0; r < n; r++) {
		double s = 0, ss = 0;
		for (size_t i = 0; i < PIXELS; i++)
			s += raw[r * PIXELS + i];
		double mean = s / PIXELS;
		for (size_t i = 0; i < PIXELS; i++)
			ss += (raw[r * PIXELS + i] - mean) * (raw[r * PIXELS + i] - mean);
		bright[r] = mean;
		contrast[r] = sqrt(ss / PIXELS);
	}
}

static json_t *sample_of(const double *x, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_real(x[i]));
	return a;
}

/* reference.json of NREF images: their brightness and contrast, the classes the model
 * predicts for them and its confidence. */
static char *reference_json(const float *raw, double *bright, double *contrast)
{
	float *probs = malloc(NREF * CLASSES * sizeof *probs);
	th_infer_forward(&pkg, raw, NREF, probs);
	summaries(raw, NREF, bright, contrast);
	int counts[CLASSES] = {0};
	double *conf = malloc(NREF * sizeof *conf);
	for (size_t r = 0; r < NREF; r++) {
		int best = 0;
		for (int k = 1; k < CLASSES; k++)
			if (probs[r * CLASSES + k] > probs[r * CLASSES + best])
				best = k;
		counts[best]++;
		conf[r] = probs[r * CLASSES + best];
	}
	json_t *classes = json_array();
	for (int k = 0; k < CLASSES; k++) {
		char name[16];
		snprintf(name, sizeof name, "c%d", k);
		json_array_append_new(classes, json_pack("{s:s, s:i}", "name", name, "count", counts[k]));
	}
	json_t *doc =
		json_pack("{s:i, s:i, s:{s:s, s:[i,i,i]}, s:[{s:s, s:s, s:i, s:i, s:o}, {s:s, s:s, s:i, s:i, s:o}], "
			  "s:{s:s, s:o, s:{s:o}}}",
			  "format_version", 2, "rows", NREF, "input", "kind", "image", "shape", 1, SIZE, SIZE,
			  "columns", "name", "brightness", "type", "numeric", "count", NREF, "missing", 0, "sample",
			  sample_of(bright, NREF), "name", "contrast", "type", "numeric", "count", NREF, "missing", 0,
			  "sample", sample_of(contrast, NREF), "predictions", "task", "classification", "classes",
			  classes, "confidence", "sample", sample_of(conf, NREF));
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	free(conf);
	free(probs);
	return text;
}

/* Sends n images to model in requests of 10 rows. */
static void predict(const char *model, const float *raw, size_t n)
{
	for (size_t i = 0; i < n; i += 10) {
		struct th_response r =
			th_infer_oip(S.ia, model, NULL, raw + i * PIXELS, n - i < 10 ? n - i : 10, PIXELS);
		ck_assert_msg(r.status == 200, "infer: %ld %s", r.status, r.body ? r.body : "");
		th_response_free(&r);
	}
}

/* Polls the monitor's reports until it has want of them (newest first); returns them. */
static json_t *wait_reports(struct th_daemon *dm, const char *monitor, size_t want)
{
	char *path = th_fmt("/v1/reports?monitor=%s", monitor);
	json_t *reports = NULL;
	for (int i = 0; i < 600; i++) {
		json_t *page = th_ok(dm, "GET", path, NULL);
		reports = json_incref(json_object_get(page, "reports"));
		json_decref(page);
		if (json_array_size(reports) >= want)
			break;
		json_decref(reports);
		reports = NULL;
		usleep(100000);
	}
	ck_assert_msg(reports != NULL, "no %zu reports of monitor %s after 60 s", want, monitor);
	free(path);
	return reports;
}

static json_t *report_doc(struct th_daemon *dm, const char *id)
{
	char *path = th_fmt("/v1/reports/%s", id);
	json_t *r = th_ok(dm, "GET", path, NULL);
	free(path);
	json_t *doc = json_incref(json_object_get(json_object_get(r, "report"), "result"));
	json_decref(r);
	ck_assert_ptr_nonnull(doc);
	return doc;
}

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
	images(&g, ref_raw, NREF, 60, 180);
	char *refdoc = reference_json(ref_raw, ref_b, ref_c);
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
	struct th_response cr = th_call(dm, "POST", "/v1/monitors", body);
	ck_assert_msg(cr.status == 201, "POST /v1/monitors: %ld %s", cr.status, cr.body ? cr.body : "");
	json_t *mon = json_loads(cr.body, 0, NULL);
	th_response_free(&cr);
	free(body);
	char *monitor = strdup(json_string_value(json_object_get(json_object_get(mon, "monitor"), "id")));
	json_decref(mon);

	th_infer_start_api(&S, (const char *const[]){"PREDICTION_SAMPLE_RATE=1", NULL}, true);
	ck_assert(th_infer_wait_serving(S.ia, model, version, 30000));
	struct th_kafka alerts;
	th_kafka_open(&alerts, "drift.alerts", model);

	/* 1. reference-like traffic: no drift, scipy's scores */
	float cur_raw[WINDOW * PIXELS];
	double cur_b[WINDOW], cur_c[WINDOW];
	images(&g, cur_raw, WINDOW, 60, 180);
	summaries(cur_raw, WINDOW, cur_b, cur_c);
	predict(model, cur_raw, WINDOW);
	json_t *reports = wait_reports(dm, monitor, 1);
	json_t *first = json_array_get(reports, 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(first, "window"), "rows")), WINDOW);
	ck_assert_str_eq(json_string_value(json_object_get(first, "model_version")), version);
	json_t *doc = report_doc(dm, json_string_value(json_object_get(first, "id")));
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
	images(&g, cur_raw, WINDOW, 170, 250);
	predict(model, cur_raw, WINDOW);
	reports = wait_reports(dm, monitor, 2);
	const char *second = json_string_value(json_object_get(json_array_get(reports, 0), "id"));
	doc = report_doc(dm, second);
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
	images(&g, cur_raw, WINDOW, 60, 180);
	predict(model, cur_raw, WINDOW / 2);
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
	predict(model, cur_raw + (WINDOW / 2) * PIXELS, WINDOW / 2);
	reports = wait_reports(dm, monitor, 3);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(json_array_get(reports, 0), "window"), "rows")),
		WINDOW);
	doc = report_doc(dm, json_string_value(json_object_get(json_array_get(reports, 0), "id")));
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
	predict("drift-stream-noref", cur_raw, 10);
	predict("drift-stream-auto", cur_raw, 10);
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
	predict(model, cur_raw, 50);
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
	predict(model, cur_raw, WINDOW);
	reports = wait_reports(dm, monitor, 5);
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
