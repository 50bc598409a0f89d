/* The model family's layer list (pure): what spec.c validated, as the struct
 * ml_layer_spec array libs/ml builds a net from (ml/nn.h), so the submit check
 * (dataset.c) and the worker build exactly the same net. The families:
 *   logistic_regression  [dense(k)]                      (a dense layer flattens)
 *   linear_regression    [dense(k)]                      (k = regression targets)
 *   mlp                  [flatten, (dense(h), act, dropout?)..., dense(k)]
 *   cnn                  the given layers, each conv2d and dense followed by its
 *                        activation (relu unless "activation" says otherwise or
 *                        "none"), then dense(k) unless the list already ends with a
 *                        dense layer of k units (which then gets no activation)
 * The net's last layer gives logits; the package records the softmax. */
#include <string.h>
#include "ml/nn.h"
#include "tr.h"

static bool push(struct ml_layer_spec *out, size_t cap, size_t *n, struct ml_layer_spec l)
{
	if (*n >= cap)
		return false;
	out[(*n)++] = l;
	return true;
}

static enum ml_layer_kind act_kind(const char *name)
{
	enum ml_layer_kind k = ML_RELU;
	if (name)
		(void)ml_layer_kind_parse(name, &k);
	return k;
}

static int member_int(json_t *l, const char *key, int def)
{
	json_t *v = json_object_get(l, key);
	return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

static bool cnn_layers(const struct tr_spec *s, int k, struct ml_layer_spec *out, size_t cap, size_t *n)
{
	size_t count = json_array_size(s->layers);
	for (size_t i = 0; i < count; i++) {
		json_t *l = json_array_get(s->layers, i);
		const char *type = json_string_value(json_object_get(l, "type"));
		const char *act = json_string_value(json_object_get(l, "activation"));
		bool last = i + 1 == count;
		struct ml_layer_spec ls = {0};
		if (!ml_layer_kind_parse(type, &ls.kind))
			return false;
		switch (ls.kind) {
		case ML_CONV2D:
			ls.filters = member_int(l, "filters", 1);
			ls.kernel = member_int(l, "kernel", 1);
			ls.stride = member_int(l, "stride", 1);
			ls.padding = member_int(l, "padding", 0);
			break;
		case ML_MAXPOOL:
			ls.pool = member_int(l, "pool", 1);
			ls.pool_stride = member_int(l, "stride", 0);
			break;
		case ML_DENSE:
			ls.units = member_int(l, "units", 1);
			if (last && ls.units == k)
				return push(out, cap, n, ls); /* the output layer: logits */
			break;
		case ML_DROPOUT:
			ls.rate = (float)json_number_value(json_object_get(l, "rate"));
			break;
		default:
			break;
		}
		if (!push(out, cap, n, ls))
			return false;
		bool activated = ls.kind == ML_CONV2D || ls.kind == ML_DENSE;
		if (activated && !(act && strcmp(act, "none") == 0) &&
		    !push(out, cap, n, (struct ml_layer_spec){.kind = act_kind(act)}))
			return false;
	}
	return push(out, cap, n, (struct ml_layer_spec){.kind = ML_DENSE, .units = k});
}

enum core_status tr_spec_layers(const struct tr_spec *s, int k, struct ml_layer_spec *out, size_t cap, size_t *n,
				struct core_error *err)
{
	*n = 0;
	bool ok = true;
	switch (s->family) {
	case TR_MLP:
		ok = push(out, cap, n, (struct ml_layer_spec){.kind = ML_FLATTEN});
		for (int i = 0; ok && i < s->n_hidden; i++) {
			ok = push(out, cap, n, (struct ml_layer_spec){.kind = ML_DENSE, .units = s->hidden[i]}) &&
			     push(out, cap, n, (struct ml_layer_spec){.kind = act_kind(s->activation)});
			if (ok && s->dropout > 0)
				ok = push(out, cap, n,
					  (struct ml_layer_spec){.kind = ML_DROPOUT, .rate = (float)s->dropout});
		}
		ok = ok && push(out, cap, n, (struct ml_layer_spec){.kind = ML_DENSE, .units = k});
		break;
	case TR_CNN:
		ok = cnn_layers(s, k, out, cap, n);
		break;
	default:
		ok = push(out, cap, n, (struct ml_layer_spec){.kind = ML_DENSE, .units = k});
		break;
	}
	if (!ok)
		return core_fail(err, CORE_EINVAL, "model: more than %zu layers", cap);
	return CORE_OK;
}

enum core_status tr_spec_build_check(const struct tr_spec *s, int c, int h, int w, int k, struct core_error *err)
{
	enum core_status rc = tr_spec_check_fit(s, c, h, w, k, err);
	if (rc != CORE_OK)
		return rc;
	struct ml_layer_spec layers[TR_MAX_LAYERS];
	size_t n = 0;
	if ((rc = tr_spec_layers(s, k, layers, TR_MAX_LAYERS, &n, err)) != CORE_OK)
		return rc;
	struct ml_net *net = NULL;
	struct core_error e = {{0}};
	rc = ml_net_new(layers, n, (struct ml_shape){c, h, w}, &net, &e);
	ml_net_free(net);
	if (rc != CORE_OK)
		return core_fail(err, CORE_EINVAL, "model: %s", e.message);
	return CORE_OK;
}
