/* A monitor spec, checked whole before anything is written (pure: no I/O), so a bad
 * one is a 400 naming the field and never a monitor that fails at its first window.
 * Types come from jspec tables (http/jspec.h); ranges, exclusive members and unknown
 * members are checked here. The stattest names are libs/stats's (stats/drift.h): the
 * API accepts exactly the methods the statistics implement, under Evidently's short
 * names, and a threshold is read as the method reads its score: a p-value threshold
 * lies in (0, 1), a distance threshold is any positive number. A threshold without a
 * method applies to whichever method Evidently picks for the column later, which may
 * be a p-value test, so it must lie in (0, 1) too. The members and defaults are
 * listed in dm.h and in proto/openapi/drift-monitor.yaml's MonitorSpec. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "stats/drift.h"
#include "dm.h"

static const char *const top_members[] = {"model", "window", "features", "drift_share", "alert", NULL};
static const char *const window_members[] = {"size", "seconds", NULL};
static const char *const alert_members[] = {"policy", "cooldown_seconds", NULL};
static const char *const feature_members[] = {"method", "threshold", NULL};
static const char *const policies[] = {"none", "alert", "retrain", NULL};

enum core_status dm_refuse_unknown(json_t *obj, const char *where, const char *const *allowed, struct core_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], key) != 0)
			i++;
		if (!allowed[i])
			return core_fail(err, CORE_EINVAL, "%s%s%.100s: unknown field", where ? where : "",
					 where ? "." : "", key);
	}
	return CORE_OK;
}

/* Names shown to people and written to logs: no control characters. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static enum core_status check_name(const char *field, const char *name, struct core_error *err)
{
	size_t n = strlen(name);
	if (n == 0 || n > DM_NAME_MAX || !printable(name))
		return core_fail(err, CORE_EINVAL,
				 "%s: must be a non-empty name of at most %d bytes without control characters", field,
				 DM_NAME_MAX);
	return CORE_OK;
}

static enum core_status parse_window(json_t *w, struct dm_spec *s, struct core_error *err)
{
	int64_t size = 0, seconds = 0;
	bool has_size = false, has_seconds = false;
	const struct http_jspec spec[] = {HTTP_JS_OPT_INT64("size", &size, &has_size),
					  HTTP_JS_OPT_INT64("seconds", &seconds, &has_seconds), HTTP_JS_END};
	enum core_status rc = http_jspec_parse_at(w, spec, "window", err);
	if (rc == CORE_OK)
		rc = dm_refuse_unknown(w, "window", window_members, err);
	if (rc != CORE_OK)
		return rc;
	if (has_size == has_seconds)
		return core_fail(err, CORE_EINVAL, "window: give size (rows) or seconds, %s",
				 has_size ? "not both" : "one of them");
	if (has_size && (size < DM_WINDOW_SIZE_MIN || size > DM_WINDOW_SIZE_MAX))
		return core_fail(err, CORE_EINVAL, "window.size: must be an integer from %d to %d", DM_WINDOW_SIZE_MIN,
				 DM_WINDOW_SIZE_MAX);
	if (has_seconds && (seconds < DM_WINDOW_SECONDS_MIN || seconds > DM_WINDOW_SECONDS_MAX))
		return core_fail(err, CORE_EINVAL, "window.seconds: must be an integer from %d to %d",
				 DM_WINDOW_SECONDS_MIN, DM_WINDOW_SECONDS_MAX);
	s->window_size = has_size ? size : 0;
	s->window_seconds = has_seconds ? seconds : 0;
	s->has_window = true;
	return CORE_OK;
}

/* "one of ks, chisquare, ..." from libs/stats's table, so the message never lags it. */
static void method_names(char *out, size_t size)
{
	size_t n = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < STATS_METHOD_COUNT && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%s", i ? ", " : "",
				      stats_method_name((enum stats_method)i));
}

/* One feature's override {method?, threshold?}; where is "features.<name>". */
static enum core_status parse_feature(json_t *f, const char *where, json_t **out, struct core_error *err)
{
	const char *method = NULL;
	double threshold = 0;
	bool has_method = false, has_threshold = false;
	const struct http_jspec spec[] = {HTTP_JS_OPT_STRING("method", &method, &has_method),
					  HTTP_JS_OPT_DOUBLE("threshold", &threshold, &has_threshold), HTTP_JS_END};
	enum core_status rc = http_jspec_parse_at(f, spec, where, err);
	if (rc == CORE_OK)
		rc = dm_refuse_unknown(f, where, feature_members, err);
	if (rc != CORE_OK)
		return rc;
	if (!has_method && !has_threshold)
		return core_fail(err, CORE_EINVAL, "%s: give a method, a threshold or both", where);
	enum stats_method m = STATS_METHOD_KS;
	if (has_method && !stats_method_by_name(method, &m)) {
		char names[200];
		method_names(names, sizeof names);
		return core_fail(err, CORE_EINVAL, "%s.method: unknown stattest '%.60s' (one of %s)", where, method,
				 names);
	}
	bool pvalue = !has_method || stats_method_score_kind(m) == STATS_SCORE_PVALUE;
	if (has_threshold && (!isfinite(threshold) || threshold <= 0 || (pvalue && threshold >= 1))) {
		if (!has_method)
			return core_fail(err, CORE_EINVAL,
					 "%s.threshold: must be a number > 0 and < 1 (without a method it may meet "
					 "a p-value test; name a distance method for a larger threshold)",
					 where);
		if (pvalue)
			return core_fail(err, CORE_EINVAL,
					 "%s.threshold: must be a number > 0 and < 1 (%s scores a p-value)", where,
					 method);
		return core_fail(err, CORE_EINVAL, "%s.threshold: must be a finite number > 0 (%s scores a distance)",
				 where, method);
	}
	*out = json_object();
	if (has_method)
		json_object_set_new(*out, "method", json_string(stats_method_name(m)));
	if (has_threshold)
		json_object_set_new(*out, "threshold", json_real(threshold));
	return CORE_OK;
}

