/* Early stopping on a validation metric (face: ml/early_stop.h): Keras' rule (improve
 * by more than min_delta, else count the epoch against patience), so a job spec's
 * early_stopping block means what a Keras or PyTorch-Lightning user expects. */
#include "ml/early_stop.h"
#include <math.h>

void ml_early_stop_init(struct ml_early_stop *es, bool maximize, double min_delta, int patience)
{
	es->maximize = maximize;
	es->min_delta = fabs(min_delta);
	es->patience = patience < 0 ? 0 : patience;
	es->best = maximize ? -INFINITY : INFINITY;
	es->best_epoch = -1;
	es->bad_epochs = 0;
}

bool ml_early_stop_update(struct ml_early_stop *es, int epoch, double value)
{
	bool better = es->maximize ? value - es->min_delta > es->best : value + es->min_delta < es->best;
	if (better) { /* false for NaN: every comparison with it is */
		es->best = value;
		es->best_epoch = epoch;
		es->bad_epochs = 0;
		return false;
	}
	es->bad_epochs++;
	return es->bad_epochs >= es->patience;
}
