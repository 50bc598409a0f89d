/* The drift monitor's stream against prediction events written by hand: tracker and
 * registry hold an image classifier's version with its reference.json, the drift
 * monitor watches it in windows of 20 rows, and the test produces the events straight to
 * inference.predictions (libs/bus's producer, keyed by the model as the inference API
 * keys them), in the inference API's member order. The inference API never repeats a
 * member, so only such events can say one thing in their head (what the stream groups
 * an event by: type, model, version, timestamp, role) and another further on.
 *   - good events are added; an event whose whole text disagrees with its head (model,
 *     version, role, timestamp or type given twice, the second value another) or whose
 *     tail is malformed is skipped and counted as skipped, and changes nothing: the
 *     window holds the good events alone (its row count, and the report it makes once
 *     full: 20 rows, no value of a skipped event in its histograms), and an event whose
 *     head names a newer version does not close the window;
 *   - a model with no monitor gets one made from the version its events say, though the
 *     first of them has a head naming another;
 *   - the daemon stays ready.
 * The topic is shared by the whole run, so the counts are compared with what the daemon
 * had read once it caught up with the topic as it was before the test's events. */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bus/bus.h"
#include "harness_db.h"
#include "harness_drift.h"
#include "harness_infer.h"
#include "harness_kafka.h"
#include "harness_util.h"

#define TOPIC   "inference.predictions"
#define SIZE    4
#define PIXELS  (SIZE * SIZE)
#define CLASSES 3
#define NREF    200
#define WINDOW  20
#define FIRST   12  /* good events before the window is checked half full */
#define ODD     999 /* a skipped event's brightness and contrast: far out of the good range */

static struct th_infer_stack S;
static struct ml_package pkg;

/* --- the topic and the daemon's counts ------------------------------------------------ */

struct counts {
	double added, duplicate, redelivered, skipped;
};

static double series_or_0(struct th_daemon *dm, const char *outcome)
{
	char series[96];
	snprintf(series, sizeof series, "drift_events_total{outcome=\"%s\"}", outcome);
	double v = th_metric(dm, series);
	return v < 0 ? 0 : v; /* a counter never added to is not shown */
}

static struct counts counts_of(struct th_daemon *dm)
{
	return (struct counts){series_or_0(dm, "added"), series_or_0(dm, "duplicate"), series_or_0(dm, "redelivered"),
			       series_or_0(dm, "skipped")};
}

static double total(struct counts c)
{
	return c.added + c.duplicate + c.redelivered + c.skipped;
}

/* Waits (at most 60 s) until the daemon has counted want events in all, each message
 * of the topic being counted once under one outcome; returns the counts then. */
static struct counts wait_counted(struct th_daemon *dm, double want, const char *what)
{
	struct counts c = counts_of(dm);
	for (int i = 0; i < 600 && total(c) < want; i++) {
		usleep(100000);
		c = counts_of(dm);
	}
	ck_assert_msg(total(c) == want,
		      "%s: the daemon counted %.0f events (added %.0f, duplicate %.0f, redelivered %.0f, skipped "
		      "%.0f), want %.0f, after 60 s",
		      what, total(c), c.added, c.duplicate, c.redelivered, c.skipped, want);
	return c;
}

/* --- events written by hand ---------------------------------------------------------- */

struct producer {
	struct bus_producer *p;
	const char *model;
	int seq; /* request ids and event ids: unique, so the window's dedupe keeps every one */
};

static void now_iso(char out[32])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* The event text as the inference API writes it: the CloudEvent envelope (bus_event_new's
 * members), then data with model, version, request_id, timestamp, protocol, role, row,
 * image, label, probability in that order. data_extra goes inside data after them,
 * ev_extra after data (both "" for none). */
static char *event_text(struct producer *pr, const char *version, const char *ts, double bright, double contrast,
			const char *data_extra, const char *ev_extra)
{
	int i = pr->seq++;
	return th_fmt("{\"specversion\":\"1.0\",\"id\":\"raw-%d-%d\",\"source\":\"lathe/inference-api\","
		      "\"type\":\"lathe.prediction\",\"subject\":\"%s\",\"time\":\"%s\","
		      "\"datacontenttype\":\"application/json\",\"data\":{\"model\":\"%s\",\"version\":\"%s\","
		      "\"request_id\":\"req-%d-%d\",\"timestamp\":\"%s\",\"protocol\":\"oip\",\"role\":\"serve\","
		      "\"row\":0,\"image\":{\"width\":%d,\"height\":%d,\"channels\":1,\"brightness\":%.17g,"
		      "\"contrast\":%.17g},\"label\":\"c%d\",\"probability\":0.75%s}%s}",
		      (int)getpid(), i, pr->model, ts, pr->model, version, (int)getpid(), i, ts, SIZE, SIZE, bright,
		      contrast, i % CLASSES, data_extra, ev_extra);
}

