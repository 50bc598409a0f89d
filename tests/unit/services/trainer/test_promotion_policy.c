/* Unit tests of the promotion policy (policy.c, pure) and of the numbers it judges:
 *   - the default policy; a PUT body's every field checked, the 400's message naming it;
 *   - the verdict: no champion passes; the metric must improve by min_improvement
 *     (log_loss by falling); a class whose recall falls by more than max_recall_drop
 *     rejects however good the metric; a drop equal to the limit passes;
 *   - two models' random predictions scored by libs/ml (ml_eval_classification, what
 *     evaluate.c logs) equal scikit-learn's accuracy_score, f1_score(average='macro'),
 *     log_loss and recall_score(average=None) to 1e-9, and the verdict on them is the
 *     one sklearn's numbers give. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ml/metrics.h"
#include "tr.h"

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	ck_assert_msg(j != NULL, "%s", e.text);
	return j;
}

static void refused(const char *body, const char *field)
{
	struct tr_policy p;
	struct core_error err = {{0}};
	json_t *j = js(body);
	ck_assert_int_eq(tr_policy_parse(j, &p, &err), CORE_EINVAL);
	ck_assert_msg(strncmp(err.message, field, strlen(field)) == 0, "%s: %s", body, err.message);
	json_decref(j);
}

START_TEST(policy_default_and_fields)
{
	struct tr_policy p;
	struct core_error err = {{0}};
	tr_policy_default(&p);
	ck_assert_str_eq(p.metric, "accuracy");
	ck_assert(p.min_improvement == 0 && p.max_recall_drop == 0.02);
	ck_assert_str_eq(p.mode, "auto");
	json_t *j = js("{\"metric\": \"log_loss\", \"min_improvement\": 0.05, \"max_recall_drop\": 1, \"mode\": "
		       "\"manual\"}");
	ck_assert_int_eq(tr_policy_parse(j, &p, &err), CORE_OK);
	ck_assert_str_eq(p.metric, "log_loss");
	ck_assert(p.min_improvement == 0.05 && p.max_recall_drop == 1);
	ck_assert_str_eq(p.mode, "manual");
	json_decref(j);
	j = js("{}");
	ck_assert_int_eq(tr_policy_parse(j, &p, &err), CORE_OK);
	ck_assert_str_eq(p.metric, "accuracy");
	json_decref(j);
	refused("{\"metric\": \"auc\"}", "metric");
	refused("{\"metric\": 3}", "metric");
	refused("{\"min_improvement\": -0.1}", "min_improvement");
	refused("{\"min_improvement\": \"1\"}", "min_improvement");
	refused("{\"max_recall_drop\": 1.5}", "max_recall_drop");
	refused("{\"max_recall_drop\": -0.01}", "max_recall_drop");
	refused("{\"mode\": \"sometimes\"}", "mode");
	refused("{\"colour\": \"red\"}", "colour");
	refused("[1]", "the policy");
	ck_assert(tr_policy_higher_better("accuracy") && tr_policy_higher_better("macro_f1"));
	ck_assert(!tr_policy_higher_better("log_loss"));
}
END_TEST

static bool judge(const struct tr_policy *p, const struct tr_eval_scores *a, const struct tr_eval_scores *b,
		  char reason[400])
{
	bool passes = false;
	tr_policy_judge(p, a, b, &passes, reason, 400);
	return passes;
}

START_TEST(verdicts)
{
	struct tr_policy p;
	char reason[400];
	tr_policy_default(&p);
	double ra[3] = {0.9, 0.8, 0.7}, rb[3] = {0.9, 0.8, 0.7};
	struct tr_eval_scores a = {.accuracy = 0.8, .macro_f1 = 0.7, .log_loss = 0.5, .recall = ra, .k = 3};
	struct tr_eval_scores b = a;
	b.recall = rb;
	ck_assert(judge(&p, NULL, &b, reason));
	ck_assert_str_eq(reason, "no champion");
	/* equal accuracy: an improvement of 0 meets min_improvement 0 */
	ck_assert(judge(&p, &a, &b, reason));
	p.min_improvement = 0.01;
	ck_assert(!judge(&p, &a, &b, reason));
	ck_assert_msg(strstr(reason, "does not improve enough") != NULL, "%s", reason);
	b.accuracy = 0.82;
	ck_assert_msg(judge(&p, &a, &b, reason), "%s", reason);
	/* one class's recall falls by 0.03 > 0.02 */
	rb[1] = 0.77;
	ck_assert(!judge(&p, &a, &b, reason));
	ck_assert_msg(strstr(reason, "class 1") && strstr(reason, "too large"), "%s", reason);
	/* exactly the limit passes */
	rb[1] = 0.78;
	ck_assert_msg(judge(&p, &a, &b, reason), "%s", reason);
	/* log_loss: lower is better */
	snprintf(p.metric, sizeof p.metric, "log_loss");
	p.min_improvement = 0.1;
	b.log_loss = 0.45;
	ck_assert(!judge(&p, &a, &b, reason));
	b.log_loss = 0.4;
	ck_assert_msg(judge(&p, &a, &b, reason), "%s", reason);
	b.log_loss = 0.6;
	ck_assert(!judge(&p, &a, &b, reason));
	/* macro_f1 */
	snprintf(p.metric, sizeof p.metric, "macro_f1");
	p.min_improvement = 0;
	b.macro_f1 = 0.69;
	ck_assert(!judge(&p, &a, &b, reason));
	/* a different class count never passes */
	b.macro_f1 = 0.9;
	b.k = 2;
	ck_assert(!judge(&p, &a, &b, reason));
	ck_assert(tr_eval_metric(&a, "accuracy") == 0.8 && tr_eval_metric(&a, "log_loss") == 0.5);
}
END_TEST

