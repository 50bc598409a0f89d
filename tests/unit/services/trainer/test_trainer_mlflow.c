/* Tests of the trainer's MLflow client (services/trainer/mlflow_client.c, through the
 * trainer's private header and libtrainer.a) against the REAL experiment tracker and
 * model registry daemons, started by the harness on the run's PostgreSQL: what a job
 * leaves there, read back through the same MLflow REST API a user's client reads.
 *   - start_run twice for one job gives one run; params, system tags, the dataset tag
 *     and the dataset input are on it (runs/get); a child run carries its parent;
 *   - log_metrics gives one point per step per key (metrics/get-history), also when a
 *     batch is sent again (a retry after a lost answer);
 *   - register twice gives one version, from runs:/<run>/model, with the alias set,
 *     and the registry's servability check says true once model/ holds a package;
 *   - the tracker stopped: CORE_EIO; restarted on the same port and database: the same
 *     calls work; the registry unreachable: CORE_EIO; a 4xx: CORE_EINVAL with the
 *     peer's message; every call carries the X-Request-Id given;
 *   - artifacts land under the run's artifact root where MLflow's client lists and
 *     downloads them: the package's files byte for byte as ml_package_write makes them
 *     (and read back into the same weights), PNG charts, the classification report,
 *     reference.json (format 2: its columns back in the client's space, undoing the
 *     package's standardisation); a version registered from them is servable. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/time.h"
#include "core/file.h"
#include "harness.h"
#include "harness_util.h"
#include "http/client.h"
#include "img/chart.h"
#include "ml/metrics.h"
#include "ml/nn.h"
#include "ml/package.h"
#include "tr.h"

#define RID "trm-req-1"

/* The tracker and registry of one test, and the trainer settings pointing at them. */
struct stack {
	struct th_daemon *tracker, *registry;
	char tracker_url[64], registry_url[64], blob_env[600], tracker_db[600];
	unsigned tracker_port;
	struct tr_settings s;
};

static void stack_start(struct stack *st)
{
	memset(st, 0, sizeof *st);
	snprintf(st->blob_env, sizeof st->blob_env, "BLOB_DIR=%s/trm-blobs-%d", th_env("LATHE_TEST_TMP"),
		 (int)getpid());
	const char *tenv[] = {st->blob_env, NULL};
	st->tracker = th_daemon_start("experiment-tracker", NULL, tenv);
	snprintf(st->tracker_db, sizeof st->tracker_db, "%s", st->tracker->database_url);
	st->tracker_port = st->tracker->port;
	char env_url[128];
	snprintf(env_url, sizeof env_url, "TRACKER_URL=%s", st->tracker->base_url);
	const char *renv[] = {env_url, "SERVABLE_RETRY_MS=200", NULL};
	st->registry = th_daemon_start("model-registry", NULL, renv);
	snprintf(st->tracker_url, sizeof st->tracker_url, "%s", st->tracker->base_url);
	snprintf(st->registry_url, sizeof st->registry_url, "%s", st->registry->base_url);
	st->s.tracker_url = st->tracker_url;
	st->s.registry_url = st->registry_url;
	st->s.tracker_timeout_ms = 5000;
	st->s.registry_timeout_ms = 5000;
}

static void stack_stop(struct stack *st)
{
	th_daemon_stop(st->registry);
	th_daemon_stop(st->tracker);
}

/* Stops the tracker and starts it again on the same port, database and blob store. */
static void tracker_stop(struct stack *st)
{
	th_daemon_stop(st->tracker);
	st->tracker = NULL;
}

static void tracker_restart(struct stack *st)
{
	unsigned port = st->tracker_port;
	char port_env[32];
	snprintf(port_env, sizeof port_env, "PORT=%u", port);
	const char *env[] = {port_env, st->blob_env, NULL};
	st->tracker = th_daemon_spawn("experiment-tracker", st->tracker_db, env);
	st->tracker->port = port; /* the harness chose another; the daemon took ours */
	snprintf(st->tracker->base_url, sizeof st->tracker->base_url, "%s", st->tracker_url);
	ck_assert_msg(th_daemon_wait_status(st->tracker, "/readyz", 200, 30000), "the tracker did not come back");
}

