/* The one inference path every protocol's handler calls (h_oip.c, h_invocations.c,
 * h_predict.c): rows already prepared for the net go through the serving version's
 * batcher, classifiers get their argmax label, the request is counted in the service's
 * metrics families (ia.h, struct ia_metrics), and its sampled prediction events are
 * queued (ev_predictions.c). The handlers own parsing and replying; this file owns
 * what happens between.
 *
 * Shadow scoring (SHADOW=true): when the pick names a shadow version, a copy of the
 * request's rows goes to a small queue served by one thread of this module, which runs
 * them through the challenger, counts whether it agrees with the served answer
 * (inference_shadow_predictions_total) and emits its events with role "shadow". The
 * client never waits for it nor sees it; when the queue is full the shadow skips the
 * request. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/log.h"
#include "ia.h"
#include "ia_batch.h"
#include "metrics/metrics.h"

/* Requests waiting for the shadow; more are not scored. */
#define IA_SHADOW_QUEUE 64

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

static void shadow_submit(struct ia_app *a, const struct ia_pick *pick, const char *protocol, const char *request_id,
			  const struct ia_rows *rows, const struct ia_result *served);

/* Runs rows on m; out [n, m->n_out], labels [n] for classifiers (both malloc'd). */
static enum core_status predict(struct ia_model *m, const float *x, size_t n, float **out, int32_t **labels,
				struct core_error *err)
{
	*out = NULL;
	*labels = NULL;
	if (n > SIZE_MAX / sizeof(float) / (m->n_out ? m->n_out : 1))
		return core_fail(err, CORE_ENOMEM, "%zu rows are too many", n);
	float *o = malloc(n * m->n_out * sizeof *o);
	int32_t *lab = m->labels ? malloc(n * sizeof *lab) : NULL;
	if (!o || (m->labels && !lab)) {
		free(o);
		free(lab);
		return core_fail(err, CORE_ENOMEM, "no memory for the outputs of %zu rows", n);
	}
	enum core_status st = ia_batcher_run(m->batcher, x, n, o, err);
	if (st != CORE_OK) {
		free(o);
		free(lab);
		return st;
	}
	if (lab)
		for (size_t i = 0; i < n; i++)
			lab[i] = argmax(o + i * m->n_out, m->n_out);
	*out = o;
	*labels = lab;
	return CORE_OK;
}

