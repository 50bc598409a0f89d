/* Unit tests of the trainer's job spec (spec.c): the example and its cnn,
 * logistic_regression and tabular variants are accepted as written, with the defaults
 * the README documents; each kind of mistake is refused naming its field; sweeps are
 * checked value by value; the layer-fit check names the layer that does not fit.
 * Called through the private header tr.h, linked from libtrainer.a. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ml/nn.h"
#include "tr.h"

#define EXAMPLE                                                                                                        \
	"{\"dataset\": \"fmnist@1\", \"split\": {\"fractions\": [0.8, 0.1, 0.1], \"seed\": 7}, \"model\": {\"type\": " \
	"\"mlp\", \"hidden\": [256]}, \"optimizer\": {\"type\": \"adam\", \"lr\": 0.001}, \"epochs\": 10, "            \
	"\"batch_size\": 128, \"seed\": 1, \"experiment\": \"fmnist\", \"register\": {\"model\": \"fmnist-mlp\", "     \
	"\"alias\": \"champion\"}}"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
	ck_assert_msg(j != NULL, "%s: %s", text, e.text);
	return j;
}

static void accepts(const char *text, struct tr_spec *s, json_t **keep)
{
	struct core_error err = {{0}};
	json_t *j = load(text);
	ck_assert_msg(tr_spec_parse(j, s, &err) == CORE_OK, "%s refused: %s", text, err.message);
	*keep = j;
}

/* The example with one member replaced (value NULL: removed), refused with a message
 * that starts with want. */
static void refuses_with(const char *member, const char *value, const char *want)
{
	json_t *j = load(EXAMPLE);
	if (value)
		json_object_set_new(j, member, load(value));
	else
		json_object_del(j, member);
	struct tr_spec s;
	struct core_error err = {{0}};
	ck_assert_int_eq(tr_spec_parse(j, &s, &err), CORE_EINVAL);
	ck_assert_msg(strncmp(err.message, want, strlen(want)) == 0, "%s=%s: got '%s', want '%s...'", member,
		      value ? value : "(none)", err.message, want);
	json_decref(j);
}

START_TEST(example_accepted_as_written)
{
	struct tr_spec s;
	json_t *j;
	accepts(EXAMPLE, &s, &j);
	ck_assert_str_eq(s.dataset_name, "fmnist");
	ck_assert_str_eq(s.dataset_ref, "1");
	ck_assert_int_eq(s.family, TR_MLP);
	ck_assert_int_eq(s.n_hidden, 1);
	ck_assert_int_eq(s.hidden[0], 256);
	ck_assert_str_eq(s.activation, "relu");
	ck_assert_str_eq(s.optimizer, "adam");
	ck_assert(fabs(s.lr - 0.001) < 1e-12);
	ck_assert_int_eq(s.epochs, 10);
	ck_assert_int_eq(s.batch_size, 128);
	ck_assert_uint_eq(s.seed, 1);
	ck_assert_uint_eq(s.split_seed, 7);
	ck_assert(fabs(s.fractions[0] - 0.8) < 1e-12 && fabs(s.fractions[2] - 0.1) < 1e-12);
	ck_assert_ptr_null(s.split_name);
	ck_assert_ptr_null(s.target);
	ck_assert_str_eq(s.experiment, "fmnist");
	ck_assert_str_eq(s.register_model, "fmnist-mlp");
	ck_assert_str_eq(s.register_alias, "champion");
	ck_assert_ptr_null(s.sweep);
	ck_assert(!s.early_stopping);
	ck_assert(!tr_spec_is_regression(&s));
	/* An MLP fits any image. */
	struct core_error err = {{0}};
	ck_assert_int_eq(tr_spec_check_fit(&s, 1, 28, 28, 10, &err), CORE_OK);
	json_decref(j);
}
END_TEST

