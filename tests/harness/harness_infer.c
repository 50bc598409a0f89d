/* The inference API's test helpers (harness_infer.h): three real daemons, packages the
 * test chooses, logged and registered the way the trainer does it (artifacts under
 * model/ of a run, version source runs:/<run>/model), and a forward pass in plain C
 * loops to compare served answers with. Every failure fails the test where it happens. */
#include "harness_infer.h"
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/file.h"

static int th_infer_seq; /* scratch directory names, per test process */

static void sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

void th_infer_start_api(struct th_infer_stack *s, const char *const *ia_env, bool wait_ready)
{
	const char *env[20];
	size_t n = 0;
	for (size_t i = 0; i < 4 && s->env[i][0]; i++) {
		bool overridden = false; /* a setting in ia_env replaces the stack's own */
		size_t klen = strcspn(s->env[i], "=") + 1;
		for (size_t k = 0; ia_env && ia_env[k]; k++)
			overridden = overridden || strncmp(ia_env[k], s->env[i], klen) == 0;
		if (!overridden)
			env[n++] = s->env[i];
	}
	for (size_t i = 0; ia_env && ia_env[i] && n < 19; i++)
		env[n++] = ia_env[i];
	env[n] = NULL;
	s->ia = wait_ready ? th_daemon_start("inference-api", NULL, env) : th_daemon_spawn("inference-api", NULL, env);
}

void th_infer_start(struct th_infer_stack *s, bool start_ia, const char *const *ia_env, bool wait_ready)
{
	memset(s, 0, sizeof *s);
	s->tracker = th_daemon_start("experiment-tracker", NULL, NULL);
	char turl[128];
	snprintf(turl, sizeof turl, "TRACKER_URL=%s", s->tracker->base_url);
	const char *renv[] = {turl, "SERVABLE_RETRY_MS=100", NULL};
	s->registry = th_daemon_start("model-registry", NULL, renv);
	snprintf(s->env[0], sizeof s->env[0], "TRACKER_URL=%s", s->tracker->base_url);
	snprintf(s->env[1], sizeof s->env[1], "REGISTRY_URL=%s", s->registry->base_url);
	snprintf(s->env[2], sizeof s->env[2], "MODEL_DIR=%s/ia-models-%d-%d", th_env("LATHE_TEST_TMP"), (int)getpid(),
		 th_infer_seq++);
	char *body = th_fmt("{\"name\": \"infer-%d-%ld\"}", (int)getpid(), (long)time(NULL));
	json_t *e = th_ok(s->tracker, "POST", "/api/2.0/mlflow/experiments/create", body);
	snprintf(s->experiment_id, sizeof s->experiment_id, "%s",
		 json_string_value(json_object_get(e, "experiment_id")));
	json_decref(e);
	free(body);
	if (start_ia)
		th_infer_start_api(s, ia_env, wait_ready);
}

void th_infer_stop(struct th_infer_stack *s)
{
	if (s->ia)
		th_daemon_stop(s->ia);
	if (s->registry)
		th_daemon_stop(s->registry);
	if (s->tracker)
		th_daemon_stop(s->tracker);
	s->ia = s->registry = s->tracker = NULL;
}

/* --- packages ------------------------------------------------------------------------- */

void th_infer_classifier(struct ml_package *out, int size, int hidden, int classes, uint64_t seed, float scale)
{
	struct ml_layer_spec l[4];
	size_t n = 0;
	l[n++] = (struct ml_layer_spec){.kind = ML_FLATTEN};
	if (hidden > 0) {
		l[n++] = (struct ml_layer_spec){.kind = ML_DENSE, .units = hidden};
		l[n++] = (struct ml_layer_spec){.kind = ML_RELU};
	}
	l[n++] = (struct ml_layer_spec){.kind = ML_DENSE, .units = classes};
	memset(out, 0, sizeof *out);
	struct core_error err = {{0}};
	ck_assert_msg(ml_net_new(l, n, (struct ml_shape){1, size, size}, &out->net, &err) == CORE_OK, "%s",
		      err.message);
	ml_net_init(out->net, seed);
	for (size_t i = 0; i < ml_net_n_params(out->net); i++) {
		struct ml_param p;
		ml_net_param(out->net, i, &p);
		for (size_t k = 0; k < p.n; k++)
			p.data[k] = p.data[k] * scale + (strstr(p.name, "bias") ? 0.01f * (float)k : 0.0f);
	}
	snprintf(out->task, sizeof out->task, "classification");
	out->preprocessing = json_pack("{s:[i,i], s:i, s:s, s:s}", "size", size, size, "channels", 1, "normalize",
				       "unit", "layout", "NCHW");
	out->class_names = json_array();
	for (int c = 0; c < classes; c++) {
		char name[16];
		snprintf(name, sizeof name, "c%d", c);
		json_array_append_new(out->class_names, json_string(name));
	}
}

/* Parameter named name of p's net. */
static void param_named(const struct ml_package *p, const char *name, struct ml_param *out)
{
	for (size_t i = 0; i < ml_net_n_params(p->net); i++) {
		ml_net_param(p->net, i, out);
		if (strcmp(out->name, name) == 0)
			return;
	}
	ck_abort_msg("the package has no parameter %s", name);
}

