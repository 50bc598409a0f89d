/* Step 3 of `lathe demo` and its live traffic (face: demo.h): Fashion-MNIST test images
 * (never trained on) sent to the inference API over OIP v2 JSON (UINT8 tensors of 50
 * images), MLflow's /invocations ({"instances": [...]} of 20) and one PNG upload per
 * image (/v1/models/{m}/predict), the accuracy of each measured from the answers against
 * the labels. The sender is step 5's: one thread sending OIP requests of 4 images, about 100 a
 * second, while the challenger is evaluated and swapped in, counting requests that failed
 * and noting the first answer from the new version. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "demo.h"
#include "img/img.h"

static int class_of(const char *name)
{
	for (int c = 0; name && c < DEMO_CLASSES; c++)
		if (strcmp(name, cli_demo_class_names[c]) == 0)
			return c;
	return -1;
}

enum core_status cli_demo_oip(struct demo *d, CURL *h, size_t first, size_t n, bool invert, const char *id, int *labels,
			      char *version, struct core_error *err)
{
	struct core_buf b;
	uint8_t px[DEMO_PIXELS];
	core_buf_init(&b, (size_t)1 << 28);
	core_buf_printf(&b,
			"{\"id\":\"%s\",\"inputs\":[{\"name\":\"image\",\"datatype\":\"UINT8\",\"shape\":[%zu,1,%d,%d],"
			"\"data\":[",
			id, n, DEMO_SIDE, DEMO_SIDE);
	for (size_t i = 0; i < n; i++) {
		cli_demo_image(d->fm.test_x, (first + i) % d->fm.n_test, invert, px);
		for (size_t k = 0; k < DEMO_PIXELS; k++)
			core_buf_printf(&b, i || k ? ",%u" : "%u", px[k]);
	}
	core_buf_append_str(&b, "]}],\"outputs\":[{\"name\":\"label\"}]}");
	char *path = cli_demo_path("/v2/models/", d->model, "/infer");
	long status = 0;
	json_t *got = NULL;
	enum core_status rc =
		cli_http_send(h, &d->infer, "POST", path, "application/json", b.data, b.len, &status, &got, err);
	free(path);
	core_buf_free(&b);
	if (rc != CORE_OK)
		return rc;
	json_t *data = json_object_get(json_array_get(json_object_get(got, "outputs"), 0), "data");
	if (json_array_size(data) != n)
		rc = core_fail(err, CORE_EINVAL, "OIP answered %zu labels for %zu images", json_array_size(data), n);
	for (size_t i = 0; rc == CORE_OK && labels && i < n; i++)
		labels[i] = class_of(json_string_value(json_array_get(data, i)));
	if (version) {
		const char *v = json_string_value(json_object_get(got, "model_version"));
		snprintf(version, 32, "%s", v ? v : "");
	}
	json_decref(got);
	return rc;
}

static enum core_status invocations(struct demo *d, CURL *h, size_t first, size_t n, int *labels,
				    struct core_error *err)
{
	json_t *rows = json_array();
	uint8_t px[DEMO_PIXELS];
	for (size_t i = 0; i < n; i++) {
		json_t *row = json_array();
		cli_demo_image(d->fm.test_x, first + i, false, px);
		for (size_t k = 0; k < DEMO_PIXELS; k++)
			json_array_append_new(row, json_integer(px[k]));
		json_array_append_new(rows, row);
	}
	json_t *body = json_pack("{s:o}", "instances", rows), *got = NULL;
	char *path = cli_demo_path("/v2/models/", d->model, "/invocations");
	long status = 0;
	enum core_status rc = cli_http_json(h, &d->infer, "POST", path, body, &status, &got, err);
	free(path);
	json_decref(body);
	json_t *p = json_object_get(got, "predictions");
	if (rc == CORE_OK && json_array_size(p) != n)
		rc = core_fail(err, CORE_EINVAL, "/invocations answered %zu predictions for %zu rows",
			       json_array_size(p), n);
	for (size_t i = 0; rc == CORE_OK && i < n; i++)
		labels[i] = class_of(json_string_value(json_array_get(p, i)));
	json_decref(got);
	return rc;
}

static enum core_status upload_png(struct demo *d, CURL *h, size_t i, int *label, struct core_error *err)
{
	uint8_t px[DEMO_PIXELS];
	struct img_image im = {.width = DEMO_SIDE, .height = DEMO_SIDE, .channels = 1, .pixels = px};
	struct core_buf png;
	core_buf_init(&png, 1 << 20);
	cli_demo_image(d->fm.test_x, i, false, px);
	enum core_status rc = img_encode_png(&im, &png, err);
	json_t *got = NULL;
	long status = 0;
	char *path = cli_demo_path("/v1/models/", d->model, "/predict");
	if (rc == CORE_OK)
		rc = cli_http_send(h, &d->infer, "POST", path, "image/png", png.data, png.len, &status, &got, err);
	if (rc == CORE_OK)
		*label = class_of(json_string_value(json_object_get(got, "label")));
	free(path);
	json_decref(got);
	core_buf_free(&png);
	return rc;
}

/* Counts correct answers of n labels from test image first on. */
static size_t correct(const struct demo *d, const int *labels, size_t first, size_t n)
{
	size_t ok = 0;
	for (size_t i = 0; i < n; i++)
		ok += labels[i] == d->fm.test_y[first + i];
	return ok;
}