START_TEST(variants_accepted)
{
	struct tr_spec s;
	json_t *j;
	accepts("{\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"cnn\", \"layers\": "
		"[{\"type\":\"conv2d\",\"filters\":32,"
		"\"kernel\":3,\"padding\":1},{\"type\":\"maxpool\",\"pool\":2},{\"type\":\"dense\",\"units\":128}]}, "
		"\"optimizer\": {\"type\": \"adam\", \"lr\": 0.001}, \"epochs\": 3, \"batch_size\": 128}",
		&s, &j);
	ck_assert_int_eq(s.family, TR_CNN);
	ck_assert_uint_eq(json_array_size(s.layers), 3);
	ck_assert_str_eq(s.dataset_ref, "1");
	ck_assert_str_eq(s.experiment, "Default");
	struct core_error err = {{0}};
	ck_assert_int_eq(tr_spec_check_fit(&s, 1, 28, 28, 10, &err), CORE_OK);
	json_decref(j);

	accepts("{\"dataset\": \"fmnist\", \"model\": {\"type\": \"logistic_regression\"}, \"epochs\": 5}", &s, &j);
	ck_assert_int_eq(s.family, TR_LOGREG);
	ck_assert_str_eq(s.dataset_ref, "latest");
	ck_assert_int_eq(s.batch_size, 32); /* the default */
	ck_assert_int_eq(tr_spec_check_fit(&s, 1, 28, 28, 10, &err), CORE_OK);
	json_decref(j);

	accepts("{\"dataset\": \"iris@2\", \"target\": \"species\", \"features\": [\"sepal_length\", \"petal_width\"], "
		"\"split\": {\"name\": \"default\"}, \"model\": {\"type\": \"mlp\", \"hidden\": [16, 8], "
		"\"activation\": "
		"\"tanh\", \"dropout\": 0.2}, \"optimizer\": {\"type\": \"sgd\", \"lr\": 0.05, \"momentum\": 0.9}, "
		"\"epochs\": 20, \"early_stopping\": {\"metric\": \"val_accuracy\", \"patience\": 2}, "
		"\"run_name\": \"iris-tanh\"}",
		&s, &j);
	ck_assert_str_eq(s.target, "species");
	ck_assert_uint_eq(json_array_size(s.features), 2);
	ck_assert_str_eq(s.split_name, "default");
	ck_assert_int_eq(s.n_hidden, 2);
	ck_assert_str_eq(s.activation, "tanh");
	ck_assert_str_eq(s.optimizer, "sgd");
	ck_assert(s.early_stopping);
	ck_assert_str_eq(s.es_metric, "val_accuracy");
	ck_assert_int_eq(s.es_patience, 2);
	ck_assert_int_eq(tr_spec_check_fit(&s, 2, 1, 1, 3, &err), CORE_OK);
	json_decref(j);

	accepts("{\"dataset\": \"houses@1\", \"target\": \"price\", \"model\": {\"type\": \"linear_regression\"}, "
		"\"optimizer\": {\"type\": \"sgd\"}}",
		&s, &j);
	ck_assert(tr_spec_is_regression(&s));
	ck_assert(fabs(s.lr - 0.01) < 1e-12); /* sgd's default */
	json_decref(j);
}
END_TEST

START_TEST(mistakes_name_their_field)
{
	refuses_with("model", "{\"type\": \"svm\"}", "model.type: unknown family 'svm'");
	refuses_with("model", NULL, "model: required");
	refuses_with("epochs", "-3", "epochs: must be an integer from 1");
	refuses_with("epochs", "0", "epochs: must be an integer from 1");
	refuses_with("epochs", "2.5", "epochs: must be an integer");
	refuses_with("batch_size", "0", "batch_size: must be an integer");
	refuses_with("optimizer", "{\"type\": \"adam\", \"lr\": -0.1}", "optimizer.lr: must be a number > 0");
	refuses_with("optimizer", "{\"type\": \"adam\", \"lr\": 0}", "optimizer.lr: must be a number > 0");
	refuses_with("optimizer", "{\"type\": \"adam\", \"lr\": \"fast\"}", "optimizer.lr: must be a number");
	refuses_with("optimizer", "{\"type\": \"rmsprop\"}", "optimizer.type: unknown value 'rmsprop'");
	refuses_with("split", "{\"fractions\": [0.8, 0.3, 0.1]}", "split.fractions: must add up to 1");
	refuses_with("split", "{\"fractions\": [0.8, 0.2]}", "split.fractions: must be [train, val, test]");
	refuses_with("split", "{\"fractions\": [1.2, -0.1, -0.1]}", "split.fractions: [0] must be a number");
	refuses_with("split", "{\"fractions\": [0, 0.5, 0.5]}", "split.fractions: the training part");
	refuses_with("split", "{\"name\": \"a\", \"fractions\": [0.8, 0.1, 0.1]}", "split: give either");
	refuses_with("dataset", NULL, "dataset: required");
	refuses_with("dataset", "\"@1\"", "dataset: '@1' is not");
	refuses_with("dataset", "\"fmnist@\"", "dataset: '' is not a version");
	refuses_with("dataset", "42", "dataset: must be a string");
	refuses_with("epoch", "10", "epoch: unknown field");
	refuses_with("model", "{\"type\": \"mlp\", \"hiden\": [3]}", "model.hiden: unknown field");
	refuses_with("model", "{\"type\": \"mlp\", \"hidden\": [0]}", "model.hidden: [0] must be an integer");
	refuses_with("model", "{\"type\": \"mlp\", \"activation\": \"gelu\"}", "model.activation: unknown value");
	refuses_with("model", "{\"type\": \"mlp\", \"dropout\": 1}", "model.dropout: must be a number");
	refuses_with("model", "{\"type\": \"cnn\"}", "model.layers: required");
	refuses_with("model", "{\"type\": \"cnn\", \"layers\": [{\"type\": \"conv3d\"}]}",
		     "model.layers[0].type: unknown value 'conv3d'");
	refuses_with("model", "{\"type\": \"cnn\", \"layers\": [{\"type\": \"conv2d\", \"filters\": 8}]}",
		     "model.layers[0].kernel: required");
	refuses_with("model", "{\"type\": \"linear_regression\"}", "model.type: linear_regression needs");
	refuses_with("register", "{\"alias\": \"x\"}", "register.model: required");
	refuses_with("register", "{\"model\": \"m\", \"alias\": \"v3\"}", "register.alias: 'v3' is not an alias");
	refuses_with("early_stopping", "{\"metric\": \"f2\"}", "early_stopping.metric: unknown value 'f2'");
	refuses_with("early_stopping", "{\"patience\": 0}", "early_stopping.patience: must be");
	refuses_with("image", "{\"size\": 0}", "image.size: must be an integer");
	refuses_with("image", "{\"channels\": 2}", "image.channels: must be 1");
	refuses_with("features", "[\"a\"]", "features: only for tabular data");
	refuses_with("target", "\"\"", "target: must be a non-empty string");
}
END_TEST