static void send_text(struct producer *pr, const char *text)
{
	struct core_error err = {{0}};
	ck_assert_msg(bus_produce_event(pr->p, TOPIC, pr->model, text, strlen(text), NULL, NULL, &err) == CORE_OK, "%s",
		      err.message);
}

/* Good events: images i0..i1-1 of the drawn summaries. */
static void send_good(struct producer *pr, const char *version, const double *bright, const double *contrast, size_t i0,
		      size_t i1)
{
	for (size_t i = i0; i < i1; i++) {
		char ts[32];
		now_iso(ts);
		char *text = event_text(pr, version, ts, bright[i], contrast[i], "", "");
		send_text(pr, text);
		free(text);
	}
}

/* An event whose head is a good one's and whose text then says otherwise. */
static void send_bad(struct producer *pr, const char *version, const char *data_extra, const char *ev_extra)
{
	char ts[32];
	now_iso(ts);
	char *text = event_text(pr, version, ts, ODD, ODD, data_extra, ev_extra);
	send_text(pr, text);
	free(text);
}

static json_t *column(json_t *doc, const char *name)
{
	json_t *c = th_json_find(json_object_get(doc, "columns"), "column_name", name);
	ck_assert_msg(c != NULL, "no column %s", name);
	return c;
}

static char *window_rows(struct th_daemon *dm, const char *monitor)
{
	char *q = th_fmt("SELECT coalesce((SELECT rows FROM windows WHERE monitor_id = '%s'), -1)", monitor);
	char *rows = th_sql(dm, "drift", q);
	free(q);
	return rows;
}

