/* Unit tests of the split assignment (split.c, pure): deterministic whatever the input
 * order, stratified within one item per class and split, stable when a version adds
 * items, and equal to an independent implementation in Python (hashlib), which is
 * what "the same assignment on every machine" rests on. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "split.h"

static const char *classes[] = {"cat", "dog", "bird", "fish"};

/* Item i: key = 32 bytes derived from i (distinct), class from sizes. */
static void make_key(uint8_t key[32], uint64_t i)
{
	for (int b = 0; b < 32; b++)
		key[b] = (uint8_t)((i * 2654435761u + (uint64_t)b * 97u) >> (b % 8) ^ (i >> (b % 16)));
	memcpy(key, &i, sizeof i); /* distinct */
}

static struct dr_split_item *make_items(const size_t *per_class, size_t n_classes, size_t *n_out)
{
	size_t n = 0;
	for (size_t c = 0; c < n_classes; c++)
		n += per_class[c];
	struct dr_split_item *it = calloc(n ? n : 1, sizeof *it);
	size_t k = 0;
	for (size_t c = 0; c < n_classes; c++)
		for (size_t j = 0; j < per_class[c]; j++, k++) {
			make_key(it[k].key, k);
			it[k].cls = classes[c];
			it[k].seq = k;
			it[k].split = -1;
		}
	*n_out = n;
	return it;
}

static struct dr_split_spec spec3(double a, double b, double c, bool stratify, int64_t seed)
{
	struct dr_split_spec s = {.n = 3, .names = {"train", "val", "test"}, .fractions = {a, b, c}};
	s.stratify = stratify;
	s.seed = seed;
	return s;
}

/* |count(s, c) - f_s * n_c| <= bound for every split and class (stratified) or over
 * all items (not). */
static void check_shares(const struct dr_split_spec *s, const struct dr_split_item *it, size_t n, double bound)
{
	for (size_t c = 0; c < 4; c++) {
		uint64_t nc = 0, cnt[DR_SPLIT_MAX] = {0};
		for (size_t i = 0; i < n; i++)
			if (!s->stratify || it[i].cls == classes[c]) {
				nc++;
				cnt[it[i].split]++;
			}
		for (size_t k = 0; k < s->n; k++)
			ck_assert_msg(fabs((double)cnt[k] - s->fractions[k] * (double)nc) <= bound,
				      "class %s split %s: %llu of %llu (fraction %g)", classes[c], s->names[k],
				      (unsigned long long)cnt[k], (unsigned long long)nc, s->fractions[k]);
		if (!s->stratify)
			break;
	}
}

START_TEST(quotas_largest_remainder)
{
	struct dr_split_spec s = spec3(1.0 / 3, 1.0 / 3, 1.0 / 3, true, 0);
	uint64_t q[3];
	dr_split_quotas(&s, 10, q);
	ck_assert(q[0] == 4 && q[1] == 3 && q[2] == 3);
	s = spec3(0.8, 0.1, 0.1, true, 0);
	dr_split_quotas(&s, 7, q); /* 5.6, 0.7, 0.7 -> 5, 1, 1 */
	ck_assert(q[0] == 5 && q[1] == 1 && q[2] == 1);
	dr_split_quotas(&s, 1, q); /* 0.8, 0.1, 0.1 -> 1, 0, 0 */
	ck_assert(q[0] == 1 && q[1] == 0 && q[2] == 0);
	dr_split_quotas(&s, 0, q);
	ck_assert(q[0] == 0 && q[1] == 0 && q[2] == 0);
	s = spec3(0.7, 0.2, 0.1, true, 0);
	dr_split_quotas(&s, 10, q); /* 0.7*10 is 7.000000000000001 or 6.99..: still 7, 2, 1 */
	ck_assert(q[0] == 7 && q[1] == 2 && q[2] == 1);
}
END_TEST

