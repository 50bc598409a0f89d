/* ml/metrics: evaluation of a model's predictions, with scikit-learn's definitions, so
 * the numbers a run logs are the ones a data scientist gets from sklearn.metrics on the
 * same predictions.
 *
 * Classification: probs [n, k] (row-major, one row of class probabilities per example),
 * y [n] class ids in [0, k). The predicted class is the row's argmax (the first on ties,
 * as numpy.argmax). Per class: precision tp/(tp+fp), recall tp/(tp+fn), F1 their harmonic
 * mean, support tp+fn; a 0/0 gives 0 (sklearn's default zero_division="warn" returns 0
 * and warns). Macro averages are plain means over the k classes (absent classes count,
 * as sklearn does with labels=range(k)); weighted ones weigh by support. log_loss is
 * sklearn's log_loss(y, probs, labels=range(k)) with probabilities clipped to
 * [eps, 1 - eps], eps = FLT_EPSILON (sklearn's eps="auto" for float32 input), and each
 * row renormalised to sum 1 before -log p[y]; the mean over examples.
 *
 * Regression: pred and y [n, k] (k targets); RMSE, MAE and R² are sklearn's
 * (multioutput="uniform_average": computed per target, then averaged; RMSE is
 * mean_squared_error(squared=False), the mean of the per-target roots). R² of a target
 * whose y is constant is 1 when predicted exactly, else 0 (sklearn's force_finite).
 *
 * Sums are in double. Pure functions, thread-safe. */
#ifndef ML_METRICS_H
#define ML_METRICS_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

struct ml_class_report {
	size_t k, n;
	double accuracy, log_loss;
	double *precision, *recall, *f1; /* k each */
	int64_t *support;                /* k */
	double macro_precision, macro_recall, macro_f1;
	double weighted_precision, weighted_recall, weighted_f1;
	int64_t *confusion; /* k*k, row = true class, column = predicted */
};

/* Fills *out (arrays malloc'd; free with ml_class_report_free). CORE_EINVAL when n or k
 * is 0, a label is outside [0, k) or a probability is not finite (the message names the
 * example); *out is then zeroed and needs no freeing. */
enum core_status ml_eval_classification(const float *probs, const int64_t *y, size_t n, size_t k,
					struct ml_class_report *out, struct core_error *err);
/* Frees the arrays and zeroes r; r may be NULL or already freed. */
void ml_class_report_free(struct ml_class_report *r);

/* sklearn's classification_report(y, pred, labels=range(k), target_names=class_names,
 * output_dict=True) as JSON: {"<name>": {"precision", "recall", "f1-score", "support"},
 * ..., "accuracy": x, "macro avg": {...}, "weighted avg": {...}}, the averages' support
 * being n. class_names: k strings, or NULL for "0".."k-1". New reference. */
json_t *ml_class_report_json(const struct ml_class_report *r, const char *const *class_names);

struct ml_reg_report {
	double rmse, mae, r2;
};

/* CORE_EINVAL when n or k is 0 or a value is not finite. */
enum core_status ml_eval_regression(const float *pred, const float *y, size_t n, size_t k, struct ml_reg_report *out,
				    struct core_error *err);
#endif