START_TEST(skips_events_whose_text_disagrees_with_their_head)
{
	char *model = th_fmt("drift-raw-%d", (int)getpid());
	struct th_rng g = {0x7a3e1u};
	th_infer_start(&S, false, NULL, false);
	th_infer_classifier(&pkg, SIZE, 0, CLASSES, 7, 0.02f);

	/* the version and its reference */
	float *ref_raw = malloc(NREF * PIXELS * sizeof *ref_raw);
	double ref_b[NREF], ref_c[NREF];
	ck_assert_ptr_nonnull(ref_raw);
	th_drift_images(&g, ref_raw, NREF, PIXELS, 60, 180);
	char *refdoc = th_drift_reference(&pkg, SIZE, CLASSES, ref_raw, NREF, ref_b, ref_c);
	char *dir = th_infer_write(&pkg);
	char *run = th_infer_log_dir(&S, dir);
	th_infer_put_run_file(&S, run, "reference.json", refdoc, strlen(refdoc));
	char *version = th_infer_register(&S, model, run);
	char *newer = th_fmt("%ld", strtol(version, NULL, 10) + 90); /* a version the registry does not have */

	char turl[128], rurl[128], group[64];
	snprintf(turl, sizeof turl, "TRACKER_URL=%s", S.tracker->base_url);
	snprintf(rurl, sizeof rurl, "REGISTRY_URL=%s", S.registry->base_url);
	snprintf(group, sizeof group, "CONSUMER_GROUP=drift-raw-%d", (int)getpid());
	const char *env[] = {turl, rurl, group, "TRAINER_URL=http://127.0.0.1:9", NULL};
	struct th_daemon *dm = th_daemon_start("drift-monitor", NULL, env);
	char *body = th_fmt("{\"model\": \"%s\", \"window\": {\"size\": %d}, \"alert\": {\"policy\": \"none\"}}", model,
			    WINDOW);
	char *monitor = th_drift_monitor_create(dm, body);
	free(body);

	/* what the run's earlier tests left on the topic is read first (a new group starts
	 * at the earliest offset): the counts are taken once the daemon has read it all */
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	ck_assert_int_eq(
		rd_kafka_conf_set(conf, "bootstrap.servers", th_env("LATHE_TEST_KAFKA"), errstr, sizeof errstr),
		RD_KAFKA_CONF_OK);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	ck_assert_msg(rk != NULL, "%s", errstr);
	int64_t before = th_kafka_messages(rk, TOPIC);
	struct counts base = wait_counted(dm, (double)before, "catching up with the topic");

	struct bus_config cfg = {.brokers = th_env("LATHE_TEST_KAFKA"), .client_id = "test-drift-stream-raw"};
	struct producer pr = {.model = model};
	struct core_error err = {{0}};
	ck_assert_msg(bus_producer_new(&cfg, &pr.p, &err) == CORE_OK, "%s", err.message);

	/* 1. good events with bad ones among them, all on one partition (one key), in order */
	float cur_raw[WINDOW * PIXELS];
	double cur_b[WINDOW], cur_c[WINDOW];
	th_drift_images(&g, cur_raw, WINDOW, PIXELS, 60, 180);
	th_drift_summaries(cur_raw, WINDOW, PIXELS, cur_b, cur_c);
	char *other_model = th_fmt(",\"model\":\"%s-other\"", model);
	char *other_version = th_fmt(",\"version\":\"%s\"", newer);
	char *own_version = th_fmt(",\"version\":\"%s\"", version);
	size_t bad = 0;
	send_good(&pr, version, cur_b, cur_c, 0, 6);
	send_bad(&pr, version, other_model, ""), bad++; /* model twice: the watched one, then another */
	send_good(&pr, version, cur_b, cur_c, 6, 9);
	send_bad(&pr, version, other_version, ""), bad++; /* version twice: the watched one, then a newer */
	/* version twice the other way round: the head names a newer version (which would
	 * close the window and switch the reference), the text the watched one */
	send_bad(&pr, newer, own_version, ""), bad++;
	send_good(&pr, version, cur_b, cur_c, 9, 10);
	send_bad(&pr, version, ",\"role\":\"shadow\"", ""), bad++;
	send_bad(&pr, version, ",\"timestamp\":\"2020-01-01T00:00:00.000Z\"", ""), bad++;
	send_bad(&pr, version, "", ",\"type\":\"lathe.other\""), bad++; /* the CloudEvent's type twice */
	{                                                               /* a good head, then malformed JSON */
		char ts[32];
		now_iso(ts);
		char *good = event_text(&pr, version, ts, ODD, ODD, "", "");
		const char *cut = strstr(good, "\"contrast\":");
		ck_assert_ptr_nonnull(cut);
		char *broken = th_fmt("%.*s\"contrast\":}}}", (int)(cut - good), good);
		send_text(&pr, broken);
		free(broken);
		free(good);
		bad++;
	}
	send_good(&pr, version, cur_b, cur_c, 10, FIRST);
	ck_assert_int_eq(bus_producer_flush(pr.p, 20000), 0);
	struct counts c = wait_counted(dm, total(base) + FIRST + (double)bad, "the test's events");
	ck_assert_msg(c.added - base.added == FIRST, "added %.0f, want %d", c.added - base.added, FIRST);
	ck_assert_msg(c.skipped - base.skipped == (double)bad, "skipped %.0f, want %zu", c.skipped - base.skipped, bad);
	ck_assert_double_eq(c.duplicate, base.duplicate);
	ck_assert_double_eq(c.redelivered, base.redelivered);

	/* the window holds the good events alone, and is still the first (no report) */
	char *gauge = th_fmt("drift_window_rows{model=\"%s\"}", model);
	ck_assert_double_eq(th_metric(dm, gauge), FIRST);
	char *rows = window_rows(dm, monitor);
	ck_assert_msg(strtol(rows, NULL, 10) == FIRST, "the saved window holds %s rows, want %d", rows, FIRST);
	free(rows);
	char *path = th_fmt("/v1/reports?monitor=%s", monitor);
	json_t *page = th_ok(dm, "GET", path, NULL);
	ck_assert_msg(json_array_size(json_object_get(page, "reports")) == 0,
		      "a report before the window is full (a skipped event closed it?)");
	json_decref(page);

	/* 2. the rest of the window: one report of the good events */
	send_good(&pr, version, cur_b, cur_c, FIRST, WINDOW);
	ck_assert_int_eq(bus_producer_flush(pr.p, 20000), 0);
	c = wait_counted(dm, total(base) + WINDOW + (double)bad, "the window's last events");
	ck_assert_double_eq(c.added - base.added, WINDOW);
	ck_assert_double_eq(c.skipped - base.skipped, (double)bad);
	json_t *reports = th_drift_wait_reports(dm, monitor, 1); /* written before the events are counted */
	ck_assert_uint_eq(json_array_size(reports), 1);
	json_t *r = json_array_get(reports, 0);
	ck_assert_str_eq(json_string_value(json_object_get(r, "model_version")), version);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "window"), "rows")), WINDOW);
	json_t *doc = th_drift_report_doc(dm, json_string_value(json_object_get(r, "id")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "window"), "duplicates")), 0);
	/* every value of the window is a good event's: the histograms (Sturges bins over the
	 * reference and the window) end at the largest value of those, not at ODD */
	const char *names[2] = {"brightness", "contrast"};
	const double *refs[2] = {ref_b, ref_c}, *curs[2] = {cur_b, cur_c};
	for (int k = 0; k < 2; k++) {
		json_t *cur = json_object_get(column(doc, names[k]), "current");
		ck_assert_int_eq(json_integer_value(json_object_get(cur, "count")), WINDOW);
		json_t *hist = json_object_get(cur, "histogram");
		json_t *counts = json_object_get(hist, "counts"), *edges = json_object_get(hist, "edges");
		json_int_t sum = 0;
		size_t j;
		json_t *x;
		json_array_foreach(counts, j, x)
		{
			sum += json_integer_value(x);
		}
		ck_assert_int_eq(sum, WINDOW);
		double hi = 0;
		for (size_t i = 0; i < NREF; i++)
			hi = fmax(hi, refs[k][i]);
		for (size_t i = 0; i < WINDOW; i++)
			hi = fmax(hi, curs[k][i]);
		double last = json_number_value(json_array_get(edges, json_array_size(edges) - 1));
		ck_assert_msg(fabs(last - hi) <= 1e-9 * hi, "%s: the histogram ends at %.17g, the good values at %.17g",
			      names[k], last, hi);
	}
	json_decref(doc);
	json_decref(reports);

	/* 3. a model nobody set a monitor for gets one for the version its events say, even
	 * when the first of them has a head that names another (its text says otherwise) */
	char *model2 = th_fmt("%s-auto", model);
	char *version2 = th_infer_register(&S, model2, run);
	char *newer2 = th_fmt("%ld", strtol(version2, NULL, 10) + 90);
	char *own_version2 = th_fmt(",\"version\":\"%s\"", version2);
	struct producer pr2 = {.p = pr.p, .model = model2};
	struct counts before2 = counts_of(dm);
	send_bad(&pr2, newer2, own_version2, "");
	send_good(&pr2, version2, cur_b, cur_c, 0, 5);
	ck_assert_int_eq(bus_producer_flush(pr.p, 20000), 0);
	c = wait_counted(dm, total(before2) + 6, "the unwatched model's events");
	ck_assert_msg(c.added - before2.added == 5, "added %.0f, want 5", c.added - before2.added);
	ck_assert_msg(c.skipped - before2.skipped == 1, "skipped %.0f, want 1", c.skipped - before2.skipped);
	char *mpath = th_fmt("/v1/monitors?model=%s", model2);
	json_t *mpage = th_ok(dm, "GET", mpath, NULL);
	json_t *mons = json_object_get(mpage, "monitors");
	ck_assert_msg(json_array_size(mons) == 1, "monitors of %s: %zu", model2, json_array_size(mons));
	char *gauge2 = th_fmt("drift_window_rows{model=\"%s\"}", model2);
	ck_assert_double_eq(th_metric(dm, gauge2), 5);
	json_decref(mpage);
	free(gauge2);
	free(mpath);
	free(own_version2);
	free(newer2);
	free(version2);
	free(model2);

	/* 4. the daemon is well and ready */
	ck_assert(th_daemon_alive(dm));
	struct th_response ready = th_call(dm, "GET", "/readyz", NULL);
	ck_assert_msg(ready.status == 200, "/readyz %ld: %s", ready.status, ready.body ? ready.body : "");
	th_response_free(&ready);

	bus_producer_free(pr.p);
	rd_kafka_destroy(rk);
	th_daemon_stop(dm);
	th_infer_stop(&S);
	free(path);
	free(gauge);
	free(other_model);
	free(other_version);
	free(own_version);
	free(monitor);
	free(newer);
	free(version);
	free(run);
	free(dir);
	free(refdoc);
	free(ref_raw);
	free(model);
	ml_package_free(&pkg);
}
END_TEST

static Suite *raw_suite(void)
{
	Suite *s = suite_create("drift-stream-raw");
	TCase *tc = tcase_create("raw");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, skips_events_whose_text_disagrees_with_their_head);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(raw_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
