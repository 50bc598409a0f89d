/* Forward and backward passes of one mini-batch (placeholder until the kernels land). */
#include <stdlib.h>
#include "nn_internal.h"

enum core_status ml_nn_fwd_new(const struct ml_net *net, size_t cap, bool with_grad, struct ml_nn_fwd **out,
			       struct core_error *err)
{
	(void)net;
	(void)cap;
	(void)with_grad;
	*out = NULL;
	return core_fail(err, CORE_EINVAL, "ml: forward pass not implemented yet");
}

void ml_nn_fwd_free(struct ml_nn_fwd *f)
{
	free(f);
}

void ml_nn_forward(struct ml_nn_fwd *f, const float *x, size_t b, bool train, struct ml_nn_rng *rng)
{
	(void)f;
	(void)x;
	(void)b;
	(void)train;
	(void)rng;
}

void ml_nn_backward(struct ml_nn_fwd *f, const float *x, size_t b, const float *gout, float *grad)
{
	(void)f;
	(void)x;
	(void)b;
	(void)gout;
	(void)grad;
}