static json_t *get_run(struct stack *st, const char *run_id)
{
	char path[160];
	snprintf(path, sizeof path, "/api/2.0/mlflow/runs/get?run_id=%s", run_id);
	json_t *doc = th_ok(st->tracker, "GET", path, NULL);
	json_t *run = json_incref(json_object_get(doc, "run"));
	json_decref(doc);
	return run;
}

/* The value of key in a [{key, value}] list, or NULL. */
static const char *kv(json_t *list, const char *key)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) if (strcmp(json_string_value(json_object_get(e, "key")), key) ==
					   0) return json_string_value(json_object_get(e, "value"));
	return NULL;
}

static json_t *history(struct stack *st, const char *run_id, const char *key)
{
	char path[256];
	snprintf(path, sizeof path, "/api/2.0/mlflow/metrics/get-history?run_id=%s&metric_key=%s", run_id, key);
	json_t *doc = th_ok(st->tracker, "GET", path, NULL);
	json_t *m = json_incref(json_object_get(doc, "metrics"));
	json_decref(doc);
	return m ? m : json_array();
}

#define VERSION_ID "3f2a9c0d1e4b5a6978877665544332211ffeeddccbbaa99887766554433221100"

START_TEST(a_job_has_one_run_with_its_params_tags_and_dataset)
{
	struct stack st;
	struct core_error err = {{0}};
	char run1[64], run2[64], child[64];
	stack_start(&st);
	json_t *params = json_pack("{s:s,s:f,s:[i],s:i,s:b}", "model.type", "mlp", "optimizer.lr", 0.001,
				   "model.hidden", 256, "epochs", 3, "early_stopping.enabled", 1);
	ck_assert_msg(tr_mlflow_start_run(&st.s, RID, "job-0001", "fmnist", "first-try", NULL, params, "fmnist",
					  VERSION_ID, run1, &err) == CORE_OK,
		      "%s", err.message);
	ck_assert_uint_eq(strlen(run1), 32);
	/* a second start for the same job (a takeover, a retry): the same run */
	ck_assert_msg(tr_mlflow_start_run(&st.s, RID, "job-0001", "fmnist", "first-try", NULL, params, "fmnist",
					  VERSION_ID, run2, &err) == CORE_OK,
		      "%s", err.message);
	ck_assert_str_eq(run1, run2);
	json_t *search = th_ok(st.tracker, "POST", "/api/2.0/mlflow/runs/search",
			       "{\"experiment_ids\": [\"1\"], \"filter\": \"tags.`lathe.job_id` = 'job-0001'\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(search, "runs")), 1);
	json_decref(search);

	json_t *run = get_run(&st, run1);
	json_t *data = json_object_get(run, "data");
	json_t *p = json_object_get(data, "params"), *t = json_object_get(data, "tags");
	ck_assert_uint_eq(json_array_size(p), 5);
	ck_assert_str_eq(kv(p, "model.type"), "mlp");
	ck_assert_str_eq(kv(p, "optimizer.lr"), "0.001");
	ck_assert_str_eq(kv(p, "model.hidden"), "[256]");
	ck_assert_str_eq(kv(p, "epochs"), "3");
	ck_assert_str_eq(kv(p, "early_stopping.enabled"), "True");
	ck_assert_str_eq(kv(t, "lathe.job_id"), "job-0001");
	ck_assert_str_eq(kv(t, "lathe.dataset"), "fmnist@" VERSION_ID);
	ck_assert_str_eq(kv(t, "mlflow.source.name"), "lathe-trainer");
	ck_assert_str_eq(kv(t, "mlflow.runName"), "first-try");
	ck_assert_ptr_nonnull(kv(t, "mlflow.user"));
	ck_assert_ptr_null(kv(t, "mlflow.parentRunId"));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(run, "info"), "status")), "RUNNING");
	json_t *inputs = json_object_get(json_object_get(run, "inputs"), "dataset_inputs");
	ck_assert_uint_eq(json_array_size(inputs), 1); /* logged twice, kept once */
	json_t *in = json_array_get(inputs, 0), *ds = json_object_get(in, "dataset");
	ck_assert_str_eq(json_string_value(json_object_get(ds, "name")), "fmnist");
	ck_assert_str_eq(json_string_value(json_object_get(ds, "digest")), "3f2a9c0d1e4b5a6978877665544332211ffe");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(ds, "source")), VERSION_ID));
	ck_assert_str_eq(kv(json_object_get(in, "tags"), "mlflow.data.context"), "training");
	json_decref(run);

	/* a trial: its own run, nested under the parent */
	ck_assert_msg(tr_mlflow_start_run(&st.s, RID, "job-0001.t1", "fmnist", NULL, run1, params, "fmnist", VERSION_ID,
					  child, &err) == CORE_OK,
		      "%s", err.message);
	ck_assert_str_ne(child, run1);
	run = get_run(&st, child);
	ck_assert_str_eq(kv(json_object_get(json_object_get(run, "data"), "tags"), "mlflow.parentRunId"), run1);
	json_decref(run);

	/* the end of a run */
	ck_assert_msg(tr_mlflow_set_tag(&st.s, RID, run1, "lathe.best_trial", "1", &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(tr_mlflow_end_run(&st.s, RID, run1, "FINISHED", &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(tr_mlflow_end_run(&st.s, RID, run1, "DONE", &err), CORE_EINVAL);
	run = get_run(&st, run1);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(run, "info"), "status")), "FINISHED");
	ck_assert_str_eq(kv(json_object_get(json_object_get(run, "data"), "tags"), "lathe.best_trial"), "1");
	json_decref(run);

	/* a 4xx is the caller's to fix, with the peer's words */
	ck_assert_int_eq(tr_mlflow_set_tag(&st.s, RID, "00000000000000000000000000000000", "k", "v", &err),
			 CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "not found"), "%s", err.message);
	/* a request id httpc refuses to send: the caller's to fix, said so */
	ck_assert_int_eq(tr_mlflow_set_tag(&st.s, "bad id!", run1, "k", "v", &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "request"), "%s", err.message);
	/* a job id the filter language cannot quote */
	ck_assert_int_eq(tr_mlflow_start_run(&st.s, RID, "it's", "fmnist", NULL, NULL, params, NULL, NULL, run2, &err),
			 CORE_EINVAL);
	ck_assert_msg(
		th_daemon_log_has(st.tracker, "\"path\":\"/api/2.0/mlflow/runs/search\"", "\"request_id\":\"" RID "\""),
		"the tracker's access log has no runs/search with the job's request id");
	json_decref(params);
	stack_stop(&st);
}
END_TEST