static void note(struct demo *d, const char *proto, size_t ok, size_t n, double secs)
{
	cli_demo_say(d, "predict", "%-12s %4zu test images, accuracy %.3f (%.0f images/s)", proto, n, (double)ok / n,
		     n / (secs > 0 ? secs : 1e-9));
	json_object_set_new(cli_demo_step(d, "predict"), proto,
			    json_pack("{s:I, s:I, s:f}", "n", (json_int_t)n, "correct", (json_int_t)ok, "accuracy",
				      (double)ok / n));
}

enum core_status cli_demo_step_predict(struct demo *d, struct core_error *err)
{
	size_t n = d->o.test, small = n / 5 ? n / 5 : 1, total = 0, total_ok = 0;
	int *labels = core_xcalloc(n, sizeof *labels);
	CURL *h = cli_http_handle();
	enum core_status rc = CORE_OK;
	char id[64];
	/* OIP v2 JSON, 50 images a request */
	double t = cli_now();
	for (size_t i = 0; i < n && rc == CORE_OK; i += 50) {
		size_t m = n - i < 50 ? n - i : 50;
		snprintf(id, sizeof id, "demo-oip-%s-%zu", d->suffix, i);
		rc = cli_demo_oip(d, h, i, m, false, id, labels + i, NULL, err);
	}
	if (rc != CORE_OK)
		goto out;
	size_t ok = correct(d, labels, 0, n);
	note(d, "oip", ok, n, cli_now() - t);
	total += n, total_ok += ok;
	/* MLflow /invocations, 20 rows a request, the next test images */
	t = cli_now();
	for (size_t i = 0; i < small && rc == CORE_OK; i += 20)
		rc = invocations(d, h, n + i, small - i < 20 ? small - i : 20, labels + i, err);
	if (rc != CORE_OK)
		goto out;
	ok = correct(d, labels, n, small);
	note(d, "invocations", ok, small, cli_now() - t);
	total += small, total_ok += ok;
	/* PNG upload, one image a request */
	t = cli_now();
	for (size_t i = 0; i < small && rc == CORE_OK; i++)
		rc = upload_png(d, h, n + small + i, labels + i, err);
	if (rc != CORE_OK)
		goto out;
	ok = correct(d, labels, n + small, small);
	note(d, "png", ok, small, cli_now() - t);
	total += small, total_ok += ok;
	json_object_set_new(cli_demo_step(d, "predict"), "accuracy", json_real((double)total_ok / total));
	cli_demo_say(d, "predict", "overall accuracy %.3f over %zu images (chance: 0.100)", (double)total_ok / total,
		     total);
out:
	curl_easy_cleanup(h);
	free(labels);
	return rc;
}

/* --- the sender of step 5 ------------------------------------------------------------ */

struct cli_demo_sender {
	struct demo *d;
	pthread_t th;
	pthread_mutex_t mu;
	bool stop;
	long sent, failed;
	char last[32], want_seen_id[64];
	char first_error[sizeof((struct core_error *)0)->message];
	char switched_to[32], switched_id[64];
	double switched_at;
};

static void *send_loop(void *arg)
{
	struct cli_demo_sender *s = arg;
	CURL *h = cli_http_handle();
	char id[64], version[32];
	for (long k = 0;; k++) {
		pthread_mutex_lock(&s->mu);
		bool stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		struct core_error err;
		snprintf(id, sizeof id, "demo-live-%s-%ld", s->d->suffix, k);
		enum core_status rc = cli_demo_oip(s->d, h, (size_t)(k * 4) % (s->d->fm.n_test - 4), 4, false, id, NULL,
						   version, &err);
		pthread_mutex_lock(&s->mu);
		s->sent++;
		if (rc != CORE_OK) {
			s->failed++;
			if (!s->first_error[0])
				snprintf(s->first_error, sizeof s->first_error, "%s", err.message);
		} else {
			if (s->last[0] && strcmp(s->last, version) != 0 && !s->switched_to[0]) {
				snprintf(s->switched_to, sizeof s->switched_to, "%s", version);
				snprintf(s->switched_id, sizeof s->switched_id, "%s", id);
				s->switched_at = cli_demo_elapsed(s->d);
			}
			snprintf(s->last, sizeof s->last, "%s", version);
		}
		pthread_mutex_unlock(&s->mu);
		usleep(10000); /* ~100 requests/s: live traffic, not a load test */
	}
	curl_easy_cleanup(h);
	return NULL;
}

struct cli_demo_sender *cli_demo_sender_start(struct demo *d)
{
	struct cli_demo_sender *s = core_xcalloc(1, sizeof *s);
	s->d = d;
	pthread_mutex_init(&s->mu, NULL);
	if (pthread_create(&s->th, NULL, send_loop, s) != 0)
		abort(); /* only when out of resources */
	return s;
}

bool cli_demo_sender_seen(struct cli_demo_sender *s, const char *want, char *request_id, size_t cap, double *at)
{
	pthread_mutex_lock(&s->mu);
	bool seen = s->switched_to[0] && strcmp(s->switched_to, want) == 0;
	if (seen) {
		snprintf(request_id, cap, "%s", s->switched_id);
		*at = s->switched_at;
	}
	pthread_mutex_unlock(&s->mu);
	return seen;
}

void cli_demo_sender_stop(struct cli_demo_sender *s, long *sent, long *failed, char *last_version, size_t cap)
{
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	*sent = s->sent;
	*failed = s->failed;
	snprintf(last_version, cap, "%s", s->last);
	if (s->first_error[0])
		cli_demo_say(s->d, "retrain", "first failed request: %s", s->first_error);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
