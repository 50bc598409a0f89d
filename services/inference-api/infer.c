/* The one inference path every protocol's handler calls (h_oip.c, h_invocations.c,
 * h_predict.c): rows already prepared for the net go through the serving version's
 * batcher, classifiers get their argmax label, and the request is counted in the
 * service's metrics families (ia.h, struct ia_metrics). The handlers own parsing and
 * replying; this file owns what happens between. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "ia.h"
#include "metrics/metrics.h"

/* Index of the largest of k values (the first on ties, as numpy's argmax). */
static int32_t argmax(const float *v, size_t k)
{
	size_t best = 0;
	for (size_t j = 1; j < k; j++)
		if (v[j] > v[best])
			best = j;
	return (int32_t)best;
}

/* inference_predictions_total{model,version,label}: one add per distinct label, so a
 * request of many rows takes each series' lock once. */
static void count_predictions(struct ia_app *a, const struct ia_model *m, const struct ia_result *r)
{
	if (!m->labels) {
		const char *lv[] = {m->name, m->version, ""};
		metrics_counter_add(a->metrics.predictions, lv, (double)r->n);
		return;
	}
	size_t *per = core_xcalloc(r->k, sizeof *per);
	for (size_t i = 0; i < r->n; i++)
		per[r->label[i]]++;
	for (size_t j = 0; j < r->k; j++) {
		if (!per[j])
			continue;
		const char *lv[] = {m->name, m->version, m->labels[j]};
		metrics_counter_add(a->metrics.predictions, lv, (double)per[j]);
	}
	free(per);
}

enum core_status ia_infer(struct ia_app *a, const struct ia_pick *pick, const char *protocol, const char *request_id,
			  const struct ia_rows *rows, struct ia_result *out, struct core_error *err)
{
	(void)protocol;
	(void)request_id;
	memset(out, 0, sizeof *out);
	struct ia_model *m = pick ? pick->serve : NULL;
	if (!m || !rows)
		return core_fail(err, CORE_EINVAL, "no model to answer");
	if (rows->n == 0)
		return core_fail(err, CORE_EINVAL, "no rows to predict");
	if (rows->n > SIZE_MAX / sizeof(float) / (m->n_out ? m->n_out : 1))
		return core_fail(err, CORE_ENOMEM, "%zu rows are too many", rows->n);
	float *o = malloc(rows->n * m->n_out * sizeof *o);
	int32_t *lab = m->labels ? malloc(rows->n * sizeof *lab) : NULL;
	if (!o || (m->labels && !lab)) {
		free(o);
		free(lab);
		return core_fail(err, CORE_ENOMEM, "no memory for the outputs of %zu rows", rows->n);
	}
	enum core_status st = ia_batcher_run(m->batcher, rows->x, rows->n, o, err);
	if (st != CORE_OK) {
		free(o);
		free(lab);
		return st;
	}
	if (lab)
		for (size_t i = 0; i < rows->n; i++)
			lab[i] = argmax(o + i * m->n_out, m->n_out);
	ia_model_ref(m);
	*out = (struct ia_result){.model = m, .n = rows->n, .k = m->n_out, .out = o, .label = lab};
	count_predictions(a, m, out);
	return CORE_OK;
}

void ia_result_free(struct ia_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->label);
	if (r->model)
		ia_model_unref(r->model);
	memset(r, 0, sizeof *r);
}

void ia_count_request(struct ia_app *a, const char *model, const char *version, const char *protocol, unsigned status,
		      double seconds)
{
	char code[16];
	snprintf(code, sizeof code, "%u", status);
	const char *lv[] = {model ? model : "", version ? version : "", protocol ? protocol : "", code};
	metrics_counter_add(a->metrics.requests, lv, 1);
	const char *dv[] = {model ? model : ""};
	metrics_histogram_observe(a->metrics.duration, dv, seconds);
}