START_TEST(metrics_are_one_point_per_epoch_even_when_sent_again)
{
	struct stack st;
	struct core_error err = {{0}};
	char run[64];
	stack_start(&st);
	ck_assert_msg(tr_mlflow_start_run(&st.s, NULL, "job-m", NULL, NULL, NULL, NULL, "d", VERSION_ID, run, &err) ==
			      CORE_OK,
		      "%s", err.message);
	for (long epoch = 1; epoch <= 3; epoch++) {
		json_t *m = json_pack("{s:f,s:f,s:f}", "loss", 1.0 / (double)epoch, "val_loss", 1.5 / (double)epoch,
				      "val_accuracy", 0.5 + 0.1 * (double)epoch);
		ck_assert_msg(tr_mlflow_log_metrics(&st.s, RID, run, epoch, m, &err) == CORE_OK, "%s", err.message);
		if (epoch == 2) /* the answer was lost: the worker sends it again */
			ck_assert_msg(tr_mlflow_log_metrics(&st.s, RID, run, epoch, m, &err) == CORE_OK, "%s",
				      err.message);
		json_decref(m);
	}
	json_t *bad = json_pack("{s:s}", "loss", "low");
	ck_assert_int_eq(tr_mlflow_log_metrics(&st.s, RID, run, 4, bad, &err), CORE_EINVAL);
	json_decref(bad);
	json_t *h = history(&st, run, "val_loss");
	ck_assert_uint_eq(json_array_size(h), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *pt = json_array_get(h, i);
		long step = (long)json_integer_value(json_object_get(pt, "step"));
		ck_assert_int_ge(step, 1);
		ck_assert_double_eq_tol(json_number_value(json_object_get(pt, "value")), 1.5 / (double)step, 1e-12);
	}
	json_decref(h);
	h = history(&st, run, "loss");
	ck_assert_uint_eq(json_array_size(h), 3);
	json_decref(h);
	stack_stop(&st);
}
END_TEST

