/* Unit tests of manifest_scan.c, the one-pass reader of a JSON commit body that
 * replaced jansson's parse tree on POST .../versions: what it reads is checked against
 * what jansson reads from the same text (files, options, the version id of
 * dr_manifest_id over jansson's sorted list), its syntax verdicts against jansson's
 * (json_loadb with JSON_REJECT_DUPLICATES, as the handler used it), and the shape
 * errors it keeps for the handler (first bad entry, its index and message). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "dr.h"

static const char SHA_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char SHA_B[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* Scans a copy of text; the copy is kept in *copy for the records. */
static enum core_status scan(const char *text, struct dr_scan *s, char **copy, struct core_error *err)
{
	*copy = core_xstrdup(text);
	return dr_scan_body(*copy, strlen(text), s, err);
}

/* The files of a jansson tree, sorted, as the tree version built them. */
static size_t tree_files(const char *text, struct dr_manifest_file **out)
{
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	ck_assert_ptr_nonnull(j);
	json_t *files = json_object_get(j, "files");
	size_t n = json_array_size(files);
	*out = core_xcalloc(n ? n : 1, sizeof **out);
	for (size_t i = 0; i < n; i++) {
		json_t *f = json_array_get(files, i);
		(*out)[i].path = core_xstrdup(json_string_value(json_object_get(f, "path")));
		snprintf((*out)[i].sha256, 65, "%s", json_string_value(json_object_get(f, "sha256")));
		(*out)[i].size = (uint64_t)json_integer_value(json_object_get(f, "size"));
	}
	struct core_error err;
	ck_assert_int_eq(dr_manifest_sort(*out, n, &err), CORE_OK);
	json_decref(j);
	return n;
}

/* Scans text and checks files, id and bytes against jansson's reading. */
static void same_as_tree(const char *text)
{
	struct dr_scan s;
	struct core_error err = {{0}};
	char *copy;
	ck_assert_msg(scan(text, &s, &copy, &err) == CORE_OK, "%s: %s", text, err.message);
	ck_assert(s.files_array && !s.bad);
	char id[65];
	uint64_t bytes;
	ck_assert_int_eq(dr_scan_finish(&s, id, &bytes, &err), CORE_OK);
	struct dr_manifest_file *want;
	size_t n = tree_files(text, &want);
	ck_assert_uint_eq(s.n, n);
	struct dr_manifest_file got[3];
	for (size_t at = 0; at < n;) {
		size_t m = dr_scan_batch(&s, at, got, 3);
		ck_assert_uint_gt(m, 0);
		for (size_t k = 0; k < m; k++) {
			ck_assert_str_eq(got[k].path, want[at + k].path);
			ck_assert_str_eq(got[k].sha256, want[at + k].sha256);
			ck_assert_uint_eq(got[k].size, want[at + k].size);
		}
		at += m;
	}
	char want_id[65];
	uint64_t want_bytes;
	dr_manifest_id(want, n, want_id, &want_bytes);
	ck_assert_str_eq(id, want_id);
	ck_assert_uint_eq(bytes, want_bytes);
	dr_manifest_free(want, n);
	dr_scan_free(&s);
	free(copy);
}

START_TEST(reads_what_jansson_reads)
{
	char *t = core_xasprintf(
		"{\"message\":\"m\\u00e9 \\ud83d\\ude00\", \"files\" : [\n"
		"  {\"size\": 3, \"sha256\": \"%s\", \"path\": \"b/\\u00e9.png\", \"extra\": [1, {\"x\": null}]},\n"
		"  {\"path\":\"a\\/1.png\",\"sha256\":\"%s\",\"size\":0},\n"
		"  {\"path\":\"a\\\"q.png\",\"sha256\":\"%s\",\"size\":9007199254740993}\n"
		"], \"format\": null, \"other\": {\"deep\": [[[]]]}}",
		SHA_B, SHA_A, SHA_B);
	same_as_tree(t);
	struct dr_scan s;
	struct core_error err;
	char *copy;
	ck_assert_int_eq(scan(t, &s, &copy, &err), CORE_OK);
	ck_assert_str_eq(s.opt[0], "m\xc3\xa9 \xf0\x9f\x98\x80");
	ck_assert_ptr_null(s.opt[1]);
	ck_assert(!s.opt_bad[1]);
	dr_scan_free(&s);
	free(copy);
	free(t);

	/* many files, in reverse order: the records and the sort hold up */
	size_t n = 5000, cap = n * 140 + 64, len = 0;
	char *big = core_xmalloc(cap);
	len += (size_t)snprintf(big + len, cap - len, "{\"files\":[");
	for (size_t i = n; i-- > 0;)
		len += (size_t)snprintf(big + len, cap - len,
					"%s{\"path\":\"d%zu/f-%06zu.csv\",\"sha256\":\"%s\",\"size\":%zu}",
					i == n - 1 ? "" : ",", i % 7, i, i % 2 ? SHA_A : SHA_B, i);
	snprintf(big + len, cap - len, "]}");
	same_as_tree(big);
	free(big);
}
END_TEST

