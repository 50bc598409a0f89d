/* Unit tests of libs/mlflow's paging (mlflow/token.h): max_results and page tokens against what MLflow 2.12.2's
 * SearchUtils does with the same token (the expected tokens and messages were made
 * with Python's base64 and json, as MLflow makes them). Links libmlflow.a. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "mlflow/token.h"

static void decodes(const char *token, int64_t want)
{
	int64_t off = -1;
	struct core_error err = {{0}};
	ck_assert_msg(mlflow_page_token_decode(token, &off, &err) == CORE_OK, "<%s>: %s", token ? token : "NULL",
		      err.message);
	ck_assert_int_eq(off, want);
}

static void refused(const char *token, const char *message)
{
	int64_t off = -1;
	struct core_error err = {{0}};
	ck_assert_msg(mlflow_page_token_decode(token, &off, &err) == CORE_EINVAL, "<%s> accepted", token);
	ck_assert_msg(strcmp(err.message, message) == 0, "<%s>:\n got  <%s>\n want <%s>", token, err.message, message);
	ck_assert_int_eq(off, 0);
}

START_TEST(tokens_are_mlflow_base64_json_and_round_trip)
{
	char tok[64];
	mlflow_page_token_encode(1000, tok);
	ck_assert_str_eq(tok, "eyJvZmZzZXQiOiAxMDAwfQ=="); /* base64.b64encode(b'{"offset": 1000}') */
	mlflow_page_token_encode(12, tok);
	ck_assert_str_eq(tok, "eyJvZmZzZXQiOiAxMn0=");
	for (int64_t n = 1; n < INT64_MAX / 8; n = n * 7 + 1) { /* every padding length */
		mlflow_page_token_encode(n, tok);
		decodes(tok, n);
	}
	mlflow_page_token_encode(INT64_MAX, tok);
	decodes(tok, INT64_MAX);
	decodes(NULL, 0);
	decodes("", 0);
}
END_TEST

START_TEST(decoding_is_as_lenient_as_python)
{
	decodes("eyJvZm!Zz ZXQiOi\nAxMn0=", 12);       /* characters outside the alphabet skipped */
	decodes("eyJvZmZzZXQiOiAxMn0=junk", 12);       /* input ends at complete padding */
	decodes("eyJvZmZzZXQiOiAiMTIifQ==", 12);       /* {"offset": "12"}: int("12") */
	decodes("eyJvZmZzZXQiOiAiIDcgIn0=", 7);        /* {"offset": " 7 "} */
	decodes("eyJvZmZzZXQiOiAiMV8wMDAifQ==", 1000); /* {"offset": "1_000"} */
	decodes("eyJvZmZzZXQiOiAyLjd9", 2);            /* {"offset": 2.7}: int() truncates */
	decodes("eyJvZmZzZXQiOiB0cnVlfQ==", 1);        /* {"offset": true} */
}
END_TEST

START_TEST(bad_tokens_get_mlflow_messages)
{
	refused("not base64!", "Invalid page token, could not base64-decode"); /* 9 data characters */
	refused("abc", "Invalid page token, could not base64-decode");         /* incorrect padding */
	refused("aGVsbG8=", "Invalid page token, decoded value=b'hello'");
	refused("!!!!", "Invalid page token, decoded value=b''");
	refused("/wB4", "Invalid page token, decoded value=b'\\xff\\x00x'");
	/* offset 0 is falsy in Python: MLflow refuses the token it never makes */
	refused("eyJvZmZzZXQiOiAwfQ==", "Invalid page token, parsed value={'offset': 0}");
	refused("eyJvZmZzZXQiOiAiIn0=", "Invalid page token, parsed value={'offset': ''}");
	refused("eyJvZmZzZXQiOiBudWxsfQ==", "Invalid page token, parsed value={'offset': None}");
	refused("eyJhIjogIml0J3MifQ==", "Invalid page token, parsed value={'a': \"it's\"}");
	refused("WzFd", "Invalid page token, parsed value=[1]");
	/* negative: MLflow hands it to its database; here it is the client's mistake */
	refused("eyJvZmZzZXQiOiAtNX0=", "Invalid page token, parsed value={'offset': -5}");
	refused("eyJvZmZzZXQiOiAiYWJjIn0=", "Invalid page token, not stringable abc");
	refused("eyJvZmZzZXQiOiBbMV19", "Invalid page token, not stringable [1]");
}
END_TEST

START_TEST(max_results_is_checked_with_mlflow_messages)
{
	struct core_error err = {{0}};
	ck_assert_int_eq(mlflow_check_max_results(1, 1000, &err), CORE_OK);
	ck_assert_int_eq(mlflow_check_max_results(1000, 1000, &err), CORE_OK);
	ck_assert_int_eq(mlflow_check_max_results(0, 1000, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "Invalid value for max_results. It must be a positive integer, but got 0");
	ck_assert_int_eq(mlflow_check_max_results(-3, 1000, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "Invalid value for max_results. It must be a positive integer, but got -3");
	ck_assert_int_eq(mlflow_check_max_results(1001, 1000, &err), CORE_EINVAL);
	ck_assert_str_eq(
		err.message,
		"Invalid value for request parameter max_results. It must be at most 1000, but got value 1001");
}
END_TEST

START_TEST(pages_stop_at_their_count_or_their_budget)
{
	struct mlflow_page p;
	/* by count: the limit+1'th row is refused without cutting */
	mlflow_page_init(&p, 2, 0);
	ck_assert_int_eq(mlflow_page_chunk(&p), 3); /* at most limit + 1 */
	ck_assert(mlflow_page_take(&p, 100));
	ck_assert(mlflow_page_take(&p, 100));
	ck_assert(!mlflow_page_take(&p, 1));
	ck_assert(!p.cut);
	ck_assert_int_eq(p.n, 2);

	/* by budget: the first row always goes in, however big */
	mlflow_page_init(&p, 50, 1000);
	ck_assert_int_eq(mlflow_page_chunk(&p), 4);
	ck_assert(mlflow_page_take(&p, 5000));
	ck_assert(!mlflow_page_take(&p, 1));
	ck_assert(p.cut);
	ck_assert_int_eq(p.n, 1);

	mlflow_page_init(&p, 50, 1000);
	ck_assert(mlflow_page_take(&p, 300));
	ck_assert(mlflow_page_take(&p, 300));
	ck_assert_int_eq(mlflow_page_chunk(&p), 2); /* 400 left at 300 a row: 1, and one to see */
	ck_assert(mlflow_page_take(&p, 300));
	ck_assert(!mlflow_page_take(&p, 101)); /* 1001 > 1000 */
	ck_assert(p.cut);
	ck_assert_int_eq(p.n, 3);
	ck_assert_uint_eq(p.bytes, 900);

	/* small rows: big chunks, never past limit + 1 */
	mlflow_page_init(&p, 1000, 4u << 20);
	ck_assert(mlflow_page_take(&p, 10));
	ck_assert_int_eq(mlflow_page_chunk(&p), 256);
	mlflow_page_init(&p, 3, 4u << 20);
	ck_assert(mlflow_page_take(&p, 10));
	ck_assert_int_eq(mlflow_page_chunk(&p), 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mlflow_token");
	TCase *tc = tcase_create("token");
	tcase_add_test(tc, tokens_are_mlflow_base64_json_and_round_trip);
	tcase_add_test(tc, decoding_is_as_lenient_as_python);
	tcase_add_test(tc, bad_tokens_get_mlflow_messages);
	tcase_add_test(tc, max_results_is_checked_with_mlflow_messages);
	tcase_add_test(tc, pages_stop_at_their_count_or_their_budget);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
