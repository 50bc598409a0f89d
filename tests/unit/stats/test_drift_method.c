/* Unit tests for stats/drift.h: Evidently's method table and rules, checked against what
 * its source says (legacy/calculations/stattests/registry.py `_get_default_stattest`, each
 * stattest's registration, data_drift.py `get_dataset_drift`), including every boundary
 * of the default choice: n_ref 1000 / 1001 and n_unique 2 / 3 and 5 / 6. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats/drift.h"

START_TEST(names_round_trip)
{
	static const char *const names[] = {"ks",  "chisquare", "z",         "wasserstein", "jensenshannon",
					    "psi", "kl_div",    "hellinger", "TVD"};
	ck_assert_uint_eq(sizeof names / sizeof names[0], STATS_METHOD_COUNT);
	for (unsigned i = 0; i < STATS_METHOD_COUNT; i++) {
		enum stats_method m;
		ck_assert_str_eq(stats_method_name((enum stats_method)i), names[i]);
		ck_assert_ptr_nonnull(stats_method_display_name((enum stats_method)i));
		ck_assert(stats_method_by_name(names[i], &m));
		ck_assert_int_eq(m, (int)i);
	}
	enum stats_method m = STATS_METHOD_PSI;
	static const char *const unknown[] = {"", "KS", "tvd", "PSI", "ks ", "anderson", "jensen_shannon", "t_test"};
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
		ck_assert_msg(!stats_method_by_name(unknown[i], &m), "'%s' accepted", unknown[i]);
	ck_assert(!stats_method_by_name(NULL, &m));
	ck_assert_int_eq(m, STATS_METHOD_PSI); /* untouched on failure */
	ck_assert_ptr_null(stats_method_name(STATS_METHOD_COUNT));
	ck_assert_ptr_null(stats_method_name((enum stats_method) - 1));
	ck_assert_str_eq(stats_method_display_name(STATS_METHOD_KS), "K-S p_value");
	ck_assert_str_eq(stats_method_display_name(STATS_METHOD_WASSERSTEIN), "Wasserstein distance (normed)");
}
END_TEST

START_TEST(kinds_thresholds_types)
{
	static const struct {
		enum stats_method m;
		enum stats_score_kind kind;
		double threshold;
		bool num, cat;
	} table[] = {
		{STATS_METHOD_KS, STATS_SCORE_PVALUE, 0.05, true, false},
		{STATS_METHOD_CHISQUARE, STATS_SCORE_PVALUE, 0.05, false, true},
		{STATS_METHOD_Z, STATS_SCORE_PVALUE, 0.05, false, true},
		{STATS_METHOD_WASSERSTEIN, STATS_SCORE_DISTANCE, 0.1, true, false},
		{STATS_METHOD_JENSENSHANNON, STATS_SCORE_DISTANCE, 0.1, true, true},
		{STATS_METHOD_PSI, STATS_SCORE_DISTANCE, 0.1, true, true},
		{STATS_METHOD_KL_DIV, STATS_SCORE_DISTANCE, 0.1, true, true},
		{STATS_METHOD_HELLINGER, STATS_SCORE_DISTANCE, 0.1, true, true},
		{STATS_METHOD_TVD, STATS_SCORE_PVALUE, 0.1, false, true},
	};
	ck_assert_uint_eq(sizeof table / sizeof table[0], STATS_METHOD_COUNT);
	for (size_t i = 0; i < STATS_METHOD_COUNT; i++) {
		const char *n = stats_method_name(table[i].m);
		ck_assert_msg(stats_method_score_kind(table[i].m) == table[i].kind, "%s kind", n);
		ck_assert_msg(stats_method_default_threshold(table[i].m) == table[i].threshold, "%s threshold", n);
		ck_assert_msg(stats_method_applies(table[i].m, STATS_COLUMN_NUMERICAL) == table[i].num, "%s num", n);
		ck_assert_msg(stats_method_applies(table[i].m, STATS_COLUMN_CATEGORICAL) == table[i].cat, "%s cat", n);
	}
	ck_assert(!stats_method_applies(STATS_METHOD_COUNT, STATS_COLUMN_NUMERICAL));
	ck_assert(!stats_method_applies(STATS_METHOD_PSI, (enum stats_column_type)7));
}
END_TEST

