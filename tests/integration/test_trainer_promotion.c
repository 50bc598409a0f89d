/* Champion / challenger promotion inside the trainer: tracker, registry, data registry
 * and trainer (WORKERS=1, its own models.events group) as real processes, a tiny
 * three-class CSV (well separated clusters).
 *   - policies: the default when none is stored; PUT checks every field (400 naming
 *     it); GET, DELETE (404 once gone);
 *   - a good model is trained and registered as champion; rollback has no previous: 400;
 *   - a deliberately bad one (1 epoch, sgd, lr 1e-6) registered as challenger: its
 *     alias event queues an evaluation that ends DONE rejected, with the reason, the
 *     metrics on both splits, an MLflow run in lathe-promotion holding the same metrics
 *     and params, and the lathe.eval.* tags on the version; the aliases do not move;
 *     each model's scores there are the ones its job measured on its test split;
 *   - asking again (POST /v1/evaluations, and the alias set again: a redelivery) finds
 *     the same evaluation; bad POSTs are 400 / 404;
 *   - a better one (longer training) registered as challenger is promoted: champion ->
 *     it, previous -> the old champion, challenger alias gone;
 *   - rollback restores the old champion in one call, a second call undoes it;
 *   - under a policy of mode manual, the bad challenger set again against the new
 *     champion is recorded as manual ("fails: ...") and no alias moves;
 *   - a version the trainer did not make (no run): its evaluation FAILED with the reason;
 *   - with the tracker gone, an evaluation stays RUNNING and is claimed again (attempt
 *     2) a few seconds later;
 *   - every decision and rollback is on training.events with the model as key, each
 *     valid against proto/events/training.events.schema.json. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness_kafka.h"
#include "harness_train.h"
#include "harness_trainer.h"
#include "harness_util.h"

#define MODEL "promo-m"
#define DS    "promo-ds"

static char *csv(void)
{
	size_t cap = 240 * 40, len = 0;
	char *out = malloc(cap);
	unsigned s = 12345;
	len += (size_t)snprintf(out, cap, "x1,x2,label\n");
	for (int i = 0; i < 240; i++) {
		int c = i % 3;
		s = s * 1103515245u + 12345u;
		double n1 = ((s >> 8) % 1000) / 1000.0 - 0.5;
		s = s * 1103515245u + 12345u;
		double n2 = ((s >> 8) % 1000) / 1000.0 - 0.5;
		len += (size_t)snprintf(out + len, cap - len, "%.3f,%.3f,%s\n", c * 4.0 + n1, (c == 1 ? 4.0 : 0.0) + n2,
					c == 0   ? "a"
					: c == 1 ? "b"
						 : "c");
	}
	return out;
}

static char *spec(const char *optimizer, int epochs, const char *alias)
{
	return th_fmt("{\"dataset\": \"" DS "@1\", \"target\": \"label\", \"model\": {\"type\": \"mlp\", \"hidden\": "
		      "[16]}, \"optimizer\": %s, \"epochs\": %d, \"batch_size\": 16, \"seed\": 3, \"experiment\": "
		      "\"promo\", \"register\": {\"model\": \"" MODEL "\", \"alias\": \"%s\"}}",
		      optimizer, epochs, alias);
}

/* Trains and registers a model; *metrics (may be NULL) gets the job's final metrics. */
static char *train(struct th_train_stack *s, const char *optimizer, int epochs, const char *alias, json_t **metrics)
{
	char *sp = spec(optimizer, epochs, alias);
	char *id = th_train_submit(s, sp);
	json_t *job = th_train_wait(s, id, 120000);
	ck_assert_str_eq(json_string_value(json_object_get(job, "status")), "SUCCEEDED");
	char *version = strdup(json_string_value(json_object_get(job, "model_version")));
	if (metrics)
		*metrics = json_incref(json_object_get(job, "metrics"));
	json_decref(job);
	free(id);
	free(sp);
	return version;
}