void th_infer_forward(const struct ml_package *p, const float *raw, size_t n, float *out)
{
	struct ml_shape in = ml_net_input(p->net);
	size_t width = (size_t)in.c * in.h * in.w, k_out = ml_net_n_outputs(p->net);
	float *a = calloc(4096 > width ? 4096 : width, sizeof *a), *b = calloc(4096 > width ? 4096 : width, sizeof *b);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	const char *norm = json_string_value(json_object_get(p->preprocessing, "normalize"));
	for (size_t r = 0; r < n; r++) {
		size_t len = width;
		for (size_t i = 0; i < width; i++)
			a[i] = norm && strcmp(norm, "unit") == 0 ? raw[r * width + i] / 255.0f : raw[r * width + i];
		bool softmaxed = false;
		for (size_t li = 0; li < ml_net_n_layers(p->net); li++) {
			const struct ml_layer_spec *l = ml_net_layer(p->net, li);
			if (l->kind == ML_DENSE) {
				char wn[32], bn[32];
				snprintf(wn, sizeof wn, "%zu.weight", li);
				snprintf(bn, sizeof bn, "%zu.bias", li);
				struct ml_param w, bias;
				param_named(p, wn, &w);
				param_named(p, bn, &bias);
				for (int o = 0; o < l->units; o++) {
					double s = bias.data[o];
					for (size_t i = 0; i < len; i++)
						s += (double)w.data[(size_t)o * len + i] * a[i];
					b[o] = (float)s;
				}
				len = (size_t)l->units;
				memcpy(a, b, len * sizeof *a);
			} else if (l->kind == ML_RELU) {
				for (size_t i = 0; i < len; i++)
					a[i] = a[i] > 0 ? a[i] : 0;
			} else if (l->kind == ML_SOFTMAX) {
				softmaxed = true;
			}
			ck_assert_msg(l->kind == ML_DENSE || l->kind == ML_RELU || l->kind == ML_SOFTMAX ||
					      l->kind == ML_FLATTEN,
				      "th_infer_forward knows dense, relu, flatten and softmax only");
		}
		(void)softmaxed; /* a classifier's package always ends with a softmax when read */
		double mx = a[0], sum = 0;
		for (size_t i = 1; i < len; i++)
			mx = a[i] > mx ? a[i] : mx;
		for (size_t i = 0; i < len; i++)
			sum += exp(a[i] - mx);
		for (size_t i = 0; i < len && i < k_out; i++)
			out[r * k_out + i] = (float)(exp(a[i] - mx) / sum);
	}
	free(a);
	free(b);
}

char *th_infer_write(const struct ml_package *p)
{
	char *dir = th_fmt("%s/ia-pkg-%d-%d", th_env("LATHE_TEST_TMP"), (int)getpid(), th_infer_seq++);
	struct core_error err = {{0}};
	ck_assert_msg(ml_package_write(p, dir, &err) == CORE_OK, "ml_package_write: %s", err.message);
	return dir;
}

/* The artifact path of run_id's artifact root (from its artifact_uri). */
static char *run_root(struct th_infer_stack *s, const char *run_id)
{
	char *p = th_fmt("/api/2.0/mlflow/runs/get?run_id=%s", run_id);
	json_t *run = th_ok(s->tracker, "GET", p, NULL);
	const char *uri = json_string_value(
		json_object_get(json_object_get(json_object_get(run, "run"), "info"), "artifact_uri"));
	ck_assert_msg(uri && strncmp(uri, "mlflow-artifacts:", 17) == 0, "artifact_uri %s", uri ? uri : "(none)");
	const char *rest = uri + 17;
	if (strncmp(rest, "//", 2) == 0)
		rest = strchr(rest + 2, '/') ? strchr(rest + 2, '/') : "";
	while (*rest == '/')
		rest++;
	char *root = strdup(rest);
	json_decref(run);
	free(p);
	return root;
}

void th_infer_put_artifact(struct th_infer_stack *s, const char *run_id, const char *file, const void *data, size_t len)
{
	char *path = th_fmt("model/%s", file);
	th_infer_put_run_file(s, run_id, path, data, len);
	free(path);
}

void th_infer_put_run_file(struct th_infer_stack *s, const char *run_id, const char *path, const void *data, size_t len)
{
	char *root = run_root(s, run_id);
	char *url = th_fmt("%s/api/2.0/mlflow-artifacts/artifacts/%s/%s", s->tracker->base_url, root, path);
	struct th_response r = th_http("PUT", url, "application/octet-stream", len ? data : "", len);
	ck_assert_msg(r.status == 200, "PUT %s: %ld %s", path, r.status, r.body ? r.body : "");
	th_response_free(&r);
	free(url);
	free(root);
}

