/* The whole loop, end to end: the six daemons as processes (tracker, model registry, data
 * registry, trainer with a worker, inference API, drift monitor) on the run's PostgreSQL
 * and broker, wired by their URL settings as `make run` wires them, and `lathe demo
 * --quick --json F` run against them. Each step's outcome is asserted from the summary
 * and by asking the services themselves:
 *   data     both datasets READY at version 1, the PNG one with the images asked for and a
 *            version 2 holding the inverted ones; the split's parts as the registry has them
 *   train    the sweep job SUCCEEDED with two trials, its version registered, the runs in
 *            the tracker (the parent and a nested run per trial)
 *   predict  accuracy well above chance (> 0.5 of 10 classes) over OIP, /invocations, PNG
 *   drift    a report with dataset drift, and its alert on drift.alerts asking a retrain
 *   retrain  the drift monitor's job SUCCEEDED on <png>@latest (version 2), its version the
 *            challenger; no request failed while it ran and was evaluated
 *   promotion the challenger evaluated (the trainer's /v1/evaluations; --quick sets a policy
 *            where accuracy decides) and, promoted, the champion alias on it and the
 *            inference API answering from it
 *   lineage  the trainer's lineage of the prediction made after the swap: its version,
 *            run and dataset. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "harness_cli.h"
#include "harness_infer.h"
#include "harness_kafka.h"
#include "harness_trainer.h"
#include "harness_util.h"

struct loop {
	struct th_infer_stack S; /* tracker, registry, inference API */
	struct th_daemon *dr, *tr, *dm;
	json_t *sum; /* the demo's --json summary */
	const char *model, *png, *idx;
};

static json_t *at(json_t *o, const char *a, const char *b)
{
	json_t *x = json_object_get(o, a);
	ck_assert_msg(x != NULL, "summary: no '%s'", a);
	if (!b)
		return x;
	x = json_object_get(x, b);
	ck_assert_msg(x != NULL, "summary: no '%s.%s'", a, b);
	return x;
}

static const char *str_at(json_t *o, const char *a, const char *b)
{
	const char *s = json_string_value(at(o, a, b));
	ck_assert_msg(s != NULL, "summary: '%s.%s' is not a string", a, b ? b : "");
	return s;
}

/* GET path on d (a name segment escaped by the caller), must answer 200. */
static json_t *get(struct th_daemon *d, const char *path)
{
	return th_ok(d, "GET", path, NULL);
}

static void check_data(struct loop *L)
{
	json_t *data = at(L->sum, "data", NULL);
	ck_assert(json_is_true(at(data, "ok", NULL)));
	ck_assert_int_eq(json_integer_value(at(data, "images", NULL)), 2000);
	char *p = th_fmt("/v1/datasets/%s/versions/1", L->idx);
	json_t *v = get(L->dr, p);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "version"), "status")), "READY");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "version"), "format")), "idx");
	json_decref(v), free(p);
	p = th_fmt("/v1/datasets/%s/versions/1", L->png);
	v = get(L->dr, p);
	json_t *ver = json_object_get(v, "version");
	ck_assert_str_eq(json_string_value(json_object_get(ver, "status")), "READY");
	ck_assert_int_eq(json_integer_value(json_object_get(ver, "file_count")), 2000);
	ck_assert_str_eq(json_string_value(json_object_get(ver, "id")), str_at(data, "png", "id"));
	json_decref(v), free(p);
	/* version 2: the same images and a third as many inverted ones */
	p = th_fmt("/v1/datasets/%s/versions/2", L->png);
	v = get(L->dr, p);
	ver = json_object_get(v, "version");
	ck_assert_str_eq(json_string_value(json_object_get(ver, "status")), "READY");
	ck_assert_int_eq(json_integer_value(json_object_get(ver, "file_count")), 2000 + 666);
	json_decref(v), free(p);
	/* the split: 80/10/10 of 2000, stratified (each part within a class's rounding) */
	p = th_fmt("/v1/datasets/%s/versions/1/splits/lathe-0.8-0.1-0.1-s7", L->png);
	v = get(L->dr, p);
	json_t *counts = json_object_get(json_object_get(v, "split"), "counts");
	json_int_t tr = json_integer_value(json_object_get(counts, "train")),
		   va = json_integer_value(json_object_get(counts, "val")),
		   te = json_integer_value(json_object_get(counts, "test"));
	ck_assert_int_eq(tr + va + te, 2000);
	ck_assert(tr >= 1590 && tr <= 1610 && va >= 195 && va <= 205 && te >= 195 && te <= 205);
	ck_assert_int_eq(tr, json_integer_value(at(at(data, "split", NULL), "train", NULL)));
	ck_assert_int_eq(te, json_integer_value(at(at(data, "split", NULL), "test", NULL)));
	json_decref(v), free(p);
}

