/* Unit tests of the evaluation metrics (libs/ml ml/metrics.h) and early stopping
 * (ml/early_stop.h). Hand-computed cases pin the definitions; random inputs are written
 * to a scratch directory and scored by scikit-learn (Debian's /usr/bin/python3), whose
 * numbers ours must equal to 1e-9: log_loss, classification_report(output_dict=True)
 * key by key, confusion_matrix, and RMSE / MAE / R² of a multi-target regression. */
#include <check.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ml/early_stop.h"
#include "ml/metrics.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/lathe-metrics-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_bin(const char *name, const void *data, size_t n)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

/* Runs script with /usr/bin/python3 (cwd = dir) and parses its stdout as JSON. */
static json_t *run_python(const char *script)
{
	char path[128], cmd[256];
	snprintf(path, sizeof path, "%s/check.py", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(script, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "cd %s && /usr/bin/python3 check.py", dir);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	json_error_t jerr;
	json_t *out = json_loadf(p, 0, &jerr);
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(out != NULL, "python output is not JSON: %s", jerr.text);
	return out;
}

static uint64_t rng = 88172645463325252ull;
static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

#define CLOSE(a, b) ck_assert_msg(fabs((a) - (b)) <= 1e-9, "%s = %.17g, sklearn %.17g", #a, (double)(a), (double)(b))

/* Three classes, six examples, argmax predictions:
 *   true 0 0 1 1 2 2
 *   pred 0 1 1 1 0 2
 * class 0: tp 1, fp 1, fn 1 -> p 1/2, r 1/2, f1 1/2
 * class 1: tp 2, fp 1, fn 0 -> p 2/3, r 1, f1 0.8
 * class 2: tp 1, fp 0, fn 1 -> p 1, r 1/2, f1 2/3 */
START_TEST(hand_computed_report)
{
	/* dyadic probabilities: rows sum to exactly 1, so renormalising changes nothing */
	float probs[6 * 3] = {
		0.75f, 0.125f, 0.125f, 0.25f, 0.5f,   0.25f,  0.125f, 0.75f, 0.125f,
		0.25f, 0.5f,   0.25f,  0.5f,  0.125f, 0.375f, 0.0f,   0.0f,  1.0f,
	};
	int64_t y[6] = {0, 0, 1, 1, 2, 2};
	struct ml_class_report r;
	struct core_error err;
	ck_assert_int_eq(ml_eval_classification(probs, y, 6, 3, &r, &err), CORE_OK);
	ck_assert_uint_eq(r.k, 3);
	ck_assert_uint_eq(r.n, 6);
	CLOSE(r.accuracy, 4.0 / 6);
	CLOSE(r.precision[0], 0.5);
	CLOSE(r.recall[0], 0.5);
	CLOSE(r.f1[0], 0.5);
	CLOSE(r.precision[1], 2.0 / 3);
	CLOSE(r.recall[1], 1.0);
	CLOSE(r.f1[1], 0.8);
	CLOSE(r.precision[2], 1.0);
	CLOSE(r.recall[2], 0.5);
	CLOSE(r.f1[2], 2.0 / 3);
	CLOSE(r.macro_precision, (0.5 + 2.0 / 3 + 1) / 3);
	CLOSE(r.macro_f1, (0.5 + 0.8 + 2.0 / 3) / 3);
	CLOSE(r.weighted_recall, r.accuracy); /* always, with support weights */
	int64_t conf[9] = {1, 1, 0, 0, 2, 0, 1, 0, 1};
	for (int i = 0; i < 9; i++)
		ck_assert_int_eq(r.confusion[i], conf[i]);
	for (int c = 0; c < 3; c++)
		ck_assert_int_eq(r.support[c], 2);
	/* log loss: -mean log p[y]; the last row's 1.0 is clipped to 1 - eps and its zeros
	 * to eps, then renormalised (sum 1 + eps) */
	double last = log((1.0 - FLT_EPSILON) / (1.0 + FLT_EPSILON));
	double want = -(log(0.75) + log(0.25) + log(0.75) + log(0.5) + log(0.375) + last) / 6;
	CLOSE(r.log_loss, want);

	const char *names[3] = {"cat", "dog", "bird"};
	json_t *j = ml_class_report_json(&r, names);
	ck_assert_int_eq(json_object_size(j), 6);
	CLOSE(json_real_value(json_object_get(json_object_get(j, "dog"), "f1-score")), 0.8);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "bird"), "support")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "macro avg"), "support")), 6);
	CLOSE(json_real_value(json_object_get(j, "accuracy")), 4.0 / 6);
	json_decref(j);
	ml_class_report_free(&r);
	ml_class_report_free(&r); /* twice is fine */
}
END_TEST