START_TEST(drift_rules)
{
	/* ks: p <= threshold (ks_stattest.py); the other p-values: p < threshold */
	ck_assert(stats_method_drifted(STATS_METHOD_KS, 0.05, 0.05));
	ck_assert(stats_method_drifted(STATS_METHOD_KS, 0.049, 0.05));
	ck_assert(!stats_method_drifted(STATS_METHOD_KS, 0.0500001, 0.05));
	ck_assert(!stats_method_drifted(STATS_METHOD_CHISQUARE, 0.05, 0.05));
	ck_assert(stats_method_drifted(STATS_METHOD_CHISQUARE, 0.0499, 0.05));
	ck_assert(!stats_method_drifted(STATS_METHOD_Z, 0.05, 0.05));
	ck_assert(stats_method_drifted(STATS_METHOD_Z, 0, 0.05));
	ck_assert(!stats_method_drifted(STATS_METHOD_TVD, 0.1, 0.1));
	ck_assert(stats_method_drifted(STATS_METHOD_TVD, 0.099, 0.1));
	/* distances: score >= threshold */
	static const enum stats_method dist[] = {STATS_METHOD_WASSERSTEIN, STATS_METHOD_JENSENSHANNON, STATS_METHOD_PSI,
						 STATS_METHOD_KL_DIV, STATS_METHOD_HELLINGER};
	for (size_t i = 0; i < sizeof dist / sizeof dist[0]; i++) {
		ck_assert(stats_method_drifted(dist[i], 0.1, 0.1));
		ck_assert(stats_method_drifted(dist[i], 3, 0.1));
		ck_assert(!stats_method_drifted(dist[i], 0.0999999, 0.1));
		ck_assert(!stats_method_drifted(dist[i], 0, 0.1));
	}
	/* no data, no drift */
	for (unsigned i = 0; i < STATS_METHOD_COUNT; i++)
		ck_assert(!stats_method_drifted((enum stats_method)i, NAN, 0.05));
}
END_TEST

/* protocols.md 3.1's table, from registry.py `_get_default_stattest`. */
static enum stats_method evidently_default(enum stats_column_type t, uint64_t n_ref, uint64_t n_unique)
{
	bool small = n_ref <= 1000;
	if (t == STATS_COLUMN_NUMERICAL) {
		if (n_unique > 5)
			return small ? STATS_METHOD_KS : STATS_METHOD_WASSERSTEIN;
		if (!small)
			return STATS_METHOD_JENSENSHANNON;
		return n_unique > 2 ? STATS_METHOD_CHISQUARE : STATS_METHOD_Z;
	}
	if (!small)
		return STATS_METHOD_JENSENSHANNON;
	return n_unique > 2 ? STATS_METHOD_CHISQUARE : STATS_METHOD_Z;
}

