/* Trainer checkpoints (face: ml/nn.h, ml_trainer_save / ml_trainer_load) as safetensors
 * bytes through ml/safetensors.h:
 *   "<i>.weight", "<i>.bias"                   the net's parameters (F32, PyTorch names)
 *   "optim.exp_avg.<name>", "optim.exp_avg_sq.<name>"      Adam's moments
 *   "optim.momentum_buffer.<name>"                          SGD's (when momentum > 0)
 *   __metadata__: format "lathe.ml.checkpoint/1", optimizer "adam"|"sgd", epoch, step
 * The weights part is a plain state_dict, so torch/safetensors tools can read it. Loading
 * checks every tensor's presence, dtype and shape against the trainer's own. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "ml/safetensors.h"
#include "nn_internal.h"

#define CKPT_FORMAT "lathe.ml.checkpoint/1"

/* The checkpoint's tensors: the params, then the optimiser's arrays for each. */
struct slot {
	char name[80];
	const struct ml_nn_param_desc *d;
	float *base; /* net params, m or v */
};

static size_t slots_of(const struct ml_trainer *t, struct slot **out)
{
	const struct ml_net *net = t->net;
	size_t per = 1;
	const char *extra[2] = {NULL, NULL};
	float *bases[3] = {net->params, t->m, t->v};
	if (t->cfg.optim.kind == ML_OPT_ADAM) {
		extra[0] = "optim.exp_avg.";
		extra[1] = "optim.exp_avg_sq.";
		per = 3;
	} else if (t->cfg.optim.momentum != 0) {
		extra[0] = "optim.momentum_buffer.";
		per = 2;
	}
	struct slot *s = core_xcalloc(net->n_params * per, sizeof *s);
	size_t n = 0;
	for (size_t k = 0; k < per; k++)
		for (size_t p = 0; p < net->n_params; p++, n++) {
			snprintf(s[n].name, sizeof s[n].name, "%s%s", k ? extra[k - 1] : "", net->pdesc[p].name);
			s[n].d = &net->pdesc[p];
			s[n].base = bases[k];
		}
	*out = s;
	return n;
}

static enum core_status append_buf(void *cls, const void *data, size_t n, struct core_error *err)
{
	if (core_buf_append(cls, data, n) != CORE_OK)
		return core_fail(err, CORE_ENOMEM, "ml: checkpoint larger than its buffer allows");
	return CORE_OK;
}

enum core_status ml_trainer_save(const struct ml_trainer *t, struct core_buf *out, struct core_error *err)
{
	enum core_status rc;
	struct slot *s = NULL;
	struct ml_st_tensor *ts = NULL;
	struct ml_st_writer *w = NULL;
	size_t n = slots_of(t, &s);
	ts = core_xcalloc(n, sizeof *ts);
	for (size_t i = 0; i < n; i++) {
		ts[i].name = s[i].name;
		ts[i].dtype = ML_DTYPE_F32;
		ts[i].ndim = (size_t)s[i].d->ndim;
		for (int d = 0; d < s[i].d->ndim; d++)
			ts[i].shape[d] = (uint64_t)s[i].d->shape[d];
	}
	char epoch[32], step[32];
	snprintf(epoch, sizeof epoch, "%d", t->epoch);
	snprintf(step, sizeof step, "%ld", t->step);
	struct ml_st_meta meta[4] = {
		{"format", CKPT_FORMAT},
		{"optimizer", t->cfg.optim.kind == ML_OPT_ADAM ? "adam" : "sgd"},
		{"epoch", epoch},
		{"step", step},
	};
	if ((rc = ml_st_writer_begin(ts, n, meta, 4, append_buf, out, &w, err)) != CORE_OK)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((rc = ml_st_writer_write(w, s[i].base + s[i].d->off, s[i].d->n * sizeof(float), err)) != CORE_OK)
			goto out;
	rc = ml_st_writer_finish(w, err);
	w = NULL;
out:
	ml_st_writer_free(w);
	free(ts);
	free(s);
	return rc;
}

static bool parse_count(const char *v, long long max, long long *out)
{
	if (!v || !*v)
		return false;
	char *end;
	long long x = strtoll(v, &end, 10);
	if (*end || x < 0 || x > max)
		return false;
	*out = x;
	return true;
}

enum core_status ml_trainer_load(struct ml_trainer *t, const void *bytes, size_t len, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	struct ml_st_header h = {0};
	struct slot *s = NULL;
	const unsigned char *p = bytes;
	if (len < 8)
		return core_fail(err, CORE_EINVAL, "checkpoint: %zu bytes is too short for safetensors", len);
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | p[i];
	if (hlen > ML_ST_MAX_HEADER || hlen > len - 8)
		return core_fail(err, CORE_EINVAL, "checkpoint: header length %" PRIu64 " is past the end", hlen);
	if ((rc = ml_st_parse_header((const char *)p + 8, (size_t)hlen, len, &h, err)) != CORE_OK)
		return rc;
	const char *fmt = ml_st_header_meta(&h, "format"), *opt = ml_st_header_meta(&h, "optimizer");
	long long epoch, step;
	if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0) {
		rc = core_fail(err, CORE_EINVAL, "checkpoint: format is not %s", CKPT_FORMAT);
		goto out;
	}
	const char *want = t->cfg.optim.kind == ML_OPT_ADAM ? "adam" : "sgd";
	if (!opt || strcmp(opt, want) != 0) {
		rc = core_fail(err, CORE_EINVAL, "checkpoint: optimizer is %s, the trainer's is %s",
			       opt ? opt : "missing", want);
		goto out;
	}
	if (!parse_count(ml_st_header_meta(&h, "epoch"), 1 << 30, &epoch) ||
	    !parse_count(ml_st_header_meta(&h, "step"), (long long)1 << 52, &step)) {
		rc = core_fail(err, CORE_EINVAL, "checkpoint: epoch and step must be counts");
		goto out;
	}
	size_t n = slots_of(t, &s);
	for (size_t i = 0; i < n; i++) {
		const struct ml_st_tensor *st = ml_st_header_tensor(&h, s[i].name);
		if (!st) {
			rc = core_fail(err, CORE_EINVAL, "checkpoint: tensor %s is missing", s[i].name);
			goto out;
		}
		bool fits = st->dtype == ML_DTYPE_F32 && st->ndim == (size_t)s[i].d->ndim;
		for (int d = 0; fits && d < s[i].d->ndim; d++)
			fits = st->shape[d] == (uint64_t)s[i].d->shape[d];
		if (!fits) {
			rc = core_fail(err, CORE_EINVAL, "checkpoint: tensor %s is not F32 of the net's shape",
				       s[i].name);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct ml_st_tensor *st = ml_st_header_tensor(&h, s[i].name);
		memcpy(s[i].base + s[i].d->off, p + h.data_start + st->begin, s[i].d->n * sizeof(float));
	}
	t->epoch = (int)epoch;
	t->step = (long)step;
out:
	free(s);
	ml_st_header_free(&h);
	return rc;
}
