/* Integration tests of the data registry's one-request uploads: the real daemon over
 * HTTP, bodies made with the system's tar and Python's zipfile. A CSV (named by
 * filename or data.csv), the same CSV again (the same version), a gzipped tar of CSVs
 * in folders, a zip, Fashion-MNIST's t10k IDX pair in a tar (format idx), and what is
 * refused with nothing committed: a ragged CSV, a label column that is not there, a
 * symlink in a tar, an empty body, a body over UPLOAD_MAX_BYTES. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/sha256.h"
#include "harness.h"
#include "harness_data.h"

static struct th_daemon *d;

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot create %s", path);
	fputs(text, f);
	fclose(f);
}

static void run(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* A fresh scratch directory under the run's tmp. */
static char *scratch(const char *tag)
{
	char *dir = th_fmt("%s/upload-%s-%d", th_env("LATHE_TEST_TMP"), tag, (int)getpid());
	char *cmd = th_fmt("rm -rf '%s' && mkdir -p '%s'", dir, dir);
	run(cmd);
	free(cmd);
	return dir;
}

static struct th_response upload(const char *dataset, const char *query, const char *ct, const void *body, size_t len)
{
	char *url = th_fmt("%s/v1/datasets/%s/versions%s", d->base_url, dataset, query ? query : "");
	struct th_response r = th_data_http("POST", url, ct, body, len, NULL, NULL, NULL, 0);
	free(url);
	return r;
}

static json_int_t num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	ck_assert_msg(s != NULL, "no string '%s'", k);
	return s;
}

static void expect_no_dataset(const char *name)
{
	char *p = th_fmt("/v1/datasets/%s", name);
	struct th_response r = th_call(d, "GET", p, NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
	free(p);
}

START_TEST(csv_uploads)
{
	const char *env[] = {"UPLOAD_MAX_BYTES=200000", NULL};
	d = th_daemon_start("data-registry", NULL, env);
	const char *csv = "sepal,petal,label\n5.1,1.4,setosa\n7.0,4.7,versicolor\n";
	struct th_response r =
		upload("iris", "?filename=iris.csv&label_column=label&message=hi", "text/csv", csv, strlen(csv));
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	json_t *v = json_object_get(r.json, "version");
	ck_assert_str_eq(str(v, "format"), "csv");
	ck_assert_str_eq(str(v, "label_column"), "label");
	ck_assert_str_eq(str(v, "message"), "hi");
	ck_assert_int_eq(num(v, "file_count"), 1);
	ck_assert_int_eq(num(v, "bytes"), (json_int_t)strlen(csv));
	/* the id is the canonical manifest's, as for a manifest commit */
	char key[65], id[65];
	ck_assert_int_eq(core_sha256_hex(csv, strlen(csv), key), CORE_OK);
	char *line = th_fmt("%s %zu iris.csv\n", key, strlen(csv));
	ck_assert_int_eq(core_sha256_hex(line, strlen(line), id), CORE_OK);
	ck_assert_str_eq(str(v, "id"), id);
	free(line);
	th_response_free(&r);
	r = th_call(d, "GET", "/v1/datasets/iris/versions/1/files/iris.csv", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, csv);
	th_response_free(&r);
	/* the same body again: the same version */
	r = upload("iris", "?filename=iris.csv", "text/csv; charset=utf-8", csv, strlen(csv));
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(num(json_object_get(r.json, "version"), "number"), 1);
	th_response_free(&r);
	/* default name */
	r = upload("iris", NULL, "text/csv", csv, strlen(csv));
	ck_assert_int_eq(r.status, 201);
	th_response_free(&r);
	r = th_call(d, "GET", "/v1/datasets/iris/versions/2/manifest", NULL);
	ck_assert_str_eq(str(json_array_get(json_object_get(r.json, "files"), 0), "path"), "data.csv");
	th_response_free(&r);

	/* refused, nothing committed */
	const char *ragged = "a,b\n1,2\n3\n";
	r = upload("ragged", NULL, "text/csv", ragged, strlen(ragged));
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "data.csv");
	th_response_free(&r);
	expect_no_dataset("ragged");
	r = upload("nolabel", "?label_column=nope", "text/csv", csv, strlen(csv));
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "nope");
	th_response_free(&r);
	expect_no_dataset("nolabel");
	r = upload("empty", NULL, "text/csv", "", 0);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", NULL);
	th_response_free(&r);
	expect_no_dataset("empty");
	r = upload("badname", "?filename=../x.csv", "text/csv", csv, strlen(csv));
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", NULL);
	th_response_free(&r);
	char *big = malloc(300000);
	memset(big, 'a', 300000);
	r = upload("big", NULL, "text/csv", big, 300000);
	th_expect_error(&r, 413, "REQUEST_TOO_LARGE", "UPLOAD_MAX_BYTES");
	th_response_free(&r);
	free(big);
	expect_no_dataset("big");
	th_daemon_stop(d);
}
END_TEST