START_TEST(default_method_table)
{
	static const struct {
		enum stats_column_type t;
		uint64_t n_ref, n_unique;
		const char *want;
	} cases[] = {
		/* numerical, n_ref <= 1000 */
		{STATS_COLUMN_NUMERICAL, 1000, 6, "ks"},
		{STATS_COLUMN_NUMERICAL, 1000, 5, "chisquare"},
		{STATS_COLUMN_NUMERICAL, 1000, 3, "chisquare"},
		{STATS_COLUMN_NUMERICAL, 1000, 2, "z"},
		{STATS_COLUMN_NUMERICAL, 1000, 1, "z"},
		{STATS_COLUMN_NUMERICAL, 1, 1, "z"},
		{STATS_COLUMN_NUMERICAL, 7, 6, "ks"},
		{STATS_COLUMN_NUMERICAL, 999, 100000, "ks"},
		/* numerical, n_ref > 1000 */
		{STATS_COLUMN_NUMERICAL, 1001, 6, "wasserstein"},
		{STATS_COLUMN_NUMERICAL, 1001, 5, "jensenshannon"},
		{STATS_COLUMN_NUMERICAL, 1001, 3, "jensenshannon"},
		{STATS_COLUMN_NUMERICAL, 1001, 2, "jensenshannon"},
		{STATS_COLUMN_NUMERICAL, 1001, 1, "jensenshannon"},
		{STATS_COLUMN_NUMERICAL, 5000000, 4000000, "wasserstein"},
		/* categorical */
		{STATS_COLUMN_CATEGORICAL, 1000, 3, "chisquare"},
		{STATS_COLUMN_CATEGORICAL, 1000, 6, "chisquare"},
		{STATS_COLUMN_CATEGORICAL, 1000, 500, "chisquare"},
		{STATS_COLUMN_CATEGORICAL, 1000, 2, "z"},
		{STATS_COLUMN_CATEGORICAL, 10, 1, "z"},
		{STATS_COLUMN_CATEGORICAL, 1001, 2, "jensenshannon"},
		{STATS_COLUMN_CATEGORICAL, 1001, 3, "jensenshannon"},
		{STATS_COLUMN_CATEGORICAL, 1001, 50, "jensenshannon"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum stats_method got = stats_default_method(cases[i].t, cases[i].n_ref, cases[i].n_unique);
		ck_assert_msg(strcmp(stats_method_name(got), cases[i].want) == 0,
			      "type %d n_ref %llu n_unique %llu: %s, want %s", cases[i].t,
			      (unsigned long long)cases[i].n_ref, (unsigned long long)cases[i].n_unique,
			      stats_method_name(got), cases[i].want);
	}
	/* and the whole neighbourhood of every boundary */
	static const uint64_t refs[] = {0, 1, 2, 999, 1000, 1001, 1002, 1000000};
	for (int t = STATS_COLUMN_NUMERICAL; t <= STATS_COLUMN_CATEGORICAL; t++)
		for (size_t r = 0; r < sizeof refs / sizeof refs[0]; r++)
			for (uint64_t u = 0; u <= 12; u++)
				ck_assert_int_eq(stats_default_method((enum stats_column_type)t, refs[r], u),
						 evidently_default((enum stats_column_type)t, refs[r], u));
}
END_TEST

START_TEST(dataset_drift)
{
	double share = -1;
	ck_assert(stats_dataset_drift(1, 2, STATS_DRIFT_SHARE_DEFAULT, &share)); /* 0.5 >= 0.5 */
	ck_assert(share == 0.5);
	ck_assert(!stats_dataset_drift(2, 5, STATS_DRIFT_SHARE_DEFAULT, &share));
	ck_assert(share == 0.4);
	ck_assert(stats_dataset_drift(3, 5, STATS_DRIFT_SHARE_DEFAULT, &share));
	ck_assert(!stats_dataset_drift(0, 7, STATS_DRIFT_SHARE_DEFAULT, &share));
	ck_assert(share == 0);
	ck_assert(stats_dataset_drift(7, 7, STATS_DRIFT_SHARE_DEFAULT, NULL));
	ck_assert(stats_dataset_drift(1, 3, 1.0 / 3, &share)); /* the same division on both sides */
	ck_assert(!stats_dataset_drift(0, 0, STATS_DRIFT_SHARE_DEFAULT, &share));
	ck_assert(share == 0);
	ck_assert(stats_dataset_drift(0, 4, 0, &share)); /* drift_share 0: always */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("drift_method");
	TCase *tc = tcase_create("evidently");
	tcase_add_test(tc, names_round_trip);
	tcase_add_test(tc, kinds_thresholds_types);
	tcase_add_test(tc, drift_rules);
	tcase_add_test(tc, default_method_table);
	tcase_add_test(tc, dataset_drift);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
