/* The model table: for each model name, the version that serves and the challenger's,
 * each a refcounted struct ia_model. A swap replaces a pointer under the table's mutex
 * and drops the table's ref to the old version: requests that picked the old one keep
 * their refs and finish on it, the last one frees it, and no request ever waits for a
 * load (loads happen outside the mutex; the mutex covers a few pointer copies). The
 * canary share is a per-table counter: request n goes to the challenger when
 * 37n mod 100 < CANARY_PERCENT (37 is prime to 100, so every hundred requests are a
 * permutation of 0..99): the split is exact over each hundred and spread within it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "ia.h"

struct entry {
	char *name;
	struct ia_model *role[2]; /* IA_ROLE_SERVE, IA_ROLE_CHALLENGER; NULL: none */
	char *failed_version;     /* the last version refused, or NULL */
	char *reason;             /* why nothing serves, or NULL */
	bool unloaded;            /* explicit unload: stays so until an explicit load */
};

struct ia_models {
	pthread_mutex_t mu;      /* the entries */
	pthread_mutex_t load_mu; /* one load at a time */
	struct entry *e;
	size_t n, cap;
	bool synced;
	atomic_uint_fast64_t counter;
	struct ia_metrics *metrics;
	long canary_percent;
	bool shadow;
};

struct ia_models *ia_models_new(struct ia_metrics *metrics, long canary_percent, bool shadow)
{
	struct ia_models *t = core_xcalloc(1, sizeof *t);
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->load_mu, NULL);
	t->metrics = metrics;
	t->canary_percent = canary_percent;
	t->shadow = shadow;
	return t;
}

static void set_loaded(struct ia_models *t, const struct ia_model *m, double v)
{
	if (m)
		metrics_gauge_set(t->metrics->loaded, (const char *const[]){m->name, m->version}, v);
}

static void entry_clear(struct ia_models *t, struct entry *e)
{
	for (int r = 0; r < 2; r++) {
		/* the same version may serve and challenge: it stays loaded until both go */
		if (e->role[r] && (r == 0 || e->role[r] != e->role[0]))
			set_loaded(t, e->role[r], 0);
		if (e->role[r])
			ia_model_unref(e->role[r]);
		e->role[r] = NULL;
	}
	free(e->name);
	free(e->failed_version);
	free(e->reason);
}

void ia_models_free(struct ia_models *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		entry_clear(t, &t->e[i]);
	free(t->e);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->load_mu);
	free(t);
}

void ia_models_load_lock(struct ia_models *t)
{
	pthread_mutex_lock(&t->load_mu);
}

void ia_models_load_unlock(struct ia_models *t)
{
	pthread_mutex_unlock(&t->load_mu);
}

/* The entry of name, or NULL; under t->mu. */
static struct entry *find(struct ia_models *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->e[i].name, name) == 0)
			return &t->e[i];
	return NULL;
}

/* The entry of name, made when missing; under t->mu. */
static struct entry *find_or_add(struct ia_models *t, const char *name)
{
	struct entry *e = find(t, name);
	if (e)
		return e;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->e = core_xrealloc(t->e, t->cap * sizeof *t->e);
	}
	e = &t->e[t->n++];
	*e = (struct entry){.name = core_xstrdup(name)};
	return e;
}

void ia_models_want(struct ia_models *t, const char *name)
{
	pthread_mutex_lock(&t->mu);
	find_or_add(t, name);
	pthread_mutex_unlock(&t->mu);
}

void ia_models_publish(struct ia_models *t, const char *name, enum ia_role role, struct ia_model *m)
{
	pthread_mutex_lock(&t->mu);
	struct entry *e = find_or_add(t, name);
	struct ia_model *old = e->role[role];
	e->role[role] = m;
	struct ia_model *other = e->role[!role];
	if (m) {
		set_loaded(t, m, 1);
		free(e->failed_version);
		free(e->reason);
		e->failed_version = e->reason = NULL;
	}
	/* the old version stays loaded when it still holds the other role */
	if (old && old != m && old != other)
		set_loaded(t, old, 0);
	pthread_mutex_unlock(&t->mu);
	if (old)
		ia_model_unref(old); /* freed here or when its last request ends */
}

