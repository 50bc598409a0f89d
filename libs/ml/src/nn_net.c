/* A sequential net (face: ml/nn.h): building it from layer specs with every shape checked
 * (the message names the failing layer by its index, the index its parameters carry in
 * their PyTorch state_dict names), its parameters in one contiguous array (so the
 * optimiser and checkpoints walk one block), seeded He/Xavier initialisation, and
 * inference in chunks through nn_forward.c. Layouts of the activations are decided here,
 * once (see nn_internal.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "nn_internal.h"

/* No net may hold more values than this (parameters, or one example's activations):
 * ints index them in the GEMM calls. */
#define MAX_VALUES ((size_t)1 << 30)

static const char *const kind_names[] = {
	[ML_DENSE] = "dense",     [ML_CONV2D] = "conv2d",   [ML_MAXPOOL] = "maxpool",
	[ML_RELU] = "relu",       [ML_TANH] = "tanh",       [ML_SIGMOID] = "sigmoid",
	[ML_FLATTEN] = "flatten", [ML_DROPOUT] = "dropout", [ML_SOFTMAX] = "softmax",
};

const char *ml_layer_kind_name(enum ml_layer_kind k)
{
	if ((int)k < ML_DENSE || (int)k > ML_SOFTMAX)
		return "?";
	return kind_names[k];
}

bool ml_layer_kind_parse(const char *name, enum ml_layer_kind *out)
{
	for (int k = ML_DENSE; k <= ML_SOFTMAX; k++)
		if (name && strcmp(name, kind_names[k]) == 0) {
			*out = (enum ml_layer_kind)k;
			return true;
		}
	return false;
}

