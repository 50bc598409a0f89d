/* What infer.c and ev_predictions.c offer each other beyond ia.h (the contract, which
 * only ia-core edits): prediction events that name their protocol and role, copies of a
 * request's rows that outlive it (events and shadow scoring happen off the request
 * path), and the shadow scorer whose thread the events module starts and stops. */
#ifndef IA_BATCH_H
#define IA_BATCH_H
#include "ia.h"

/* A request's rows, copied for work after the reply: x (when asked for), tabular cells
 * with their strings, and image statistics (computed from raw pixels when the protocol
 * sent pixels). */
struct ia_rows_copy {
	struct ia_rows rows; /* points into the copy */
	float *x;
	struct ia_cell *cells;
	char *strs;
	struct ia_img_stats *imgs;
};
/* Copies rows' first n rows of m's inputs (with x when with_x). NULL when memory ran out. */
struct ia_rows_copy *ia_rows_dup(const struct ia_model *m, const struct ia_rows *rows, size_t n, bool with_x);
void ia_rows_copy_free(struct ia_rows_copy *c);

/* ia_events_emit with the request's protocol ("oip", "mlflow", "image") and the role
 * of the version that answered ("serve" or "shadow"). Never blocks. */
void ia_events_emit_as(struct ia_events *e, const char *protocol, const char *role, const char *request_id,
		       const struct ia_rows *rows, const struct ia_result *res);
/* Whether request_id's events are sampled (PREDICTION_SAMPLE_RATE); the same answer for
 * the served and the shadow predictions of one request. */
bool ia_events_sampled(struct ia_events *e, const char *request_id);

/* The shadow scorer (infer.c): a small queue and one thread scoring the challenger off
 * the request path. Started and stopped with the events module (ia_events_new/free),
 * which main.c owns; NULL when SHADOW is off. */
struct ia_shadow;
struct ia_shadow *ia_shadow_new(struct ia_app *a);
void ia_shadow_free(struct ia_shadow *s);
struct ia_shadow *ia_events_shadow(struct ia_events *e);
#endif