bool ia_models_has(struct ia_models *t, const char *name, enum ia_role role, const char *version)
{
	pthread_mutex_lock(&t->mu);
	struct entry *e = find(t, name);
	bool has = e && e->role[role] && strcmp(e->role[role]->version, version) == 0;
	pthread_mutex_unlock(&t->mu);
	return has;
}

void ia_models_failed(struct ia_models *t, const char *name, const char *version, const char *reason)
{
	pthread_mutex_lock(&t->mu);
	struct entry *e = find_or_add(t, name);
	free(e->failed_version);
	free(e->reason);
	e->failed_version = version ? core_xstrdup(version) : NULL;
	e->reason = core_xstrdup(reason);
	pthread_mutex_unlock(&t->mu);
	metrics_counter_add(t->metrics->refused, (const char *const[]){name}, 1);
}

bool ia_models_refused(struct ia_models *t, const char *name, const char *version)
{
	pthread_mutex_lock(&t->mu);
	struct entry *e = find(t, name);
	bool refused = e && e->failed_version && strcmp(e->failed_version, version) == 0;
	pthread_mutex_unlock(&t->mu);
	return refused;
}

void ia_models_remove(struct ia_models *t, const char *name)
{
	pthread_mutex_lock(&t->mu);
	struct entry *e = find(t, name);
	if (e) {
		struct entry gone = *e;
		*e = t->e[--t->n];
		pthread_mutex_unlock(&t->mu);
		entry_clear(t, &gone);
		return;
	}
	pthread_mutex_unlock(&t->mu);
}

void ia_models_set_unloaded(struct ia_models *t, const char *name, bool unloaded)
{
	struct ia_model *drop[2] = {NULL, NULL};
	pthread_mutex_lock(&t->mu);
	struct entry *e = find_or_add(t, name);
	e->unloaded = unloaded;
	if (unloaded) {
		for (int r = 0; r < 2; r++) {
			if (e->role[r] && (r == 0 || e->role[r] != e->role[0]))
				set_loaded(t, e->role[r], 0);
			drop[r] = e->role[r];
			e->role[r] = NULL;
		}
		free(e->reason);
		e->reason = core_xstrdup("unloaded");
	}
	pthread_mutex_unlock(&t->mu);
	for (int r = 0; r < 2; r++)
		if (drop[r])
			ia_model_unref(drop[r]);
}

bool ia_models_is_unloaded(struct ia_models *t, const char *name)
{
	pthread_mutex_lock(&t->mu);
	struct entry *e = find(t, name);
	bool unloaded = e && e->unloaded;
	pthread_mutex_unlock(&t->mu);
	return unloaded;
}

bool ia_models_known(struct ia_models *t, const char *name)
{
	pthread_mutex_lock(&t->mu);
	bool known = find(t, name) != NULL;
	pthread_mutex_unlock(&t->mu);
	return known;
}

void ia_models_retain(struct ia_models *t, char *const *names, size_t n)
{
	for (;;) {
		char *victim = NULL;
		pthread_mutex_lock(&t->mu);
		for (size_t i = 0; i < t->n && !victim; i++) {
			bool keep = false;
			for (size_t k = 0; k < n && !keep; k++)
				keep = strcmp(t->e[i].name, names[k]) == 0;
			if (!keep)
				victim = core_xstrdup(t->e[i].name);
		}
		pthread_mutex_unlock(&t->mu);
		if (!victim)
			return;
		ia_models_remove(t, victim);
		free(victim);
	}
}

void ia_models_set_synced(struct ia_models *t)
{
	pthread_mutex_lock(&t->mu);
	t->synced = true;
	pthread_mutex_unlock(&t->mu);
}