/* A class never true and never predicted: its precision, recall and F1 are 0/0 -> 0,
 * and it still counts in the macro averages. */
START_TEST(absent_class_is_zero)
{
	float probs[4 * 3] = {0.9f, 0.1f, 0, 0.2f, 0.8f, 0, 0.6f, 0.4f, 0, 0.4f, 0.6f, 0};
	int64_t y[4] = {0, 1, 1, 0};
	struct ml_class_report r;
	ck_assert_int_eq(ml_eval_classification(probs, y, 4, 3, &r, NULL), CORE_OK);
	CLOSE(r.precision[2], 0.0);
	CLOSE(r.recall[2], 0.0);
	CLOSE(r.f1[2], 0.0);
	ck_assert_int_eq(r.support[2], 0);
	CLOSE(r.accuracy, 0.5);
	CLOSE(r.macro_recall, (0.5 + 0.5 + 0) / 3);
	CLOSE(r.weighted_recall, 0.5);
	ml_class_report_free(&r);
}
END_TEST

START_TEST(bad_input_is_refused)
{
	float probs[4] = {0.5f, 0.5f, 0.5f, 0.5f};
	int64_t y[2] = {0, 2};
	struct ml_class_report r;
	struct core_error err;
	ck_assert_int_eq(ml_eval_classification(probs, y, 2, 2, &r, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "example 1: label 2"));
	ck_assert_ptr_null(r.precision);
	y[1] = -1;
	ck_assert_int_eq(ml_eval_classification(probs, y, 2, 2, &r, &err), CORE_EINVAL);
	y[1] = 1;
	probs[3] = NAN;
	ck_assert_int_eq(ml_eval_classification(probs, y, 2, 2, &r, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "not finite"));
	ck_assert_int_eq(ml_eval_classification(probs, y, 0, 2, &r, &err), CORE_EINVAL);
	struct ml_reg_report rr;
	ck_assert_int_eq(ml_eval_regression(probs, probs, 2, 2, &rr, &err), CORE_EINVAL);
	ck_assert_int_eq(ml_eval_regression(probs, probs, 0, 1, &rr, &err), CORE_EINVAL);
}
END_TEST

/* One python run (importing sklearn takes a second or two) scores both problems. */
static const char sk_script[] =
	"import json, warnings\n"
	"import numpy as np\n"
	"from sklearn.metrics import (classification_report, confusion_matrix, log_loss,\n"
	"                             mean_absolute_error, mean_squared_error, r2_score)\n"
	"warnings.simplefilter('ignore')\n"
	"n, k = 300, 5\n"
	"p = np.fromfile('probs.bin', dtype=np.float32).reshape(n, k)\n"
	"y = np.fromfile('labels.bin', dtype=np.int64)\n"
	"pred = p.argmax(axis=1)\n"
	"names = ['c%d' % i for i in range(k)]\n"
	"rep = classification_report(y, pred, labels=list(range(k)), target_names=names, output_dict=True)\n"
	"out = {'report': json.loads(json.dumps(rep, default=lambda v: v.item())),\n"
	"       'log_loss': log_loss(y, p.astype(np.float64), eps=float(np.finfo(np.float32).eps),\n"
	"                            labels=list(range(k))),\n"
	"       'confusion': confusion_matrix(y, pred, labels=list(range(k))).ravel().tolist()}\n"
	"n, k = 200, 3\n"
	"p = np.fromfile('pred.bin', dtype=np.float32).reshape(n, k).astype(np.float64)\n"
	"y = np.fromfile('target.bin', dtype=np.float32).reshape(n, k).astype(np.float64)\n"
	"out.update({'rmse': mean_squared_error(y, p, squared=False), 'mae': mean_absolute_error(y, p),\n"
	"            'r2': r2_score(y, p), 'r2_single': r2_score(y[:, 0], p[:, 0])})\n"
	"print(json.dumps(out))\n";

