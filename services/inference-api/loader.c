/* What serves, and getting it ready. For each registered model (registry search, paged;
 * or only MODELS) the loader resolves the version to serve, the `champion` alias's, or
 * when the model has no aliases at all its newest version in stage Production, and the
 * `challenger` alias's when CANARY_PERCENT > 0 or SHADOW; then for a version not loaded
 * yet: its source resolved to a tracker artifact path (mlflow/source.h, the registry's
 * rules), model.json and weights.safetensors downloaded into MODEL_DIR/<name>/<version>/
 * (libs/pkgfetch: each replaced atomically; removed once read), read with ml_package_read (which checks every tensor's
 * shape against model.json), its input kind and preprocessing taken from the package,
 * a batcher built, WARMUP_RUNS inferences run, and only then published in the model
 * table (models.c: in-flight requests finish on the old version). A refused version is
 * logged at warn, counted and remembered, and the old one keeps serving; a tracker or
 * registry that does not answer is not a refusal (the next resync asks again). Loads are
 * serialised by the table's load lock; requests never wait for it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include "core/time.h"
#include "http/client.h"
#include "ia.h"
#include "mlflow/source.h"
#include "pkgfetch/pkgfetch.h"

#define REGISTRY_API "/api/2.0/mlflow/"
#define JSON_MAX     ((size_t)16 << 20)
#define PACKAGE_MAX  ((size_t)1 << 30)

static struct httpc_peer registry_peer(const struct ia_settings *s)
{
	return (struct httpc_peer){.name = "the model registry",
				   .base_url = s->registry_url,
				   .token = s->registry_token,
				   .timeout_ms = s->registry_timeout_ms,
				   .max_response = JSON_MAX};
}

static struct httpc_peer tracker_peer(const struct ia_settings *s, size_t max)
{
	return (struct httpc_peer){.name = "the experiment tracker",
				   .base_url = s->tracker_url,
				   .token = s->tracker_token,
				   .timeout_ms = s->tracker_timeout_ms,
				   .max_response = max};
}

/* GETs path on p: CORE_OK with *status (and *out, the object, when there is one),
 * CORE_EIO when the peer did not answer. */
static enum core_status get_json(const struct httpc_peer *p, const char *path, const char *rid, long *status,
				 json_t **out, struct core_error *err)
{
	return httpc_peer_json(p, "GET", path, NULL, rid, status, out, err);
}

/* --- what a registered model should serve ------------------------------------------ */

static const char *alias_version(json_t *rm, const char *alias)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(rm, "aliases"), i, a)
	{
		const char *name = json_string_value(json_object_get(a, "alias"));
		if (name && strcmp(name, alias) == 0)
			return json_string_value(json_object_get(a, "version"));
	}
	return NULL;
}

/* The newest version in stage Production among latest_versions, or NULL. */
static const char *production_version(json_t *rm)
{
	const char *best = NULL;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(rm, "latest_versions"), i, v)
	{
		const char *stage = json_string_value(json_object_get(v, "current_stage"));
		const char *ver = json_string_value(json_object_get(v, "version"));
		if (stage && ver && strcmp(stage, "Production") == 0 &&
		    (!best || strtol(ver, NULL, 10) > strtol(best, NULL, 10)))
			best = ver;
	}
	return best;
}

/* --- building a loaded version ------------------------------------------------------ */

void ia_model_unref(struct ia_model *m)
{
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	ia_batcher_free(m->batcher);
	ia_prep_free(m);
	if (m->labels)
		for (size_t i = 0; i < m->n_out; i++)
			free((char *)m->labels[i]);
	free((void *)m->labels);
	ml_package_free(&m->pkg);
	free(m->name);
	free(m->version);
	free(m->alias);
	free(m);
}

static void make_labels(struct ia_model *m)
{
	if (strcmp(m->pkg.task, "classification") != 0)
		return;
	char **l = core_xcalloc(m->n_out, sizeof *l);
	for (size_t i = 0; i < m->n_out; i++) {
		const char *n = json_string_value(json_array_get(m->pkg.class_names, i));
		l[i] = n ? core_xstrdup(n) : core_xasprintf("%zu", i);
	}
	m->labels = (const char *const *)l;
}

