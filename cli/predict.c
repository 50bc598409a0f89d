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
#define CLI_PREDICT_MAX_ANSWER    (256u << 20)

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

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct core_buf *b = arg;
	if (b->len + size * n > CLI_PREDICT_MAX_ANSWER || core_buf_append(b, data, size * n) != CORE_OK)
		return 0;
	return size * n;
}

/* POSTs body as ct to c->base + path; *out the parsed JSON answer (2xx). Errors carry
 * the server's message in either of its shapes: {"error": ...} (images, OIP) or
 * {"error_code", "message"} (MLflow). */
static enum core_status post(CURL *h, const struct cli_conn *c, const char *path, const char *ct,
			     const struct core_buf *body, json_t **out, struct core_error *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	char *url = core_xasprintf("%s%s", c->base, path);
	char *cth = core_xasprintf("Content-Type: %s", ct);
	struct curl_slist *hdrs = NULL;
	struct core_buf resp;
	enum core_status rc = CORE_OK;
	core_buf_init(&resp, CLI_PREDICT_MAX_ANSWER);
	*out = NULL;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "lathe-cli");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (c->auth[0])
		hdrs = curl_slist_append(hdrs, c->auth);
	hdrs = curl_slist_append(hdrs, cth);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data ? body->data : "");
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	if (cc != CURLE_OK) {
		rc = core_fail(err, CORE_EIO, "cannot reach %s: %s", c->base,
			       errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	json_t *j = resp.len ? json_loadb(resp.data, resp.len, 0, NULL) : NULL;
	if (status < 200 || status > 299) {
		const char *msg = json_string_value(json_object_get(j, "error"));
		if (!msg)
			msg = json_string_value(json_object_get(j, "message"));
		if (msg)
			rc = core_fail(err, status == 404 ? CORE_ENOENT : CORE_EINVAL,
				       "the server answered %ld: \"%s\"", status, msg);
		else
			rc = core_fail(err, CORE_EINVAL, "the server answered %ld", status);
		json_decref(j);
		goto out;
	}
	if (!j) {
		rc = core_fail(err, CORE_EINVAL, "the answer to POST %s is not JSON", path);
		goto out;
	}
	*out = j;
out:
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	core_buf_free(&resp);
	free(url);
	free(cth);
	return rc;
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
	enum core_status st = post(h, c, path, types[k], &b, &answer, &err);
	free(path);
	free(m);
	if (st != CORE_OK)
		goto out;
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