enum ia_find ia_models_pick(struct ia_models *t, const char *name, const char *version, struct ia_pick *out, char *why,
			    size_t why_size)
{
	*out = (struct ia_pick){0};
	enum ia_find rc = IA_FOUND;
	pthread_mutex_lock(&t->mu);
	struct entry *e = find(t, name);
	struct ia_model *serve = e ? e->role[IA_ROLE_SERVE] : NULL, *chal = e ? e->role[IA_ROLE_CHALLENGER] : NULL;
	if (!e) {
		rc = IA_NO_MODEL;
		snprintf(why, why_size, "model '%s' not found", name);
	} else if (version) {
		out->serve = serve && strcmp(serve->version, version) == 0 ? serve
			     : chal && strcmp(chal->version, version) == 0 ? chal
									   : NULL;
		if (!out->serve) {
			rc = IA_NO_VERSION;
			snprintf(why, why_size, "model '%s' version '%s' is not loaded", name, version);
		}
	} else if (!serve) {
		rc = IA_NOT_READY;
		snprintf(why, why_size, "model '%s' is not loaded%s%s", name, e->reason ? ": " : "",
			 e->reason ? e->reason : "");
	} else {
		out->serve = serve;
		if (chal && chal != serve && t->canary_percent > 0 &&
		    (long)(atomic_fetch_add(&t->counter, 1) * 37 % 100) < t->canary_percent) {
			out->serve = chal;
			out->canary = true;
		} else if (chal && chal != serve && t->shadow) {
			out->shadow = chal;
		}
	}
	if (out->serve)
		ia_model_ref(out->serve);
	if (out->shadow)
		ia_model_ref(out->shadow);
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void ia_pick_release(struct ia_pick *p)
{
	if (!p)
		return;
	if (p->serve)
		ia_model_unref(p->serve);
	if (p->shadow)
		ia_model_unref(p->shadow);
	*p = (struct ia_pick){0};
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t ia_models_names(struct ia_models *t, char **names, size_t max)
{
	pthread_mutex_lock(&t->mu);
	size_t n = 0, all = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (!t->e[i].role[IA_ROLE_SERVE])
			continue;
		if (n < max)
			names[n++] = core_xstrdup(t->e[i].name);
		all++;
	}
	pthread_mutex_unlock(&t->mu);
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_str);
	return all;
}

static json_t *index_row(const char *name, const char *version, const char *state, const char *reason)
{
	json_t *r = json_pack("{s:s, s:s}", "name", name, "state", state);
	if (version)
		json_object_set_new(r, "version", json_string(version));
	json_object_set_new(r, "reason", json_string(reason ? reason : ""));
	return r;
}

static int cmp_row(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(json_string_value(json_object_get(x, "name")), json_string_value(json_object_get(y, "name")));
	if (c)
		return c;
	const char *vx = json_string_value(json_object_get(x, "version")),
		   *vy = json_string_value(json_object_get(y, "version"));
	return strcmp(vx ? vx : "", vy ? vy : "");
}

json_t *ia_models_index(struct ia_models *t)
{
	size_t n = 0, cap = 0;
	json_t **rows = NULL;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->n; i++) {
		const struct entry *e = &t->e[i];
		if (n + 2 > cap) {
			cap = cap ? 2 * cap : 16;
			rows = core_xrealloc(rows, cap * sizeof *rows);
		}
		if (e->role[IA_ROLE_SERVE])
			rows[n++] = index_row(e->name, e->role[0]->version, "READY", e->reason);
		if (e->role[IA_ROLE_CHALLENGER] && e->role[1] != e->role[0])
			rows[n++] = index_row(e->name, e->role[1]->version, "READY", "challenger");
		if (!e->role[IA_ROLE_SERVE])
			rows[n++] = index_row(e->name, e->failed_version,
					      e->unloaded || e->reason ? "UNAVAILABLE" : "LOADING", e->reason);
	}
	pthread_mutex_unlock(&t->mu);
	if (n > 1)
		qsort(rows, n, sizeof *rows, cmp_row);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, rows[i]);
	free(rows);
	return arr;
}

const char *ia_models_not_ready(struct ia_models *t)
{
	const char *why = NULL;
	pthread_mutex_lock(&t->mu);
	if (!t->synced)
		why = "the models to serve are not loaded yet (the registry has not answered)";
	for (size_t i = 0; i < t->n && !why; i++) {
		const struct entry *e = &t->e[i];
		/* a refused version (e->reason) does not hold the replica back: what can serve does */
		if (!e->role[IA_ROLE_SERVE] && !e->unloaded && !e->reason)
			why = "a model to serve is still loading";
	}
	pthread_mutex_unlock(&t->mu);
	return why;
}

void ia_model_ref(struct ia_model *m)
{
	atomic_fetch_add(&m->refs, 1);
}
