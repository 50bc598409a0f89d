/* Helpers for the drift monitor's stream tests (prefix th_drift_): small gray images
 * drawn around a level, their brightness and contrast as the inference API computes
 * them, a reference.json (format 2) for an image classifier made from such images, OIP
 * traffic in requests of 10 rows, a monitor created over the API, and its reports
 * waited for and read. test_drift_stream and test_drift_retrain share them. Built on
 * harness.h, harness_infer.h and harness_util.h. */
#ifndef LATHE_TEST_DRIFT_H
#define LATHE_TEST_DRIFT_H
#include <jansson.h>
#include <stddef.h>
#include "harness.h"
#include "harness_infer.h"
#include "harness_util.h"

/* n images of pixels values each, whose pixels scatter (sd 30) around a per-image level
 * drawn in [lo, hi), clamped to 0..255, into raw[n * pixels]. */
void th_drift_images(struct th_rng *g, float *raw, size_t n, size_t pixels, double lo, double hi);
/* Brightness (mean) and contrast (population std) of each of the n images. */
void th_drift_summaries(const float *raw, size_t n, size_t pixels, double *bright, double *contrast);
/* reference.json of the n images raw for the classifier p (square images of shape
 * 1 x side x side; classes "c0".. as th_infer_classifier names them): their brightness
 * and contrast samples (also written to bright and contrast), the classes p predicts
 * for them and its confidence. Returns the compact text (malloc'd). */
char *th_drift_reference(const struct ml_package *p, int side, int classes, const float *raw, size_t n, double *bright,
			 double *contrast);
/* Sends the n images (pixels values each) to model on ia in requests of 10 rows; each
 * must answer 200. */
void th_drift_predict(struct th_daemon *ia, const char *model, const float *raw, size_t n, size_t pixels);
/* POSTs body to /v1/monitors (must answer 201) and returns the monitor's id (malloc'd). */
char *th_drift_monitor_create(struct th_daemon *dm, const char *body);
/* Polls the monitor's reports until it has want of them (at most 60 s); returns them,
 * newest first (owned). */
json_t *th_drift_wait_reports(struct th_daemon *dm, const char *monitor, size_t want);
/* The document ("result") of report id (owned). */
json_t *th_drift_report_doc(struct th_daemon *dm, const char *id);
#endif