START_TEST(stratified_within_one_item)
{
	size_t per[4] = {100, 37, 5, 1}, n;
	struct dr_split_item *it = make_items(per, 4, &n);
	struct dr_split_spec s = spec3(0.8, 0.1, 0.1, true, 42);
	struct core_error err;
	ck_assert_int_eq(dr_split_assign(&s, it, n, &err), CORE_OK);
	check_shares(&s, it, n, 1.0);
	/* exact counts for 100: 80/10/10 */
	uint64_t c[3] = {0};
	for (size_t i = 0; i < 100; i++)
		c[it[i].split]++;
	ck_assert(c[0] == 80 && c[1] == 10 && c[2] == 10);
	free(it);
}
END_TEST

START_TEST(deterministic_whatever_the_order)
{
	size_t per[3] = {50, 30, 20}, n;
	struct dr_split_item *a = make_items(per, 3, &n), *b = make_items(per, 3, &n);
	struct dr_split_spec s = spec3(0.6, 0.2, 0.2, true, 7);
	struct core_error err;
	ck_assert_int_eq(dr_split_assign(&s, a, n, &err), CORE_OK);
	/* reverse b's order: same key -> same split */
	for (size_t i = 0; i < n / 2; i++) {
		struct dr_split_item t = b[i];
		b[i] = b[n - 1 - i];
		b[n - 1 - i] = t;
	}
	ck_assert_int_eq(dr_split_assign(&s, b, n, &err), CORE_OK);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(a[i].split, b[n - 1 - i].split);
	/* another seed gives another assignment */
	struct dr_split_item *c = make_items(per, 3, &n);
	s.seed = 8;
	ck_assert_int_eq(dr_split_assign(&s, c, n, &err), CORE_OK);
	size_t differ = 0;
	for (size_t i = 0; i < n; i++)
		differ += a[i].split != c[i].split;
	ck_assert_uint_gt(differ, 10);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(stable_when_items_are_added)
{
	size_t per[3] = {200, 120, 33}, n;
	struct dr_split_item *it = make_items(per, 3, &n);
	struct dr_split_spec s = spec3(0.8, 0.1, 0.1, true, 3);
	struct core_error err;
	/* version 1: every third item of each class is missing */
	struct dr_split_item *v1 = calloc(n, sizeof *v1);
	size_t n1 = 0;
	for (size_t i = 0; i < n; i++)
		if (i % 3 != 0)
			v1[n1++] = it[i];
	ck_assert_int_eq(dr_split_assign(&s, v1, n1, &err), CORE_OK);
	check_shares(&s, v1, n1, 1.0);
	/* version 2: all of them; version 1's keep their split */
	for (size_t i = 0, k = 0; i < n; i++)
		if (i % 3 != 0)
			it[i].split = v1[k++].split;
	ck_assert_int_eq(dr_split_assign(&s, it, n, &err), CORE_OK);
	for (size_t i = 0, k = 0; i < n; i++)
		if (i % 3 != 0)
			ck_assert_int_eq(it[i].split, v1[k++].split);
	check_shares(&s, it, n, 1.0);
	free(v1);
	free(it);
}
END_TEST

/* Growth by small steps with many fraction sets keeps every class's share within one
 * item: the property the README states. */
START_TEST(growth_keeps_shares)
{
	const double fr[][3] = {{0.8, 0.1, 0.1},   {0.7, 0.2, 0.1},  {0.5, 0.3, 0.2}, {1.0 / 3, 1.0 / 3, 1.0 / 3},
				{0.9, 0.05, 0.05}, {0.6, 0.25, 0.15}};
	struct core_error err;
	for (size_t f = 0; f < sizeof fr / sizeof fr[0]; f++) {
		size_t per[2] = {300, 90}, n;
		struct dr_split_item *it = make_items(per, 2, &n);
		struct dr_split_spec s = spec3(fr[f][0], fr[f][1], fr[f][2], true, (int64_t)f);
		/* reveal the items 17 at a time, keeping earlier placements */
		for (size_t m = 17; m < n + 17; m += 17) {
			size_t upto = m < n ? m : n;
			ck_assert_int_eq(dr_split_assign(&s, it, upto, &err), CORE_OK);
			check_shares(&s, it, upto, 1.0);
		}
		free(it);
	}
}
END_TEST

START_TEST(no_stratify_ignores_classes)
{
	size_t per[2] = {90, 10}, n;
	struct dr_split_item *a = make_items(per, 2, &n), *b = make_items(per, 2, &n);
	struct dr_split_spec s = spec3(0.5, 0.3, 0.2, false, 1);
	struct core_error err;
	ck_assert_int_eq(dr_split_assign(&s, a, n, &err), CORE_OK);
	uint64_t c[3] = {0};
	for (size_t i = 0; i < n; i++)
		c[a[i].split]++;
	ck_assert(c[0] == 50 && c[1] == 30 && c[2] == 20);
	/* relabelled items land in the same splits */
	for (size_t i = 0; i < n; i++)
		b[i].cls = i % 2 ? "x" : NULL;
	ck_assert_int_eq(dr_split_assign(&s, b, n, &err), CORE_OK);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(a[i].split, b[i].split);
	free(a);
	free(b);
}
END_TEST

START_TEST(tiny_and_single_class)
{
	struct core_error err;
	struct dr_split_spec s = spec3(0.8, 0.1, 0.1, true, 0);
	ck_assert_int_eq(dr_split_assign(&s, NULL, 0, &err), CORE_OK);
	size_t per1[1] = {1}, n;
	struct dr_split_item *it = make_items(per1, 1, &n);
	ck_assert_int_eq(dr_split_assign(&s, it, n, &err), CORE_OK);
	ck_assert_int_eq(it[0].split, 0);
	free(it);
	size_t per2[1] = {2};
	it = make_items(per2, 1, &n);
	ck_assert_int_eq(dr_split_assign(&s, it, n, &err), CORE_OK);
	ck_assert(it[0].split == 0 && it[1].split == 0); /* 1.6, 0.2, 0.2 -> 2, 0, 0 */
	free(it);
	size_t per3[1] = {11};
	it = make_items(per3, 1, &n);
	struct dr_split_spec one = {.n = 1, .names = {"all"}, .fractions = {1.0}, .stratify = true};
	ck_assert_int_eq(dr_split_assign(&one, it, n, &err), CORE_OK);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(it[i].split, 0);
	free(it);
}
END_TEST

START_TEST(bad_specs_refused)
{
	struct core_error err;
	struct dr_split_spec s = spec3(0.8, 0.1, 0.2, true, 0);
	ck_assert_int_eq(dr_split_check_spec(&s, &err), CORE_EINVAL); /* sums to 1.1 */
	s = spec3(0.9, 0.1, 0, true, 0);
	ck_assert_int_eq(dr_split_check_spec(&s, &err), CORE_EINVAL); /* a zero */
	s = spec3(0.8, 0.1, 0.1, true, 0);
	s.names[2] = "train";
	ck_assert_int_eq(dr_split_check_spec(&s, &err), CORE_EINVAL); /* twice */
	s.names[2] = "te st";
	ck_assert_int_eq(dr_split_check_spec(&s, &err), CORE_EINVAL);
	s.n = 0;
	ck_assert_int_eq(dr_split_check_spec(&s, &err), CORE_EINVAL);
	s = spec3(0.8, 0.1, 0.1, true, 0);
	ck_assert_int_eq(dr_split_check_spec(&s, &err), CORE_OK);
	struct dr_split_item it = {.split = 3};
	ck_assert_int_eq(dr_split_assign(&s, &it, 1, &err), CORE_EINVAL); /* a previous split out of range */
}
END_TEST

START_TEST(dedup_keeps_first)
{
	struct dr_split_item it[4] = {0};
	for (int i = 0; i < 4; i++) {
		it[i].seq = (uint64_t)i;
		it[i].key[0] = (uint8_t)(i % 2 ? 9 : 3 - i);
	}
	it[3].key[0] = 9; /* 1 and 3 are the same content */
	it[1].cls = "first";
	it[3].cls = "second";
	size_t n = 4;
	dr_split_dedup(it, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(it[0].seq, 0);
	ck_assert_uint_eq(it[1].seq, 1);
	ck_assert_str_eq(it[1].cls, "first");
	ck_assert_uint_eq(it[2].seq, 2);
}
END_TEST

/* The same algorithm written from split.h's description in Python (hashlib, fractions
 * as doubles) gives the same splits: the assignment depends on nothing machine-bound. */
START_TEST(matches_independent_python)
{
	size_t per[3] = {23, 11, 4}, n;
	struct dr_split_item *it = make_items(per, 3, &n);
	struct dr_split_spec s = spec3(0.7, 0.2, 0.1, true, -5);
	struct core_error err;
	ck_assert_int_eq(dr_split_assign(&s, it, n, &err), CORE_OK);
	char path[] = "/tmp/lathe-split-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs("import hashlib, math, struct, sys\n"
	      "fr = [0.7, 0.2, 0.1]; seed = -5\n"
	      "items = []\n"
	      "for line in sys.stdin:\n"
	      "    k, c = line.split()\n"
	      "    items.append((bytes.fromhex(k), c))\n"
	      "def quotas(n):\n"
	      "    sh = [f / sum(fr) * n for f in fr]\n"
	      "    q = [math.floor(x) for x in sh]; rem = [x - math.floor(x) for x in sh]\n"
	      "    while sum(q) < n:\n"
	      "        b = max(range(len(fr)), key=lambda i: (rem[i], -i)); q[b] += 1; rem[b] = -1\n"
	      "    return q\n"
	      "out = {}\n"
	      "for g in sorted(set(c for _, c in items)):\n"
	      "    mem = [k for k, c in items if c == g]\n"
	      "    u = lambda k: hashlib.sha256(struct.pack('<q', seed) + g.encode() + b'\\0' + k).digest()\n"
	      "    q = quotas(len(mem)); cnt = [0] * len(fr)\n"
	      "    for k in sorted(mem, key=u):\n"
	      "        b = max(range(len(fr)), key=lambda i: (q[i] - cnt[i], -i)); cnt[b] += 1; out[k] = b\n"
	      "print(''.join(str(out[k]) for k, _ in items))\n",
	      f);
	fclose(f);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s > %s.out", path, path);
	FILE *p = popen(cmd, "w");
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++) {
		for (int b = 0; b < 32; b++)
			fprintf(p, "%02x", it[i].key[b]);
		fprintf(p, " %s\n", it[i].cls);
	}
	ck_assert_int_eq(pclose(p), 0);
	char outp[64], line[256] = {0}, mine[256] = {0};
	snprintf(outp, sizeof outp, "%s.out", path);
	f = fopen(outp, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	fclose(f);
	for (size_t i = 0; i < n; i++)
		mine[i] = (char)('0' + it[i].split);
	mine[n] = '\n';
	ck_assert_str_eq(line, mine);
	unlink(path);
	unlink(outp);
	free(it);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dr_split");
	TCase *tc = tcase_create("split");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, quotas_largest_remainder);
	tcase_add_test(tc, stratified_within_one_item);
	tcase_add_test(tc, deterministic_whatever_the_order);
	tcase_add_test(tc, stable_when_items_are_added);
	tcase_add_test(tc, growth_keeps_shares);
	tcase_add_test(tc, no_stratify_ignores_classes);
	tcase_add_test(tc, tiny_and_single_class);
	tcase_add_test(tc, bad_specs_refused);
	tcase_add_test(tc, dedup_keeps_first);
	tcase_add_test(tc, matches_independent_python);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