START_TEST(sweeps_checked_value_by_value)
{
	struct tr_spec s;
	json_t *j = load(EXAMPLE);
	json_object_set_new(
		j, "sweep",
		load("{\"method\": \"grid\", \"space\": {\"optimizer.lr\": [0.001, 0.01], \"model.hidden\": "
		     "[[64], [128]]}, \"metric\": \"val_accuracy\", \"goal\": \"max\", \"parallelism\": 1}"));
	struct core_error err = {{0}};
	ck_assert_msg(tr_spec_parse(j, &s, &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(s.sweep_trials, 4); /* the grid's size */
	ck_assert_str_eq(s.sweep_method, "grid");
	ck_assert_str_eq(s.sweep_goal, "max");
	/* set_path builds what a trial trains */
	json_t *trial = json_deep_copy(j);
	ck_assert_int_eq(
		http_json_set_path(trial, "model.hidden",
				   json_array_get(json_object_get(json_object_get(json_object_get(j, "sweep"), "space"),
								  "model.hidden"),
						  1),
				   &err),
		CORE_OK);
	ck_assert_int_eq(
		json_integer_value(json_array_get(json_object_get(json_object_get(trial, "model"), "hidden"), 0)), 128);
	json_decref(trial);
	json_decref(j);

	refuses_with("sweep", "{\"method\": \"bayes\", \"space\": {\"optimizer.lr\": [0.1]}}",
		     "sweep.method: unknown value 'bayes'");
	refuses_with("sweep", "{\"method\": \"grid\", \"space\": {}}", "sweep.space: required");
	refuses_with("sweep", "{\"space\": {\"optimizer.lr\": [0.001, -1]}}",
		     "sweep.space.optimizer.lr: [1]: optimizer.lr: must be a number > 0");
	refuses_with("sweep", "{\"space\": {\"dataset\": [\"a@1\"]}}", "sweep.space.dataset: cannot be swept");
	refuses_with("sweep", "{\"space\": {\"optimizer.lr\": []}}", "sweep.space.optimizer.lr: must be a non-empty");
	refuses_with("sweep", "{\"method\": \"random\", \"space\": {\"optimizer.lr\": [0.1, 0.2]}}",
		     "sweep.trials: required for a random sweep");
	refuses_with("sweep", "{\"space\": {\"optimizer.lr\": [0.1, 0.2]}, \"trials\": 3}",
		     "sweep.trials: 3 is more than the grid");
	refuses_with("sweep", "{\"space\": {\"optimizer.lr\": [0.1]}, \"goal\": \"up\"}",
		     "sweep.goal: unknown value 'up'");
	refuses_with("sweep", "{\"space\": {\"epochs\": [1, 0]}}", "sweep.space.epochs: [1]: epochs: must be");
}
END_TEST

START_TEST(layer_fit_names_the_layer)
{
	struct tr_spec s;
	json_t *j;
	struct core_error err = {{0}};
	accepts("{\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"cnn\", \"layers\": "
		"[{\"type\":\"conv2d\",\"filters\":8,"
		"\"kernel\":3},{\"type\":\"maxpool\",\"pool\":2},{\"type\":\"conv2d\",\"filters\":8,\"kernel\":5}]}}",
		&s, &j);
	ck_assert_int_eq(tr_spec_check_fit(&s, 1, 28, 28, 10, &err), CORE_OK);
	/* 8x8 -> conv3 -> 6x6 -> pool2 -> 3x3: the second conv's 5x5 kernel does not fit */
	ck_assert_int_eq(tr_spec_check_fit(&s, 1, 8, 8, 10, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "model.layers[2] (conv2d): kernel 5 is larger than its 3x3 input");
	json_decref(j);

	accepts("{\"dataset\": \"d\", \"model\": {\"type\": \"cnn\", \"layers\": [{\"type\":\"dense\",\"units\":8},"
		"{\"type\":\"maxpool\",\"pool\":2}]}}",
		&s, &j);
	ck_assert_int_eq(tr_spec_check_fit(&s, 1, 28, 28, 10, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "model.layers[1] (maxpool): comes after a dense"));
	json_decref(j);

	accepts("{\"dataset\": \"d\", \"model\": {\"type\": \"mlp\", \"hidden\": [65536, 65536]}}", &s, &j);
	ck_assert_int_eq(tr_spec_check_fit(&s, 3, 256, 256, 10, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "parameters on a 3x256x256 input"));
	json_decref(j);
}
END_TEST

/* Kinds of the built list as "dense,relu,..." */
static void kinds(const struct ml_layer_spec *l, size_t n, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(out);
		snprintf(out + len, size - len, "%s%s", i ? "," : "", ml_layer_kind_name(l[i].kind));
	}
}

START_TEST(families_build_their_layers)
{
	struct tr_spec s;
	json_t *j;
	struct core_error err = {{0}};
	struct ml_layer_spec l[TR_MAX_LAYERS];
	size_t n = 0;
	char got[256];
	accepts("{\"dataset\": \"d\", \"model\": {\"type\": \"mlp\", \"hidden\": [32, 16], \"dropout\": 0.5}}", &s, &j);
	ck_assert_int_eq(tr_spec_layers(&s, 10, l, TR_MAX_LAYERS, &n, &err), CORE_OK);
	kinds(l, n, got, sizeof got);
	ck_assert_str_eq(got, "flatten,dense,relu,dropout,dense,relu,dropout,dense");
	ck_assert_int_eq(l[1].units, 32);
	ck_assert_int_eq(l[7].units, 10);
	ck_assert(fabsf(l[3].rate - 0.5f) < 1e-6f);
	ck_assert_int_eq(tr_spec_build_check(&s, 1, 28, 28, 10, &err), CORE_OK);
	json_decref(j);

	accepts("{\"dataset\": \"d\", \"model\": {\"type\": \"cnn\", \"layers\": [{\"type\":\"conv2d\",\"filters\":8,"
		"\"kernel\":3,\"padding\":1},{\"type\":\"maxpool\",\"pool\":2},{\"type\":\"conv2d\",\"filters\":4,"
		"\"kernel\":3,"
		"\"activation\":\"tanh\"},{\"type\":\"dense\",\"units\":16}]}}",
		&s, &j);
	ck_assert_int_eq(tr_spec_layers(&s, 10, l, TR_MAX_LAYERS, &n, &err), CORE_OK);
	kinds(l, n, got, sizeof got);
	ck_assert_str_eq(got, "conv2d,relu,maxpool,conv2d,tanh,dense,relu,dense");
	ck_assert_int_eq(l[0].padding, 1);
	ck_assert_int_eq(l[2].pool, 2);
	ck_assert_int_eq(tr_spec_build_check(&s, 1, 28, 28, 10, &err), CORE_OK);
	/* the list ending in a dense layer of k units: that is the output, no activation */
	ck_assert_int_eq(tr_spec_layers(&s, 16, l, TR_MAX_LAYERS, &n, &err), CORE_OK);
	kinds(l, n, got, sizeof got);
	ck_assert_str_eq(got, "conv2d,relu,maxpool,conv2d,tanh,dense");
	json_decref(j);

	accepts("{\"dataset\": \"d\", \"model\": {\"type\": \"logistic_regression\"}}", &s, &j);
	ck_assert_int_eq(tr_spec_layers(&s, 3, l, TR_MAX_LAYERS, &n, &err), CORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(l[0].kind, ML_DENSE);
	ck_assert_int_eq(l[0].units, 3);
	ck_assert_int_eq(tr_spec_build_check(&s, 1, 8, 8, 3, &err), CORE_OK);
	ck_assert_int_eq(tr_spec_build_check(&s, 4, 1, 1, 3, &err), CORE_OK);
	json_decref(j);
}
END_TEST

static Suite *spec_suite(void)
{
	Suite *s = suite_create("trainer-spec");
	TCase *tc = tcase_create("spec");
	tcase_add_test(tc, example_accepted_as_written);
	tcase_add_test(tc, variants_accepted);
	tcase_add_test(tc, mistakes_name_their_field);
	tcase_add_test(tc, sweeps_checked_value_by_value);
	tcase_add_test(tc, layer_fit_names_the_layer);
	tcase_add_test(tc, families_build_their_layers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(spec_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