enum core_status ia_infer(struct ia_app *a, const struct ia_pick *pick, const char *protocol, const char *request_id,
			  const struct ia_rows *rows, struct ia_result *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	struct ia_model *m = pick ? pick->serve : NULL;
	if (!m || !rows)
		return core_fail(err, CORE_EINVAL, "no model to answer");
	if (rows->n == 0)
		return core_fail(err, CORE_EINVAL, "no rows to predict");
	float *o;
	int32_t *lab;
	enum core_status st = predict(m, rows->x, rows->n, &o, &lab, err);
	if (st != CORE_OK)
		return st;
	ia_model_ref(m);
	*out = (struct ia_result){.model = m, .n = rows->n, .k = m->n_out, .out = o, .label = lab};
	count_predictions(a, m, out);
	if (pick->shadow)
		shadow_submit(a, pick, protocol, request_id, rows, out);
	ia_events_emit_as(a->events, protocol, "serve", request_id, rows, out);
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

/* --- shadow scoring ------------------------------------------------------------------- */

struct ia_shadow_job {
	struct ia_shadow_job *next;
	struct ia_model *shadow, *serve; /* refs */
	char *protocol, *request_id;
	size_t n;
	struct ia_rows_copy *rows; /* x as prepared for serve, cells, image statistics */
	float *raw;                /* pixels as sent (re-prepared for the shadow), or NULL */
	float *served;             /* serve's outputs [n, serve->n_out] */
	int32_t *served_label;     /* [n] or NULL */
};

struct ia_shadow {
	struct ia_app *a;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ia_shadow_job *head, *tail;
	size_t queued;
	bool stopping;
	pthread_t thread;
};

static void shadow_job_free(struct ia_shadow_job *j)
{
	if (!j)
		return;
	if (j->shadow)
		ia_model_unref(j->shadow);
	if (j->serve)
		ia_model_unref(j->serve);
	free(j->protocol);
	free(j->request_id);
	ia_rows_copy_free(j->rows);
	free(j->raw);
	free(j->served);
	free(j->served_label);
	free(j);
}

static bool same_columns(const struct ia_model *a, const struct ia_model *b)
{
	if (a->n_columns != b->n_columns)
		return false;
	for (size_t i = 0; i < a->n_columns; i++)
		if (strcmp(a->columns[i].name, b->columns[i].name) != 0)
			return false;
	return true;
}

/* The shadow's input: the raw values prepared with its own preprocessing when the
 * request's raw values fit it, else the served version's preparation when it has the
 * same size (an upload's pixels are not kept). NULL (skip) otherwise. *owned says
 * whether to free it. */
static const float *shadow_input(const struct ia_shadow_job *j, bool *owned, struct core_error *err)
{
	const struct ia_model *sh = j->shadow, *sv = j->serve;
	*owned = false;
	bool pixels = j->raw && sh->kind == IA_INPUT_IMAGE && sh->n_raw == sv->n_raw;
	bool cells = j->rows->rows.cells && sh->kind == IA_INPUT_TABULAR && same_columns(sh, sv);
	if (pixels || cells) {
		float *x = malloc(j->n * sh->n_in * sizeof *x);
		if (!x)
			return NULL;
		enum core_status st = pixels ? ia_prep_pixels(sh, j->raw, j->n, x, err)
					     : ia_prep_rows(sh, j->rows->rows.cells, j->n, x, err);
		if (st != CORE_OK) {
			free(x);
			return NULL;
		}
		*owned = true;
		return x;
	}
	if (sh->n_in == sv->n_in)
		return j->rows->x;
	core_fail(err, CORE_EINVAL, "its input (%zu values) differs from the served version's (%zu)", sh->n_in,
		  sv->n_in);
	return NULL;
}

/* Classifiers agree on the label's name; regressors when every value is within 0.1 %
 * (or 1e-6) of the served one. */
static bool agrees(const struct ia_shadow_job *j, size_t i, const float *out, const int32_t *label)
{
	const struct ia_model *sh = j->shadow, *sv = j->serve;
	if (sh->labels && sv->labels && label && j->served_label)
		return strcmp(sh->labels[label[i]], sv->labels[j->served_label[i]]) == 0;
	if (sh->n_out != sv->n_out)
		return false;
	for (size_t c = 0; c < sh->n_out; c++) {
		float a = out[i * sh->n_out + c], b = j->served[i * sv->n_out + c];
		if (!(fabsf(a - b) <= fmaxf(1e-6f, 1e-3f * fabsf(b))))
			return false;
	}
	return true;
}

static void shadow_score(struct ia_shadow *s, struct ia_shadow_job *j)
{
	struct core_error err = {{0}};
	bool owned;
	const float *x = shadow_input(j, &owned, &err);
	if (!x) {
		core_log(CORE_LOG_DEBUG, "shadow %s version %s skipped a request: %s", j->shadow->name,
			 j->shadow->version, err.message);
		return;
	}
	float *out = NULL;
	int32_t *label = NULL;
	enum core_status st = predict(j->shadow, x, j->n, &out, &label, &err);
	if (owned)
		free((float *)x);
	if (st != CORE_OK) {
		core_log(CORE_LOG_WARN, "shadow %s version %s failed: %s", j->shadow->name, j->shadow->version,
			 err.message);
		return;
	}
	size_t agree = 0;
	for (size_t i = 0; i < j->n; i++)
		agree += agrees(j, i, out, label);
	const char *yes[] = {j->shadow->name, j->shadow->version, "true"};
	const char *no[] = {j->shadow->name, j->shadow->version, "false"};
	if (agree)
		metrics_counter_add(s->a->metrics.shadow_diff, yes, (double)agree);
	if (agree < j->n)
		metrics_counter_add(s->a->metrics.shadow_diff, no, (double)(j->n - agree));
	struct ia_result res = {.model = j->shadow, .n = j->n, .k = j->shadow->n_out, .out = out, .label = label};
	ia_events_emit_as(s->a->events, j->protocol, "shadow", j->request_id, &j->rows->rows, &res);
	free(out);
	free(label);
}

static void *shadow_thread(void *arg)
{
	struct ia_shadow *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stopping)
			break;
		struct ia_shadow_job *j = s->head;
		s->head = j->next;
		if (!s->head)
			s->tail = NULL;
		s->queued--;
		pthread_mutex_unlock(&s->mu);
		shadow_score(s, j);
		shadow_job_free(j);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

struct ia_shadow *ia_shadow_new(struct ia_app *a)
{
	struct ia_shadow *s = core_xcalloc(1, sizeof *s);
	s->a = a;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->thread, NULL, shadow_thread, s) != 0) {
		core_log(CORE_LOG_WARN, "shadow scoring: cannot start its thread; the challenger will not be scored");
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return NULL;
	}
	return s;
}

void ia_shadow_free(struct ia_shadow *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	for (struct ia_shadow_job *j = s->head, *next; j; j = next) {
		next = j->next;
		shadow_job_free(j);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static void shadow_submit(struct ia_app *a, const struct ia_pick *pick, const char *protocol, const char *request_id,
			  const struct ia_rows *rows, const struct ia_result *served)
{
	struct ia_shadow *s = ia_events_shadow(a->events);
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	bool full = s->queued >= IA_SHADOW_QUEUE;
	if (!full)
		s->queued++; /* the place is ours while the copy is made */
	pthread_mutex_unlock(&s->mu);
	if (full)
		return;
	struct ia_model *sv = pick->serve;
	size_t n = rows->n;
	struct ia_shadow_job *j = calloc(1, sizeof *j);
	if (!j)
		goto fail;
	j->shadow = pick->shadow;
	ia_model_ref(j->shadow);
	j->serve = sv;
	ia_model_ref(sv);
	j->n = n;
	j->protocol = strdup(protocol ? protocol : "");
	j->request_id = request_id ? strdup(request_id) : NULL;
	j->rows = ia_rows_dup(sv, rows, n, true);
	j->served = malloc(n * sv->n_out * sizeof *j->served);
	j->served_label = served->label ? malloc(n * sizeof *j->served_label) : NULL;
	if (rows->raw && sv->kind == IA_INPUT_IMAGE) {
		j->raw = malloc(n * sv->n_raw * sizeof *j->raw);
		if (j->raw)
			memcpy(j->raw, rows->raw, n * sv->n_raw * sizeof *j->raw);
	}
	if (!j->protocol || (request_id && !j->request_id) || !j->rows || !j->served ||
	    (served->label && !j->served_label) || (rows->raw && sv->kind == IA_INPUT_IMAGE && !j->raw))
		goto fail;
	memcpy(j->served, served->out, n * sv->n_out * sizeof *j->served);
	if (j->served_label)
		memcpy(j->served_label, served->label, n * sizeof *j->served_label);
	pthread_mutex_lock(&s->mu);
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return;
fail:
	shadow_job_free(j);
	pthread_mutex_lock(&s->mu);
	s->queued--;
	pthread_mutex_unlock(&s->mu);
}
