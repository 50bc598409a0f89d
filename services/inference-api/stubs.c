/* TEMPORARY (ia-core): weak stand-ins for what the other parts of issue 11 build in
 * parallel and this branch has not merged yet (ev_predictions.c, prep_image.c, h_oip.c,
 * h_invocations.c, h_predict.c), so it links, runs end to end and its lifecycle test
 * can send requests. The lead deletes this file when merging those parts (a weak
 * definition in an archive member may still be the one linked, so it must go). The
 * stand-ins are the simplest correct thing: no prediction events, a minimal OIP infer
 * (FP32 JSON, flat data) and readiness; everything else answers 501. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "ia.h"

#define WEAK __attribute__((weak))

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

WEAK enum core_status ia_prep_image(const struct ia_model *m, const void *data, size_t len,
				    const struct img_limits *lim, float *x, struct ia_img_stats *stats,
				    struct core_error *err)
{
	(void)m, (void)data, (void)len, (void)lim, (void)x, (void)stats;
	return core_fail(err, CORE_EINVAL, "image upload is not built yet");
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