START_TEST(archive_uploads)
{
	d = th_daemon_start("data-registry", NULL, NULL);
	char *dir = scratch("tar");
	char *p = th_fmt("%s/src/train", dir);
	char *cmd = th_fmt("mkdir -p '%s' '%s/src/test'", p, dir);
	run(cmd);
	free(cmd);
	free(p);
	p = th_fmt("%s/src/train/part-1.csv", dir);
	write_text(p, "x,y\n1,a\n");
	free(p);
	p = th_fmt("%s/src/test/part-1.csv", dir);
	write_text(p, "x,y\n2,b\n");
	free(p);

	/* a gzipped tar */
	cmd = th_fmt("cd '%s/src' && tar czf ../data.tgz train test", dir);
	run(cmd);
	free(cmd);
	size_t len;
	p = th_fmt("%s/data.tgz", dir);
	char *body = th_data_read_file(p, &len);
	free(p);
	struct th_response r = upload("tarred", "?label_column=y", "application/x-gtar", body, len);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	ck_assert_int_eq(num(json_object_get(r.json, "version"), "file_count"), 2);
	th_response_free(&r);
	free(body);
	r = th_call(d, "GET", "/v1/datasets/tarred/versions/1/files/test/part-1.csv", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "x,y\n2,b\n");
	th_response_free(&r);

	/* the same files as a zip: the same id in another dataset */
	cmd = th_fmt("cd '%s/src' && /usr/bin/python3 -m zipfile -c ../data.zip train test", dir);
	run(cmd);
	free(cmd);
	p = th_fmt("%s/data.zip", dir);
	body = th_data_read_file(p, &len);
	free(p);
	r = upload("zipped", NULL, "application/zip", body, len);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	struct th_response r2 = th_call(d, "GET", "/v1/datasets/tarred/versions/1", NULL);
	ck_assert_str_eq(str(json_object_get(r.json, "version"), "id"), str(json_object_get(r2.json, "version"), "id"));
	th_response_free(&r2);
	th_response_free(&r);
	free(body);

	/* a symlink entry: refused, naming it */
	cmd = th_fmt("cd '%s/src' && ln -s train/part-1.csv link.csv && tar cf ../link.tar train link.csv", dir);
	run(cmd);
	free(cmd);
	p = th_fmt("%s/link.tar", dir);
	body = th_data_read_file(p, &len);
	free(p);
	r = upload("linked", NULL, "application/x-tar", body, len);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "link.csv");
	th_response_free(&r);
	free(body);
	expect_no_dataset("linked");
	free(dir);
	th_daemon_stop(d);
}
END_TEST

START_TEST(fashion_mnist_idx_upload)
{
	d = th_daemon_start("data-registry", NULL, NULL);
	char *dir = scratch("idx");
	char *cmd = th_fmt("cd /usr/share/datasets/fashion-mnist && tar cf '%s/t10k.tar' t10k-images-idx3-ubyte.gz "
			   "t10k-labels-idx1-ubyte.gz",
			   dir);
	run(cmd);
	free(cmd);
	size_t len;
	char *p = th_fmt("%s/t10k.tar", dir);
	char *body = th_data_read_file(p, &len);
	free(p);
	struct th_response r = upload("fashion", "?message=t10k", "application/x-tar", body, len);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	json_t *v = json_object_get(r.json, "version");
	ck_assert_str_eq(str(v, "format"), "idx");
	ck_assert_int_eq(num(v, "file_count"), 2);
	th_response_free(&r);
	free(body);
	/* the file comes back byte-exact */
	size_t orig_len;
	char *orig = th_data_read_file("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", &orig_len);
	r = th_call(d, "GET", "/v1/datasets/fashion/versions/1/files/t10k-labels-idx1-ubyte.gz", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, orig_len);
	ck_assert(memcmp(r.body, orig, orig_len) == 0);
	th_response_free(&r);
	free(orig);
	free(dir);
	th_daemon_stop(d);
}
END_TEST

static Suite *upload_suite(void)
{
	Suite *s = suite_create("data-registry-upload");
	TCase *tc = tcase_create("uploads");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, csv_uploads);
	tcase_add_test(tc, archive_uploads);
	tcase_add_test(tc, fashion_mnist_idx_upload);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	SRunner *sr = srunner_create(upload_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