/* Runs rows of zeros through the batcher; a version whose outputs are not finite is refused. */
static enum core_status warm_up(struct ia_model *m, long runs, struct core_error *err)
{
	float *x = core_xcalloc(m->n_in, sizeof *x), *out = core_xcalloc(m->n_out, sizeof *out);
	enum core_status rc = CORE_OK;
	for (long r = 0; r < runs && rc == CORE_OK; r++) {
		rc = ia_batcher_run(m->batcher, x, 1, out, err);
		for (size_t i = 0; i < m->n_out && rc == CORE_OK; i++)
			if (!isfinite(out[i]))
				rc = core_fail(err, CORE_EINVAL, "warm-up: output %zu is not finite", i);
	}
	free(out);
	free(x);
	return rc;
}

/* A batching window pays only when a pass is dear: a request that waits in the window
 * sleeps and is woken, two context switches, and on the machines this runs on those cost
 * tens of microseconds, more than merging its row saves on a small net (the MLP
 * 784-256-10 passes one row in ~10 us). Below this one-row pass time, the window is
 * left out and requests are merged only when they queue behind busy copies. */
#define IA_WINDOW_MIN_PASS_NS 50000

/* The window this model's batcher gets: the setting, or 0 when a one-row pass (best of
 * three on the template net, rows of zeros) is cheaper than IA_WINDOW_MIN_PASS_NS. */
static long batch_window_us(const struct ia_model *m, long setting)
{
	if (setting <= 0)
		return 0;
	float *x = core_xcalloc(m->n_in, sizeof *x), *out = core_xcalloc(m->n_out, sizeof *out);
	uint64_t best = UINT64_MAX;
	struct core_error err = {{0}};
	for (int i = 0; i < 3; i++) {
		uint64_t t0 = core_monotonic_ns();
		if (ml_net_predict(m->pkg.net, x, 1, out, &err) != CORE_OK)
			break;
		uint64_t t = core_monotonic_ns() - t0;
		best = t < best ? t : best;
	}
	free(out);
	free(x);
	return best < IA_WINDOW_MIN_PASS_NS ? 0 : setting;
}

enum core_status ia_model_build(struct ia_app *a, const char *name, const char *version, const char *alias,
				const char *dir, struct ia_model **out, struct core_error *err)
{
	const struct ia_settings *s = a->settings;
	struct ia_model *m = core_xcalloc(1, sizeof *m);
	m->name = core_xstrdup(name);
	m->version = core_xstrdup(version);
	m->alias = alias ? core_xstrdup(alias) : NULL;
	atomic_init(&m->refs, 1);
	*out = NULL;
	enum core_status rc = ml_package_read(dir, &m->pkg, err);
	/* served, never trained: the layout that predicts a request's few rows fastest */
	if (rc == CORE_OK)
		rc = ml_net_freeze(m->pkg.net, err);
	if (rc == CORE_OK) {
		m->n_out = ml_net_n_outputs(m->pkg.net);
		rc = ia_prep_compile(m, err);
	}
	if (rc == CORE_OK) {
		make_labels(m);
		m->batch_window_us = batch_window_us(m, s->batch_max_delay_us);
		rc = ia_batcher_new(m->pkg.net, (size_t)s->infer_threads, (size_t)s->batch_max_size, m->batch_window_us,
				    a->metrics.batch_size, &m->batcher, err);
	}
	if (rc == CORE_OK)
		rc = warm_up(m, s->warmup_runs, err);
	if (rc != CORE_OK) {
		ia_model_unref(m);
		return rc;
	}
	m->loaded_at_ms = core_now_ms();
	*out = m;
	return CORE_OK;
}

/* Fetches version's package (libs/pkgfetch) and builds it. The downloaded files go
 * once read (built or refused): the net holds its weights, and every load downloads
 * again, so nothing under MODEL_DIR outlives a load. */