START_TEST(syntax_errors_are_jansson_errors)
{
	const char *bad[] = {
		"",
		"{",
		"{\"files\":",
		"{\"files\":[}",
		"{\"files\":[{\"path\":\"a\"]}",
		"{\"files\":[],}",
		"{\"files\":[] x",
		"{\"files\":[], \"files\":[]}",
		"{\"message\":\"a\",\"message\":\"b\"}",
		"{\"files\":[{\"path\":\"a\",\"path\":\"b\"}]}",
		"{\"message\":\"a\\u0000b\"}",
		"{\"message\":\"\\ud800\"}",
		"{\"message\":\"\\udc00x\"}",
		"{\"message\":\"\\x\"}",
		"{\"message\":\"tab\there\"}",
		"{\"message\":\"\xc3\x28\"}",
		"{\"message\":\"\xed\xa0\x80\"}",
		"{\"a\":01}",
		"{\"a\":1.}",
		"{\"a\":-}",
		"{\"a\":1e}",
		"{\"a\":tru}",
		"{\"a\":99999999999999999999}",
		"{\"files\":[{\"path\":\"a\",\"sha256\":\"b\",\"size\":9223372036854775808}]}",
		"5",
		"\"s\"",
		"{'a':1}",
		NULL,
	};
	for (size_t i = 0; bad[i]; i++) {
		ck_assert_msg(json_loads(bad[i], JSON_REJECT_DUPLICATES, NULL) == NULL, "jansson takes %s", bad[i]);
		struct dr_scan s;
		struct core_error err = {{0}};
		char *copy;
		ck_assert_msg(scan(bad[i], &s, &copy, &err) == CORE_EINVAL, "scan takes %s", bad[i]);
		ck_assert_msg(strncmp(err.message, "Malformed JSON: ", 16) == 0, "%s", err.message);
		dr_scan_free(&s);
		free(copy);
	}
	/* nesting: 2048 levels are too deep for both */
	size_t deep = 5000;
	char *d = core_xmalloc(2 * deep + 16);
	size_t len = (size_t)snprintf(d, 16, "{\"x\":");
	for (size_t i = 0; i < deep; i++)
		d[len++] = '[';
	for (size_t i = 0; i < deep; i++)
		d[len++] = ']';
	d[len++] = '}';
	d[len] = '\0';
	struct dr_scan s;
	struct core_error err;
	char *copy;
	ck_assert_int_eq(scan(d, &s, &copy, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "depth"));
	free(copy);
	free(d);
}
END_TEST

START_TEST(shape_errors_are_kept_for_the_handler)
{
	struct {
		const char *text;
		size_t index;
		const char *msg;
	} cases[] = {
		{"{\"files\":[{\"path\":\"a.csv\"}]}", 0, "Invalid files[0]"},
		{"{\"files\":[{\"path\":\"a.csv\",\"sha256\":\"" /**/ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaa"
		 "\",\"size\":1}, 7]}",
		 1, "Invalid files[1]"},
		{"{\"files\":[{\"path\":\"a.csv\",\"sha256\":\"x\",\"size\":1.5}]}", 0, "Invalid files[0]"},
		{"{\"files\":[{\"path\":\"a.csv\",\"sha256\":\"x\",\"size\":-1}]}", 0, "Invalid files[0]"},
		{"{\"files\":[{\"path\":1,\"sha256\":\"x\",\"size\":1}]}", 0, "Invalid files[0]"},
		{"{\"files\":[{\"path\":\"../a.csv\",\"sha256\":\"x\",\"size\":1}]}", 0, "path '../a.csv'"},
		{"{\"files\":[{\"path\":\"a.csv\",\"sha256\":\"ABC\",\"size\":1}]}", 0, "Invalid sha256 of 'a.csv'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct dr_scan s;
		struct core_error err = {{0}};
		char *copy;
		ck_assert_int_eq(scan(cases[i].text, &s, &copy, &err), CORE_OK);
		ck_assert_msg(s.bad, "%s", cases[i].text);
		ck_assert_uint_eq(s.bad_index, cases[i].index);
		ck_assert_msg(strstr(s.bad_err.message, cases[i].msg), "%s: %s", cases[i].text, s.bad_err.message);
		dr_scan_free(&s);
		free(copy);
	}
	struct dr_scan s;
	struct core_error err = {{0}};
	char *copy;
	ck_assert_int_eq(scan("[1]", &s, &copy, &err), CORE_OK);
	ck_assert(s.not_object);
	free(copy);
	ck_assert_int_eq(scan("{\"files\":{},\"format\":3}", &s, &copy, &err), CORE_OK);
	ck_assert(!s.files_array && s.files_present && s.opt_bad[1]);
	free(copy);
	char *dup = core_xasprintf("{\"files\":[{\"path\":\"a.csv\",\"sha256\":\"%s\",\"size\":1},"
				   "{\"size\":2,\"path\":\"a.csv\",\"sha256\":\"%s\"}]}",
				   SHA_A, SHA_B);
	ck_assert_int_eq(scan(dup, &s, &copy, &err), CORE_OK);
	char id[65];
	uint64_t bytes;
	ck_assert_int_eq(dr_scan_finish(&s, id, &bytes, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "duplicate path 'a.csv'");
	dr_scan_free(&s);
	free(copy);
	free(dup);
}
END_TEST

static Suite *scan_suite(void)
{
	Suite *s = suite_create("manifest_scan");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, reads_what_jansson_reads);
	tcase_add_test(tc, syntax_errors_are_jansson_errors);
	tcase_add_test(tc, shape_errors_are_kept_for_the_handler);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scan_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
