/* ml/package: the model package, what the trainer writes and the inference API serves
 * (docs/architecture.md, "The model package"): a directory holding
 *
 *   model.json          {"format_version": 1,
 *                        "task": "classification" | "regression",
 *                        "layers": [{"type": "flatten"}, {"type": "dense", "units": 256},
 *                                   {"type": "relu"}, ..., {"type": "softmax"}],
 *                        "input": {"shape": [c, h, w], "dtype": "float32"},
 *                        "output": {"shape": [k], "dtype": "float32",
 *                                   "kind": "probabilities" | "values"},
 *                        "preprocessing": {...} | null, "class_names": [...] | null,
 *                        "dataset": "name@version id" | null, "metrics": {...} | null}
 *   weights.safetensors every parameter as F32, named as PyTorch's nn.Sequential
 *                       state_dict names it ("<layer index>.weight" dense [out, in],
 *                       conv2d [out, in, k, k]; "<layer index>.bias" [out]); metadata
 *                       {"format": "pt"}
 *
 * Layer fields: dense "units"; conv2d "filters", "kernel", "stride" (default 1),
 * "padding" (default 0); maxpool "pool", "stride" (default pool); dropout "rate"
 * (default 0); relu, tanh, sigmoid, flatten, softmax none. A classification package's
 * layers end with a softmax: the trainer's net ends with logits, and write appends
 * {"type": "softmax"} when its last layer is not one, and read appends one to a
 * classifier whose layers end otherwise (e.g. a PyTorch model trained on logits), so a
 * reader's net always outputs probabilities (the weights are the same: softmax has
 * none). "output", when present, must say the layers' output shape.
 *
 * A package made elsewhere reads as well: a PyTorch nn.Sequential of the layers above
 * (nn.Linear, nn.Conv2d, nn.MaxPool2d, nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Flatten,
 * nn.Dropout, nn.Softmax) whose state_dict was saved as safetensors (F32, or F64 which
 * is converted), with a model.json listing the same layers in the same order. Input
 * shape [features] means [features, 1, 1]. Little-endian hosts only. */
#ifndef ML_PACKAGE_H
#define ML_PACKAGE_H
#include <jansson.h>
#include "core/status.h"
#include "ml/nn.h"

#define ML_PACKAGE_FORMAT_VERSION 1
#define ML_PACKAGE_MODEL_JSON     "model.json"
#define ML_PACKAGE_WEIGHTS        "weights.safetensors"

struct ml_package {
	char task[16];         /* "classification" | "regression" */
	struct ml_net *net;    /* owned */
	json_t *preprocessing; /* exactly the data registry's tensors `preprocessing` metadata, or NULL */
	json_t *class_names;   /* array of strings, or NULL (always NULL for regression) */
	char *dataset;         /* "<name>@<version id>", or NULL */
	json_t *metrics;       /* object: final test metrics, or NULL */
};

/* Writes p into dir (created with its parents when missing): model.json and
 * weights.safetensors, each replaced atomically. CORE_EINVAL for a package that is not
 * one (task unknown, no net or a frozen one, class_names not k strings, metrics not an
 * object);
 * CORE_EIO when a file cannot be written. */
enum core_status ml_package_write(const struct ml_package *p, const char *dir, struct core_error *err);

/* Reads the package in dir into *out (free with ml_package_free): builds the net from
 * model.json's layers and input shape and loads every parameter from
 * weights.safetensors. CORE_EINVAL naming the problem: model.json not JSON or a field
 * wrong ("model.json: layers[3]: unknown layer type 'lstm'"), the layers not fitting
 * the input (ml_net_new's message), a tensor missing, of the wrong shape or dtype, or
 * one the layers do not have ("weights.safetensors: tensor '2.weight' has shape [10,
 * 64], layer 2 (dense) needs [10, 128]"), a corrupt safetensors header; CORE_ENOENT
 * when a file is missing; CORE_EIO when one cannot be read. On failure *out is zeroed
 * and nothing needs freeing. */
enum core_status ml_package_read(const char *dir, struct ml_package *out, struct core_error *err);

/* Frees what p owns and zeroes it; p may be NULL or already freed. */
void ml_package_free(struct ml_package *p);
#endif