/* The alias's version of MODEL ("" for none; static buffer). */
static const char *alias(struct th_train_stack *s, const char *name)
{
	static char out[32];
	json_t *rm = th_train_get(s->registry, "/api/2.0/mlflow/registered-models/get?name=" MODEL);
	size_t i;
	json_t *a;
	out[0] = '\0';
	json_array_foreach(json_object_get(json_object_get(rm, "registered_model"), "aliases"), i, a)
	{
		if (strcmp(json_string_value(json_object_get(a, "alias")), name) == 0)
			snprintf(out, sizeof out, "%s", json_string_value(json_object_get(a, "version")));
	}
	json_decref(rm);
	return out;
}

/* Polls the evaluations of MODEL until the one of challenger has ended. */
static json_t *wait_eval(struct th_train_stack *s, const char *challenger)
{
	for (int i = 0; i < 600; i++) {
		json_t *l = th_ok(s->trainer, "GET", "/v1/evaluations?model=" MODEL, NULL);
		size_t k;
		json_t *e;
		json_array_foreach(json_object_get(l, "evaluations"), k, e)
		{
			const char *st = json_string_value(json_object_get(e, "status"));
			if (strcmp(json_string_value(json_object_get(e, "challenger_version")), challenger) == 0 &&
			    (strcmp(st, "DONE") == 0 || strcmp(st, "FAILED") == 0)) {
				json_incref(e);
				json_decref(l);
				return e;
			}
		}
		json_decref(l);
		usleep(200 * 1000);
	}
	ck_abort_msg("the evaluation of version %s did not end", challenger);
	return NULL;
}

static const char *kv(json_t *arr, const char *key)
{
	size_t i;
	json_t *p;
	json_array_foreach(arr, i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "key")), key) == 0)
			return json_string_value(json_object_get(p, "value"));
	}
	return NULL;
}

