/* Unit tests of the drift monitor's pure parts: the monitor spec (spec.c) with its
 * defaults, what a patch marks as given, the stattest names and threshold ranges taken
 * from libs/stats (every method it names is accepted, a threshold is read as the
 * method reads its score). The HTTP side of the same rules is
 * tests/integration/test_drift_monitors_api.c. Called through the private header dm.h,
 * linked from libdrift-monitor.a. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "stats/drift.h"
#include "dm.h"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	ck_assert_msg(j != NULL, "%s: %s", text, e.text);
	return j;
}

/* Parses text as a create (patch false) or a patch; expects want (CORE_OK or
 * CORE_EINVAL with a message containing needle). On CORE_OK the caller clears *s and
 * decrefs the returned document. */
static json_t *parse(const char *text, bool patch, struct dm_spec *s, enum core_status want, const char *needle)
{
	struct core_error err = {{0}};
	json_t *j = load(text);
	enum core_status rc = patch ? dm_spec_parse_patch(j, s, &err) : dm_spec_parse(j, s, &err);
	ck_assert_msg(rc == want, "%s: %s", text, rc == CORE_OK ? "accepted" : err.message);
	if (needle)
		ck_assert_msg(strstr(err.message, needle), "%s: '%s' lacks '%s'", text, err.message, needle);
	if (rc != CORE_OK) {
		json_decref(j);
		return NULL;
	}
	return j;
}

START_TEST(create_fills_defaults)
{
	struct dm_spec s;
	json_t *j = parse("{\"model\": \"iris\"}", false, &s, CORE_OK, NULL);
	ck_assert_str_eq(s.model, "iris");
	ck_assert_int_eq(s.window_size, DM_WINDOW_SIZE_DEF);
	ck_assert_int_eq(s.window_seconds, 0);
	ck_assert(s.drift_share == STATS_DRIFT_SHARE_DEFAULT);
	ck_assert_str_eq(s.alert_policy, "alert");
	ck_assert_int_eq(s.cooldown_s, DM_COOLDOWN_DEF);
	ck_assert_int_eq(json_object_size(s.features), 0);
	ck_assert(s.has_window && s.has_features && s.has_drift_share && s.has_policy && s.has_cooldown);
	dm_spec_clear(&s);
	json_decref(j);

	j = parse("{\"model\": \"m\", \"window\": {\"seconds\": 30}, \"drift_share\": 0.25, \"alert\": {\"policy\": "
		  "\"retrain\"}}",
		  false, &s, CORE_OK, NULL);
	ck_assert_int_eq(s.window_size, 0);
	ck_assert_int_eq(s.window_seconds, 30);
	ck_assert(s.drift_share == 0.25);
	ck_assert_str_eq(s.alert_policy, "retrain");
	ck_assert_int_eq(s.cooldown_s, DM_COOLDOWN_DEF);
	dm_spec_clear(&s);
	json_decref(j);
}
END_TEST

START_TEST(patch_marks_what_it_gives)
{
	struct dm_spec s;
	json_t *j = parse("{}", true, &s, CORE_OK, NULL);
	ck_assert(!s.has_window && !s.has_features && !s.has_drift_share && !s.has_policy && !s.has_cooldown);
	ck_assert_ptr_null(s.model);
	dm_spec_clear(&s);
	json_decref(j);

	j = parse("{\"alert\": {\"cooldown_seconds\": 5}, \"features\": {}}", true, &s, CORE_OK, NULL);
	ck_assert(!s.has_window && s.has_features && !s.has_drift_share && !s.has_policy && s.has_cooldown);
	ck_assert_int_eq(s.cooldown_s, 5);
	ck_assert_int_eq(json_object_size(s.features), 0);
	dm_spec_clear(&s);
	json_decref(j);

	parse("{\"model\": \"iris\"}", true, &s, CORE_EINVAL, "model: a monitor's model cannot be changed");
	parse("{\"window\": {\"size\": 10, \"seconds\": 1}}", true, &s, CORE_EINVAL, "not both");
	parse("{\"created_at\": 1}", true, &s, CORE_EINVAL, "created_at: unknown field");
}
END_TEST

/* Every method libs/stats names is accepted under its own name, and its threshold range
 * follows its score kind. */