#define N 300
#define K 4

static uint64_t state = 0x9e3779b97f4a7c15ull;
static double next(void)
{
	state = state * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(state >> 11) / 9007199254740992.0;
}

/* probs of a model that is right with probability skill */
static void predictions(const int64_t *y, float *probs, double skill)
{
	for (size_t i = 0; i < N; i++) {
		float sum = 0;
		for (size_t c = 0; c < K; c++) {
			probs[i * K + c] = (float)(0.05 + next());
			if ((int64_t)c == y[i] && next() < skill)
				probs[i * K + c] += 2.0f;
			sum += probs[i * K + c];
		}
		for (size_t c = 0; c < K; c++)
			probs[i * K + c] /= sum;
	}
}

/* sklearn's scores of each model: [{accuracy, macro_f1, log_loss, recall[]}, ...] */
static json_t *sklearn(const int64_t *y, const float *pa, const float *pb)
{
	char path[] = "/tmp/lathe-promo-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	json_t *ys = json_array(), *a = json_array(), *b = json_array();
	for (size_t i = 0; i < N; i++) {
		json_array_append_new(ys, json_integer(y[i]));
		json_t *ra = json_array(), *rb = json_array();
		for (size_t c = 0; c < K; c++) {
			json_array_append_new(ra, json_real(pa[i * K + c]));
			json_array_append_new(rb, json_real(pb[i * K + c]));
		}
		json_array_append_new(a, ra);
		json_array_append_new(b, rb);
	}
	json_t *doc = json_pack("{s:o, s:[o, o]}", "y", ys, "models", a, b);
	json_dumpf(doc, f, JSON_COMPACT | JSON_REAL_PRECISION(17));
	fclose(f);
	json_decref(doc);
	char *cmd = NULL;
	ck_assert_int_gt(
		asprintf(&cmd,
			 "/usr/bin/python3 -c 'import json, sys, numpy as np\n"
			 "from sklearn.metrics import accuracy_score, f1_score, log_loss, recall_score\n"
			 "d = json.load(open(sys.argv[1])); y = d[\"y\"]; L = list(range(%d)); out = []\n"
			 "for m in d[\"models\"]:\n"
			 "    p = np.array(m); pred = p.argmax(axis=1)\n"
			 "    out.append({\"accuracy\": accuracy_score(y, pred),\n"
			 "        \"macro_f1\": f1_score(y, pred, average=\"macro\", labels=L, zero_division=0),\n"
			 "        \"log_loss\": log_loss(y, p, labels=L),\n"
			 "        \"recall\": list(recall_score(y, pred, average=None, labels=L, zero_division=0))})\n"
			 "print(json.dumps(out))' %s",
			 K, path),
		0);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	json_error_t jerr;
	json_t *out = json_loadf(p, 0, &jerr);
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(out != NULL, "sklearn's output is not JSON: %s", jerr.text);
	unlink(path);
	free(cmd);
	return out;
}

