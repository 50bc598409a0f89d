/* ml/early_stop: stop training when a validation metric has stopped improving, as
 * Keras' EarlyStopping does. An epoch improves on the best so far when its value is
 * lower than best - min_delta (or higher than best + min_delta with maximize); after
 * `patience` epochs in a row without improvement, update says stop (patience 0 acts as 1:
 * stop at the first epoch that does not improve). A NaN value never improves. Plain struct, no
 * allocation; the caller owns it. */
#ifndef ML_EARLY_STOP_H
#define ML_EARLY_STOP_H
#include <stdbool.h>

struct ml_early_stop {
	bool maximize;
	double min_delta; /* >= 0; a negative one is taken as its magnitude */
	int patience;     /* epochs without improvement tolerated; < 0 taken as 0 */
	double best;      /* best value so far (+inf, or -inf with maximize, before any) */
	int best_epoch;   /* the epoch that gave best; -1 before any improvement */
	int bad_epochs;   /* epochs since the last improvement */
};

void ml_early_stop_init(struct ml_early_stop *es, bool maximize, double min_delta, int patience);
/* Records the metric's value at epoch; true: stop now (best_epoch says which epoch's
 * weights to keep). */
bool ml_early_stop_update(struct ml_early_stop *es, int epoch, double value);
#endif