/* Compares every member of sklearn's report to ours, recursively. */
static void same_json(json_t *want, json_t *got, const char *where)
{
	if (json_is_object(want)) {
		ck_assert_msg(json_is_object(got), "%s: not an object", where);
		ck_assert_int_eq(json_object_size(want), json_object_size(got));
		const char *key;
		json_t *v;
		json_object_foreach(want, key, v)
		{
			json_t *g = json_object_get(got, key);
			ck_assert_msg(g != NULL, "%s: member '%s' missing", where, key);
			same_json(v, g, key);
		}
	} else {
		ck_assert_msg(json_is_number(got), "%s: not a number", where);
		ck_assert_msg(json_is_integer(want) == json_is_integer(got), "%s: integer vs real", where);
		double a = json_number_value(got), b = json_number_value(want);
		ck_assert_msg(fabs(a - b) <= 1e-9, "%s: %.17g, sklearn %.17g", where, a, b);
	}
}

enum { CN = 300, CK = 5, RN = 200, RK = 3 };
static float probs[CN * CK], pred[RN * RK], target[RN * RK];
static int64_t labels[CN];

/* Mostly softmax of random logits leaning to the true class; some rows one-hot
 * (clipping) or with an exact zero; class 4 is rare. */
static void make_classification(void)
{
	for (int i = 0; i < CN; i++) {
		labels[i] = (int64_t)(uniform() * (CK - 0.8));
		double e[CK], s = 0;
		for (int j = 0; j < CK; j++) {
			e[j] = exp(3 * uniform() + (j == labels[i] ? 1.0 : 0));
			s += e[j];
		}
		for (int j = 0; j < CK; j++)
			probs[i * CK + j] = (float)(e[j] / s);
		if (i % 17 == 0) {
			for (int j = 0; j < CK; j++)
				probs[i * CK + j] = j == (i / 17) % CK;
		} else if (i % 13 == 0) {
			probs[i * CK + (labels[i] + 1) % CK] = 0;
		}
	}
	write_bin("probs.bin", probs, sizeof probs);
	write_bin("labels.bin", labels, sizeof labels);
}

/* Three targets: a good fit, noise on a large scale, and a constant target predicted
 * exactly but once (R² 0 by force_finite). */
static void make_regression(void)
{
	for (int i = 0; i < RN; i++) {
		target[i * RK] = (float)(10 * uniform() - 5);
		pred[i * RK] = target[i * RK] + (float)(uniform() - 0.5);
		target[i * RK + 1] = (float)(1000 * uniform());
		pred[i * RK + 1] = (float)(1000 * uniform());
		target[i * RK + 2] = 2.5f;
		pred[i * RK + 2] = 2.5f + (i == 7 ? 0.25f : 0);
	}
	write_bin("pred.bin", pred, sizeof pred);
	write_bin("target.bin", target, sizeof target);
}

START_TEST(metrics_match_sklearn)
{
	make_classification();
	make_regression();
	json_t *sk = run_python(sk_script);

	struct ml_class_report r;
	struct core_error err;
	ck_assert_int_eq(ml_eval_classification(probs, labels, CN, CK, &r, &err), CORE_OK);
	CLOSE(r.log_loss, json_real_value(json_object_get(sk, "log_loss")));
	json_t *conf = json_object_get(sk, "confusion");
	ck_assert_uint_eq(json_array_size(conf), CK * CK);
	for (size_t i = 0; i < CK * CK; i++)
		ck_assert_int_eq(r.confusion[i], json_integer_value(json_array_get(conf, i)));
	const char *names[CK] = {"c0", "c1", "c2", "c3", "c4"};
	json_t *ours = ml_class_report_json(&r, names);
	same_json(json_object_get(sk, "report"), ours, "report");
	json_decref(ours);
	ml_class_report_free(&r);

	struct ml_reg_report rr;
	ck_assert_int_eq(ml_eval_regression(pred, target, RN, RK, &rr, &err), CORE_OK);
	CLOSE(rr.rmse, json_real_value(json_object_get(sk, "rmse")));
	CLOSE(rr.mae, json_real_value(json_object_get(sk, "mae")));
	CLOSE(rr.r2, json_real_value(json_object_get(sk, "r2")));
	/* one target alone (strided in pred/target, so copied) */
	float p1[RN], y1[RN];
	for (int i = 0; i < RN; i++) {
		p1[i] = pred[i * RK];
		y1[i] = target[i * RK];
	}
	ck_assert_int_eq(ml_eval_regression(p1, y1, RN, 1, &rr, &err), CORE_OK);
	CLOSE(rr.r2, json_real_value(json_object_get(sk, "r2_single")));
	json_decref(sk);
}
END_TEST