enum core_status dm_overrides_parse(json_t *features, const char *field, json_t **checked, struct core_error *err)
{
	if (json_object_size(features) > DM_FEATURES_MAX)
		return core_fail(err, CORE_EINVAL, "%s: at most %d overrides, got %zu", field, DM_FEATURES_MAX,
				 json_object_size(features));
	json_t *out = json_object();
	const char *name;
	json_t *f;
	json_object_foreach(features, name, f)
	{
		char where[DM_NAME_MAX + 32];
		snprintf(where, sizeof where, "%s.%s", field, name);
		json_t *one = NULL;
		char what[64];
		snprintf(what, sizeof what, "%s: a %s name", field,
			 strcmp(field, "features") == 0 ? "feature" : "column");
		enum core_status rc = check_name(what, name, err);
		if (rc == CORE_OK)
			rc = parse_feature(f, where, &one, err);
		if (rc != CORE_OK) {
			json_decref(out);
			return rc;
		}
		json_object_set_new(out, name, one);
	}
	*checked = out;
	return CORE_OK;
}

static enum core_status parse_alert(json_t *a, struct dm_spec *s, struct core_error *err)
{
	const char *policy = NULL;
	int64_t cooldown = 0;
	const struct http_jspec spec[] = {HTTP_JS_OPT_STRING("policy", &policy, &s->has_policy),
					  HTTP_JS_OPT_INT64("cooldown_seconds", &cooldown, &s->has_cooldown),
					  HTTP_JS_END};
	enum core_status rc = http_jspec_parse_at(a, spec, "alert", err);
	if (rc == CORE_OK)
		rc = dm_refuse_unknown(a, "alert", alert_members, err);
	if (rc != CORE_OK)
		return rc;
	if (s->has_policy) {
		size_t i = 0;
		while (policies[i] && strcmp(policies[i], policy) != 0)
			i++;
		if (!policies[i])
			return core_fail(err, CORE_EINVAL,
					 "alert.policy: unknown policy '%.60s' (one of none, alert, retrain)", policy);
		s->alert_policy = policies[i];
	}
	if (s->has_cooldown && (cooldown < 0 || cooldown > DM_COOLDOWN_MAX))
		return core_fail(err, CORE_EINVAL, "alert.cooldown_seconds: must be an integer from 0 to %d",
				 DM_COOLDOWN_MAX);
	if (s->has_cooldown)
		s->cooldown_s = cooldown;
	return CORE_OK;
}

/* The members a create and a patch share; model is the caller's. */
static enum core_status parse_members(json_t *body, struct dm_spec *s, struct core_error *err)
{
	json_t *window = NULL, *features = NULL, *alert = NULL;
	const char *model = NULL;
	double share = 0;
	const struct http_jspec spec[] = {HTTP_JS_OPT_STRING("model", &model, NULL),
					  HTTP_JS_OPT_OBJECT("window", &window, NULL),
					  HTTP_JS_OPT_OBJECT("features", &features, NULL),
					  HTTP_JS_OPT_DOUBLE("drift_share", &share, &s->has_drift_share),
					  HTTP_JS_OPT_OBJECT("alert", &alert, NULL),
					  HTTP_JS_END};
	enum core_status rc = http_jspec_parse(body, spec, err);
	if (rc == CORE_OK)
		rc = dm_refuse_unknown(body, NULL, top_members, err);
	if (rc == CORE_OK && window)
		rc = parse_window(window, s, err);
	if (rc == CORE_OK && s->has_drift_share && !(isfinite(share) && share > 0 && share <= 1))
		rc = core_fail(err, CORE_EINVAL, "drift_share: must be a number > 0 and <= 1");
	if (rc == CORE_OK && alert)
		rc = parse_alert(alert, s, err);
	if (rc == CORE_OK && features) {
		rc = dm_overrides_parse(features, "features", &s->features, err);
		s->has_features = rc == CORE_OK;
	}
	if (rc != CORE_OK) {
		dm_spec_clear(s);
		return rc;
	}
	if (s->has_drift_share)
		s->drift_share = share;
	return CORE_OK;
}

enum core_status dm_spec_parse(json_t *body, struct dm_spec *out, struct core_error *err)
{
	*out = (struct dm_spec){.window_size = DM_WINDOW_SIZE_DEF,
				.drift_share = STATS_DRIFT_SHARE_DEFAULT,
				.alert_policy = "alert",
				.cooldown_s = DM_COOLDOWN_DEF};
	const char *model = NULL;
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("model", &model), HTTP_JS_END};
	enum core_status rc = http_jspec_parse(body, spec, err);
	if (rc == CORE_OK)
		rc = check_name("model", model, err);
	if (rc == CORE_OK)
		rc = parse_members(body, out, err);
	if (rc != CORE_OK)
		return rc;
	out->model = model;
	if (!out->features)
		out->features = json_object();
	out->has_window = out->has_features = out->has_drift_share = out->has_policy = out->has_cooldown = true;
	return CORE_OK;
}

enum core_status dm_spec_parse_patch(json_t *body, struct dm_spec *out, struct core_error *err)
{
	*out = (struct dm_spec){0};
	if (json_is_object(body) && json_object_get(body, "model"))
		return core_fail(err, CORE_EINVAL,
				 "model: a monitor's model cannot be changed (delete the monitor and create one for "
				 "the other model)");
	return parse_members(body, out, err);
}

void dm_spec_clear(struct dm_spec *s)
{
	json_decref(s->features);
	s->features = NULL;
}