START_TEST(stattests_come_from_libs_stats)
{
	for (unsigned i = 0; i < STATS_METHOD_COUNT; i++) {
		const char *name = stats_method_name((enum stats_method)i);
		bool pvalue = stats_method_score_kind((enum stats_method)i) == STATS_SCORE_PVALUE;
		struct dm_spec s;
		char text[200];
		snprintf(text, sizeof text,
			 "{\"model\": \"m\", \"features\": {\"f\": {\"method\": \"%s\", \"threshold\": %s}}}", name,
			 pvalue ? "0.999" : "7.5");
		json_t *j = parse(text, false, &s, CORE_OK, NULL);
		json_t *f = json_object_get(s.features, "f");
		ck_assert_str_eq(json_string_value(json_object_get(f, "method")), name);
		dm_spec_clear(&s);
		json_decref(j);
		snprintf(text, sizeof text,
			 "{\"model\": \"m\", \"features\": {\"f\": {\"method\": \"%s\", \"threshold\": %s}}}", name,
			 pvalue ? "1" : "0");
		parse(text, false, &s, CORE_EINVAL, pvalue ? "scores a p-value" : "scores a distance");
	}
	struct dm_spec s;
	parse("{\"model\": \"m\", \"features\": {\"f\": {\"method\": \"Ks\"}}}", false, &s, CORE_EINVAL,
	      "unknown stattest 'Ks' (one of ks, ");
	/* a threshold alone may meet a p-value test */
	json_t *j = parse("{\"model\": \"m\", \"features\": {\"f\": {\"threshold\": 0.5}}}", false, &s, CORE_OK, NULL);
	ck_assert_ptr_null(json_object_get(json_object_get(s.features, "f"), "method"));
	dm_spec_clear(&s);
	json_decref(j);
	parse("{\"model\": \"m\", \"features\": {\"f\": {\"threshold\": 1}}}", false, &s, CORE_EINVAL,
	      "without a method");
}
END_TEST

START_TEST(bounds)
{
	struct dm_spec s;
	json_t *j = parse("{\"model\": \"m\", \"window\": {\"size\": 10}, \"drift_share\": 1, \"alert\": "
			  "{\"cooldown_seconds\": 31536000}}",
			  false, &s, CORE_OK, NULL);
	dm_spec_clear(&s);
	json_decref(j);
	j = parse("{\"model\": \"m\", \"window\": {\"seconds\": 2592000}, \"alert\": {\"cooldown_seconds\": 0}}", false,
		  &s, CORE_OK, NULL);
	dm_spec_clear(&s);
	json_decref(j);
	parse("{\"model\": \"m\", \"window\": {\"size\": 9}}", false, &s, CORE_EINVAL, "window.size");
	parse("{\"model\": \"m\", \"window\": {\"seconds\": 2592001}}", false, &s, CORE_EINVAL, "window.seconds");
	parse("{\"model\": \"m\", \"drift_share\": 0}", false, &s, CORE_EINVAL, "drift_share");
	parse("{\"model\": \"m\", \"alert\": {\"cooldown_seconds\": 31536001}}", false, &s, CORE_EINVAL,
	      "alert.cooldown_seconds");
	parse("{\"model\": \"a\\tb\"}", false, &s, CORE_EINVAL, "control characters");
	parse("{\"model\": \"m\", \"features\": {\"f\": {\"method\": \"psi\"}}, \"features2\": 1}", false, &s,
	      CORE_EINVAL, "features2: unknown field");
	/* a bad override after good ones frees what was built (ASan would say) */
	parse("{\"model\": \"m\", \"features\": {\"f\": {\"method\": \"psi\"}, \"g\": {}}}", false, &s, CORE_EINVAL,
	      "features.g");
}
END_TEST

/* The retraining job's spec (peers.c): the serving job's spec on the dataset's latest
 * version, as the challenger, one training, the rest as it was; a model name near 256
 * bytes still gives a run name the trainer takes (at most 250 bytes, whole characters). */
