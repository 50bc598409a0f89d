/* Helpers for the trainer's end-to-end tests (prefix th_train_): the four daemons a
 * training needs (tracker, registry, data registry, trainer) as real processes wired
 * to each other, a slice of Fashion-MNIST pushed to the data registry as IDX files,
 * and jobs submitted and waited for over the trainer's API. Built on harness.h. */
#ifndef LATHE_TEST_TRAIN_H
#define LATHE_TEST_TRAIN_H
#include <jansson.h>
#include <stddef.h>
#include "harness.h"

struct th_train_stack {
	struct th_daemon *tracker, *registry, *data, *trainer;
	char trainer_db[512];   /* the trainer's database (a restart reuses it) */
	char trainer_blob[600]; /* BLOB_DIR=... of the trainer (a restart reuses it) */
	char env[8][640];       /* the trainer's URL settings and BLOB_DIR */
};

/* Starts tracker, registry (TRACKER_URL), data registry and a trainer with
 * TRACKER_URL, REGISTRY_URL, DATA_REGISTRY_URL and the extra settings (NULL-ended,
 * may be NULL). */
void th_train_start(struct th_train_stack *s, const char *const *trainer_env);
/* Starts the trainer again on the same database and blob store (after a kill). */
void th_train_restart(struct th_train_stack *s, const char *const *trainer_env);
/* SIGKILLs the trainer and reaps it (its log is not checked). */
void th_train_kill(struct th_train_stack *s);
/* Stops every daemon (th_daemon_stop: exit 0 and no undeclared error line). */
void th_train_stop(struct th_train_stack *s);

/* Pushes the first n training images of Fashion-MNIST (the Debian package's IDX files)
 * as version 1 of dataset, written as train-images-idx3-ubyte / train-labels-idx1-ubyte,
 * and waits until the version is READY. */
void th_train_push_fmnist(struct th_train_stack *s, const char *dataset, size_t n);

/* POSTs spec to /v1/jobs (must answer 201 or 200 with the job) and returns its id
 * (malloc'd). */
char *th_train_submit(struct th_train_stack *s, const char *spec);
/* Polls GET /v1/jobs/{id} until its status is one of the ended ones (SUCCEEDED,
 * FAILED, CANCELLED) or timeout_ms passed (fails the test then); returns the job. */
json_t *th_train_wait(struct th_train_stack *s, const char *id, int timeout_ms);
/* Polls until pred(job) is true (or fails the test after timeout_ms). */
json_t *th_train_wait_for(struct th_train_stack *s, const char *id, int timeout_ms, int (*pred)(json_t *job),
			  const char *what);

/* GETs a tracker or registry path and returns its JSON (must be 200). */
json_t *th_train_get(struct th_daemon *d, const char *path);
/* POSTs body to d's path, must be 200; returns the JSON. */
json_t *th_train_post(struct th_daemon *d, const char *path, const char *body);
/* Downloads an artifact of run_id (path inside the run's artifacts) into *len bytes
 * (malloc'd), through the tracker's mlflow-artifacts API. */
char *th_train_artifact(struct th_train_stack *s, const char *run_id, const char *path, size_t *len);
/* The runs of experiment name (MLflow's runs/search), owned. */
json_t *th_train_runs(struct th_train_stack *s, const char *experiment);
#endif