/* y = 1, 2, 3, 4; pred = 1, 2, 3, 6: errors 0 0 0 2 -> MSE 1, RMSE 1, MAE 0.5;
 * SStot = 5 -> R² = 1 - 4/5. A constant target predicted exactly has R² 1. */
START_TEST(hand_computed_regression)
{
	float y[4] = {1, 2, 3, 4}, p[4] = {1, 2, 3, 6};
	struct ml_reg_report r;
	ck_assert_int_eq(ml_eval_regression(p, y, 4, 1, &r, NULL), CORE_OK);
	CLOSE(r.rmse, 1.0);
	CLOSE(r.mae, 0.5);
	CLOSE(r.r2, 0.2);
	float c[3] = {7, 7, 7};
	ck_assert_int_eq(ml_eval_regression(c, c, 3, 1, &r, NULL), CORE_OK);
	CLOSE(r.r2, 1.0);
	CLOSE(r.rmse, 0.0);
}
END_TEST

START_TEST(early_stop_minimize)
{
	struct ml_early_stop es;
	ml_early_stop_init(&es, false, 0.01, 2);
	ck_assert(!ml_early_stop_update(&es, 0, 1.0));
	ck_assert(!ml_early_stop_update(&es, 1, 0.5));
	ck_assert(!ml_early_stop_update(&es, 2, 0.495)); /* within min_delta: a bad epoch */
	ck_assert_int_eq(es.bad_epochs, 1);
	ck_assert(!ml_early_stop_update(&es, 3, 0.3)); /* improvement resets the count */
	ck_assert_int_eq(es.bad_epochs, 0);
	ck_assert(!ml_early_stop_update(&es, 4, 0.4));
	ck_assert(ml_early_stop_update(&es, 5, NAN)); /* second bad epoch in a row: stop */
	ck_assert_int_eq(es.best_epoch, 3);
	ck_assert(es.best == 0.3);
}
END_TEST

START_TEST(early_stop_maximize)
{
	struct ml_early_stop es;
	ml_early_stop_init(&es, true, 0, 0);
	ck_assert_int_eq(es.best_epoch, -1);
	ck_assert(!ml_early_stop_update(&es, 1, 0.5));
	ck_assert(!ml_early_stop_update(&es, 2, 0.6));
	ck_assert(ml_early_stop_update(&es, 3, 0.6)); /* equal is no improvement; patience 0 */
	ck_assert_int_eq(es.best_epoch, 2);
	ml_early_stop_init(&es, true, -0.1, 3); /* negative delta taken as 0.1 */
	ck_assert(es.min_delta == 0.1);
	ck_assert(!ml_early_stop_update(&es, 0, 0.5));
	ck_assert(!ml_early_stop_update(&es, 1, 0.55));
	ck_assert(!ml_early_stop_update(&es, 2, 0.58));
	ck_assert(ml_early_stop_update(&es, 3, 0.59));
	ck_assert_int_eq(es.best_epoch, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ml_metrics");
	TCase *tc = tcase_create("metrics");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hand_computed_report);
	tcase_add_test(tc, absent_class_is_zero);
	tcase_add_test(tc, bad_input_is_refused);
	tcase_add_test(tc, metrics_match_sklearn);
	tcase_add_test(tc, hand_computed_regression);
	tcase_add_test(tc, early_stop_minimize);
	tcase_add_test(tc, early_stop_maximize);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
