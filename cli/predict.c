/* `lathe predict MODEL FILE... [--json] [--url URL]`: predictions from the inference API.
 *   an image (PNG or JPEG, recognised by its first bytes) -> POST /v1/models/{m}/predict
 *       with its bytes as image/png or image/jpeg; one line: FILE, label, probability
 *   a .csv   -> POST /v2/models/{m}/invocations as text/csv (MLflow's scoring protocol);
 *   a .json  -> the same, sent as it is (dataframe_split, dataframe_records, instances
 *       or inputs); one line per row: FILE:ROW (from 0), the prediction, and "-" where
 *       the protocol gives no probability
 * --json prints each answer as the server gave it, one per line. The base URL is --url,
 * else INFERENCE_URL, else LATHE_URL, else http://127.0.0.1:8080. Lines are tab-
 * separated, in the order of the files. The first failure stops the command (exit 1)
 * with the server's message; usage errors exit 2. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli.h"
#include "core/alloc.h"
#include "core/buf.h"

#define CLI_INFERENCE_DEFAULT_URL "http://127.0.0.1:8080"
#define CLI_PREDICT_MAX_FILE      (1ull << 30)

static const char predict_usage[] =
	"usage: lathe predict MODEL FILE... [--json] [--url URL]\n"
	"\n"
	"  Sends each FILE to the inference API and prints one line per prediction:\n"
	"    an image (PNG or JPEG)  FILE  LABEL  PROBABILITY      (POST /v1/models/MODEL/predict)\n"
	"    a .csv or .json         FILE:ROW  PREDICTION  -       (POST /v2/models/MODEL/invocations,\n"
	"                            CSV as text/csv, JSON as it is: dataframe_split,\n"
	"                            dataframe_records, instances or inputs)\n"
	"  --json      print the server's answers as they are, one per line\n"
	"  --url URL   the inference API (default: INFERENCE_URL, LATHE_URL, " CLI_INFERENCE_DEFAULT_URL ")\n"
	"\n"
	"Environment: INFERENCE_URL or LATHE_URL, LATHE_TOKEN (sent as a bearer token).\n"
	"Exit status: 0 ok, 1 failure, 2 usage.\n";

enum kind { K_PNG, K_JPEG, K_CSV, K_JSON };

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static enum core_status read_file(const char *path, struct core_buf *out, struct core_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return core_fail(err, CORE_EIO, "cannot open %s", path);
	char chunk[65536];
	size_t n;
	enum core_status rc = CORE_OK;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (out->len + n > CLI_PREDICT_MAX_FILE) {
			rc = core_fail(err, CORE_ELIMIT, "%s is over %llu bytes", path,
				       (unsigned long long)CLI_PREDICT_MAX_FILE);
			break;
		}
		if (core_buf_append(out, chunk, n) != CORE_OK) {
			rc = core_fail(err, CORE_ENOMEM, "no memory to read %s", path);
			break;
		}
	}
	if (rc == CORE_OK && ferror(f))
		rc = core_fail(err, CORE_EIO, "cannot read %s", path);
	fclose(f);
	return rc;
}

/* What a file is: an image by its first bytes (whatever its name), else by extension. */
static enum core_status kind_of(const char *path, const struct core_buf *b, enum kind *k, struct core_error *err)
{
	const unsigned char *d = (const unsigned char *)b->data;
	if (b->len >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
		*k = K_PNG;
	else if (b->len >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
		*k = K_JPEG;
	else if (ends_with(path, ".csv"))
		*k = K_CSV;
	else if (ends_with(path, ".json"))
		*k = K_JSON;
	else
		return core_fail(err, CORE_EINVAL, "%s is neither a PNG or JPEG image nor a .csv or .json file", path);
	return CORE_OK;
}

/* One prediction of invocations' answer as text: a class name, a number, or a list. */
static void print_value(const json_t *v)
{
	if (json_is_string(v)) {
		fputs(json_string_value(v), stdout);
	} else if (json_is_number(v)) {
		printf("%.6g", json_number_value(v));
	} else {
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		fputs(t ? t : "null", stdout);
		free(t);
	}
}

static void print_answer(const char *file, enum kind k, const json_t *a)
{
	if (k == K_PNG || k == K_JPEG) {
		const char *label = json_string_value(json_object_get(a, "label"));
		if (label) {
			json_t *p = json_object_get(json_object_get(a, "probabilities"), label);
			printf("%s\t%s\t%.6f\n", file, label, json_number_value(p));
		} else { /* a regressor: its values */
			printf("%s\t", file);
			print_value(json_object_get(a, "predictions"));
			fputs("\t-\n", stdout);
		}
		return;
	}
	const json_t *preds = json_object_get(a, "predictions");
	size_t i;
	const json_t *v;
	json_array_foreach(preds, i, v)
	{
		printf("%s:%zu\t", file, i);
		print_value(v);
		fputs("\t-\n", stdout);
	}
}

static int predict_one(CURL *h, const struct cli_conn *c, const char *model, const char *file, bool raw_json)
{
	struct core_error err = {0};
	struct core_buf b;
	core_buf_init(&b, CLI_PREDICT_MAX_FILE);
	json_t *answer = NULL;
	enum kind k = K_PNG;
	int rc = CLI_EXIT_FAIL;
	if (read_file(file, &b, &err) != CORE_OK || kind_of(file, &b, &k, &err) != CORE_OK)
		goto out;
	char *m = cli_http_escape(model);
	char *path =
		core_xasprintf(k == K_PNG || k == K_JPEG ? "/v1/models/%s/predict" : "/v2/models/%s/invocations", m);
	static const char *const types[] = {"image/png", "image/jpeg", "text/csv", "application/json"};
	long status = 0;
	enum core_status st = cli_http_send(h, c, "POST", path, types[k], b.data, b.len, &status, &answer, &err);
	free(path);
	free(m);
	if (st != CORE_OK)
		goto out;
	if (!answer) {
		core_fail(&err, CORE_EINVAL, "the server's answer was empty");
		goto out;
	}
	if (raw_json) {
		char *t = json_dumps(answer, JSON_COMPACT);
		puts(t ? t : "null");
		free(t);
	} else {
		print_answer(file, k, answer);
	}
	rc = CLI_EXIT_OK;
out:
	if (rc != CLI_EXIT_OK)
		cli_errorf("%s: %s", file, err.message);
	json_decref(answer);
	core_buf_free(&b);
	return rc;
}

int cli_predict_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"url", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool raw_json = false;
	const char *url = NULL;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "hju:", opts, NULL)) != -1) {
		if (o == 'j') {
			raw_json = true;
		} else if (o == 'u') {
			url = optarg;
		} else if (o == 'h') {
			fputs(predict_usage, stdout);
			return CLI_EXIT_OK;
		} else {
			fputs(predict_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind < 2) {
		cli_errorf("predict needs a model and at least one file");
		fputs(predict_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	struct cli_conn c;
	struct core_error err = {0};
	if (url) {
		/* --url wins over the environment: pass it as the default with no variable */
		if (setenv("LATHE_PREDICT_URL", url, 1) != 0 ||
		    cli_conn_init(&c, "LATHE_PREDICT_URL", CLI_INFERENCE_DEFAULT_URL, &err) != CORE_OK) {
			cli_errorf("--url: %s", err.message);
			return CLI_EXIT_USAGE;
		}
	} else if (cli_conn_init(&c, "INFERENCE_URL", CLI_INFERENCE_DEFAULT_URL, &err) != CORE_OK) {
		cli_errorf("%s", err.message);
		return CLI_EXIT_USAGE;
	}
	const char *model = argv[optind];
	CURL *h = cli_http_handle();
	if (!h) {
		cli_errorf("curl cannot make a handle");
		return CLI_EXIT_FAIL;
	}
	int rc = CLI_EXIT_OK;
	for (int i = optind + 1; i < argc && rc == CLI_EXIT_OK; i++)
		rc = predict_one(h, &c, model, argv[i], raw_json);
	curl_easy_cleanup(h);
	return rc;
}
