/* The trainer's end-to-end test helpers (harness_train.h): four real daemons wired by
 * their URL settings, a Fashion-MNIST slice pushed as IDX, jobs submitted and waited
 * for. Every failure fails the test where it happens (ck_assert). */
#include "harness_train.h"
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "core/sha256.h"
#include "harness_data.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

static void sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

static struct th_daemon *start_trainer(struct th_train_stack *s, const char *const *extra)
{
	const char *env[32];
	size_t n = 0;
	for (size_t i = 0; i < 8 && s->env[i][0]; i++)
		env[n++] = s->env[i];
	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		env[n++] = extra[i];
	env[n] = NULL;
	return th_daemon_start("trainer", s->trainer_db, env);
}

void th_train_start(struct th_train_stack *s, const char *const *trainer_env)
{
	memset(s, 0, sizeof *s);
	s->tracker = th_daemon_start("experiment-tracker", NULL, NULL);
	char turl[128];
	snprintf(turl, sizeof turl, "TRACKER_URL=%s", s->tracker->base_url);
	const char *renv[] = {turl, "SERVABLE_RETRY_MS=100", NULL};
	s->registry = th_daemon_start("model-registry", NULL, renv);
	s->data = th_daemon_start("data-registry", NULL, NULL);
	char *db = th_db_create();
	snprintf(s->trainer_db, sizeof s->trainer_db, "%s", db);
	free(db);
	snprintf(s->env[0], sizeof s->env[0], "TRACKER_URL=%s", s->tracker->base_url);
	snprintf(s->env[1], sizeof s->env[1], "REGISTRY_URL=%s", s->registry->base_url);
	snprintf(s->env[2], sizeof s->env[2], "DATA_REGISTRY_URL=%s", s->data->base_url);
	snprintf(s->trainer_blob, sizeof s->trainer_blob, "BLOB_DIR=%s/blobs-trainer-%d", th_env("LATHE_TEST_TMP"),
		 (int)getpid());
	snprintf(s->env[3], sizeof s->env[3], "%s", s->trainer_blob);
	s->trainer = start_trainer(s, trainer_env);
}

void th_train_restart(struct th_train_stack *s, const char *const *trainer_env)
{
	ck_assert_ptr_null(s->trainer);
	s->trainer = start_trainer(s, trainer_env);
}

