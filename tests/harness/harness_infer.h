/* Helpers for the inference API's integration tests (prefix th_infer_): the three
 * daemons serving needs (tracker, registry, inference API) as real processes wired by
 * their URL settings; small model packages whose weights the test chooses (built with
 * libs/ml and written with ml_package_write); a package logged as a run's artifacts
 * under model/ through the tracker's artifact API, registered as a version with source
 * runs:/<run>/model, and aliased; a forward pass in plain C loops to compare answers
 * with; and OIP infer calls. Built on harness.h. */
#ifndef LATHE_TEST_INFER_H
#define LATHE_TEST_INFER_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness.h"
#include "ml/package.h"

struct th_infer_stack {
	struct th_daemon *tracker, *registry, *ia;
	char experiment_id[64]; /* the tracker experiment runs are logged in */
	char env[4][640];       /* the inference API's TRACKER_URL, REGISTRY_URL, MODEL_DIR */
};

/* Starts tracker and registry (TRACKER_URL set), then the inference API with
 * TRACKER_URL, REGISTRY_URL, MODEL_DIR (a fresh scratch directory) and ia_env
 * ("NAME=value", NULL-ended, may be NULL; up to 12), waiting for /readyz when
 * wait_ready. ia_env NULL and !start_ia: only tracker and registry (the test publishes
 * models first and starts the API with th_infer_start_api). */
void th_infer_start(struct th_infer_stack *s, bool start_ia, const char *const *ia_env, bool wait_ready);
/* Starts (or restarts, after th_daemon_stop(s->ia) and s->ia = NULL) the inference API. */
void th_infer_start_api(struct th_infer_stack *s, const char *const *ia_env, bool wait_ready);
/* Stops every daemon started (th_daemon_stop: exit 0, no undeclared error line). */
void th_infer_stop(struct th_infer_stack *s);

/* A classifier of size x size gray images (raw pixels 0..255, preprocessing
 * {"size": [size, size], "channels": 1, "normalize": "unit"}): flatten -> dense(hidden)
 * -> relu -> dense(classes) (hidden 0: logistic regression, flatten -> dense(classes)),
 * softmax appended by the package, weights from seed (ml_net_init) times scale, class
 * names "c0".."c<classes-1>". Free with ml_package_free. */
void th_infer_classifier(struct ml_package *out, int size, int hidden, int classes, uint64_t seed, float scale);
/* The probabilities p gives for n raw images (n x size*size values, 0..255), computed
 * here in plain C loops from p's parameters (not with ml_net_predict). out [n, classes]. */
void th_infer_forward(const struct ml_package *p, const float *raw, size_t n, float *out);

/* Writes p into a fresh scratch directory (ml_package_write) and returns it (malloc'd). */
char *th_infer_write(const struct ml_package *p);
/* Creates a run, uploads every file of dir as the run's model/<file>, ends the run;
 * returns the run id (malloc'd). */
char *th_infer_log_dir(struct th_infer_stack *s, const char *dir);
/* Uploads len bytes as run_id's artifact model/<file> (replacing it). */
void th_infer_put_artifact(struct th_infer_stack *s, const char *run_id, const char *file, const void *data,
			   size_t len);
/* Uploads len bytes as run_id's artifact <path> (from the run's artifact root). */
void th_infer_put_run_file(struct th_infer_stack *s, const char *run_id, const char *path, const void *data,
			   size_t len);
/* Creates the registered model when missing and a version with source
 * runs:/<run_id>/model; returns the version ("1", malloc'd). */
char *th_infer_register(struct th_infer_stack *s, const char *model, const char *run_id);
/* Sets (or moves) alias on model's version. */
void th_infer_alias(struct th_infer_stack *s, const char *model, const char *alias, const char *version);
/* th_infer_write + th_infer_log_dir + th_infer_register (+ th_infer_alias unless alias
 * is NULL); returns the version (malloc'd). */
char *th_infer_publish(struct th_infer_stack *s, const char *model, const struct ml_package *p, const char *alias);

/* POSTs an OIP v2 infer of n rows of per raw FP32 values to /v2/models/{model}/infer
 * (version NULL) or .../versions/{version}/infer. The caller frees the response. */
struct th_response th_infer_oip(struct th_daemon *ia, const char *model, const char *version, const float *raw,
				size_t n, size_t per);
/* The version of model the repository index shows READY as its serving version ("" when none;
 * malloc'd). */
char *th_infer_serving(struct th_daemon *ia, const char *model);
/* Polls the index until model's serving version is version (NULL: until it is not
 * listed READY) or timeout_ms passed; returns whether it happened. */
bool th_infer_wait_serving(struct th_daemon *ia, const char *model, const char *version, int timeout_ms);
#endif