static void check_train(struct loop *L)
{
	json_t *train = at(L->sum, "train", NULL);
	ck_assert(json_is_true(at(train, "ok", NULL)));
	ck_assert_uint_eq(json_array_size(at(train, "trials", NULL)), 2);
	char *p = th_fmt("/v1/jobs/%s", str_at(train, "job", NULL));
	json_t *j = get(L->tr, p);
	json_t *job = json_object_get(j, "job");
	ck_assert_str_eq(json_string_value(json_object_get(job, "status")), "SUCCEEDED");
	ck_assert_str_eq(json_string_value(json_object_get(job, "model_version")), str_at(train, "version", NULL));
	ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(job, "metrics"), "trials")), 2);
	json_decref(j), free(p);
	/* the registered version and its run; the tracker holds the parent and both trials */
	p = th_fmt("/api/2.0/mlflow/model-versions/get?name=%s&version=%s", L->model, str_at(train, "version", NULL));
	json_t *mv = get(L->S.registry, p);
	const char *run = json_string_value(json_object_get(json_object_get(mv, "model_version"), "run_id"));
	ck_assert_ptr_nonnull(run);
	free(p);
	p = th_fmt("/api/2.0/mlflow/runs/get?run_id=%s", run);
	json_decref(get(L->S.tracker, p));
	free(p);
	json_decref(mv);
	/* champion: the sweep's version, or the retrained one when an evaluation promoted it */
	p = th_fmt("/api/2.0/mlflow/registered-models/alias?name=%s&alias=champion", L->model);
	json_t *a = get(L->S.registry, p);
	const char *champ = json_string_value(json_object_get(json_object_get(a, "model_version"), "version"));
	json_t *ev = json_object_get(json_object_get(L->sum, "retrain"), "evaluation");
	bool promoted = json_is_string(json_object_get(ev, "decision")) &&
			strcmp(json_string_value(json_object_get(ev, "decision")), "promoted") == 0;
	ck_assert_str_eq(champ, promoted ? str_at(L->sum, "retrain", "version") : str_at(train, "version", NULL));
	json_decref(a), free(p);
	p = th_fmt("/api/2.0/mlflow/experiments/get-by-name?experiment_name=%s", str_at(L->sum, "names", "experiment"));
	json_t *e = get(L->S.tracker, p);
	const char *eid = json_string_value(json_object_get(json_object_get(e, "experiment"), "experiment_id"));
	ck_assert_ptr_nonnull(eid);
	char *body = th_fmt("{\"experiment_ids\": [\"%s\"], \"max_results\": 100}", eid);
	json_t *runs = th_ok(L->S.tracker, "POST", "/api/2.0/mlflow/runs/search", body);
	/* the sweep's parent and two trials, and the retraining's run */
	ck_assert_uint_ge(json_array_size(json_object_get(runs, "runs")), 4);
	json_decref(runs), json_decref(e), free(body), free(p);
}

static void check_predict(struct loop *L)
{
	json_t *pr = at(L->sum, "predict", NULL);
	ck_assert(json_is_true(at(pr, "ok", NULL)));
	const char *const protos[] = {"oip", "invocations", "png"};
	for (size_t i = 0; i < 3; i++) {
		double acc = json_number_value(at(pr, protos[i], "accuracy"));
		ck_assert_msg(acc > 0.5, "%s accuracy %.3f", protos[i], acc);
		ck_assert_int_gt(json_integer_value(at(pr, protos[i], "n")), 0);
	}
	ck_assert_int_eq(json_integer_value(at(pr, "oip", "n")), 200);
}

static void check_drift(struct loop *L)
{
	json_t *dr = at(L->sum, "drift", NULL);
	ck_assert(json_is_true(at(dr, "ok", NULL)));
	const char *rid = str_at(dr, "report_id", NULL);
	char *p = th_fmt("/v1/reports/%s", rid);
	json_t *r = get(L->dm, p);
	json_t *rep = json_object_get(r, "report");
	ck_assert(json_is_true(json_object_get(rep, "dataset_drift")));
	ck_assert_str_eq(json_string_value(json_object_get(rep, "model")), L->model);
	ck_assert_uint_ge(json_array_size(at(dr, "drifted", NULL)), 1);
	json_decref(r), free(p);
	/* the alert: on drift.alerts, asking a retrain */
	struct th_kafka alerts;
	th_kafka_open(&alerts, "drift.alerts", L->model);
	th_kafka_wait(&alerts, 1, 20000);
	json_t *evs = th_kafka_events_of(&alerts, L->model), *ev;
	size_t i;
	bool retrain = false;
	ck_assert_uint_ge(json_array_size(evs), 1);
	json_array_foreach(evs, i, ev) retrain |=
		json_is_true(json_object_get(json_object_get(ev, "data"), "retrain_requested"));
	ck_assert(retrain);
	json_decref(evs);
	th_kafka_close(&alerts);
}

