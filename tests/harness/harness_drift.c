/* Drawn images, references and traffic for the drift monitor's stream tests (face:
 * harness_drift.h): the images' summaries are computed here as the inference API
 * computes them for its events, so a test knows the values the monitor compares. */
#include "harness_drift.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void th_drift_images(struct th_rng *g, float *raw, size_t n, size_t pixels, double lo, double hi)
{
	for (size_t r = 0; r < n; r++) {
		double level = lo + (hi - lo) * th_urand(g);
		for (size_t i = 0; i < pixels; i++) {
			double v = round(level + 30 * th_nrand(g));
			raw[r * pixels + i] = (float)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}
}

void th_drift_summaries(const float *raw, size_t n, size_t pixels, double *bright, double *contrast)
{
	for (size_t r = 0; r < n; r++) {
		double s = 0, ss = 0;
		for (size_t i = 0; i < pixels; i++)
			s += raw[r * pixels + i];
		double mean = s / (double)pixels;
		for (size_t i = 0; i < pixels; i++)
			ss += (raw[r * pixels + i] - mean) * (raw[r * pixels + i] - mean);
		bright[r] = mean;
		contrast[r] = sqrt(ss / (double)pixels);
	}
}

static json_t *sample_of(const double *x, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_real(x[i]));
	return a;
}

char *th_drift_reference(const struct ml_package *p, int side, int classes, const float *raw, size_t n, double *bright,
			 double *contrast)
{
	float *probs = malloc(n * (size_t)classes * sizeof *probs);
	int *counts = calloc((size_t)classes, sizeof *counts);
	double *conf = malloc(n * sizeof *conf);
	ck_assert(probs && counts && conf);
	th_infer_forward(p, raw, n, probs);
	th_drift_summaries(raw, n, (size_t)side * (size_t)side, bright, contrast);
	for (size_t r = 0; r < n; r++) {
		int best = 0;
		for (int k = 1; k < classes; k++)
			if (probs[r * (size_t)classes + (size_t)k] > probs[r * (size_t)classes + (size_t)best])
				best = k;
		counts[best]++;
		conf[r] = probs[r * (size_t)classes + (size_t)best];
	}
	json_t *names = json_array();
	for (int k = 0; k < classes; k++) {
		char name[16];
		snprintf(name, sizeof name, "c%d", k);
		json_array_append_new(names, json_pack("{s:s, s:i}", "name", name, "count", counts[k]));
	}
	json_t *doc =
		json_pack("{s:i, s:I, s:{s:s, s:[i,i,i]}, s:[{s:s, s:s, s:I, s:i, s:o}, {s:s, s:s, s:I, s:i, s:o}], "
			  "s:{s:s, s:o, s:{s:o}}}",
			  "format_version", 2, "rows", (json_int_t)n, "input", "kind", "image", "shape", 1, side, side,
			  "columns", "name", "brightness", "type", "numeric", "count", (json_int_t)n, "missing", 0,
			  "sample", sample_of(bright, n), "name", "contrast", "type", "numeric", "count", (json_int_t)n,
			  "missing", 0, "sample", sample_of(contrast, n), "predictions", "task", "classification",
			  "classes", names, "confidence", "sample", sample_of(conf, n));
	ck_assert_ptr_nonnull(doc);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	free(conf);
	free(counts);
	free(probs);
	return text;
}

void th_drift_predict(struct th_daemon *ia, const char *model, const float *raw, size_t n, size_t pixels)
{
	for (size_t i = 0; i < n; i += 10) {
		struct th_response r = th_infer_oip(ia, model, NULL, raw + i * pixels, n - i < 10 ? n - i : 10, pixels);
		ck_assert_msg(r.status == 200, "infer: %ld %s", r.status, r.body ? r.body : "");
		th_response_free(&r);
	}
}

char *th_drift_monitor_create(struct th_daemon *dm, const char *body)
{
	struct th_response r = th_call(dm, "POST", "/v1/monitors", body);
	ck_assert_msg(r.status == 201, "POST /v1/monitors: %ld %s", r.status, r.body ? r.body : "");
	const char *id = json_string_value(json_object_get(json_object_get(r.json, "monitor"), "id"));
	ck_assert_ptr_nonnull(id);
	char *out = strdup(id);
	th_response_free(&r);
	return out;
}

json_t *th_drift_wait_reports(struct th_daemon *dm, const char *monitor, size_t want)
{
	char *path = th_fmt("/v1/reports?monitor=%s", monitor);
	json_t *reports = NULL;
	for (int i = 0; i < 600; i++) {
		json_t *page = th_ok(dm, "GET", path, NULL);
		reports = json_incref(json_object_get(page, "reports"));
		json_decref(page);
		if (json_array_size(reports) >= want)
			break;
		json_decref(reports);
		reports = NULL;
		usleep(100000);
	}
	ck_assert_msg(reports != NULL, "no %zu reports of monitor %s after 60 s", want, monitor);
	free(path);
	return reports;
}

json_t *th_drift_report_doc(struct th_daemon *dm, const char *id)
{
	char *path = th_fmt("/v1/reports/%s", id);
	json_t *r = th_ok(dm, "GET", path, NULL);
	free(path);
	json_t *doc = json_incref(json_object_get(json_object_get(r, "report"), "result"));
	json_decref(r);
	ck_assert_ptr_nonnull(doc);
	return doc;
}
