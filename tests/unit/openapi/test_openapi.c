/* Checks of the OpenAPI documents in proto/openapi/ as files, before any daemon serves
 * them at GET /openapi.json: each is JSON (hence YAML) without duplicate members, says
 * openapi 3.0.3, and stands alone: every "$ref" is a local JSON pointer ("#/...") that
 * resolves inside the same file. The routes every daemon serves and the Status and
 * Error schemas live in common.yaml and are copied into each service's document; the
 * copies must equal the source. When Python's openapi-spec-validator is installed
 * (it is not packaged in Debian 12), every document also goes through it. */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

static char *doc_path(const char *file)
{
	char *p = NULL;
	ck_assert_int_gt(asprintf(&p, "%s/proto/openapi/%s", th_env("LATHE_ROOT"), file), 0);
	return p;
}

static json_t *load(const char *file)
{
	char *path = doc_path(file);
	json_error_t jerr;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(doc != NULL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
	free(path);
	return doc;
}

/* Resolves a local JSON pointer ("#/a/b~1c") in doc (RFC 6901); NULL when it does not. */
static json_t *resolve(json_t *doc, const char *ref)
{
	if (strncmp(ref, "#/", 2) != 0)
		return NULL;
	json_t *at = doc;
	const char *p = ref + 2;
	while (at && *p) {
		char token[256];
		size_t n = 0;
		for (; *p && *p != '/'; p++) {
			char c = *p;
			if (c == '~') {
				c = p[1] == '0' ? '~' : p[1] == '1' ? '/' : 0;
				if (!c)
					return NULL;
				p++;
			}
			if (n + 1 >= sizeof token)
				return NULL;
			token[n++] = c;
		}
		token[n] = '\0';
		if (*p == '/')
			p++;
		if (json_is_object(at)) {
			at = json_object_get(at, token);
		} else if (json_is_array(at)) {
			char *end;
			long i = strtol(token, &end, 10);
			at = (*token && !*end && i >= 0) ? json_array_get(at, (size_t)i) : NULL;
		} else {
			at = NULL;
		}
	}
	return at;
}

/* Walks v, checking every "$ref" member; returns how many it saw. */
static size_t check_refs(const char *file, json_t *doc, json_t *v)
{
	size_t n = 0;
	if (json_is_object(v)) {
		const char *key;
		json_t *member;
		json_object_foreach(v, key, member)
		{
			if (strcmp(key, "$ref") == 0) {
				ck_assert_msg(json_is_string(member), "%s: a $ref that is not a string", file);
				const char *ref = json_string_value(member);
				ck_assert_msg(resolve(doc, ref) != NULL, "%s: $ref %s does not resolve within the file",
					      file, ref);
				n++;
			} else {
				n += check_refs(file, doc, member);
			}
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) n += check_refs(file, doc, item);
	}
	return n;
}

/* The names of the .yaml files in proto/openapi; the caller frees. */
static char **documents(size_t *n_out)
{
	char *dir_path = doc_path("");
	DIR *dir = opendir(dir_path);
	ck_assert_msg(dir != NULL, "cannot open %s", dir_path);
	free(dir_path);
	char **names = calloc(64, sizeof *names);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0 && n < 63)
			names[n++] = strdup(e->d_name);
	}
	closedir(dir);
	*n_out = n;
	return names;
}

START_TEST(every_ref_resolves_within_its_file)
{
	size_t n = 0;
	char **names = documents(&n);
	ck_assert_uint_ge(n, 3); /* common, experiment-tracker, model-registry */
	for (size_t i = 0; i < n; i++) {
		json_t *doc = load(names[i]);
		ck_assert_msg(json_is_object(doc), "%s is not a JSON object", names[i]);
		ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
		ck_assert_msg(json_is_object(json_object_get(doc, "paths")), "%s: no paths", names[i]);
		ck_assert_msg(json_is_string(json_object_get(json_object_get(doc, "info"), "title")), "%s: no title",
			      names[i]);
		size_t refs = check_refs(names[i], doc, doc);
		ck_assert_msg(refs > 0, "%s: no $ref at all (is the walk broken?)", names[i]);
		json_decref(doc);
		free(names[i]);
	}
	free(names);
}
END_TEST

START_TEST(a_dangling_ref_is_caught)
{
	json_t *doc = json_loads("{\"components\":{\"schemas\":{\"A/B\":{\"type\":\"string\"}}},"
				 "\"x\":[{\"$ref\":\"#/components/schemas/A~1B\"}]}",
				 0, NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_uint_eq(check_refs("inline", doc, doc), 1);
	ck_assert_ptr_null(resolve(doc, "#/components/schemas/Error"));
	ck_assert_ptr_null(resolve(doc, "common.yaml#/components/schemas/A~1B"));
	ck_assert_ptr_nonnull(resolve(doc, "#/x/0"));
	ck_assert_ptr_null(resolve(doc, "#/x/1"));
	json_decref(doc);
}
END_TEST

static const char *const services[] = {"experiment-tracker", "model-registry", "data-registry", "trainer",
				       "inference-api"};

START_TEST(service_documents_carry_common_verbatim)
{
	json_t *common = load("common.yaml");
	char file[64];
	snprintf(file, sizeof file, "%s.yaml", services[_i]);
	json_t *doc = load(file);
	const char *key;
	json_t *item;
	json_object_foreach(json_object_get(common, "paths"), key, item)
	{
		json_t *copy = json_object_get(json_object_get(doc, "paths"), key);
		ck_assert_msg(copy != NULL, "%s lacks the path %s of common.yaml", file, key);
		ck_assert_msg(json_equal(copy, item), "%s: path %s differs from common.yaml's", file, key);
	}
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	json_object_foreach(json_object_get(json_object_get(common, "components"), "schemas"), key, item)
	{
		json_t *copy = json_object_get(schemas, key);
		ck_assert_msg(copy != NULL, "%s lacks the schema %s of common.yaml", file, key);
		ck_assert_msg(json_equal(copy, item), "%s: schema %s differs from common.yaml's", file, key);
	}
	ck_assert_ptr_nonnull(json_object_get(json_object_get(doc, "paths"), "/openapi.json"));
	json_decref(doc);
	json_decref(common);
}
END_TEST

/* The outside opinion, where it is installed. */
START_TEST(openapi_spec_validator_accepts_them)
{
	if (system("python3 -c 'import openapi_spec_validator' 2>/dev/null") != 0) {
		fprintf(stderr, "test_openapi: python3 openapi_spec_validator not installed; checked $refs only\n");
		return;
	}
	/* one interpreter for all of them: importing the validator is the slow part */
	char *dir = doc_path("");
	char *cmd = NULL;
	ck_assert_int_gt(asprintf(&cmd,
				  "python3 -c 'import glob, json, sys; from openapi_spec_validator import validate\n"
				  "for f in sorted(glob.glob(sys.argv[1] + \"*.yaml\")):\n"
				  "    print(f); validate(json.load(open(f)))' '%s'",
				  dir),
			 0);
	ck_assert_msg(system(cmd) == 0, "openapi-spec-validator rejects a document of %s", dir);
	free(cmd);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("openapi");
	TCase *tc = tcase_create("documents");
	tcase_add_test(tc, every_ref_resolves_within_its_file);
	tcase_add_test(tc, a_dangling_ref_is_caught);
	tcase_add_loop_test(tc, service_documents_carry_common_verbatim, 0,
			    (int)(sizeof services / sizeof services[0]));
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, openapi_spec_validator_accepts_them);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