START_TEST(retrain_spec_of_a_job)
{
	json_t *old = load("{\"dataset\": \"ds@3\", \"model\": {\"type\": \"mlp\", \"hidden\": [8]}, \"epochs\": 2, "
			   "\"run_name\": \"first\", \"register\": {\"model\": \"m\", \"alias\": \"champion\"}, "
			   "\"sweep\": {\"space\": {\"epochs\": [1, 2]}}}");
	json_t *want = load("{\"dataset\": \"ds@latest\", \"model\": {\"type\": \"mlp\", \"hidden\": [8]}, "
			    "\"epochs\": 2, \"run_name\": \"retrain m (drift)\", "
			    "\"register\": {\"model\": \"m\", \"alias\": \"challenger\"}}");
	json_t *copy = json_deep_copy(old);
	json_t *got = dm_retrain_spec(old, "m", NULL);
	ck_assert(json_equal(got, want));
	ck_assert(json_equal(old, copy)); /* the serving job's spec is not touched */
	json_decref(got);
	json_decref(want);
	json_decref(copy);
	json_decref(old);

	old = load("{\"dataset\": \"ds\"}");
	got = dm_retrain_spec(old, "m", NULL);
	ck_assert_str_eq(json_string_value(json_object_get(got, "dataset")), "ds@latest");
	json_decref(got);

	/* a sweep's trial made the version: its point, recognised in the run's params as the
	 * trainer logs them (compact JSON, strings as they are), replaces the base values */
	json_decref(old);
	old = load(
		"{\"dataset\": \"ds@1\", \"model\": {\"type\": \"mlp\", \"hidden\": [8], \"activation\": \"relu\"}, "
		"\"optimizer\": {\"lr\": 0.002}, \"epochs\": 3, \"sweep\": {\"space\": {\"optimizer.lr\": [0.001, "
		"0.003], "
		"\"model.hidden\": [[8], [16, 4]], \"model.activation\": [\"relu\", \"tanh\"], \"epochs\": [2, 5]}}}");
	json_t *lr = json_real(0.003);
	char *lr_text = json_dumps(lr, JSON_ENCODE_ANY | JSON_COMPACT);
	json_t *params = json_pack("{s:s, s:s, s:s, s:s}", "optimizer.lr", lr_text, "model.hidden", "[16,4]",
				   "model.activation", "tanh", "epochs", "7");
	got = dm_retrain_spec(old, "m", params);
	want = load("{\"type\": \"mlp\", \"hidden\": [16, 4], \"activation\": \"tanh\"}");
	ck_assert(json_equal(json_object_get(got, "model"), want));
	ck_assert_double_eq(json_real_value(json_object_get(json_object_get(got, "optimizer"), "lr")), 0.003);
	/* a param matching none of the space's values (7 of [2, 5]) leaves the base value */
	ck_assert_int_eq(json_integer_value(json_object_get(got, "epochs")), 3);
	ck_assert_ptr_null(json_object_get(got, "sweep"));
	json_decref(want);
	json_decref(got);
	/* the same number written another way ("0.003") is that value too */
	json_object_set_new(params, "optimizer.lr", json_string("0.003"));
	got = dm_retrain_spec(old, "m", params);
	ck_assert_double_eq(json_real_value(json_object_get(json_object_get(got, "optimizer"), "lr")), 0.003);
	json_decref(got);
	json_decref(params);
	json_decref(lr);
	free(lr_text);

	/* 256 bytes: 233 'a', an 'é' across the cut at 234 bytes, then 'b's */
	char model[257];
	memset(model, 'a', 233);
	memcpy(model + 233, "\xc3\xa9", 2);
	memset(model + 235, 'b', 21);
	model[256] = '\0';
	got = dm_retrain_spec(old, model, NULL);
	const char *run_name = json_string_value(json_object_get(got, "run_name"));
	ck_assert_ptr_nonnull(run_name);
	ck_assert_uint_le(strlen(run_name), 250);
	ck_assert_uint_eq(strlen(run_name), strlen("retrain  (drift)") + 233);
	ck_assert_int_eq(strncmp(run_name + 8, model, 233), 0);
	ck_assert_str_eq(run_name + 8 + 233, " (drift)");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "register"), "model")), model);
	json_decref(got);
	json_decref(old);
}
END_TEST

static Suite *spec_suite(void)
{
	Suite *s = suite_create("drift-monitor-spec");
	TCase *tc = tcase_create("spec");
	tcase_add_test(tc, create_fills_defaults);
	tcase_add_test(tc, patch_marks_what_it_gives);
	tcase_add_test(tc, stattests_come_from_libs_stats);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, retrain_spec_of_a_job);
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
