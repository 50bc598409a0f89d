/* `lathe predict` (cli/predict.c) against a real inference API, tracker and registry
 * (harness_infer.h). The model is the brightness-keyed logistic regression of
 * test_infer_images (4x4 gray, "c1" when the mean is over half): a dark PNG and a bright
 * JPEG print FILE, label and probability; a CSV and a JSON (instances) of a dark and a
 * bright row print FILE:ROW and the label per row; --json prints the server's answers;
 * --url wins over the environment; an unknown model and a file of no known kind fail
 * with exit 1 and the reason; a missing argument is a usage error (exit 2). */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness_cli.h"
#include "harness_img.h"
#include "harness_infer.h"

#define SIZE 4

static struct th_infer_stack s;

static char *tmp(const char *name)
{
	return th_fmt("%s/cli-predict-%d-%s", th_env("LATHE_TEST_TMP"), (int)getpid(), name);
}

static char *write_tmp(const char *name, const void *data, size_t len)
{
	char *path = tmp(name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

static void brightness_weights(struct ml_package *p)
{
	for (size_t i = 0; i < ml_net_n_params(p->net); i++) {
		struct ml_param q;
		ml_net_param(p->net, i, &q);
		if (strstr(q.name, "weight")) {
			for (size_t k = 0; k < q.n; k++) /* [out, in] */
				q.data[k] = k < SIZE * SIZE ? -0.5f : 0.5f;
		} else {
			q.data[0] = 4.0f;
			q.data[1] = -4.0f;
		}
	}
}

/* Whether line (a whole line) is in text. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

START_TEST(images_csv_and_json)
{
	th_infer_start(&s, false, NULL, false);
	struct ml_package p;
	th_infer_classifier(&p, SIZE, 0, 2, 1, 1.0f);
	brightness_weights(&p);
	free(th_infer_publish(&s, "bright", &p, "champion"));
	th_infer_start_api(&s, NULL, true);

	uint8_t dark[SIZE * SIZE], light[12 * 10 * 3];
	for (int i = 0; i < SIZE * SIZE; i++)
		dark[i] = (uint8_t)(10 + (i * 7) % 40);
	for (size_t i = 0; i < sizeof light; i++)
		light[i] = (uint8_t)(215 + (i * 13) % 40);
	size_t plen, jlen;
	void *png = th_img_png(SIZE, SIZE, 1, dark, &plen);
	void *jpg = th_img_jpeg(12, 10, 3, light, 92, &jlen);
	char *fpng = write_tmp("dark.png", png, plen), *fjpg = write_tmp("light.jpg", jpg, jlen);
	/* CSV and JSON: raw pixel rows, a dark one and a bright one */
	char *csv = NULL;
	size_t csv_len = 0;
	FILE *mf = open_memstream(&csv, &csv_len);
	for (int i = 0; i < SIZE * SIZE; i++)
		fprintf(mf, "%s%d", i ? "," : "", i);
	fputc('\n', mf);
	for (int r = 0; r < 2; r++) {
		for (int i = 0; i < SIZE * SIZE; i++)
			fprintf(mf, "%s%d", i ? "," : "", r ? 230 : 20);
		fputc('\n', mf);
	}
	fclose(mf);
	char *fcsv = write_tmp("rows.csv", csv, csv_len);
	free(csv);
	static const char json[] = "{\"instances\": [[20,20,20,20,20,20,20,20,20,20,20,20,20,20,20,20],"
				   "[230,230,230,230,230,230,230,230,230,230,230,230,230,230,230,230]]}";
	char *fjson = write_tmp("rows.json", json, sizeof json - 1);
	char *env = th_fmt("INFERENCE_URL=%s", s.ia->base_url);
	char *args = th_fmt("predict bright %s %s %s %s", fpng, fjpg, fcsv, fjson);

	struct th_run r;
	th_lathe(&r, env, args);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	float raw[SIZE * SIZE], want[2];
	for (int i = 0; i < SIZE * SIZE; i++)
		raw[i] = dark[i];
	th_infer_forward(&p, raw, 1, want);
	char *line = th_fmt("%s\tc0\t%.6f", fpng, want[0]);
	ck_assert_msg(has_line(r.out, line), "no '%s' in:\n%s", line, r.out);
	free(line);
	line = th_fmt("%s\tc1\t", fjpg);
	ck_assert_msg(strstr(r.out, line), "no '%s' in:\n%s", line, r.out);
	free(line);
	const char *rows[4][2] = {{fcsv, "0\tc0\t-"}, {fcsv, "1\tc1\t-"}, {fjson, "0\tc0\t-"}, {fjson, "1\tc1\t-"}};
	for (int i = 0; i < 4; i++) {
		line = th_fmt("%s:%s", rows[i][0], rows[i][1]);
		ck_assert_msg(has_line(r.out, line), "no '%s' in:\n%s", line, r.out);
		free(line);
	}
	int lines = 0;
	for (const char *q = r.out; (q = strchr(q, '\n')); q++)
		lines++;
	ck_assert_int_eq(lines, 6);

	/* --json: the answers as they are; --url wins over INFERENCE_URL */
	char *a2 = th_fmt("predict --json --url %s bright %s %s", s.ia->base_url, fpng, fcsv);
	th_lathe(&r, "INFERENCE_URL=http://127.0.0.1:1", a2);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	char *nl = strchr(r.out, '\n');
	ck_assert_ptr_nonnull(nl);
	json_t *j = json_loadb(r.out, (size_t)(nl - r.out), 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "label")), "c0");
	ck_assert_str_eq(json_string_value(json_object_get(j, "model")), "bright");
	json_decref(j);
	j = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "predictions"), 1)), "c1");
	json_decref(j);
	free(a2);

	/* failures: exit 1 with the reason; usage: exit 2 */
	a2 = th_fmt("predict nosuch %s", fpng);
	th_lathe(&r, env, a2);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "404") && strstr(r.err, "nosuch"), "%s", r.err);
	free(a2);
	char *ftxt = write_tmp("notes.txt", "hello", 5);
	a2 = th_fmt("predict bright %s", ftxt);
	th_lathe(&r, env, a2);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "notes.txt"), "%s", r.err);
	free(a2);
	th_lathe(&r, env, "predict bright");
	ck_assert_int_eq(r.status, 2);

	free(env), free(args), free(png), free(jpg);
	free(fpng), free(fjpg), free(fcsv), free(fjson), free(ftxt);
	ml_package_free(&p);
	th_infer_stop(&s);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *su = suite_create("cli_predict");
	TCase *tc = tcase_create("predict");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, images_csv_and_json);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}