void th_train_kill(struct th_train_stack *s)
{
	struct th_daemon *d = s->trainer;
	ck_assert_int_eq(kill(d->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(d->pid, NULL, 0), d->pid);
	for (size_t i = 0; i < d->n_expected_errors; i++)
		free(d->expected_errors[i]);
	free(d->database_url);
	free(d);
	s->trainer = NULL;
}

void th_train_stop(struct th_train_stack *s)
{
	if (s->trainer)
		th_daemon_stop(s->trainer);
	th_daemon_stop(s->data);
	th_daemon_stop(s->registry);
	th_daemon_stop(s->tracker);
	memset(s, 0, sizeof *s);
}

/* The first n records of an IDX .gz file (header rewritten with count n). */
static unsigned char *idx_head(const char *path, size_t header, size_t record, size_t n, size_t *len)
{
	gzFile g = gzopen(path, "rb");
	ck_assert_msg(g != NULL, "cannot open %s (Debian package dataset-fashion-mnist)", path);
	*len = header + n * record;
	unsigned char *b = malloc(*len);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(gzread(g, b, (unsigned)*len), (int)*len);
	gzclose(g);
	b[4] = (unsigned char)(n >> 24);
	b[5] = (unsigned char)(n >> 16);
	b[6] = (unsigned char)(n >> 8);
	b[7] = (unsigned char)n;
	return b;
}

void th_train_push_fmnist(struct th_train_stack *s, const char *dataset, size_t n)
{
	size_t il, ll;
	unsigned char *img = idx_head(FMNIST "train-images-idx3-ubyte.gz", 16, 28 * 28, n, &il);
	unsigned char *lab = idx_head(FMNIST "train-labels-idx1-ubyte.gz", 8, 1, n, &ll);
	char ik[65], lk[65];
	th_data_put_blob(s->data, img, il, ik);
	th_data_put_blob(s->data, lab, ll, lk);
	json_t *body = json_pack("{s:[{s:s, s:s, s:I}, {s:s, s:s, s:I}]}", "files", "path", "train-images-idx3-ubyte",
				 "sha256", ik, "size", (json_int_t)il, "path", "train-labels-idx1-ubyte", "sha256", lk,
				 "size", (json_int_t)ll);
	struct th_response r = th_data_commit(s->data, dataset, body);
	ck_assert_msg(r.status == 200 || r.status == 201, "commit: %ld %s", r.status, r.body);
	th_response_free(&r);
	json_decref(body);
	free(img);
	free(lab);
	char *path = th_fmt("/v1/datasets/%s/versions/1", dataset);
	for (int i = 0;; i++) {
		json_t *v = th_ok(s->data, "GET", path, NULL);
		json_t *ver = json_object_get(v, "version") ? json_object_get(v, "version") : v;
		const char *st = json_string_value(json_object_get(ver, "status"));
		bool ready = st && strcmp(st, "READY") == 0;
		ck_assert_msg(!st || strcmp(st, "FAILED") != 0, "version failed");
		json_decref(v);
		if (ready)
			break;
		ck_assert_msg(i < 300, "version not READY after 30 s");
		sleep_ms(100);
	}
	free(path);
}

static json_t *job_of(json_t *doc)
{
	json_t *j = json_object_get(doc, "job");
	return j ? j : doc;
}

char *th_train_submit(struct th_train_stack *s, const char *spec)
{
	struct th_response r = th_call(s->trainer, "POST", "/v1/jobs", spec);
	ck_assert_msg(r.status == 201 || r.status == 200 || r.status == 202, "submit: %ld %s", r.status, r.body);
	json_t *doc = json_loads(r.body, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	const char *id = json_string_value(json_object_get(job_of(doc), "id"));
	ck_assert_ptr_nonnull(id);
	char *out = strdup(id);
	json_decref(doc);
	th_response_free(&r);
	return out;
}

json_t *th_train_wait_for(struct th_train_stack *s, const char *id, int timeout_ms, int (*pred)(json_t *job),
			  const char *what)
{
	char *path = th_fmt("/v1/jobs/%s", id);
	json_t *last = NULL;
	for (int waited = 0;; waited += 100) {
		json_t *doc = th_ok(s->trainer, "GET", path, NULL);
		json_t *j = json_incref(job_of(doc));
		json_decref(doc);
		if (pred(j)) {
			json_decref(last);
			free(path);
			return j;
		}
		json_decref(last);
		last = j;
		if (waited >= timeout_ms) {
			char *t = json_dumps(last, JSON_COMPACT);
			ck_abort_msg("job %s: not %s after %d ms: %s", id, what, timeout_ms, t);
		}
		sleep_ms(100);
	}
}

static int ended(json_t *j)
{
	const char *st = json_string_value(json_object_get(j, "status"));
	return st && (strcmp(st, "SUCCEEDED") == 0 || strcmp(st, "FAILED") == 0 || strcmp(st, "CANCELLED") == 0);
}

json_t *th_train_wait(struct th_train_stack *s, const char *id, int timeout_ms)
{
	return th_train_wait_for(s, id, timeout_ms, ended, "ended");
}

json_t *th_train_get(struct th_daemon *d, const char *path)
{
	return th_ok(d, "GET", path, NULL);
}

json_t *th_train_post(struct th_daemon *d, const char *path, const char *body)
{
	return th_ok(d, "POST", path, body);
}

char *th_train_artifact(struct th_train_stack *s, const char *run_id, const char *path, size_t *len)
{
	char *p = th_fmt("/api/2.0/mlflow/runs/get?run_id=%s", run_id);
	json_t *run = th_ok(s->tracker, "GET", p, NULL);
	const char *uri = json_string_value(
		json_object_get(json_object_get(json_object_get(run, "run"), "info"), "artifact_uri"));
	ck_assert_ptr_nonnull(uri);
	const char *rest = strncmp(uri, "mlflow-artifacts:", 17) == 0 ? uri + 17 : uri;
	if (strncmp(rest, "//", 2) == 0)
		rest = strchr(rest + 2, '/') ? strchr(rest + 2, '/') : "";
	while (*rest == '/')
		rest++;
	char *url = th_fmt("%s/api/2.0/mlflow-artifacts/artifacts/%s/%s", s->tracker->base_url, rest, path);
	struct th_response r = th_http("GET", url, NULL, NULL, 0);
	ck_assert_msg(r.status == 200, "artifact %s: %ld", path, r.status);
	char *out = r.body;
	*len = r.body_len;
	r.body = NULL;
	th_response_free(&r);
	free(url);
	json_decref(run);
	free(p);
	return out;
}

json_t *th_train_runs(struct th_train_stack *s, const char *experiment)
{
	char *p = th_fmt("/api/2.0/mlflow/experiments/get-by-name?experiment_name=%s", experiment);
	json_t *e = th_ok(s->tracker, "GET", p, NULL);
	const char *eid = json_string_value(json_object_get(json_object_get(e, "experiment"), "experiment_id"));
	ck_assert_ptr_nonnull(eid);
	char *body = th_fmt("{\"experiment_ids\": [\"%s\"], \"max_results\": 1000}", eid);
	json_t *r = th_ok(s->tracker, "POST", "/api/2.0/mlflow/runs/search", body);
	json_t *runs = json_incref(json_object_get(r, "runs"));
	if (!runs)
		runs = json_array();
	json_decref(r);
	json_decref(e);
	free(body);
	free(p);
	return runs;
}