static void check_retrain(struct loop *L)
{
	json_t *rt = at(L->sum, "retrain", NULL);
	ck_assert(json_is_true(at(rt, "ok", NULL)));
	char *p = th_fmt("/v1/jobs/%s", str_at(rt, "job", NULL));
	json_t *j = get(L->tr, p);
	json_t *job = json_object_get(j, "job");
	ck_assert_str_eq(json_string_value(json_object_get(job, "status")), "SUCCEEDED");
	const char *v = json_string_value(json_object_get(job, "model_version"));
	ck_assert_str_eq(v, str_at(rt, "version", NULL));
	json_t *spec = json_object_get(job, "spec");
	char *latest = th_fmt("%s@latest", L->png);
	ck_assert_str_eq(json_string_value(json_object_get(spec, "dataset")), latest);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(spec, "register"), "alias")), "challenger");
	ck_assert_ptr_null(json_object_get(spec, "sweep"));
	free(latest);
	free(p);
	/* it trained on version 2 (its first log line names the version it resolved) */
	p = th_fmt("/v1/jobs/%s/events", str_at(rt, "job", NULL));
	struct th_response er = th_call(L->tr, "GET", p, NULL);
	ck_assert_int_eq(er.status, 200);
	char *want = th_fmt("on %s@2 ", L->png);
	th_expect_has(er.body, want);
	free(want);
	th_response_free(&er);
	free(p);
	/* the challenger alias names it (unless an evaluation already promoted it) */
	p = th_fmt("/api/2.0/mlflow/model-versions/get?name=%s&version=%s", L->model, v);
	json_t *mv = get(L->S.registry, p);
	json_t *aliases = json_object_get(json_object_get(mv, "model_version"), "aliases"), *a;
	size_t i;
	bool named = false;
	json_array_foreach(aliases, i, a) named |=
		json_is_string(a) &&
		(strcmp(json_string_value(a), "challenger") == 0 || strcmp(json_string_value(a), "champion") == 0);
	ck_assert_msg(named, "version %s has neither alias", v);
	json_decref(mv), free(p), json_decref(j);
	/* no request failed while the model was retrained, evaluated (and swapped) */
	ck_assert_int_gt(json_integer_value(at(at(rt, "swap", NULL), "requests", NULL)), 0);
	ck_assert_int_eq(json_integer_value(at(at(rt, "swap", NULL), "failed", NULL)), 0);
}

/* The challenger's evaluation and, when promoted, the swap. */
static void check_promotion(struct loop *L)
{
	char *p = th_fmt("/v1/evaluations?model=%s", L->model);
	json_t *ev = at(at(L->sum, "retrain", NULL), "evaluation", NULL);
	ck_assert(json_is_true(at(ev, "available", NULL)));
	ck_assert(json_is_true(at(at(L->sum, "retrain", NULL), "policy", NULL)));
	const char *decision = str_at(ev, "decision", NULL);
	/* the retrained model learned the inverted images the champion fails on: with
	 * --quick's policy (accuracy decides) it is promoted, and the swap is exercised */
	ck_assert_msg(strcmp(decision, "promoted") == 0, "decision '%s': %s", decision, str_at(ev, "reason", NULL));
	/* measured on the champion's own split too: its run is a sweep's trial, whose job the
	 * trainer finds */
	ck_assert_msg(!strstr(str_at(ev, "reason", NULL), "not measured"), "%s", str_at(ev, "reason", NULL));
	json_t *list = get(L->tr, p);
	ck_assert_uint_ge(json_array_size(json_object_get(list, "evaluations")), 1);
	json_decref(list);
	free(p);
	/* the champion alias on it, and the inference API answering from it */
	const char *v = str_at(at(L->sum, "retrain", NULL), "version", NULL);
	p = th_fmt("/api/2.0/mlflow/registered-models/alias?name=%s&alias=champion", L->model);
	json_t *a = get(L->S.registry, p);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "model_version"), "version")), v);
	json_decref(a), free(p);
	json_t *swap = at(at(L->sum, "retrain", NULL), "swap", NULL);
	ck_assert(json_is_true(at(swap, "swapped", NULL)));
	ck_assert_str_eq(str_at(swap, "last_version", NULL), v);
	/* the version's tags say so too */
	p = th_fmt("/api/2.0/mlflow/model-versions/get?name=%s&version=%s", L->model, v);
	json_t *mv = get(L->S.registry, p);
	json_t *tag = th_json_find(json_object_get(json_object_get(mv, "model_version"), "tags"), "key",
				   "lathe.eval.decision");
	ck_assert_str_eq(json_string_value(json_object_get(tag, "value")), "promoted");
	json_decref(mv), free(p);
}

