/* Unit tests of the experiment tracker's latest point per key (latest.c, linked from
 * libexperiment-tracker.a): et_batch_latest against a plain scan of the batch on random
 * batches with repeated keys, equal points, NaN, infinities and negative steps, and the
 * order et_metric_cmp gives (PostgreSQL's float8 order: NaN above every number). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "et.h"

START_TEST(point_order_is_postgresqls)
{
	struct et_metric a = {"k", 1.0, 5, 2}, b = {"k", 2.0, 5, 2};
	ck_assert_int_lt(et_metric_cmp(&a, &b), 0);
	b.value = NAN;
	ck_assert_int_lt(et_metric_cmp(&a, &b), 0); /* NaN above every number */
	a.value = INFINITY;
	ck_assert_int_lt(et_metric_cmp(&a, &b), 0);
	a.value = NAN;
	ck_assert_int_eq(et_metric_cmp(&a, &b), 0); /* NaN equals NaN */
	a.timestamp = 6;
	ck_assert_int_gt(et_metric_cmp(&a, &b), 0); /* the timestamp before the value */
	b.step = 3;
	ck_assert_int_lt(et_metric_cmp(&a, &b), 0); /* the step before both */
	a.value = -0.0, b.value = 0.0, a.step = b.step, a.timestamp = b.timestamp;
	ck_assert_int_eq(et_metric_cmp(&a, &b), 0);
}
END_TEST

/* Each key's greatest point by a plain scan: the reference. */
static const struct et_metric *scan_latest(const struct et_batch *b, const char *key)
{
	const struct et_metric *best = NULL;
	for (size_t i = 0; i < b->n_metrics; i++)
		if (strcmp(b->metrics[i].key, key) == 0 && (!best || et_metric_cmp(&b->metrics[i], best) >= 0))
			best = &b->metrics[i];
	return best;
}

START_TEST(latest_per_key_matches_a_scan)
{
	static const char *const keys[] = {"loss", "acc", "a", "loss/val", "é", "b"};
	static const double values[] = {0.5, -1.0, 2.25, NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e300};
	struct et_metric m[300];
	size_t idx[300];
	srand(7);
	for (int round = 0; round < 400; round++) {
		size_t n = (size_t)(rand() % 300), n_out = 99;
		struct et_batch b = {.run_id = "r", .metrics = m, .n_metrics = n};
		struct core_error err = {0};
		for (size_t i = 0; i < n; i++)
			m[i] = (struct et_metric){keys[rand() % 6], values[rand() % 9], rand() % 4, rand() % 5 - 2};
		ck_assert_int_eq(et_batch_latest(&b, idx, &n_out, &err), CORE_OK);
		size_t distinct = 0;
		for (int k = 0; k < 6; k++)
			distinct += scan_latest(&b, keys[k]) != NULL;
		ck_assert_uint_eq(n_out, distinct);
		for (size_t j = 0; j < n_out; j++) {
			const struct et_metric *got = &m[idx[j]], *want = scan_latest(&b, got->key);
			ck_assert_ptr_eq(got, want); /* the same point: of equal ones, the last */
			if (j)
				ck_assert_int_lt(strcmp(m[idx[j - 1]].key, got->key), 0);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tracker_latest");
	TCase *tc = tcase_create("latest");
	tcase_add_test(tc, point_order_is_postgresqls);
	tcase_add_test(tc, latest_per_key_matches_a_scan);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
