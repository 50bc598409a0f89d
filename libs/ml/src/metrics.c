/* Evaluation metrics (face: ml/metrics.h): the classification report (accuracy, log
 * loss, per-class and averaged precision/recall/F1, confusion matrix) and regression
 * errors, with scikit-learn's definitions and edge cases, so the trainer logs the
 * numbers sklearn.metrics would give on the same predictions. One pass over the
 * examples fills the confusion matrix and the log loss; everything else comes from the
 * matrix. */
#include "ml/metrics.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"

/* a / b, or 0 when b is 0 (sklearn's zero_division default). */
static double ratio(double a, double b)
{
	return b == 0 ? 0 : a / b;
}

void ml_class_report_free(struct ml_class_report *r)
{
	if (!r)
		return;
	free(r->precision);
	free(r->recall);
	free(r->f1);
	free(r->support);
	free(r->confusion);
	memset(r, 0, sizeof *r);
}

/* -log of the clipped, renormalised probability of class yi in row p[0..k). */
static double row_log_loss(const float *p, size_t k, int64_t yi)
{
	const double lo = FLT_EPSILON, hi = 1.0 - FLT_EPSILON;
	double sum = 0, py = 0;
	for (size_t j = 0; j < k; j++) {
		double v = p[j];
		v = v < lo ? lo : v > hi ? hi : v;
		sum += v;
		if ((int64_t)j == yi)
			py = v;
	}
	return -log(py / sum);
}

static enum core_status check_inputs(const float *probs, const int64_t *y, size_t n, size_t k, struct core_error *err)
{
	if (n == 0 || k == 0)
		return core_fail(err, CORE_EINVAL, "nothing to evaluate: %zu examples, %zu classes", n, k);
	for (size_t i = 0; i < n; i++) {
		if (y[i] < 0 || (uint64_t)y[i] >= k)
			return core_fail(err, CORE_EINVAL, "example %zu: label %lld is not a class id in [0, %zu)", i,
					 (long long)y[i], k);
		for (size_t j = 0; j < k; j++)
			if (!isfinite(probs[i * k + j]))
				return core_fail(err, CORE_EINVAL,
						 "example %zu: probability of class %zu is not finite", i, j);
	}
	return CORE_OK;
}

enum core_status ml_eval_classification(const float *probs, const int64_t *y, size_t n, size_t k,
					struct ml_class_report *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	enum core_status st = check_inputs(probs, y, n, k, err);
	if (st != CORE_OK)
		return st;
	out->k = k;
	out->n = n;
	out->precision = core_xcalloc(k, sizeof(double));
	out->recall = core_xcalloc(k, sizeof(double));
	out->f1 = core_xcalloc(k, sizeof(double));
	out->support = core_xcalloc(k, sizeof(int64_t));
	out->confusion = core_xcalloc(k * k, sizeof(int64_t));

	double loss = 0;
	int64_t correct = 0;
	for (size_t i = 0; i < n; i++) {
		const float *p = probs + i * k;
		size_t arg = 0;
		for (size_t j = 1; j < k; j++)
			if (p[j] > p[arg])
				arg = j;
		out->confusion[(size_t)y[i] * k + arg]++;
		correct += (size_t)y[i] == arg;
		loss += row_log_loss(p, k, y[i]);
	}
	out->accuracy = (double)correct / (double)n;
	out->log_loss = loss / (double)n;

	for (size_t c = 0; c < k; c++) {
		int64_t tp = out->confusion[c * k + c], predicted = 0, actual = 0;
		for (size_t j = 0; j < k; j++) {
			predicted += out->confusion[j * k + c];
			actual += out->confusion[c * k + j];
		}
		double prec = ratio((double)tp, (double)predicted), rec = ratio((double)tp, (double)actual);
		out->precision[c] = prec;
		out->recall[c] = rec;
		out->f1[c] = ratio(2 * prec * rec, prec + rec);
		out->support[c] = actual;
		out->macro_precision += prec;
		out->macro_recall += rec;
		out->macro_f1 += out->f1[c];
		out->weighted_precision += prec * (double)actual;
		out->weighted_recall += rec * (double)actual;
		out->weighted_f1 += out->f1[c] * (double)actual;
	}
	out->macro_precision /= (double)k;
	out->macro_recall /= (double)k;
	out->macro_f1 /= (double)k;
	out->weighted_precision /= (double)n;
	out->weighted_recall /= (double)n;
	out->weighted_f1 /= (double)n;
	return CORE_OK;
}

static json_t *scores(double p, double r, double f, int64_t support)
{
	return json_pack("{s:f, s:f, s:f, s:I}", "precision", p, "recall", r, "f1-score", f, "support",
			 (json_int_t)support);
}

json_t *ml_class_report_json(const struct ml_class_report *r, const char *const *class_names)
{
	json_t *o = json_object();
	for (size_t c = 0; c < r->k; c++) {
		char num[32];
		snprintf(num, sizeof num, "%zu", c);
		const char *name = class_names && class_names[c] ? class_names[c] : num;
		json_object_set_new(o, name, scores(r->precision[c], r->recall[c], r->f1[c], r->support[c]));
	}
	json_object_set_new(o, "accuracy", json_real(r->accuracy));
	json_object_set_new(o, "macro avg", scores(r->macro_precision, r->macro_recall, r->macro_f1, (int64_t)r->n));
	json_object_set_new(o, "weighted avg",
			    scores(r->weighted_precision, r->weighted_recall, r->weighted_f1, (int64_t)r->n));
	return o;
}

enum core_status ml_eval_regression(const float *pred, const float *y, size_t n, size_t k, struct ml_reg_report *out,
				    struct core_error *err)
{
	memset(out, 0, sizeof *out);
	if (n == 0 || k == 0)
		return core_fail(err, CORE_EINVAL, "nothing to evaluate: %zu examples, %zu targets", n, k);
	for (size_t i = 0; i < n * k; i++)
		if (!isfinite(pred[i]) || !isfinite(y[i]))
			return core_fail(err, CORE_EINVAL, "example %zu, target %zu: %s is not finite", i / k, i % k,
					 isfinite(pred[i]) ? "the label" : "the prediction");
	for (size_t j = 0; j < k; j++) {
		double mean = 0, se = 0, ae = 0, tot = 0;
		for (size_t i = 0; i < n; i++)
			mean += y[i * k + j];
		mean /= (double)n;
		for (size_t i = 0; i < n; i++) {
			double d = (double)y[i * k + j] - (double)pred[i * k + j], t = (double)y[i * k + j] - mean;
			se += d * d;
			ae += fabs(d);
			tot += t * t;
		}
		out->rmse += sqrt(se / (double)n);
		out->mae += ae / (double)n;
		out->r2 += tot != 0 ? 1 - se / tot : se == 0 ? 1 : 0;
	}
	out->rmse /= (double)k;
	out->mae /= (double)k;
	out->r2 /= (double)k;
	return CORE_OK;
}