/* A version's servability tag once the registry's check has answered. */
static char *servable(struct stack *st, const char *model, const char *version)
{
	char path[256];
	char *out = NULL;
	snprintf(path, sizeof path, "/api/2.0/mlflow/model-versions/get?name=%s&version=%s", model, version);
	for (int i = 0; i < 200; i++) {
		json_t *doc = th_ok(st->registry, "GET", path, NULL);
		const char *v = kv(json_object_get(json_object_get(doc, "model_version"), "tags"), "lathe.servable");
		if (v && strcmp(v, "pending") != 0)
			out = strdup(v);
		json_decref(doc);
		if (out)
			return out;
		core_sleep_ms(50);
	}
	return strdup("pending");
}

START_TEST(register_twice_gives_one_servable_version_with_its_alias)
{
	struct stack st;
	struct core_error err = {{0}};
	char run[64], v1[32], v2[32];
	char *root = NULL;
	stack_start(&st);
	ck_assert_msg(tr_mlflow_start_run(&st.s, RID, "job-r", "reg", NULL, NULL, NULL, "d", VERSION_ID, run, &err) ==
			      CORE_OK,
		      "%s", err.message);
	ck_assert_msg(tr_mlflow_artifact_root(&st.s, RID, run, &root, &err) == CORE_OK, "%s", err.message);
	char *want = th_fmt("1/%s/artifacts", run);
	ck_assert_str_eq(root, want);
	free(want);
	/* a package as the trainer writes it: model.json + weights.safetensors */
	static const char header[] = "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
	char weights[128];
	size_t hlen = sizeof header - 1;
	for (int i = 0; i < 8; i++)
		weights[i] = (char)((hlen >> (8 * i)) & 0xff);
	memcpy(weights + 8, header, hlen);
	memset(weights + 8 + hlen, 0, 4);
	static const char model_json[] = "{\"format_version\": 1, \"task\": \"classification\", \"layers\": []}";
	ck_assert_msg(tr_mlflow_put_artifact(&st.s, RID, root, "model/model.json", model_json, sizeof model_json - 1,
					     &err) == CORE_OK,
		      "%s", err.message);
	ck_assert_msg(tr_mlflow_put_artifact(&st.s, RID, root, "model/weights.safetensors", weights, 8 + hlen + 4,
					     &err) == CORE_OK,
		      "%s", err.message);
	char *url = th_fmt("%s/api/2.0/mlflow-artifacts/artifacts/%s/model/weights.safetensors", st.tracker_url, root);
	struct th_response r = th_http("GET", url, NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 8 + hlen + 4);
	ck_assert_int_eq(memcmp(r.body, weights, r.body_len), 0);
	th_response_free(&r);
	free(url);

	ck_assert_msg(tr_mlflow_register(&st.s, RID, run, "fmnist-mlp", "champion", v1, &err) == CORE_OK, "%s",
		      err.message);
	ck_assert_str_eq(v1, "1");
	/* the answer was lost, the worker registers again: the same version */
	ck_assert_msg(tr_mlflow_register(&st.s, RID, run, "fmnist-mlp", "champion", v2, &err) == CORE_OK, "%s",
		      err.message);
	ck_assert_str_eq(v2, "1");
	json_t *doc = th_ok(st.registry, "GET",
			    "/api/2.0/mlflow/model-versions/search?filter=name%20%3D%20'fmnist-mlp'", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "model_versions")), 1);
	json_t *mv = json_array_get(json_object_get(doc, "model_versions"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(mv, "run_id")), run);
	char *src = th_fmt("runs:/%s/model", run);
	ck_assert_str_eq(json_string_value(json_object_get(mv, "source")), src);
	free(src);
	json_decref(doc);
	doc = th_ok(st.registry, "GET", "/api/2.0/mlflow/registered-models/alias?name=fmnist-mlp&alias=champion", NULL);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "model_version"), "version")), "1");
	json_decref(doc);
	char *ok = servable(&st, "fmnist-mlp", "1");
	ck_assert_str_eq(ok, "true");
	free(ok);
	/* another run of the same model: the next version; no alias asked, none moved */
	char run_b[64];
	ck_assert_msg(tr_mlflow_start_run(&st.s, RID, "job-r2", "reg", NULL, NULL, NULL, "d", VERSION_ID, run_b,
					  &err) == CORE_OK,
		      "%s", err.message);
	ck_assert_msg(tr_mlflow_register(&st.s, RID, run_b, "fmnist-mlp", NULL, v2, &err) == CORE_OK, "%s",
		      err.message);
	ck_assert_str_eq(v2, "2");
	doc = th_ok(st.registry, "GET", "/api/2.0/mlflow/registered-models/alias?name=fmnist-mlp&alias=champion", NULL);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "model_version"), "version")), "1");
	json_decref(doc);
	ck_assert_msg(th_daemon_log_has(st.registry, "\"path\":\"/api/2.0/mlflow/model-versions/create\"",
					"\"request_id\":\"" RID "\""),
		      "the registry's access log has no model-versions/create with the job's request id");
	free(root);
	stack_stop(&st);
}
END_TEST