static size_t shape_size(struct ml_shape s)
{
	return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

/* Fills l->out (and the kind's fields) from l->in; CORE_EINVAL naming layer i. */
static enum core_status layer_fit(struct ml_nn_layer *l, size_t i, struct core_error *err)
{
	const struct ml_layer_spec *s = &l->spec;
	struct ml_shape in = l->in;
	l->out = in;
	switch (s->kind) {
	case ML_DENSE:
		if (s->units < 1)
			return core_fail(err, CORE_EINVAL, "layer %zu (dense): units must be at least 1, got %d", i,
					 s->units);
		l->out = (struct ml_shape){s->units, 1, 1};
		l->n_w = l->in_size * (size_t)s->units;
		l->n_b = (size_t)s->units;
		l->fan_in = l->in_size;
		l->fan_out = (size_t)s->units;
		l->needs_nchw = true;
		break;
	case ML_CONV2D: {
		if (s->filters < 1)
			return core_fail(err, CORE_EINVAL, "layer %zu (conv2d): filters must be at least 1, got %d", i,
					 s->filters);
		if (s->kernel < 1)
			return core_fail(err, CORE_EINVAL, "layer %zu (conv2d): kernel must be at least 1, got %d", i,
					 s->kernel);
		if (s->stride < 0)
			return core_fail(err, CORE_EINVAL, "layer %zu (conv2d): stride must not be negative, got %d", i,
					 s->stride);
		if (s->padding < 0 || s->padding >= s->kernel)
			return core_fail(err, CORE_EINVAL,
					 "layer %zu (conv2d): padding must be in [0, kernel - 1] = [0, %d], got %d", i,
					 s->kernel - 1, s->padding);
		l->stride = s->stride ? s->stride : 1;
		if (s->kernel > in.h + 2 * s->padding || s->kernel > in.w + 2 * s->padding) {
			if (s->padding)
				return core_fail(
					err, CORE_EINVAL,
					"layer %zu (conv2d): kernel %d is larger than its %dx%d input padded by %d", i,
					s->kernel, in.h, in.w, s->padding);
			return core_fail(err, CORE_EINVAL,
					 "layer %zu (conv2d): kernel %d is larger than its %dx%d input", i, s->kernel,
					 in.h, in.w);
		}
		l->out.c = s->filters;
		l->out.h = (in.h + 2 * s->padding - s->kernel) / l->stride + 1;
		l->out.w = (in.w + 2 * s->padding - s->kernel) / l->stride + 1;
		size_t kk = (size_t)s->kernel * (size_t)s->kernel;
		l->n_w = (size_t)s->filters * (size_t)in.c * kk;
		l->n_b = (size_t)s->filters;
		l->fan_in = (size_t)in.c * kk;
		l->fan_out = (size_t)s->filters * kk;
		break;
	}
	case ML_MAXPOOL:
		if (s->pool < 1)
			return core_fail(err, CORE_EINVAL, "layer %zu (maxpool): pool must be at least 1, got %d", i,
					 s->pool);
		if (s->pool_stride < 0)
			return core_fail(err, CORE_EINVAL,
					 "layer %zu (maxpool): pool_stride must not be negative, got %d", i,
					 s->pool_stride);
		if (s->pool > in.h || s->pool > in.w)
			return core_fail(err, CORE_EINVAL,
					 "layer %zu (maxpool): pool %d is larger than its %dx%d input", i, s->pool,
					 in.h, in.w);
		l->stride = s->pool_stride ? s->pool_stride : s->pool;
		l->out.h = (in.h - s->pool) / l->stride + 1;
		l->out.w = (in.w - s->pool) / l->stride + 1;
		break;
	case ML_DROPOUT:
		if (!(s->rate >= 0 && s->rate < 1))
			return core_fail(err, CORE_EINVAL, "layer %zu (dropout): rate must be in [0, 1), got %g", i,
					 (double)s->rate);
		break;
	case ML_FLATTEN:
		l->out = (struct ml_shape){(int)l->in_size, 1, 1};
		l->needs_nchw = true;
		break;
	case ML_SOFTMAX:
		l->needs_nchw = true;
		break;
	case ML_RELU:
	case ML_TANH:
	case ML_SIGMOID:
		break;
	default:
		return core_fail(err, CORE_EINVAL, "layer %zu: unknown kind %d", i, (int)s->kind);
	}
	l->out_size = shape_size(l->out);
	if (l->out_size > MAX_VALUES || l->n_w > MAX_VALUES)
		return core_fail(err, CORE_EINVAL, "layer %zu (%s): too large (%zu outputs, %zu weights per example)",
				 i, ml_layer_kind_name(s->kind), l->out_size, l->n_w);
	return CORE_OK;
}

enum core_status ml_net_new(const struct ml_layer_spec *layers, size_t n, struct ml_shape in, struct ml_net **out,
			    struct core_error *err)
{
	enum core_status rc = CORE_OK;
	struct ml_net *net = NULL;
	*out = NULL;
	if (n == 0)
		return core_fail(err, CORE_EINVAL, "a net needs at least one layer");
	if (n > 1000)
		return core_fail(err, CORE_EINVAL, "a net has at most 1000 layers, got %zu", n);
	if (in.c < 1 || in.h < 1 || in.w < 1 || shape_size(in) > MAX_VALUES)
		return core_fail(err, CORE_EINVAL, "input shape %dx%dx%d is not a positive size", in.c, in.h, in.w);
	net = core_xcalloc(1, sizeof *net);
	net->n_layers = n;
	net->in = in;
	net->layers = core_xcalloc(n, sizeof *net->layers);
	struct ml_shape cur = in;
	enum ml_nn_layout layout = ML_NN_NCHW;
	size_t n_values = 0, n_params = 0;
	for (size_t i = 0; i < n; i++) {
		struct ml_nn_layer *l = &net->layers[i];
		l->spec = layers[i];
		l->in = cur;
		l->in_size = shape_size(cur);
		if ((rc = layer_fit(l, i, err)) != CORE_OK)
			goto out;
		l->in_layout = layout;
		if (l->spec.kind == ML_CONV2D)
			layout = ML_NN_CNHW;
		else if (l->needs_nchw)
			layout = ML_NN_NCHW;
		l->out_layout = layout;
		l->relu_next = i + 1 < n && layers[i + 1].kind == ML_RELU;
		if (l->n_w) {
			l->w_off = n_values;
			n_values += l->n_w;
			l->b_off = n_values;
			n_values += l->n_b;
			n_params += 2;
			if (n_values > MAX_VALUES) {
				rc = core_fail(err, CORE_EINVAL, "layer %zu (%s): the net has more than %zu parameters",
					       i, ml_layer_kind_name(l->spec.kind), MAX_VALUES);
				goto out;
			}
		}
		cur = l->out;
	}
	net->n_values = n_values;
	net->n_params = n_params;
	net->params = core_xcalloc(n_values ? n_values : 1, sizeof(float));
	net->pdesc = core_xcalloc(n_params ? n_params : 1, sizeof *net->pdesc);
	size_t p = 0;
	for (size_t i = 0; i < n; i++) {
		struct ml_nn_layer *l = &net->layers[i];
		if (!l->n_w)
			continue;
		struct ml_nn_param_desc *w = &net->pdesc[p++], *b = &net->pdesc[p++];
		snprintf(w->name, sizeof w->name, "%zu.weight", i);
		snprintf(b->name, sizeof b->name, "%zu.bias", i);
		if (l->spec.kind == ML_DENSE) {
			w->ndim = 2;
			w->shape[0] = l->spec.units;
			w->shape[1] = (int64_t)l->in_size;
		} else {
			w->ndim = 4;
			w->shape[0] = l->spec.filters;
			w->shape[1] = l->in.c;
			w->shape[2] = w->shape[3] = l->spec.kernel;
		}
		w->off = l->w_off;
		w->n = l->n_w;
		b->ndim = 1;
		b->shape[0] = (int64_t)l->n_b;
		b->off = l->b_off;
		b->n = l->n_b;
	}
	*out = net;
	net = NULL;
out:
	ml_net_free(net);
	return rc;
}

enum core_status ml_net_share(const struct ml_net *src, struct ml_net **out, struct core_error *err)
{
	struct ml_layer_spec *specs = core_xcalloc(src->n_layers, sizeof *specs);
	for (size_t i = 0; i < src->n_layers; i++)
		specs[i] = src->layers[i].spec;
	enum core_status rc = ml_net_new(specs, src->n_layers, src->in, out, err);
	free(specs);
	if (rc != CORE_OK)
		return rc;
	/* the same specs over the same input give the same offsets into params */
	free((*out)->params);
	(*out)->params = src->params;
	(*out)->shared = true;
	if (src->frozen) {
		(*out)->frozen = true;
		for (size_t i = 0; i < src->n_layers; i++) {
			(*out)->layers[i].wt = src->layers[i].wt;
			(*out)->layers[i].wt_skip = src->layers[i].wt_skip;
		}
		memcpy((*out)->pdesc, src->pdesc, src->n_params * sizeof *src->pdesc);
	}
	return CORE_OK;
}

static bool all_finite(const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

enum core_status ml_net_freeze(struct ml_net *net, struct core_error *err)
{
	if (net->frozen)
		return CORE_OK;
	if (net->shared)
		return core_fail(err, CORE_EINVAL,
				 "a net that shares another's weights cannot be frozen: freeze the source");
	size_t most = 0;
	for (size_t i = 0; i < net->n_layers; i++)
		if (net->layers[i].spec.kind == ML_DENSE && net->layers[i].n_w > most)
			most = net->layers[i].n_w;
	float *tmp = malloc((most ? most : 1) * sizeof *tmp);
	if (!tmp)
		return core_fail(err, CORE_ENOMEM, "freezing the net: out of memory for %zu weights", most);
	size_t p = 0;
	for (size_t i = 0; i < net->n_layers; i++) {
		struct ml_nn_layer *l = &net->layers[i];
		if (!l->n_w)
			continue;
		struct ml_nn_param_desc *d = &net->pdesc[p];
		p += 2;
		if (l->spec.kind != ML_DENSE)
			continue;
		size_t out = (size_t)l->spec.units, in = l->in_size;
		float *w = net->params + l->w_off;
		memcpy(tmp, w, l->n_w * sizeof *tmp);
		for (size_t o = 0; o < out; o++)
			for (size_t k = 0; k < in; k++)
				w[k * out + o] = tmp[o * in + k];
		l->wt = true;
		l->wt_skip = all_finite(w, l->n_w);
		d->shape[0] = (int64_t)in;
		d->shape[1] = (int64_t)out;
	}
	free(tmp);
	net->frozen = true;
	return CORE_OK;
}

bool ml_net_frozen(const struct ml_net *net)
{
	return net->frozen;
}

void ml_net_free(struct ml_net *net)
{
	if (!net)
		return;
	ml_nn_fwd_free(net->pred);
	free(net->layers);
	if (!net->shared)
		free(net->params);
	free(net->pdesc);
	free(net);
}

size_t ml_net_n_layers(const struct ml_net *net)
{
	return net->n_layers;
}

const struct ml_layer_spec *ml_net_layer(const struct ml_net *net, size_t i)
{
	return &net->layers[i].spec;
}

struct ml_shape ml_net_input(const struct ml_net *net)
{
	return net->in;
}

size_t ml_net_n_outputs(const struct ml_net *net)
{
	return net->layers[net->n_layers - 1].out_size;
}

struct ml_shape ml_net_layer_output(const struct ml_net *net, size_t i)
{
	return net->layers[i].out;
}

size_t ml_net_n_params(const struct ml_net *net)
{
	return net->n_params;
}

void ml_net_param(struct ml_net *net, size_t i, struct ml_param *out)
{
	const struct ml_nn_param_desc *d = &net->pdesc[i];
	out->name = d->name;
	out->ndim = d->ndim;
	memset(out->shape, 0, sizeof out->shape);
	memcpy(out->shape, d->shape, sizeof d->shape);
	out->data = net->params + d->off;
	out->n = d->n;
}

/* He-normal (std sqrt(2 / fan_in)) before a ReLU, Xavier-uniform (bound
 * sqrt(6 / (fan_in + fan_out))) otherwise; every layer from its own stream of the seed,
 * so adding a layer at the end leaves the others' weights as they were. */
void ml_net_init(struct ml_net *net, uint64_t seed)
{
	for (size_t i = 0; i < net->n_layers; i++) {
		struct ml_nn_layer *l = &net->layers[i];
		if (!l->n_w)
			continue;
		struct ml_nn_rng r;
		ml_nn_rng_seed(&r, seed, 0x1000 + i);
		float *w = net->params + l->w_off;
		if (l->relu_next) {
			double sd = sqrt(2.0 / (double)l->fan_in);
			for (size_t j = 0; j < l->n_w; j++)
				w[j] = (float)(ml_nn_rng_normal(&r) * sd);
		} else {
			double bound = sqrt(6.0 / (double)(l->fan_in + l->fan_out));
			for (size_t j = 0; j < l->n_w; j++)
				w[j] = (float)((2.0 * ml_nn_rng_uniform(&r) - 1.0) * bound);
		}
		memset(net->params + l->b_off, 0, l->n_b * sizeof(float));
	}
}

/* In chunks of PREDICT_CHUNK examples through scratch kept on the net. */
#define PREDICT_CHUNK 256

enum core_status ml_net_predict(struct ml_net *net, const float *x, size_t n, float *out, struct core_error *err)
{
	enum core_status rc;
	if (!net->pred && (rc = ml_nn_fwd_new(net, PREDICT_CHUNK, false, &net->pred, err)) != CORE_OK)
		return rc;
	size_t in_size = shape_size(net->in), k = ml_net_n_outputs(net);
	for (size_t i = 0; i < n; i += PREDICT_CHUNK) {
		size_t b = n - i < PREDICT_CHUNK ? n - i : PREDICT_CHUNK;
		ml_nn_forward_to(net->pred, x + i * in_size, b, false, NULL, out + i * k);
	}
	return CORE_OK;
}
