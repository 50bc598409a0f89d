/* Helpers for the trainer's integration tests (prefix th_trainer_): a trainer daemon
 * wired to a data registry, tiny datasets pushed to that registry and waited for until
 * READY (a CSV with a label column, a folder of small PNGs made by Debian's python3 +
 * PIL), job submits, and SQL on the trainer's schema. Built on harness.h and
 * harness_data.h; any test of a part of the trainer may use them. */
#ifndef LATHE_TEST_TRAINER_H
#define LATHE_TEST_TRAINER_H
#include <jansson.h>
#include "harness.h"

/* Starts lathe-trainer with DATA_REGISTRY_URL = data_registry's base URL (or "" for
 * none given: the default), WORKERS=0 unless extra_env sets it, and extra_env
 * ("NAME=value", NULL-terminated, may be NULL; up to 12). */
struct th_daemon *th_trainer_start(struct th_daemon *data_registry, const char *const *extra_env);

/* Commits csv (text) as dataset in one request (label_column may be NULL), waits until
 * the version is READY (at most 60 s) and returns its number. */
json_int_t th_trainer_push_csv(struct th_daemon *dr, const char *dataset, const char *csv, const char *label_column);

/* Commits an image folder (classes x per_class grey size x size PNGs, class directories
 * named c0, c1, ...; class i is bright in its own band of rows) as dataset, waits until
 * READY and returns its number. */
json_int_t th_trainer_push_images(struct th_daemon *dr, const char *dataset, int classes, int per_class, int size);

/* Polls dataset@number until it leaves PENDING; fails the test unless READY. */
void th_trainer_wait_ready(struct th_daemon *dr, const char *dataset, json_int_t number, int timeout_s);

/* POSTs spec (JSON text) to /v1/jobs. */
struct th_response th_trainer_submit(struct th_daemon *t, const char *spec);

/* Runs text on the daemon's database with search_path trainer and returns the first
 * value of the first row (malloc'd; "" when none). */
char *th_trainer_sql(struct th_daemon *t, const char *text);
#endif