/* GET of an artifact path under the tracker's artifact API. */
static struct th_response artifact_get(struct stack *st, const char *root, const char *path)
{
	char *url = th_fmt("%s/api/2.0/mlflow-artifacts/artifacts/%s/%s", st->tracker_url, root, path);
	struct th_response r = th_http("GET", url, NULL, NULL, 0);
	free(url);
	return r;
}

/* The names in the artifact listing of root/dir, as one sorted "a,b/,c" string (dirs
 * with a slash). */
static char *listing(struct stack *st, const char *root, const char *dir)
{
	char *url = th_fmt("%s/api/2.0/mlflow-artifacts/artifacts?path=%s%s%s", st->tracker_url, root, *dir ? "/" : "",
			   dir);
	struct th_response r = th_http("GET", url, NULL, NULL, 0);
	ck_assert_msg(r.status == 200, "listing %s: %ld %s", dir, r.status, r.body);
	char names[16][128];
	size_t n = 0, i;
	json_t *f;
	json_array_foreach(json_object_get(r.json, "files"), i, f) if (n < 16)
		snprintf(names[n++], sizeof names[0], "%s%s", json_string_value(json_object_get(f, "path")),
			 json_is_true(json_object_get(f, "is_dir")) ? "/" : "");
	qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
	char *out = th_fmt("%s", "");
	for (i = 0; i < n; i++) {
		char *next = th_fmt("%s%s%s", out, i ? "," : "", names[i]);
		free(out);
		out = next;
	}
	th_response_free(&r);
	free(url);
	return out;
}