static enum core_status fetch_and_build(struct ia_app *a, const char *name, const char *version, const char *alias,
					const char *rid, struct ia_model **out, struct core_error *err)
{
	const struct ia_settings *s = a->settings;
	struct httpc_peer reg = registry_peer(s), tr = tracker_peer(s, PACKAGE_MAX);
	char *dn = pkgfetch_dir_name(name), *dv = pkgfetch_dir_name(version);
	char *dir = core_xasprintf("%s/%s/%s", s->model_dir, dn, dv);
	enum core_status rc = pkgfetch_version(&reg, &tr, name, version, dir, rid, err);
	if (rc == CORE_OK)
		rc = ia_model_build(a, name, version, alias, dir, out, err);
	pkgfetch_forget(dir);
	free(dir);
	free(dv);
	free(dn);
	return rc;
}

/* Makes version serve as name's role, loading it unless it is loaded already. */
static enum core_status load_role(struct ia_app *a, const char *name, enum ia_role role, const char *version,
				  const char *alias, bool force, const char *rid, struct core_error *err)
{
	struct ia_models *t = a->models;
	if (ia_models_has(t, name, role, version))
		return CORE_OK;
	/* the challenger promoted to champion (or the reverse) is already loaded */
	struct ia_pick p = {0};
	char why[256];
	if (ia_models_pick(t, name, version, &p, why, sizeof why) == IA_FOUND) {
		ia_model_ref(p.serve);
		ia_models_publish(t, name, role, p.serve);
		ia_pick_release(&p);
		return CORE_OK;
	}
	if (!force && ia_models_refused(t, name, version))
		return core_fail(err, CORE_EINVAL, "version %s was refused before", version);
	if (role == IA_ROLE_SERVE)
		ia_models_want(t, name);
	struct ia_model *m = NULL;
	int64_t t0 = core_now_ms();
	enum core_status rc = fetch_and_build(a, name, version, alias, rid, &m, err);
	struct core_log_field f[] = {CORE_LF_STR("model", name), CORE_LF_STR("version", version),
				     CORE_LF_STR("alias", alias ? alias : ""), CORE_LF_INT("ms", core_now_ms() - t0)};
	if (rc == CORE_OK) {
		long window = m->batch_window_us;
		ia_models_publish(t, name, role, m);
		core_log_with(CORE_LOG_INFO, f, 4, "model %s version %s loaded (batch window %ld us%s)", name, version,
			      window,
			      window == 0 && a->settings->batch_max_delay_us > 0 ? ": a pass is too cheap to wait for"
										 : "");
	} else if (rc == CORE_EIO) {
		core_log_with(CORE_LOG_WARN, f, 4, "model %s version %s not loaded, will retry: %s", name, version,
			      err->message);
	} else {
		char reason[600];
		snprintf(reason, sizeof reason, "version %s refused: %s", version, err->message);
		ia_models_failed(t, name, version, reason);
		core_log_with(CORE_LOG_WARN, f, 4, "model %s version %s refused, the serving one stays: %s", name,
			      version, err->message);
		if (rc != CORE_ENOENT)
			rc = CORE_EINVAL;
	}
	return rc;
}

/* Brings name to what rm (its registry entry) says should serve; under the load lock. */
static enum core_status sync_entry(struct ia_app *a, const char *name, json_t *rm, bool force, const char *rid,
				   struct core_error *err)
{
	const struct ia_settings *s = a->settings;
	const char *champ = alias_version(rm, "champion"), *alias = "champion";
	if (!champ && json_array_size(json_object_get(rm, "aliases")) == 0) {
		champ = production_version(rm);
		alias = "Production";
	}
	if (!champ) {
		ia_models_remove(a->models, name);
		return core_fail(err, CORE_ENOENT, "model '%s' has no version aliased champion%s", name,
				 json_array_size(json_object_get(rm, "aliases")) ? "" : " nor in stage Production");
	}
	enum core_status rc = load_role(a, name, IA_ROLE_SERVE, champ, alias, force, rid, err);
	const char *chal = s->canary_percent > 0 || s->shadow ? alias_version(rm, "challenger") : NULL;
	struct core_error cerr = {{0}};
	if (chal)
		load_role(a, name, IA_ROLE_CHALLENGER, chal, "challenger", force, rid, &cerr);
	else
		ia_models_publish(a->models, name, IA_ROLE_CHALLENGER, NULL);
	return rc;
}

