/* MLflow's input rules for the tracking API (mlflow/utils/validation.py, 2.12.2),
 * as pure functions over parsed requests (face: et.h). Name rules, length
 * limits and their messages are libs/mlflow's (mlflow/names.h); lengths are counted
 * in characters (code points), as Python counts them. Over-long param values (> 6000)
 * and run tag values (> 5000) are truncated, as the server does with
 * MLFLOW_TRUNCATE_LONG_VALUES on; over-long keys are rejected. Nothing here does I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlflow/names.h"
#include "et.h"

/* \w, '/', '.', '-', ' ' (as in MLflow's name rule; bytes >= 0x80 count as \w). */
static bool key_char_ok(unsigned char ch)
{
	return ch >= 0x80 || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '/' || ch == '.' || ch == '-' || ch == ' ';
}

enum core_status et_validate_key(const char *what, const char *key, struct core_error *err)
{
	if (!key || !*key)
		return http_jspec_missing(err, NULL, "key");
	/* MLflow's names for the kinds: "Invalid parameter name", then "Param key ..." */
	bool metric = strcmp(what, "metric") == 0, param = strcmp(what, "param") == 0;
	if (mlflow_check_name(metric ? "metric" : param ? "parameter" : what, key, err) != CORE_OK)
		return CORE_EINVAL;
	return mlflow_check_length(metric ? "Metric name" : param ? "Param key" : "Tag key", ET_MAX_KEY_LEN, key, err);
}

bool et_validate_experiment_id(const char *id, bool *not_found, struct core_error *err)
{
	*not_found = false;
	size_t len = strlen(id);
	bool ok = len >= 1 && len <= 64 && key_char_ok((unsigned char)id[0]) && id[0] != '_' && id[0] != '-';
	for (size_t i = 0; ok && i < len; i++) {
		unsigned char ch = (unsigned char)id[i];
		ok = ch < 0x80 && key_char_ok(ch) && ch != '/' && ch != '.' && ch != ' ';
	}
	if (!ok) {
		core_fail(err, CORE_EINVAL, "Invalid experiment ID: '%s'", id);
		return false;
	}
	if (len > 18 || strspn(id, "0123456789") != len) {
		*not_found = true;
		core_fail(err, CORE_ENOENT, "No Experiment with id=%s exists", id);
		return false;
	}
	return true;
}

const char *et_pick_run_id(const char *run_id, const char *run_uuid)
{
	return run_id && *run_id ? run_id : (run_uuid && *run_uuid ? run_uuid : NULL);
}

static const char *const run_statuses[] = {NULL, "RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"};

const char *et_run_status_name(json_t *v)
{
	json_int_t n = 0;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		for (size_t i = 1; i < sizeof run_statuses / sizeof run_statuses[0]; i++)
			if (strcmp(s, run_statuses[i]) == 0)
				return run_statuses[i];
		char *end;
		long l = strtol(s, &end, 10);
		if (*s == '\0' || *end != '\0')
			return NULL;
		n = l;
	} else {
		return NULL;
	}
	return n >= 1 && n <= 5 ? run_statuses[n] : NULL;
}

/* Truncates kv's value to max characters (MLflow's MLFLOW_TRUNCATE_LONG_VALUES). */
static void truncate_value(struct et_kv *kv, size_t max)
{
	kv->value_len = mlflow_utf8_prefix(kv->value, max);
}

enum core_status et_batch_check_limits(const struct et_batch *b, struct core_error *err)
{
	if (b->n_metrics > ET_MAX_BATCH_METRICS)
		return core_fail(err, CORE_EINVAL,
				 "A batch logging request can contain at most %d metrics. Got %zu "
				 "metrics. Please split up metrics across multiple requests and try again.",
				 ET_MAX_BATCH_METRICS, b->n_metrics);
	if (b->n_params > ET_MAX_BATCH_PARAMS)
		return core_fail(err, CORE_EINVAL,
				 "A batch logging request can contain at most %d params. Got %zu "
				 "params. Please split up params across multiple requests and try again.",
				 ET_MAX_BATCH_PARAMS, b->n_params);
	if (b->n_tags > ET_MAX_BATCH_TAGS)
		return core_fail(err, CORE_EINVAL,
				 "A batch logging request can contain at most %d tags. Got %zu "
				 "tags. Please split up tags across multiple requests and try again.",
				 ET_MAX_BATCH_TAGS, b->n_tags);
	size_t total = b->n_metrics + b->n_params + b->n_tags;
	if (total > ET_MAX_BATCH_TOTAL)
		return core_fail(err, CORE_EINVAL,
				 "A batch logging request can contain at most %d total metrics, "
				 "params, and tags. Got %zu metrics, %zu params, and %zu tags. Please split up "
				 "metrics, params, and tags across multiple requests and try again.",
				 ET_MAX_BATCH_TOTAL, b->n_metrics, b->n_params, b->n_tags);
	return CORE_OK;
}

enum core_status et_batch_validate(struct et_batch *b, struct core_error *err)
{
	if (et_batch_check_limits(b, err) != CORE_OK)
		return CORE_EINVAL;
	for (size_t i = 0; i < b->n_metrics; i++) {
		struct et_metric *m = &b->metrics[i];
		if (et_validate_key("metric", m->key, err) != CORE_OK)
			return CORE_EINVAL;
		if (m->timestamp < 0)
			return core_fail(err, CORE_EINVAL,
					 "Got invalid timestamp %lld for metric '%s' (value=%g). "
					 "Timestamp must be a nonnegative long (64-bit integer) ",
					 (long long)m->timestamp, m->key, m->value);
	}
	for (size_t i = 0; i < b->n_params; i++) {
		if (et_validate_key("param", b->params[i].key, err) != CORE_OK)
			return CORE_EINVAL;
		truncate_value(&b->params[i], ET_MAX_PARAM_VALUE_LEN);
		for (size_t j = 0; j < i; j++)
			if (strcmp(b->params[j].key, b->params[i].key) == 0)
				return core_fail(err, CORE_EINVAL,
						 "Duplicate parameter keys have been submitted: "
						 "['%s']. Please ensure the request contains only one param value "
						 "per param key.",
						 b->params[i].key);
	}
	for (size_t i = 0; i < b->n_tags; i++) {
		if (et_validate_key("tag", b->tags[i].key, err) != CORE_OK)
			return CORE_EINVAL;
		truncate_value(&b->tags[i], ET_MAX_TAG_VALUE_LEN);
	}
	return CORE_OK;
}