START_TEST(artifacts_land_where_a_client_reads_them)
{
	struct stack st;
	struct core_error err = {{0}};
	char run[64], version[32];
	char *root = NULL;
	stack_start(&st);
	ck_assert_msg(tr_mlflow_start_run(&st.s, RID, "job-a", "art", NULL, NULL, NULL, "d", VERSION_ID, run, &err) ==
			      CORE_OK,
		      "%s", err.message);
	ck_assert_msg(tr_mlflow_artifact_root(&st.s, RID, run, &root, &err) == CORE_OK, "%s", err.message);

	/* a small trained-looking model: 4 inputs -> dense(3) (logits; the package adds the softmax) */
	struct ml_layer_spec layers[] = {{.kind = ML_DENSE, .units = 3}};
	struct ml_net *net = NULL;
	ck_assert_msg(ml_net_new(layers, 1, (struct ml_shape){4, 1, 1}, &net, &err) == CORE_OK, "%s", err.message);
	ml_net_init(net, 7);
	char dataset[] = "d@" VERSION_ID;
	struct ml_package pkg = {.task = "classification",
				 .net = net,
				 .class_names = json_pack("[s,s,s]", "cat", "dog", "eel"),
				 .dataset = dataset,
				 .metrics = json_pack("{s:f}", "test_accuracy", 0.5)};
	/* the inputs were standardised by the data registry: reference.json gives them back raw */
	pkg.preprocessing =
		json_pack("{s:[{s:s,s:s,s:f,s:f,s:f},{s:s,s:s,s:f,s:f,s:f},{s:s,s:s,s:f,s:f,s:f},"
			  "{s:s,s:s,s:f,s:f,s:f}],s:b,s:b}",
			  "columns", "name", "w", "type", "numeric", "mean", 1.0, "std", 2.0, "fill", 1.0, "name", "x",
			  "type", "numeric", "mean", 0.0, "std", 1.0, "fill", 0.0, "name", "y", "type", "numeric",
			  "mean", 0.0, "std", 1.0, "fill", 0.0, "name", "z", "type", "numeric", "mean", 10.0, "std",
			  0.5, "fill", 10.0, "one_hot", 1, "standardize", 1);
	static const float x[] = {0, 1, 2, 3, 1, 1, 1, 1, 3, 2, 1, 0, 0, 0, 0, 1, 2, 2, 2, 2, 5, 4, 3, 2};
	static const int64_t y[] = {0, 1, 2, 0, 1, 2};
	static const float probs[] = {0.8f, 0.1f, 0.1f, 0.2f, 0.7f, 0.1f, 0.1f, 0.2f, 0.7f,
				      0.3f, 0.6f, 0.1f, 0.1f, 0.8f, 0.1f, 0.5f, 0.2f, 0.3f};
	static const char *const names[] = {"cat", "dog", "eel"};
	struct ml_data val = {.x = x, .y = y, .n = 6, .shape = {4, 1, 1}};
	struct ml_class_report rep;
	ck_assert_msg(ml_eval_classification(probs, y, 6, 3, &rep, &err) == CORE_OK, "%s", err.message);
	static const double loss[] = {1.1, 0.8, 0.6}, val_loss[] = {1.2, 0.9, 0.8}, acc[] = {0.4, 0.6, 0.7},
			    val_acc[] = {0.3, 0.5, 0.6};
	struct tr_result res = {.package = &pkg,
				.report = &rep,
				.class_names = names,
				.loss = loss,
				.val_loss = val_loss,
				.acc = acc,
				.val_acc = val_acc,
				.epochs = 3,
				.val = &val,
				.val_probs = probs,
				.k = 3};
	ck_assert_msg(tr_artifacts_log(&st.s, RID, run, &res, &err) == CORE_OK, "%s", err.message);
	/* a retry after a lost answer: the same files */
	ck_assert_msg(tr_artifacts_log(&st.s, RID, run, &res, &err) == CORE_OK, "%s", err.message);

	char *l = listing(&st, root, "");
	ck_assert_str_eq(l, "charts/,classification_report.json,model/,reference.json");
	free(l);
	l = listing(&st, root, "model");
	ck_assert_str_eq(l, "model.json,weights.safetensors");
	free(l);
	l = listing(&st, root, "charts");
	ck_assert_str_eq(l, "accuracy.png,confusion_matrix.png,loss.png");
	free(l);

	/* the package's files, byte for byte what ml_package_write makes, and read back */
	char *mine = th_fmt("%s/trm-pkg-%d", th_env("LATHE_TEST_TMP"), (int)getpid());
	char *got = th_fmt("%s/trm-got-%d", th_env("LATHE_TEST_TMP"), (int)getpid());
	ck_assert_msg(ml_package_write(&pkg, mine, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(core_mkdir_p(got, 0755, &err) == CORE_OK, "%s", err.message);
	static const char *const files[] = {"model.json", "weights.safetensors"};
	for (size_t i = 0; i < 2; i++) {
		char *path = th_fmt("%s/%s", mine, files[i]), *sub = th_fmt("model/%s", files[i]);
		char *want = NULL;
		size_t want_len = 0;
		ck_assert_int_eq(core_read_file(path, (size_t)1 << 26, &want, &want_len, &err), CORE_OK);
		struct th_response r = artifact_get(&st, root, sub);
		ck_assert_int_eq(r.status, 200);
		ck_assert_uint_eq(r.body_len, want_len);
		ck_assert_int_eq(memcmp(r.body, want, want_len), 0);
		free(path);
		path = th_fmt("%s/%s", got, files[i]);
		ck_assert_int_eq(core_write_file_atomic(path, r.body, r.body_len, &err), CORE_OK);
		th_response_free(&r);
		free(want);
		free(sub);
		free(path);
	}
	struct ml_package back;
	ck_assert_msg(ml_package_read(got, &back, &err) == CORE_OK, "%s", err.message);
	ck_assert_str_eq(back.task, "classification");
	struct ml_param pa, pb;
	ml_net_param(net, 0, &pa);
	ml_net_param(back.net, 0, &pb);
	ck_assert_str_eq(pa.name, pb.name);
	ck_assert_uint_eq(pa.n, pb.n);
	ck_assert_int_eq(memcmp(pa.data, pb.data, pa.n * sizeof(float)), 0);
	ml_package_free(&back);

	static const char *const charts[] = {"charts/loss.png", "charts/accuracy.png", "charts/confusion_matrix.png"};
	for (size_t i = 0; i < 3; i++) {
		struct th_response r = artifact_get(&st, root, charts[i]);
		ck_assert_int_eq(r.status, 200);
		ck_assert_msg(r.body_len > 1000 && memcmp(r.body, "\x89PNG\r\n\x1a\n", 8) == 0, "%s is not a PNG",
			      charts[i]);
		th_response_free(&r);
	}
	struct th_response r = artifact_get(&st, root, "classification_report.json");
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(r.json);
	ck_assert_double_eq_tol(json_number_value(json_object_get(r.json, "accuracy")), rep.accuracy, 1e-12);
	ck_assert_ptr_nonnull(json_object_get(r.json, "eel"));
	th_response_free(&r);
	r = artifact_get(&st, root, "reference.json");
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(r.json);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "rows")), 6);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "format_version")), 2);
	json_t *cl = json_object_get(json_object_get(r.json, "predictions"), "classes");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cl, 2), "name")), "eel");
	json_t *conf_sample =
		json_object_get(json_object_get(json_object_get(r.json, "predictions"), "confidence"), "sample");
	ck_assert_uint_eq(json_array_size(conf_sample), 6);
	ck_assert_double_eq(json_real_value(json_array_get(conf_sample, 0)), (double)0.8f);
	/* the client's space: z = x * 0.5 + 10, so row 0's 3 is 11.5 and row 5's 2 is 11 */
	json_t *z = th_json_find(json_object_get(r.json, "columns"), "name", "z");
	json_t *zs = json_object_get(z, "sample");
	ck_assert_uint_eq(json_array_size(zs), 6);
	ck_assert_double_eq(json_real_value(json_array_get(zs, 0)), 11.5);
	ck_assert_double_eq(json_real_value(json_array_get(zs, 5)), 11.0);
	ck_assert_double_eq_tol(json_real_value(json_object_get(z, "mean")), 10.75, 1e-12);
	th_response_free(&r);

	/* what the registry makes of it */
	ck_assert_msg(tr_mlflow_register(&st.s, RID, run, "art", "challenger", version, &err) == CORE_OK, "%s",
		      err.message);
	char *ok = servable(&st, "art", version);
	ck_assert_str_eq(ok, "true");
	free(ok);

	ml_class_report_free(&rep);
	json_decref(pkg.class_names);
	json_decref(pkg.metrics);
	json_decref(pkg.preprocessing);
	ml_net_free(net);
	free(mine);
	free(got);
	free(root);
	img_chart_shutdown(); /* cairo's and fontconfig's caches, for the leak checker */
	stack_stop(&st);
}
END_TEST