#define CLOSE(a, b, what)                                                                                              \
	ck_assert_msg(fabs((a) - (b)) <= 1e-9, "%s: %.17g, sklearn %.17g", what, (double)(a), (double)(b))

START_TEST(scores_are_sklearns_and_so_is_the_verdict)
{
	int64_t y[N];
	float *pa = malloc(N * K * sizeof *pa), *pb = malloc(N * K * sizeof *pb);
	for (size_t i = 0; i < N; i++)
		y[i] = (int64_t)(next() * K) % K;
	predictions(y, pa, 0.7);
	predictions(y, pb, 0.75);
	json_t *sk = sklearn(y, pa, pb);
	struct ml_class_report ra, rb;
	struct core_error err = {{0}};
	ck_assert_int_eq(ml_eval_classification(pa, y, N, K, &ra, &err), CORE_OK);
	ck_assert_int_eq(ml_eval_classification(pb, y, N, K, &rb, &err), CORE_OK);
	const struct ml_class_report *r[2] = {&ra, &rb};
	struct tr_eval_scores sc[2], ref[2];
	double recall_ref[2][K];
	for (int m = 0; m < 2; m++) {
		json_t *o = json_array_get(sk, (size_t)m);
		CLOSE(r[m]->accuracy, json_number_value(json_object_get(o, "accuracy")), "accuracy");
		CLOSE(r[m]->macro_f1, json_number_value(json_object_get(o, "macro_f1")), "macro_f1");
		CLOSE(r[m]->log_loss, json_number_value(json_object_get(o, "log_loss")), "log_loss");
		for (size_t c = 0; c < K; c++) {
			recall_ref[m][c] = json_number_value(json_array_get(json_object_get(o, "recall"), c));
			CLOSE(r[m]->recall[c], recall_ref[m][c], "recall");
		}
		sc[m] = (struct tr_eval_scores){.accuracy = r[m]->accuracy,
						.macro_f1 = r[m]->macro_f1,
						.log_loss = r[m]->log_loss,
						.recall = r[m]->recall,
						.k = K};
		ref[m] = (struct tr_eval_scores){.accuracy = json_number_value(json_object_get(o, "accuracy")),
						 .macro_f1 = json_number_value(json_object_get(o, "macro_f1")),
						 .log_loss = json_number_value(json_object_get(o, "log_loss")),
						 .recall = recall_ref[m],
						 .k = K};
	}
	static const char *const metrics[] = {"accuracy", "macro_f1", "log_loss"};
	static const double drops[] = {0, 0.02, 0.1, 1};
	struct tr_policy p;
	tr_policy_default(&p);
	char why[400];
	for (int i = 0; i < 3; i++)
		for (int d = 0; d < 4; d++) {
			snprintf(p.metric, sizeof p.metric, "%s", metrics[i]);
			p.max_recall_drop = drops[d];
			ck_assert_int_eq(judge(&p, &sc[0], &sc[1], why), judge(&p, &ref[0], &ref[1], why));
		}
	ml_class_report_free(&ra);
	ml_class_report_free(&rb);
	json_decref(sk);
	free(pa);
	free(pb);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trainer-promotion-policy");
	TCase *tc = tcase_create("policy");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, policy_default_and_fields);
	tcase_add_test(tc, verdicts);
	tcase_add_test(tc, scores_are_sklearns_and_so_is_the_verdict);
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
