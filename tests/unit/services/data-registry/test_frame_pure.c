/* Unit tests of the data registry frame's pure parts (validate.c, manifest.c), called
 * through the private header dr.h and linked from libdata-registry.a: dataset names,
 * tags, max_results, page tokens, version references, and the canonical manifest id
 * (the same files in any order give the same id, computed as documented). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "core/sha256.h"
#include "dr.h"

START_TEST(dataset_names)
{
	struct core_error err = {{0}};
	const char *good[] = {"a", "iris", "Fashion-MNIST_v2.1", "0abc", NULL};
	for (size_t i = 0; good[i]; i++)
		ck_assert_msg(dr_check_dataset_name(good[i], &err) == CORE_OK, "%s", good[i]);
	const char *bad[] = {"", "-a", ".a", "_a", "a b", "a/b", "é", "a\n", NULL};
	for (size_t i = 0; bad[i]; i++)
		ck_assert_msg(dr_check_dataset_name(bad[i], &err) == CORE_EINVAL, "%s", bad[i]);
	char n[130];
	memset(n, 'a', 128);
	n[128] = '\0';
	ck_assert_int_eq(dr_check_dataset_name(n, &err), CORE_OK);
	n[128] = 'a';
	n[129] = '\0';
	ck_assert_int_eq(dr_check_dataset_name(n, &err), CORE_EINVAL);
	ck_assert_int_eq(dr_check_dataset_name(NULL, &err), CORE_EINVAL);
}
END_TEST

START_TEST(tags_and_max_results)
{
	struct core_error err = {{0}};
	json_t *t = json_pack("{s:s}", "k", "v");
	ck_assert_int_eq(dr_check_tags(t, &err), CORE_OK);
	json_object_set_new(t, "n", json_integer(1));
	ck_assert_int_eq(dr_check_tags(t, &err), CORE_EINVAL);
	json_decref(t);
	long v = 0;
	ck_assert_int_eq(dr_check_max_results(NULL, 100, 1000, &v, &err), CORE_OK);
	ck_assert_int_eq(v, 100);
	ck_assert_int_eq(dr_check_max_results("1000", 100, 1000, &v, &err), CORE_OK);
	ck_assert_int_eq(v, 1000);
	ck_assert_int_eq(dr_check_max_results("0", 100, 1000, &v, &err), CORE_EINVAL);
	ck_assert_int_eq(dr_check_max_results("1001", 100, 1000, &v, &err), CORE_EINVAL);
	ck_assert_int_eq(dr_check_max_results("1x", 100, 1000, &v, &err), CORE_EINVAL);
}
END_TEST

START_TEST(page_tokens_round_trip)
{
	struct core_error err = {{0}};
	char *t = dr_token_from_name("p-a.b_c");
	char back[64];
	ck_assert_int_eq(dr_token_to_name(t, back, sizeof back, &err), CORE_OK);
	ck_assert_str_eq(back, "p-a.b_c");
	free(t);
	ck_assert_int_eq(dr_token_to_name("zz", back, sizeof back, &err), CORE_EINVAL);
	ck_assert_int_eq(dr_token_to_name("6", back, sizeof back, &err), CORE_EINVAL);
	ck_assert_int_eq(dr_token_to_name("00", back, sizeof back, &err), CORE_EINVAL);
	int64_t n = 0;
	ck_assert_int_eq(dr_token_to_number("42", &n, &err), CORE_OK);
	ck_assert_int_eq(n, 42);
	ck_assert_int_eq(dr_token_to_number("0", &n, &err), CORE_EINVAL);
	ck_assert_int_eq(dr_token_to_number("x", &n, &err), CORE_EINVAL);
}
END_TEST

START_TEST(version_references)
{
	struct core_error err = {{0}};
	struct dr_ref r;
	ck_assert_int_eq(dr_ref_parse("latest", &r, &err), CORE_OK);
	ck_assert_int_eq(r.kind, DR_REF_LATEST);
	ck_assert_int_eq(dr_ref_parse("12", &r, &err), CORE_OK);
	ck_assert_int_eq(r.kind, DR_REF_NUMBER);
	ck_assert_int_eq(r.number, 12);
	ck_assert_int_eq(dr_ref_parse("ABCDEF01", &r, &err), CORE_OK);
	ck_assert_int_eq(r.kind, DR_REF_PREFIX);
	ck_assert_str_eq(r.hex, "abcdef01");
	ck_assert_int_eq(dr_ref_parse("12345678", &r, &err), CORE_OK); /* a prefix, a number as fallback */
	ck_assert_int_eq(r.kind, DR_REF_PREFIX);
	ck_assert_int_eq(r.number, 12345678);
	char id[65];
	memset(id, 'e', 64);
	id[64] = '\0';
	ck_assert_int_eq(dr_ref_parse(id, &r, &err), CORE_OK);
	ck_assert_int_eq(r.kind, DR_REF_ID);
	const char *bad[] = {"", "0", "abc", "abcdefg1", "-1", "latest1", NULL};
	for (size_t i = 0; bad[i]; i++)
		ck_assert_msg(dr_ref_parse(bad[i], &r, &err) == CORE_EINVAL, "%s", bad[i]);
}
END_TEST

START_TEST(manifest_id_is_canonical)
{
	struct core_error err = {{0}};
	struct dr_manifest_file a[2], b[2];
	const char *paths[] = {"b.csv", "a.csv"};
	for (int i = 0; i < 2; i++) {
		a[i].path = strdup(paths[i]);
		b[1 - i].path = strdup(paths[i]);
		memset(a[i].sha256, '0' + i, 64);
		a[i].sha256[64] = '\0';
		memcpy(b[1 - i].sha256, a[i].sha256, 65);
		a[i].size = b[1 - i].size = (uint64_t)(10 + i);
	}
	ck_assert_int_eq(dr_manifest_sort(a, 2, &err), CORE_OK);
	ck_assert_int_eq(dr_manifest_sort(b, 2, &err), CORE_OK);
	char ida[65], idb[65], want[65];
	uint64_t bytes = 0;
	dr_manifest_id(a, 2, ida, &bytes);
	dr_manifest_id(b, 2, idb, NULL);
	ck_assert_str_eq(ida, idb);
	ck_assert_uint_eq(bytes, 21);
	char text[512];
	snprintf(text, sizeof text, "%s 11 a.csv\n%s 10 b.csv\n", a[0].sha256, a[1].sha256);
	ck_assert_int_eq(core_sha256_hex(text, strlen(text), want), CORE_OK);
	ck_assert_str_eq(ida, want);
	for (int i = 0; i < 2; i++) {
		free(a[i].path);
		free(b[i].path);
	}
}
END_TEST

static Suite *pure_suite(void)
{
	Suite *s = suite_create("data-registry-frame-pure");
	TCase *tc = tcase_create("pure");
	tcase_add_test(tc, dataset_names);
	tcase_add_test(tc, tags_and_max_results);
	tcase_add_test(tc, page_tokens_round_trip);
	tcase_add_test(tc, version_references);
	tcase_add_test(tc, manifest_id_is_canonical);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pure_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