START_TEST(a_peer_down_is_eio_and_back_up_works)
{
	struct stack st;
	struct core_error err = {{0}};
	char run[64], again[64], v[32];
	stack_start(&st);
	ck_assert_msg(tr_mlflow_start_run(&st.s, RID, "job-d", "down", NULL, NULL, NULL, "d", VERSION_ID, run, &err) ==
			      CORE_OK,
		      "%s", err.message);
	json_t *m = json_pack("{s:f}", "loss", 0.5);
	tracker_stop(&st);
	ck_assert_int_eq(tr_mlflow_log_metrics(&st.s, RID, run, 1, m, &err), CORE_EIO);
	ck_assert_msg(strstr(err.message, "experiment tracker") && !strstr(err.message, "127.0.0.1"), "%s",
		      err.message);
	ck_assert_int_eq(
		tr_mlflow_start_run(&st.s, RID, "job-d", "down", NULL, NULL, NULL, "d", VERSION_ID, again, &err),
		CORE_EIO);
	ck_assert_int_eq(tr_mlflow_end_run(&st.s, RID, run, "FINISHED", &err), CORE_EIO);
	/* the registry up but the tracker down: registration needs only the registry */
	tracker_restart(&st);
	ck_assert_msg(tr_mlflow_log_metrics(&st.s, RID, run, 1, m, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(tr_mlflow_start_run(&st.s, RID, "job-d", "down", NULL, NULL, NULL, "d", VERSION_ID, again,
					  &err) == CORE_OK,
		      "%s", err.message);
	ck_assert_str_eq(again, run);
	ck_assert_msg(tr_mlflow_end_run(&st.s, RID, run, "FINISHED", &err) == CORE_OK, "%s", err.message);
	json_t *h = history(&st, run, "loss");
	ck_assert_uint_eq(json_array_size(h), 1);
	json_decref(h);
	/* the registry unreachable: a port nothing listens on */
	struct tr_settings dead = st.s;
	char dead_url[64];
	snprintf(dead_url, sizeof dead_url, "http://127.0.0.1:%u", th_free_port());
	dead.registry_url = dead_url;
	ck_assert_int_eq(tr_mlflow_register(&dead, RID, run, "m", "champion", v, &err), CORE_EIO);
	ck_assert_str_eq(v, "");
	ck_assert_msg(tr_mlflow_register(&st.s, RID, run, "m", "champion", v, &err) == CORE_OK, "%s", err.message);
	ck_assert_str_eq(v, "1");
	json_decref(m);
	stack_stop(&st);
}
END_TEST

static Suite *mlflow_suite(void)
{
	Suite *s = suite_create("trainer-mlflow");
	TCase *tc = tcase_create("client");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_job_has_one_run_with_its_params_tags_and_dataset);
	tcase_add_test(tc, metrics_are_one_point_per_epoch_even_when_sent_again);
	tcase_add_test(tc, register_twice_gives_one_servable_version_with_its_alias);
	tcase_add_test(tc, artifacts_land_where_a_client_reads_them);
	tcase_add_test(tc, a_peer_down_is_eio_and_back_up_works);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct core_error err;
	if (httpc_global_init(&err) != CORE_OK) {
		fprintf(stderr, "%s\n", err.message);
		return EXIT_FAILURE;
	}
	SRunner *sr = srunner_create(mlflow_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	httpc_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
