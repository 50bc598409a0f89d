/* Unit tests of the sweep's points (sweep.c, pure): a grid is every combination with
 * the first key varying slowest, capped by `trials`; a random search draws `trials`
 * points from the lists, the same ones for the same seed; a space that is not an
 * object of non-empty lists is refused naming the path; the comparison of scores
 * never prefers a NaN; the best of the finished trials is the same whatever order
 * parallel trials ended in (ties to the lowest index). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tr.h"

static json_t *sweep(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	ck_assert_msg(j != NULL, "%s", e.text);
	return j;
}

static char *point(json_t *pts, size_t i)
{
	return json_dumps(json_array_get(pts, i), JSON_COMPACT | JSON_SORT_KEYS);
}

START_TEST(grid_is_every_combination_in_order)
{
	json_t *s =
		sweep("{\"method\":\"grid\",\"space\":{\"optimizer.lr\":[0.1,0.01],\"model.hidden\":[[8],[16],[32]]}}");
	json_t *pts = NULL;
	struct core_error err = {{0}};
	ck_assert_int_eq(tr_sweep_points(s, 1, &pts, &err), CORE_OK);
	ck_assert_uint_eq(json_array_size(pts), 6);
	const char *want[] = {
		"{\"model.hidden\":[8],\"optimizer.lr\":0.10000000000000001}",
		"{\"model.hidden\":[16],\"optimizer.lr\":0.10000000000000001}",
		"{\"model.hidden\":[32],\"optimizer.lr\":0.10000000000000001}",
		"{\"model.hidden\":[8],\"optimizer.lr\":0.01}",
		"{\"model.hidden\":[16],\"optimizer.lr\":0.01}",
		"{\"model.hidden\":[32],\"optimizer.lr\":0.01}",
	};
	for (size_t i = 0; i < 6; i++) {
		char *p = point(pts, i);
		ck_assert_str_eq(p, want[i]);
		free(p);
	}
	json_decref(pts);
	/* trials caps a grid */
	json_object_set_new(s, "trials", json_integer(4));
	ck_assert_int_eq(tr_sweep_points(s, 1, &pts, &err), CORE_OK);
	ck_assert_uint_eq(json_array_size(pts), 4);
	json_decref(pts);
	json_decref(s);
}
END_TEST

START_TEST(random_is_seeded)
{
	json_t *s =
		sweep("{\"method\":\"random\",\"trials\":20,\"space\":{\"a\":[1,2,3,4,5,6,7,8],\"b\":[\"x\",\"y\"]}}");
	json_t *p1 = NULL, *p2 = NULL, *p3 = NULL;
	struct core_error err = {{0}};
	ck_assert_int_eq(tr_sweep_points(s, 7, &p1, &err), CORE_OK);
	ck_assert_int_eq(tr_sweep_points(s, 7, &p2, &err), CORE_OK);
	ck_assert_int_eq(tr_sweep_points(s, 8, &p3, &err), CORE_OK);
	ck_assert_uint_eq(json_array_size(p1), 20);
	ck_assert(json_equal(p1, p2));
	ck_assert(!json_equal(p1, p3));
	/* every value drawn comes from its list, and more than one is drawn */
	bool seen[9] = {false};
	size_t distinct = 0;
	for (size_t i = 0; i < 20; i++) {
		json_int_t a = json_integer_value(json_object_get(json_array_get(p1, i), "a"));
		ck_assert(a >= 1 && a <= 8);
		distinct += !seen[a];
		seen[a] = true;
		const char *b = json_string_value(json_object_get(json_array_get(p1, i), "b"));
		ck_assert(b && (strcmp(b, "x") == 0 || strcmp(b, "y") == 0));
	}
	ck_assert_uint_ge(distinct, 3);
	json_decref(p1);
	json_decref(p2);
	json_decref(p3);
	json_decref(s);
}
END_TEST

START_TEST(bad_space_refused)
{
	const char *bad[] = {"{\"method\":\"grid\"}", "{\"method\":\"grid\",\"space\":{}}",
			     "{\"method\":\"grid\",\"space\":{\"optimizer.lr\":[]}}",
			     "{\"method\":\"grid\",\"space\":{\"optimizer.lr\":0.1}}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *s = sweep(bad[i]), *pts = NULL;
		struct core_error err = {{0}};
		ck_assert_int_eq(tr_sweep_points(s, 1, &pts, &err), CORE_EINVAL);
		ck_assert_ptr_null(pts);
		ck_assert_msg(strstr(err.message, "sweep.space") != NULL, "%s", err.message);
		json_decref(s);
	}
}
END_TEST

START_TEST(better_never_prefers_nan)
{
	ck_assert(tr_sweep_better(0.9, 0.8, true));
	ck_assert(!tr_sweep_better(0.8, 0.9, true));
	ck_assert(tr_sweep_better(0.1, 0.2, false));
	ck_assert(!tr_sweep_better(NAN, 0.2, false));
	ck_assert(tr_sweep_better(0.2, NAN, true));
	ck_assert(!tr_sweep_better(0.5, 0.5, true));
}
END_TEST

/* The best of the finished trials does not depend on the order they ended in: ties
 * go to the lowest index, NaN and missing scores (failed trials) never win. */
START_TEST(best_ties_go_to_the_lowest_trial)
{
	json_t *done = json_loads("[{\"trial\": 3, \"score\": 0.9}, {\"trial\": 0, \"failure\": \"nan\"},"
				  " {\"trial\": 2, \"score\": 0.9}, {\"trial\": 1, \"score\": 0.5}]",
				  0, NULL);
	ck_assert_ptr_nonnull(done);
	json_t *b = tr_sweep_best(done, true);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "trial")), 2);
	b = tr_sweep_best(done, false);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "trial")), 1);
	/* the same trials in the other order: the same choice */
	json_t *rev = json_array();
	for (size_t i = json_array_size(done); i-- > 0;)
		json_array_append(rev, json_array_get(done, i));
	ck_assert_int_eq(json_integer_value(json_object_get(tr_sweep_best(rev, true), "trial")), 2);
	json_decref(rev);
	json_decref(done);
	done = json_loads("[{\"trial\": 0, \"failure\": \"x\"}]", 0, NULL);
	ck_assert_ptr_null(tr_sweep_best(done, true));
	json_decref(done);
	json_t *empty = json_array();
	ck_assert_ptr_null(tr_sweep_best(empty, false));
	json_decref(empty);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tr_sweep");
	TCase *tc = tcase_create("sweep");
	tcase_add_test(tc, grid_is_every_combination_in_order);
	tcase_add_test(tc, random_is_seeded);
	tcase_add_test(tc, bad_space_refused);
	tcase_add_test(tc, better_never_prefers_nan);
	tcase_add_test(tc, best_ties_go_to_the_lowest_trial);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