/* The lineage of the prediction made after the swap. */
static void check_lineage(struct loop *L)
{
	json_t *li = at(L->sum, "lineage", NULL);
	ck_assert(json_is_true(at(li, "available", NULL)));
	ck_assert_str_eq(str_at(li, "version", NULL), str_at(L->sum, "retrain", "version"));
	json_t *tree = at(li, "tree", NULL);
	/* the prediction, the retrained version, its job and the version 2 it trained on */
	ck_assert_str_eq(str_at(json_object_get(tree, "prediction"), "request_id", NULL),
			 str_at(li, "request_id", NULL));
	ck_assert_str_eq(str_at(json_object_get(tree, "model_version"), "version", NULL),
			 str_at(L->sum, "retrain", "version"));
	ck_assert_str_eq(str_at(json_object_get(tree, "job"), "id", NULL), str_at(L->sum, "retrain", "job"));
	char *ref = th_fmt("%s@2", L->png);
	ck_assert_str_eq(str_at(json_object_get(tree, "dataset"), "ref", NULL), ref);
	free(ref);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(tree, "run"), "url"));
}

START_TEST(demo_runs_the_whole_loop)
{
	struct loop L = {0};
	th_infer_start(&L.S, false, NULL, false);
	L.dr = th_daemon_start("data-registry", NULL, (const char *const[]){"PROFILE_POLL_MS=50", NULL});
	char turl[128], rurl[128], trn[128], group[64];
	snprintf(turl, sizeof turl, "TRACKER_URL=%s", L.S.tracker->base_url);
	snprintf(rurl, sizeof rurl, "REGISTRY_URL=%s", L.S.registry->base_url);
	L.tr = th_trainer_start(L.dr, (const char *const[]){turl, rurl, "WORKERS=1", NULL});
	snprintf(trn, sizeof trn, "TRAINER_URL=%s", L.tr->base_url);
	snprintf(group, sizeof group, "CONSUMER_GROUP=e2e-loop-%d", (int)getpid());
	L.dm = th_daemon_start("drift-monitor", NULL,
			       (const char *const[]){turl, rurl, trn, group, "RETRAIN_EVERY_MS=200", NULL});
	th_infer_start_api(&L.S, (const char *const[]){"PREDICTION_SAMPLE_RATE=1", NULL}, true);

	char *json_path = th_fmt("%s/loop-%d.json", th_env("LATHE_TEST_TMP"), (int)getpid());
	char *env = th_fmt("LATHE_DATA_URL=%s LATHE_TRAINER_URL=%s LATHE_DRIFT_URL=%s LATHE_INFER_URL=%s "
			   "LATHE_TRACKER_URL=%s LATHE_REGISTRY_URL=%s",
			   L.dr->base_url, L.tr->base_url, L.dm->base_url, L.S.ia->base_url, L.S.tracker->base_url,
			   L.S.registry->base_url);
	char *args = th_fmt("demo --quick --wait 120 --json %s", json_path);
	struct th_run r;
	th_lathe(&r, env, args);
	fprintf(stdout, "%s", r.out);
	th_lathe_expect_exit(&r, 0, "lathe demo --quick");
	json_error_t jerr;
	L.sum = json_load_file(json_path, 0, &jerr);
	ck_assert_msg(L.sum != NULL, "summary %s: %s", json_path, jerr.text);
	ck_assert(json_is_true(at(L.sum, "ok", NULL)));
	L.model = str_at(L.sum, "names", "model");
	L.png = str_at(L.sum, "names", "png_dataset");
	L.idx = str_at(L.sum, "names", "idx_dataset");
	/* the timeline: one line per step, in order */
	const char *const order[] = {"] data ",    "] train ",   "] predict ",      "] drift ",
				     "] retrain ", "] lineage ", "done: every step"};
	const char *pos = r.out;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		const char *hit = strstr(pos, order[i]);
		ck_assert_msg(hit != NULL, "the timeline has no '%s' after what came before:\n%s", order[i], r.out);
		pos = hit;
	}

	check_data(&L);
	check_train(&L);
	check_predict(&L);
	check_drift(&L);
	check_retrain(&L);
	check_promotion(&L);
	check_lineage(&L);

	json_decref(L.sum);
	free(args), free(env), free(json_path);
	th_daemon_stop(L.dm);
	th_daemon_stop(L.tr);
	th_daemon_stop(L.dr);
	th_infer_stop(&L.S);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-loop");
	TCase *tc = tcase_create("loop");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, demo_runs_the_whole_loop);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
