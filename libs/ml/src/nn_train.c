/* The trainer (placeholder until the training loop lands): the API compiles and refuses. */
#include <stdlib.h>
#include "nn_internal.h"

struct ml_trainer {
	struct ml_net *net;
	int epoch;
	long step;
};

enum core_status ml_trainer_new(struct ml_net *net, const struct ml_train_cfg *cfg, struct ml_trainer **out,
				struct core_error *err)
{
	(void)net;
	(void)cfg;
	*out = NULL;
	return core_fail(err, CORE_EINVAL, "ml: training not implemented yet");
}

void ml_trainer_free(struct ml_trainer *t)
{
	free(t);
}

int ml_trainer_epoch_done(const struct ml_trainer *t)
{
	return t->epoch;
}

long ml_trainer_step(const struct ml_trainer *t)
{
	return t->step;
}

enum core_status ml_trainer_epoch(struct ml_trainer *t, const struct ml_data *train, ml_batch_fn on_batch, void *ctx,
				  double *mean_loss, bool *stopped, struct core_error *err)
{
	(void)t;
	(void)train;
	(void)on_batch;
	(void)ctx;
	(void)mean_loss;
	(void)stopped;
	return core_fail(err, CORE_EINVAL, "ml: training not implemented yet");
}

enum core_status ml_trainer_eval_loss(struct ml_trainer *t, const struct ml_data *data, double *mean_loss,
				      struct core_error *err)
{
	(void)t;
	(void)data;
	(void)mean_loss;
	return core_fail(err, CORE_EINVAL, "ml: training not implemented yet");
}

enum core_status ml_trainer_save(const struct ml_trainer *t, struct core_buf *out, struct core_error *err)
{
	(void)t;
	(void)out;
	return core_fail(err, CORE_EINVAL, "ml: training not implemented yet");
}

enum core_status ml_trainer_load(struct ml_trainer *t, const void *bytes, size_t len, struct core_error *err)
{
	(void)t;
	(void)bytes;
	(void)len;
	return core_fail(err, CORE_EINVAL, "ml: training not implemented yet");
}
