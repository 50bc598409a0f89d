/* TEMPORARY (ia-core): weak stand-ins for what the other parts of issue 11 build in
 * parallel (batch.c, infer.c, ev_predictions.c, prep.c, h_oip.c, h_invocations.c,
 * h_predict.c), so this branch links, runs end to end and its lifecycle test can send
 * requests. The lead deletes this file when merging those parts: every definition here
 * is weak, so a real one wins wherever both are linked. The stand-ins are the simplest
 * correct thing: one mutex around ml_net_predict on the package's net, a minimal OIP
 * infer (FP32 JSON, flat data) and readiness; everything else answers 501. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "ia.h"

#define WEAK __attribute__((weak))

struct ia_batcher {
	pthread_mutex_t mu;
	struct ml_net *net; /* borrowed: the package's */
	size_t n_out;
};

WEAK enum core_status ia_batcher_new(const struct ml_net *net, size_t nets, size_t max_rows, long max_delay_us,
				     struct metrics_family *batch_hist, struct ia_batcher **out, struct core_error *err)
{
	(void)nets, (void)max_rows, (void)max_delay_us, (void)batch_hist, (void)err;
	struct ia_batcher *b = core_xcalloc(1, sizeof *b);
	pthread_mutex_init(&b->mu, NULL);
	b->net = (struct ml_net *)net;
	b->n_out = ml_net_n_outputs(net);
	*out = b;
	return CORE_OK;
}

WEAK void ia_batcher_free(struct ia_batcher *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->mu);
	free(b);
}

WEAK enum core_status ia_batcher_run(struct ia_batcher *b, const float *x, size_t n, float *out, struct core_error *err)
{
	pthread_mutex_lock(&b->mu);
	enum core_status rc = ml_net_predict(b->net, x, n, out, err);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

WEAK enum core_status ia_infer(struct ia_app *a, const struct ia_pick *pick, const char *protocol,
			       const char *request_id, const struct ia_rows *rows, struct ia_result *out,
			       struct core_error *err)
{
	(void)a, (void)protocol, (void)request_id;
	struct ia_model *m = pick->serve;
	*out = (struct ia_result){.n = rows->n, .k = m->n_out};
	out->out = core_xcalloc(rows->n * m->n_out + 1, sizeof *out->out);
	enum core_status rc = ia_batcher_run(m->batcher, rows->x, rows->n, out->out, err);
	if (rc != CORE_OK) {
		free(out->out);
		*out = (struct ia_result){0};
		return rc;
	}
	ia_model_ref(m);
	out->model = m;
	if (m->labels) {
		out->label = core_xcalloc(rows->n + 1, sizeof *out->label);
		for (size_t i = 0; i < rows->n; i++)
			for (size_t j = 1; j < m->n_out; j++)
				if (out->out[i * m->n_out + j] > out->out[i * m->n_out + (size_t)out->label[i]])
					out->label[i] = (int32_t)j;
	}
	return CORE_OK;
}

WEAK void ia_result_free(struct ia_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->label);
	ia_model_unref(r->model);
	*r = (struct ia_result){0};
}

WEAK void ia_count_request(struct ia_app *a, const char *model, const char *version, const char *protocol,
			   unsigned status, double seconds)
{
	char st[8];
	snprintf(st, sizeof st, "%u", status);
	metrics_counter_add(a->metrics.requests, (const char *const[]){model, version, protocol, st}, 1);
	metrics_histogram_observe(a->metrics.duration, (const char *const[]){model}, seconds);
}

struct ia_events {
	int unused;
};

WEAK enum core_status ia_events_new(struct ia_app *a, struct ia_events **out, struct core_error *err)
{
	(void)a, (void)err;
	*out = core_xcalloc(1, sizeof **out);
	return CORE_OK;
}

WEAK void ia_events_free(struct ia_events *e)
{
	free(e);
}

WEAK void ia_events_emit(struct ia_events *e, const char *request_id, const struct ia_rows *rows,
			 const struct ia_result *res)
{
	(void)e, (void)request_id, (void)rows, (void)res;
}

WEAK enum core_status ia_prep_pixels(const struct ia_model *m, const float *raw, size_t n, float *x,
				     struct core_error *err)
{
	(void)err;
	size_t per = m->n_raw, plane = (size_t)m->h * m->w;
	for (size_t i = 0; i < n * per; i++) {
		unsigned c = (unsigned)((i % per) / (plane ? plane : 1));
		float v = raw[i];
		if (m->prep.norm == IMG_NORM_UNIT)
			v /= 255.0f;
		else if (m->prep.norm == IMG_NORM_MEANSTD)
			v = (v / 255.0f - m->prep.mean[c]) / m->prep.std[c];
		x[i] = v;
	}
	return CORE_OK;
}

WEAK enum core_status ia_prep_image(const struct ia_model *m, const void *data, size_t len,
				    const struct img_limits *lim, float *x, struct ia_img_stats *stats,
				    struct core_error *err)
{
	(void)m, (void)data, (void)len, (void)lim, (void)x, (void)stats;
	return core_fail(err, CORE_EINVAL, "image upload is not built yet");
}

WEAK enum core_status ia_prep_rows(const struct ia_model *m, const struct ia_cell *cells, size_t n, float *x,
				   struct core_error *err)
{
	(void)m, (void)cells, (void)n, (void)x;
	return core_fail(err, CORE_EINVAL, "tabular inputs are not built yet");
}

WEAK enum core_status ia_prep_tab_compile(struct ia_model *m, struct core_error *err)
{
	(void)m, (void)err;
	return CORE_OK;
}

WEAK void ia_prep_tab_free(void *tab)
{
	(void)tab;
}

/* --- handlers ----------------------------------------------------------------------- */
/* (ia-oip: h_oip.c's stand-ins are gone. In an archive, a weak definition in a member
 * the linker already pulled satisfies the symbol, so the member with the real one is
 * never pulled: a stand-in here wins over the real handler.) */

WEAK void ia_h_invocations(struct http_request *req, void *app)
{
	svc_h_not_implemented(req, app);
}

WEAK void ia_h_ping(struct http_request *req, void *app)
{
	svc_h_not_implemented(req, app);
}

WEAK void ia_h_health(struct http_request *req, void *app)
{
	svc_h_not_implemented(req, app);
}

WEAK void ia_h_version(struct http_request *req, void *app)
{
	svc_h_not_implemented(req, app);
}

WEAK void ia_h_predict(struct http_request *req, void *app)
{
	svc_h_not_implemented(req, app);
}