static bool wanted(const struct ia_settings *s, const char *name)
{
	if (!s->models || !*s->models)
		return true;
	size_t n = strlen(name);
	for (const char *p = s->models; *p;) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t k = strcspn(p, ", ");
		if (k == n && strncmp(p, name, n) == 0)
			return true;
		p += k;
	}
	return false;
}

enum core_status ia_loader_sync_model(struct ia_app *a, const char *name, bool force, const char *rid, bool *gone,
				      struct core_error *err)
{
	struct httpc_peer reg = registry_peer(a->settings);
	char *q = mlflow_url_escape(name, false);
	char *path = core_xasprintf(REGISTRY_API "registered-models/get?name=%s", q);
	json_t *doc = NULL;
	long status = 0;
	*gone = false;
	ia_models_load_lock(a->models);
	enum core_status rc = get_json(&reg, path, rid, &status, &doc, err);
	if (rc == CORE_OK && status == 404) {
		ia_models_remove(a->models, name);
		*gone = true;
	} else if (rc == CORE_OK && status != 200) {
		rc = core_fail(err, CORE_EIO, "the registry answered %ld for model %s", status, name);
	} else if (rc == CORE_OK && !wanted(a->settings, name)) {
		rc = core_fail(err, CORE_ENOENT, "model '%s' is not among MODELS", name);
	} else if (rc == CORE_OK && (force || !ia_models_is_unloaded(a->models, name))) {
		rc = sync_entry(a, name, json_object_get(doc, "registered_model"), force, rid, err);
	}
	ia_models_load_unlock(a->models);
	json_decref(doc);
	free(path);
	free(q);
	return rc;
}

enum core_status ia_loader_sync_all(struct ia_app *a, const char *rid, struct core_error *err)
{
	struct httpc_peer reg = registry_peer(a->settings);
	char **names = NULL;
	size_t n = 0;
	json_t *pages = json_array();
	char *token = NULL;
	enum core_status rc = CORE_OK;
	do { /* every page first: a model is dropped only when the whole list is known */
		char *q = token ? mlflow_url_escape(token, false) : NULL;
		char *path = core_xasprintf(REGISTRY_API "registered-models/search?max_results=100%s%s",
					    q ? "&page_token=" : "", q ? q : "");
		json_t *doc = NULL;
		long status = 0;
		rc = get_json(&reg, path, rid, &status, &doc, err);
		if (rc == CORE_OK && status != 200)
			rc = core_fail(err, CORE_EIO, "the registry answered %ld to registered-models/search", status);
		free(token);
		token = NULL;
		if (rc == CORE_OK) {
			const char *next = json_string_value(json_object_get(doc, "next_page_token"));
			token = next && *next ? core_xstrdup(next) : NULL;
			json_array_append(pages, doc);
		}
		json_decref(doc);
		free(path);
		free(q);
	} while (rc == CORE_OK && token);
	free(token);
	if (rc != CORE_OK) {
		json_decref(pages);
		return rc;
	}
	ia_models_load_lock(a->models);
	size_t i, k;
	json_t *page, *rm;
	json_array_foreach(pages, i, page)
	{
		json_array_foreach(json_object_get(page, "registered_models"), k, rm)
		{
			const char *name = json_string_value(json_object_get(rm, "name"));
			if (!name || !wanted(a->settings, name))
				continue;
			names = core_xrealloc(names, (n + 1) * sizeof *names);
			names[n++] = (char *)name;
			struct core_error e = {{0}};
			if (!ia_models_is_unloaded(a->models, name))
				sync_entry(a, name, rm, false, rid,
					   &e); /* logged there; one model never stops the rest */
		}
	}
	ia_models_retain(a->models, names, n);
	ia_models_load_unlock(a->models);
	free(names);
	json_decref(pages);
	return CORE_OK;
}
