/* A model's promotion policy and the verdict on a challenger (pure; tr.h, tr-promotion).
 * The verdict reads only numbers: evaluate.c measures both models on the challenger's
 * test split and hands the scores here, so the rule can be tested without daemons. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "tr.h"

void tr_policy_default(struct tr_policy *p)
{
	memset(p, 0, sizeof *p);
	snprintf(p->metric, sizeof p->metric, "accuracy");
	p->min_improvement = 0;
	p->max_recall_drop = 0.02;
	snprintf(p->mode, sizeof p->mode, "auto");
}

bool tr_policy_higher_better(const char *metric)
{
	return strcmp(metric, "log_loss") != 0;
}

static bool one_of(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(v, *set) == 0)
			return true;
	return false;
}

enum core_status tr_policy_parse(json_t *body, struct tr_policy *p, struct core_error *err)
{
	static const char *const metrics[] = {"accuracy", "macro_f1", "log_loss", NULL};
	static const char *const modes[] = {"auto", "manual", NULL};
	static const char *const fields[] = {"metric", "min_improvement", "max_recall_drop", "mode", NULL};
	tr_policy_default(p);
	if (!json_is_object(body))
		return core_fail(err, CORE_EINVAL, "the policy must be a JSON object");
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		if (!one_of(key, fields))
			return core_fail(err, CORE_EINVAL,
					 "%.64s: unknown field (metric, min_improvement, "
					 "max_recall_drop, mode)",
					 key);
	}
	if ((v = json_object_get(body, "metric"))) {
		if (!json_is_string(v) || !one_of(json_string_value(v), metrics))
			return core_fail(err, CORE_EINVAL, "metric: must be one of accuracy, macro_f1, log_loss");
		snprintf(p->metric, sizeof p->metric, "%s", json_string_value(v));
	}
	if ((v = json_object_get(body, "min_improvement"))) {
		if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
			return core_fail(err, CORE_EINVAL, "min_improvement: must be a number >= 0");
		p->min_improvement = json_number_value(v);
	}
	if ((v = json_object_get(body, "max_recall_drop"))) {
		double d = json_number_value(v);
		if (!json_is_number(v) || !(d >= 0 && d <= 1))
			return core_fail(err, CORE_EINVAL, "max_recall_drop: must be a number in [0, 1]");
		p->max_recall_drop = d;
	}
	if ((v = json_object_get(body, "mode"))) {
		if (!json_is_string(v) || !one_of(json_string_value(v), modes))
			return core_fail(err, CORE_EINVAL, "mode: must be auto or manual");
		snprintf(p->mode, sizeof p->mode, "%s", json_string_value(v));
	}
	return CORE_OK;
}

double tr_eval_metric(const struct tr_eval_scores *sc, const char *metric)
{
	if (strcmp(metric, "macro_f1") == 0)
		return sc->macro_f1;
	if (strcmp(metric, "log_loss") == 0)
		return sc->log_loss;
	return sc->accuracy;
}

void tr_policy_judge(const struct tr_policy *p, const struct tr_eval_scores *champ, const struct tr_eval_scores *chal,
		     bool *passes, char *reason, size_t cap)
{
	if (!champ) {
		*passes = true;
		snprintf(reason, cap, "no champion");
		return;
	}
	double a = tr_eval_metric(champ, p->metric), b = tr_eval_metric(chal, p->metric);
	double gain = tr_policy_higher_better(p->metric) ? b - a : a - b;
	/* a 1e-12 slack on both limits: a change equal to the limit passes whatever the
	 * rounding of the two scores' difference */
	bool improves = isfinite(gain) && gain >= p->min_improvement - 1e-12;
	/* the class whose recall fell most */
	size_t worst = 0;
	double drop = -INFINITY;
	size_t k = champ->k < chal->k ? champ->k : chal->k;
	for (size_t i = 0; i < k; i++) {
		double d = champ->recall[i] - chal->recall[i];
		if (d > drop) {
			drop = d;
			worst = i;
		}
	}
	bool recall_ok = k == 0 || drop <= p->max_recall_drop + 1e-12;
	*passes = improves && recall_ok && champ->k == chal->k;
	int n = snprintf(reason, cap, "%s %s: %.6g -> %.6g (improvement %.6g, needed %.6g)", p->metric,
			 improves ? "improves" : "does not improve enough", a, b, gain, p->min_improvement);
	if (n < 0 || (size_t)n >= cap)
		return;
	if (champ->k != chal->k)
		snprintf(reason + n, cap - (size_t)n, "; the models have %zu and %zu classes", champ->k, chal->k);
	else if (k > 0)
		snprintf(reason + n, cap - (size_t)n, "; largest recall drop %.6g on class %zu (allowed %.6g)%s", drop,
			 worst, p->max_recall_drop, recall_ok ? "" : ": too large");
}
