/* ml/nn.h: float32 sequential networks, training, checkpoints. Row-major NCHW.
 *
 * A net is a list of layers (struct ml_layer_spec) over one example's input shape. It
 * owns its parameters in PyTorch's nn.Sequential state_dict names and layouts, so a
 * state_dict saved from the same Sequential in PyTorch loads as is. A trainer owns
 * everything one training needs (gradients, optimiser state, activations for one
 * mini-batch, allocated once) and runs epochs over an ml_data; its checkpoint is a
 * safetensors file (ml/safetensors.h) that resumes bit-identically.
 *
 * The matrix products run in OpenBLAS (the only BLAS user is src/blas.c); with one
 * thread (ml_set_threads(1), the default) the same seed and data give bit-identical
 * weights. Nothing here is thread-safe on one net or trainer; distinct nets and
 * trainers may be used from distinct threads. */
#ifndef ML_NN_H
#define ML_NN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/status.h"

enum ml_layer_kind {
	ML_DENSE = 1,
	ML_CONV2D,
	ML_MAXPOOL,
	ML_RELU,
	ML_TANH,
	ML_SIGMOID,
	ML_FLATTEN,
	ML_DROPOUT,
	ML_SOFTMAX
};

struct ml_layer_spec {
	enum ml_layer_kind kind;
	int units;                            /* dense */
	int filters, kernel, stride, padding; /* conv2d (square kernel; stride 0 -> 1) */
	int pool, pool_stride;                /* maxpool (pool_stride 0 -> pool) */
	float rate;                           /* dropout: the probability of zeroing, [0, 1) */
};

/* One example's shape; tabular data is {features, 1, 1}. */
struct ml_shape {
	int c, h, w;
};

/* "dense", "conv2d", "maxpool", "relu", "tanh", "sigmoid", "flatten", "dropout",
 * "softmax"; "?" for a value outside the enum. */
const char *ml_layer_kind_name(enum ml_layer_kind k);
/* The kind named name (the names above); false when there is none. */
bool ml_layer_kind_parse(const char *name, enum ml_layer_kind *out);

struct ml_net;

/* Builds a net of n layers over inputs of shape in, parameters zero (ml_net_init fills
 * them). Checks that every layer fits its input; on a misfit CORE_EINVAL with a message
 * naming the layer ("layer 2 (conv2d): kernel 5 is larger than its 3x3 input"). A dense
 * layer after conv/pool flattens implicitly. The specs are copied.
 *   out  [out] the net, freed with ml_net_free
 * Returns CORE_OK; CORE_EINVAL as above (also for n == 0 or a bad input shape);
 * CORE_ENOMEM. Nothing to free on failure. */
enum core_status ml_net_new(const struct ml_layer_spec *layers, size_t n, struct ml_shape in, struct ml_net **out,
			    struct core_error *err);
/* A net with src's layers that shares src's parameters instead of copying them: for
 * predicting on several threads at once (nets are not thread-safe; each thread gets
 * its own), with one set of weights in memory and in the caches. src must outlive it
 * and its parameters must not change meanwhile (no training, no ml_net_param writes);
 * its own ml_net_param hands out src's storage. CORE_ENOMEM. */
enum core_status ml_net_share(const struct ml_net *src, struct ml_net **out, struct core_error *err);
/* Readies net for serving: it predicts only from now on. Each dense layer's weights are
 * transposed in place to [in, out], so that a prediction of a few rows reads them one
 * input at a time and skips the inputs that are zero (most of an image's background),
 * or, for more rows, multiplies without a transpose. Outputs agree with the unfrozen
 * net's to float rounding (the sums run in another order), and a frozen net gives the
 * same bits for the same input and rows every time. Afterwards ml_net_param reports a
 * dense weight as it is stored, [in, out], not PyTorch's layout; a frozen net cannot be
 * trained (ml_trainer_new) or written as a package. Nets shared from it (ml_net_share,
 * after freezing) are frozen too. Freezing a frozen net does nothing.
 * Returns CORE_OK; CORE_EINVAL for a net that shares another's weights; CORE_ENOMEM
 * (net unchanged). */
enum core_status ml_net_freeze(struct ml_net *net, struct core_error *err);
bool ml_net_frozen(const struct ml_net *net);
/* NULL is fine. A sharing net leaves its source's parameters alone. */
void ml_net_free(struct ml_net *net);
size_t ml_net_n_layers(const struct ml_net *net);
/* Layer i's spec as given (stride/pool_stride 0 kept as given). i < ml_net_n_layers. */
const struct ml_layer_spec *ml_net_layer(const struct ml_net *net, size_t i);
struct ml_shape ml_net_input(const struct ml_net *net);
/* Values per example the last layer gives (c*h*w of its output). */
size_t ml_net_n_outputs(const struct ml_net *net);
/* The output shape of layer i (i < ml_net_n_layers). */
struct ml_shape ml_net_layer_output(const struct ml_net *net, size_t i);

/* He-normal for layers followed by ReLU, Xavier-uniform otherwise, biases 0; from a
 * seeded generator: same seed -> same weights. */
void ml_net_init(struct ml_net *net, uint64_t seed);