static void policies(struct th_train_stack *s)
{
	struct th_daemon *t = s->trainer;
	json_t *p = th_ok(t, "GET", "/v1/policies/" MODEL, NULL);
	json_t *pol = json_object_get(p, "policy");
	ck_assert_str_eq(json_string_value(json_object_get(pol, "metric")), "accuracy");
	ck_assert(json_number_value(json_object_get(pol, "max_recall_drop")) == 0.02);
	ck_assert_str_eq(json_string_value(json_object_get(pol, "mode")), "auto");
	ck_assert(json_is_false(json_object_get(pol, "stored")));
	json_decref(p);
	static const char *const bad[][2] = {{"{\"metric\": \"auc\"}", "metric"},
					     {"{\"min_improvement\": -1}", "min_improvement"},
					     {"{\"max_recall_drop\": 2}", "max_recall_drop"},
					     {"{\"mode\": \"yolo\"}", "mode"},
					     {"{\"extra\": 1}", "extra"},
					     {"not json", "not JSON"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct th_response r = th_call(t, "PUT", "/v1/policies/" MODEL, bad[i][0]);
		th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", bad[i][1]);
		th_response_free(&r);
	}
	p = th_ok(
		t, "PUT", "/v1/policies/" MODEL,
		"{\"metric\": \"macro_f1\", \"min_improvement\": 0.5, \"max_recall_drop\": 0.1, \"mode\": \"manual\"}");
	json_decref(p);
	p = th_ok(t, "GET", "/v1/policies/" MODEL, NULL);
	pol = json_object_get(p, "policy");
	ck_assert_str_eq(json_string_value(json_object_get(pol, "metric")), "macro_f1");
	ck_assert(json_number_value(json_object_get(pol, "min_improvement")) == 0.5);
	ck_assert(json_number_value(json_object_get(pol, "max_recall_drop")) == 0.1);
	ck_assert_str_eq(json_string_value(json_object_get(pol, "mode")), "manual");
	ck_assert(json_is_true(json_object_get(pol, "stored")));
	json_decref(p);
	json_decref(th_ok(t, "DELETE", "/v1/policies/" MODEL, NULL));
	struct th_response r = th_call(t, "DELETE", "/v1/policies/" MODEL, NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", "no stored policy");
	th_response_free(&r);
	p = th_ok(t, "GET", "/v1/policies/" MODEL, NULL);
	ck_assert(json_is_false(json_object_get(json_object_get(p, "policy"), "stored")));
	json_decref(p);
}

/* The evaluation's run: params, and every metric the evaluation recorded. */
static void check_run(struct th_train_stack *s, json_t *ev, const char *champion, const char *challenger)
{
	const char *run_id = json_string_value(json_object_get(ev, "run_id"));
	ck_assert_ptr_nonnull(run_id);
	char *path = th_fmt("/api/2.0/mlflow/runs/get?run_id=%s", run_id);
	json_t *doc = th_train_get(s->tracker, path);
	json_t *run = json_object_get(doc, "run");
	json_t *data = json_object_get(run, "data");
	ck_assert_str_eq(kv(json_object_get(data, "params"), "model"), MODEL);
	ck_assert_str_eq(kv(json_object_get(data, "params"), "champion_version"), champion);
	ck_assert_str_eq(kv(json_object_get(data, "params"), "challenger_version"), challenger);
	ck_assert_ptr_nonnull(strstr(kv(json_object_get(data, "params"), "dataset"), DS "@"));
	json_t *metrics = json_object_get(ev, "metrics");
	ck_assert_uint_gt(json_object_size(metrics), 10);
	const char *key;
	json_t *v;
	json_object_foreach(metrics, key, v)
	{
		bool found = false;
		size_t i;
		json_t *m;
		json_array_foreach(json_object_get(data, "metrics"), i, m)
		{
			if (strcmp(json_string_value(json_object_get(m, "key")), key) == 0) {
				found = true;
				ck_assert_msg(fabs(json_number_value(json_object_get(m, "value")) -
						   json_number_value(v)) <= 1e-9 * (1 + fabs(json_number_value(v))),
					      "%s", key);
			}
		}
		ck_assert_msg(found, "the run has no metric %s", key);
	}
	/* the deltas are challenger - champion */
	static const char *const names[] = {"accuracy", "macro_f1", "log_loss"};
	for (int i = 0; i < 3; i++) {
		char *a = th_fmt("champion_%s", names[i]), *b = th_fmt("challenger_%s", names[i]),
		     *d = th_fmt("delta_%s", names[i]);
		double va = json_number_value(json_object_get(metrics, a)),
		       vb = json_number_value(json_object_get(metrics, b));
		ck_assert(fabs(json_number_value(json_object_get(metrics, d)) - (vb - va)) < 1e-12);
		free(a);
		free(b);
		free(d);
	}
	ck_assert_ptr_nonnull(json_object_get(metrics, "own_challenger_accuracy"));
	ck_assert_ptr_nonnull(json_object_get(metrics, "challenger_batch_ms"));
	json_decref(doc);
	free(path);
}

/* The evaluation's scores of a model on the challenger's test split are the ones its own
 * job measured on its test split (the same split of the same dataset version): the
 * evaluation read the right data and the package predicts what the trained net did. */
static void same_as_training(json_t *metrics, const char *who, json_t *job_metrics)
{
	static const char *const pairs[][2] = {
		{"accuracy", "test_accuracy"}, {"macro_f1", "test_f1_macro"}, {"log_loss", "test_log_loss"}};
	for (int i = 0; i < 3; i++) {
		char *key = th_fmt("%s_%s", who, pairs[i][0]);
		double a = json_number_value(json_object_get(metrics, key));
		double b = json_number_value(json_object_get(job_metrics, pairs[i][1]));
		ck_assert_msg(json_object_get(job_metrics, pairs[i][1]) != NULL, "the job has no %s", pairs[i][1]);
		ck_assert_msg(fabs(a - b) <= 1e-5 * (1 + fabs(b)), "%s = %.17g, the job's %s = %.17g", key, a,
			      pairs[i][1], b);
		free(key);
	}
}

START_TEST(challengers_are_judged_promoted_and_rolled_back)
{
	struct th_train_stack S;
	char group[64];
	snprintf(group, sizeof group, "PROMOTION_GROUP=promo-test-%d", (int)getpid());
	const char *env[] = {"WORKERS=1", group, NULL};
	th_train_start(&S, env);
	char *text = csv();
	ck_assert_int_eq(th_trainer_push_csv(S.data, DS, text, "label"), 1);
	free(text);
	struct th_kafka k;
	th_kafka_open(&k, "training.events", MODEL);
	policies(&S);

	/* the champion */
	json_t *m1 = NULL, *m2 = NULL;
	char *v1 = train(&S, "{\"type\": \"adam\", \"lr\": 0.05}", 30, "champion", &m1);
	ck_assert_str_eq(alias(&S, "champion"), v1);
	struct th_response r = th_call(S.trainer, "POST", "/v1/models/" MODEL "/rollback", NULL);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "previous");
	th_response_free(&r);
	r = th_call(S.trainer, "POST", "/v1/models/nope-" MODEL "/rollback", NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
	r = th_call(S.trainer, "POST", "/v1/evaluations", "{\"model\": \"" MODEL "\"}");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "version");
	th_response_free(&r);
	r = th_call(S.trainer, "POST", "/v1/evaluations", "{\"model\": \"" MODEL "\", \"version\": \"99\"}");
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
	r = th_call(S.trainer, "POST", "/v1/evaluations", "{\"model\": \"" MODEL "\", \"version\": \"1\"}");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "champion already");
	th_response_free(&r);

	/* a bad challenger: rejected, nothing moves */
	char *v2 = train(&S, "{\"type\": \"sgd\", \"lr\": 0.000001}", 1, "challenger", &m2);
	json_t *e2 = wait_eval(&S, v2);
	char *e2s = json_dumps(e2, JSON_COMPACT);
	ck_assert_msg(strcmp(json_string_value(json_object_get(e2, "status")), "DONE") == 0, "%s", e2s);
	ck_assert_str_eq(json_string_value(json_object_get(e2, "decision")), "rejected");
	ck_assert_str_eq(json_string_value(json_object_get(e2, "champion_version")), v1);
	ck_assert_msg(strstr(json_string_value(json_object_get(e2, "reason")), "accuracy") != NULL, "%s", e2s);
	ck_assert(json_number_value(json_object_get(json_object_get(e2, "metrics"), "delta_accuracy")) < 0);
	check_run(&S, e2, v1, v2);
	same_as_training(json_object_get(e2, "metrics"), "champion", m1);
	same_as_training(json_object_get(e2, "metrics"), "challenger", m2);
	ck_assert_str_eq(alias(&S, "champion"), v1);
	ck_assert_str_eq(alias(&S, "challenger"), v2);
	char *vpath = th_fmt("/api/2.0/mlflow/model-versions/get?name=" MODEL "&version=%s", v2);
	json_t *mv = th_train_get(S.registry, vpath);
	json_t *tags = json_object_get(json_object_get(mv, "model_version"), "tags");
	ck_assert_str_eq(kv(tags, "lathe.eval.decision"), "rejected");
	ck_assert_str_eq(kv(tags, "lathe.eval.run_id"), json_string_value(json_object_get(e2, "run_id")));
	ck_assert_str_eq(kv(tags, "lathe.eval.reason"), json_string_value(json_object_get(e2, "reason")));
	ck_assert_ptr_nonnull(kv(tags, "lathe.eval.delta_accuracy"));
	json_decref(mv);

	/* asked again: the same evaluation; the alias event again (a redelivery): no new one */
	char *body = th_fmt("{\"model\": \"" MODEL "\", \"version\": \"%s\"}", v2);
	r = th_call(S.trainer, "POST", "/v1/evaluations", body);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "evaluation"), "id")),
			 json_string_value(json_object_get(e2, "id")));
	th_response_free(&r);
	json_decref(th_train_post(S.registry, "/api/2.0/mlflow/registered-models/alias",
				  "{\"name\": \"" MODEL "\", \"alias\": \"challenger\", \"version\": \"1\"}"));
	char *back = th_fmt("{\"name\": \"" MODEL "\", \"alias\": \"challenger\", \"version\": \"%s\"}", v2);
	json_decref(th_train_post(S.registry, "/api/2.0/mlflow/registered-models/alias", back));

	/* a better challenger: promoted */
	char *v3 = train(&S, "{\"type\": \"adam\", \"lr\": 0.05}", 60, "challenger", NULL);
	json_t *e3 = wait_eval(&S, v3);
	char *e3s = json_dumps(e3, JSON_COMPACT);
	ck_assert_msg(strcmp(json_string_value(json_object_get(e3, "decision")), "promoted") == 0, "%s", e3s);
	ck_assert(json_number_value(json_object_get(json_object_get(e3, "metrics"), "delta_accuracy")) >= 0);
	check_run(&S, e3, v1, v3);
	ck_assert_str_eq(alias(&S, "champion"), v3);
	ck_assert_str_eq(alias(&S, "previous"), v1);
	ck_assert_str_eq(alias(&S, "challenger"), "");
	/* the events for version 2 went through the same partition before version 3's: one evaluation of it */
	char *n2 = th_trainer_sql(S.trainer, "SELECT count(*) FROM evaluations WHERE model = '" MODEL
					     "' AND challenger_version = '2'");
	ck_assert_str_eq(n2, "1");
	free(n2);

	/* rollback, and rollback again */
	json_t *rb = th_ok(S.trainer, "POST", "/v1/models/" MODEL "/rollback", NULL);
	ck_assert_str_eq(json_string_value(json_object_get(rb, "champion_version")), v1);
	ck_assert_str_eq(json_string_value(json_object_get(rb, "previous_version")), v3);
	json_decref(rb);
	ck_assert_str_eq(alias(&S, "champion"), v1);
	ck_assert_str_eq(alias(&S, "previous"), v3);
	json_decref(th_ok(S.trainer, "POST", "/v1/models/" MODEL "/rollback", NULL));
	ck_assert_str_eq(alias(&S, "champion"), v3);
	ck_assert_str_eq(alias(&S, "previous"), v1);

	/* the events: two decisions, two rollbacks */
	th_kafka_wait(&k, 4, 20000);
	json_t *evs = th_kafka_events_of(&k, MODEL);
	ck_assert_uint_eq(json_array_size(evs), 4);
	json_t *d0 = json_array_get(evs, 0), *d1 = json_array_get(evs, 1);
	ck_assert_str_eq(json_string_value(json_object_get(d0, "type")), "lathe.training.promotion.decided");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d0, "data"), "decision")), "rejected");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d1, "data"), "decision")), "promoted");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d1, "data"), "challenger_version")), v3);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(json_object_get(d1, "data"), "job_id")));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(evs, 3), "type")), "lathe.training.rollback");
	for (size_t i = 0; i < json_array_size(evs); i++) {
		char *t = json_dumps(json_array_get(evs, i), JSON_COMPACT);
		th_json_schema_check("proto/events/training.events.schema.json", t, strlen(t), "a promotion event");
		free(t);
	}
	json_decref(evs);
	th_kafka_close(&k);

	/* mode manual: the verdict is recorded, nothing moves */
	json_decref(th_ok(S.trainer, "PUT", "/v1/policies/" MODEL, "{\"mode\": \"manual\"}"));
	json_decref(th_train_post(S.registry, "/api/2.0/mlflow/registered-models/alias", back));
	json_t *e4 = NULL;
	for (int i = 0; i < 600 && !e4; i++, usleep(200 * 1000)) {
		char *n = th_trainer_sql(S.trainer, "SELECT count(*) FROM evaluations WHERE challenger_version = '2' "
						    "AND champion_version = '3' AND status = 'DONE'");
		if (strcmp(n, "1") == 0)
			e4 = th_ok(S.trainer, "GET", "/v1/evaluations?model=" MODEL "&max_results=1", NULL);
		free(n);
	}
	ck_assert_ptr_nonnull(e4);
	json_t *ev4 = json_array_get(json_object_get(e4, "evaluations"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(ev4, "decision")), "manual");
	ck_assert_msg(strncmp(json_string_value(json_object_get(ev4, "reason")), "fails: ", 7) == 0, "%s",
		      json_string_value(json_object_get(ev4, "reason")));
	json_decref(e4);
	ck_assert_str_eq(alias(&S, "champion"), v3);
	ck_assert_str_eq(alias(&S, "challenger"), v2);

	/* a version the trainer did not make: the evaluation FAILED, saying why */
	json_t *mv4 = th_train_post(S.registry, "/api/2.0/mlflow/model-versions/create",
				    "{\"name\": \"" MODEL "\", \"source\": \"mlflow-artifacts:/elsewhere/model\"}");
	const char *v4 = json_string_value(json_object_get(json_object_get(mv4, "model_version"), "version"));
	char *body4 = th_fmt("{\"model\": \"" MODEL "\", \"version\": \"%s\"}", v4);
	r = th_call(S.trainer, "POST", "/v1/evaluations", body4);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	th_response_free(&r);
	json_t *e5 = wait_eval(&S, v4);
	ck_assert_str_eq(json_string_value(json_object_get(e5, "status")), "FAILED");
	ck_assert_msg(strstr(json_string_value(json_object_get(e5, "reason")), "no run") != NULL, "%s",
		      json_string_value(json_object_get(e5, "reason")));
	ck_assert(json_is_null(json_object_get(e5, "decision")));
	json_decref(e5);
	free(body4);
	json_decref(mv4);

	char *epath = th_fmt("/v1/evaluations/%s", json_string_value(json_object_get(e3, "id")));
	json_t *one = th_ok(S.trainer, "GET", epath, NULL);
	free(epath);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(one, "evaluation"), "decision")),
			 "promoted");
	json_decref(one);
	r = th_call(S.trainer, "GET", "/v1/evaluations/ffffffffffffffffffffffffffffffff", NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);

	/* the tracker gone: the evaluation stays RUNNING and is claimed again every few seconds */
	th_daemon_stop(S.tracker);
	r = th_call(S.trainer, "POST", "/v1/evaluations", "{\"model\": \"" MODEL "\", \"version\": \"1\"}");
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	th_response_free(&r);
	char *attempts = NULL;
	for (int i = 0; i < 100; i++, usleep(200 * 1000)) {
		free(attempts);
		attempts = th_trainer_sql(S.trainer, "SELECT status || ':' || attempt FROM evaluations WHERE "
						     "challenger_version = '1' AND champion_version = '3'");
		if (strcmp(attempts, "RUNNING:2") == 0)
			break;
	}
	ck_assert_str_eq(attempts, "RUNNING:2");
	free(attempts);
	th_daemon_stop(S.trainer);
	th_daemon_stop(S.data);
	th_daemon_stop(S.registry);
	free(e3s);
	free(e2s);
	json_decref(e3);
	json_decref(e2);
	free(back);
	free(body);
	free(vpath);
	free(v3);
	free(v2);
	free(v1);
	json_decref(m1);
	json_decref(m2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trainer-promotion");
	TCase *tc = tcase_create("promotion");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, challengers_are_judged_promoted_and_rolled_back);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