char *th_infer_log_dir(struct th_infer_stack *s, const char *dir)
{
	char *body = th_fmt("{\"experiment_id\": \"%s\", \"run_name\": \"package\"}", s->experiment_id);
	json_t *run = th_ok(s->tracker, "POST", "/api/2.0/mlflow/runs/create", body);
	char *run_id = strdup(
		json_string_value(json_object_get(json_object_get(json_object_get(run, "run"), "info"), "run_id")));
	json_decref(run);
	free(body);
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *path = th_fmt("%s/%s", dir, e->d_name), *data = NULL;
		size_t len = 0;
		struct core_error err = {{0}};
		ck_assert_msg(core_read_file(path, (size_t)1 << 30, &data, &len, &err) == CORE_OK, "%s", err.message);
		th_infer_put_artifact(s, run_id, e->d_name, data, len);
		files++;
		free(data);
		free(path);
	}
	closedir(d);
	ck_assert_int_ge(files, 2);
	body = th_fmt("{\"run_id\": \"%s\", \"status\": \"FINISHED\"}", run_id);
	json_decref(th_ok(s->tracker, "POST", "/api/2.0/mlflow/runs/update", body));
	free(body);
	return run_id;
}

char *th_infer_register(struct th_infer_stack *s, const char *model, const char *run_id)
{
	json_t *b = json_pack("{s:s}", "name", model);
	char *text = json_dumps(b, JSON_COMPACT);
	struct th_response r = th_call(s->registry, "POST", "/api/2.0/mlflow/registered-models/create", text);
	ck_assert_msg(r.status == 200 || (r.status == 400 && strstr(r.body, "RESOURCE_ALREADY_EXISTS")),
		      "registered-models/create: %ld %s", r.status, r.body);
	th_response_free(&r);
	free(text);
	json_decref(b);
	char *source = th_fmt("runs:/%s/model", run_id);
	b = json_pack("{s:s, s:s, s:s}", "name", model, "source", source, "run_id", run_id);
	text = json_dumps(b, JSON_COMPACT);
	json_t *v = th_ok(s->registry, "POST", "/api/2.0/mlflow/model-versions/create", text);
	const char *ver = json_string_value(json_object_get(json_object_get(v, "model_version"), "version"));
	ck_assert_ptr_nonnull(ver);
	char *out = strdup(ver);
	json_decref(v);
	free(text);
	json_decref(b);
	free(source);
	return out;
}

void th_infer_alias(struct th_infer_stack *s, const char *model, const char *alias, const char *version)
{
	json_t *b = json_pack("{s:s, s:s, s:s}", "name", model, "alias", alias, "version", version);
	char *text = json_dumps(b, JSON_COMPACT);
	json_decref(th_ok(s->registry, "POST", "/api/2.0/mlflow/registered-models/alias", text));
	free(text);
	json_decref(b);
}

char *th_infer_publish(struct th_infer_stack *s, const char *model, const struct ml_package *p, const char *alias)
{
	char *dir = th_infer_write(p);
	char *run = th_infer_log_dir(s, dir);
	char *version = th_infer_register(s, model, run);
	if (alias)
		th_infer_alias(s, model, alias, version);
	free(run);
	free(dir);
	return version;
}

/* --- calls ------------------------------------------------------------------------------ */

struct th_response th_infer_oip(struct th_daemon *ia, const char *model, const char *version, const float *raw,
				size_t n, size_t per)
{
	json_t *data = json_array();
	for (size_t i = 0; i < n * per; i++)
		json_array_append_new(data, json_real(raw[i]));
	json_t *b = json_pack("{s:[{s:s, s:s, s:[I,I], s:o}]}", "inputs", "name", "input", "datatype", "FP32", "shape",
			      (json_int_t)n, (json_int_t)per, "data", data);
	char *text = json_dumps(b, JSON_COMPACT);
	char *url = version ? th_fmt("%s/v2/models/%s/versions/%s/infer", ia->base_url, model, version)
			    : th_fmt("%s/v2/models/%s/infer", ia->base_url, model);
	struct th_response r = th_http("POST", url, NULL, text, strlen(text));
	free(url);
	free(text);
	json_decref(b);
	return r;
}

char *th_infer_serving(struct th_daemon *ia, const char *model)
{
	json_t *rows = th_ok(ia, "GET", "/v2/repository/index", NULL);
	const char *found = "";
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r)
	{
		const char *name = json_string_value(json_object_get(r, "name"));
		const char *state = json_string_value(json_object_get(r, "state"));
		const char *reason = json_string_value(json_object_get(r, "reason"));
		if (name && strcmp(name, model) == 0 && state && strcmp(state, "READY") == 0 &&
		    !(reason && strcmp(reason, "challenger") == 0))
			found = json_string_value(json_object_get(r, "version"));
	}
	char *out = strdup(found ? found : "");
	json_decref(rows);
	return out;
}

bool th_infer_wait_serving(struct th_daemon *ia, const char *model, const char *version, int timeout_ms)
{
	for (int waited = 0;; waited += 50) {
		char *v = th_infer_serving(ia, model);
		bool ok = version ? strcmp(v, version) == 0 : *v == '\0';
		free(v);
		if (ok)
			return true;
		if (waited >= timeout_ms)
			return false;
		sleep_ms(50);
	}
}