/* Parameters in PyTorch's nn.Sequential state_dict names and layouts: "<layer index>.weight"
 * dense [out,in], conv2d [out,in,k,k]; "<layer index>.bias" [out]. In layer order, each
 * weight before its bias. */
size_t ml_net_n_params(const struct ml_net *net);
struct ml_param {
	const char *name; /* owned by the net */
	int ndim;
	int64_t shape[4];
	float *data; /* the net's own storage: writing it changes the net */
	size_t n;    /* elements */
};
/* Fills out with parameter i (i < ml_net_n_params). */
void ml_net_param(struct ml_net *net, size_t i, struct ml_param *out);

/* Inference (dropout off): x [n, c*h*w] -> out [n, n_outputs]. Works in chunks with
 * scratch the net keeps, so not thread-safe on one net. CORE_EINVAL when an output is
 * not finite is NOT raised here (the caller judges); CORE_ENOMEM. */
enum core_status ml_net_predict(struct ml_net *net, const float *x, size_t n, float *out, struct core_error *err);

enum ml_loss { ML_LOSS_SOFTMAX_CE = 1 /* on logits; labels int64 class ids */, ML_LOSS_MSE };
enum ml_optim_kind { ML_OPT_SGD = 1, ML_OPT_ADAM };
/* PyTorch's torch.optim.SGD (momentum, dampening 0, no Nesterov) and torch.optim.Adam
 * (no amsgrad); weight_decay adds weight_decay * w to the gradient, as both do. Adam's
 * beta1/beta2/eps 0 mean PyTorch's defaults 0.9/0.999/1e-8. */
struct ml_optim {
	enum ml_optim_kind kind;
	float lr, momentum, beta1, beta2, eps, weight_decay;
};
/* x: [n, c*h*w]; y: class ids (classification) or yr: [n, n_outputs] targets (regression). */
struct ml_data {
	const float *x;
	const int64_t *y;
	const float *yr;
	size_t n;
	struct ml_shape shape;
};
struct ml_train_cfg {
	enum ml_loss loss;
	struct ml_optim optim;
	int batch_size;
	uint64_t seed;
};

struct ml_trainer;
/* A trainer of net (borrowed: it must outlive the trainer; the trainer changes its
 * parameters). Checks the config (loss and optimiser known, lr > 0, batch_size >= 1,
 * MSE or CE fits the net's outputs) and allocates every buffer one mini-batch needs.
 *   out  [out] freed with ml_trainer_free
 * Returns CORE_OK; CORE_EINVAL naming the bad field; CORE_ENOMEM. */
enum core_status ml_trainer_new(struct ml_net *net, const struct ml_train_cfg *cfg, struct ml_trainer **out,
				struct core_error *err);
/* NULL is fine. */
void ml_trainer_free(struct ml_trainer *t);
/* Epochs finished so far. */
int ml_trainer_epoch_done(const struct ml_trainer *t);
/* Mini-batch steps taken so far (over all epochs). */
long ml_trainer_step(const struct ml_trainer *t);

/* Batch callback: after every mini-batch; return false to stop (cancel): the epoch then
 * returns CORE_OK with *stopped = true (core has no cancel status; don't add one). */
typedef bool (*ml_batch_fn)(void *ctx, long step, float loss);
/* One epoch: shuffles with a generator seeded by (seed, epoch index) so that resuming at
 * epoch e from a checkpoint gives bit-identical results to an unbroken run; dropout masks
 * likewise. A NaN/inf loss -> CORE_EINVAL "loss is not finite at epoch E step S".
 *   train      the data; its shape must be the net's input; y (CE) or yr (MSE) set;
 *              class ids in [0, n_outputs)
 *   on_batch   may be NULL
 *   mean_loss  [out] mean of the batches' mean losses, weighted by batch size (may be NULL)
 *   stopped    [out] true when on_batch asked to stop (may be NULL)
 * A stopped epoch does not count as done (the weights have moved: reload a checkpoint to
 * resume exactly). CORE_EINVAL for bad data (naming what). */
enum core_status ml_trainer_epoch(struct ml_trainer *t, const struct ml_data *train, ml_batch_fn on_batch, void *ctx,
				  double *mean_loss, bool *stopped, struct core_error *err);
/* Mean loss of the net on data (no training, dropout off); the loss of the trainer's
 * config. CORE_EINVAL for bad data. */
enum core_status ml_trainer_eval_loss(struct ml_trainer *t, const struct ml_data *data, double *mean_loss,
				      struct core_error *err);
/* Checkpoint = safetensors bytes: weights + optimiser state + epoch/step in __metadata__.
 * Appended to out (initialised by the caller). */
enum core_status ml_trainer_save(const struct ml_trainer *t, struct core_buf *out, struct core_error *err);
/* Restores weights, optimiser state, epoch and step from a checkpoint of a trainer with
 * the same layers and optimiser kind. CORE_EINVAL naming a missing or misshapen tensor;
 * on failure the trainer may hold partly loaded weights (load again or discard it). */
enum core_status ml_trainer_load(struct ml_trainer *t, const void *bytes, size_t len, struct core_error *err);

/* BLAS threads: TRAIN_THREADS setting of the trainer, default 1. Process-wide. */
void ml_set_threads(int n);
#endif
