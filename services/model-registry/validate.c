/* MLflow's input rules for the registry (mlflow/utils/validation.py and
 * model_version_stages.py, 2.12.2), as pure functions: model names, tag keys and
 * values, alias names, version numbers, stages and model-version sources. Each answers
 * CORE_OK or CORE_EINVAL with MLflow's own wording in err, which the handlers send back
 * as 400 INVALID_PARAMETER_VALUE. Name and length rules (counted in characters) are
 * libs/mlflow's. No I/O; unit-tested in tests/unit/registry. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include "mlflow/names.h"
#include "mr.h"

enum core_status mr_check_model_name(const char *name, struct core_error *err)
{
	if (!name || !*name)
		return core_fail(err, CORE_EINVAL, "Registered model name cannot be empty.");
	return CORE_OK;
}

/* Python's \w on str also takes non-ASCII letters: bytes >= 0x80 count as word bytes. */
static bool word_byte(unsigned char ch)
{
	return isalnum(ch) || ch == '_' || ch >= 0x80;
}

/* MLflow's _validate_tag_name and _validate_length_limit (libs/mlflow); entity names
 * the limit in messages: "Registered model key", "Model version key". */
enum core_status mr_check_tag_key(const char *entity, const char *key, struct core_error *err)
{
	if (!key || !*key)
		return http_jspec_missing(err, NULL, "key");
	char label[48];
	snprintf(label, sizeof label, "%s key", entity);
	if (mlflow_check_name("tag", key, err) != CORE_OK)
		return CORE_EINVAL;
	return mlflow_check_length(label, MLFLOW_MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, key, err);
}

enum core_status mr_check_tag(const char *entity, const char *key, const char *value, struct core_error *err)
{
	if (mr_check_tag_key(entity, key, err) != CORE_OK)
		return CORE_EINVAL;
	char label[48];
	snprintf(label, sizeof label, "%s value", entity);
	return mlflow_check_length(label, MLFLOW_MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value, err);
}

enum core_status mr_check_alias(const char *alias, struct core_error *err)
{
	if (!alias || !*alias)
		return core_fail(err, CORE_EINVAL, "Registered model alias name cannot be empty.");
	for (const unsigned char *p = (const unsigned char *)alias; *p; p++)
		if (!word_byte(*p) && *p != '-')
			return core_fail(err, CORE_EINVAL,
					 "Invalid alias name: '%s'. Names may only contain alphanumerics, "
					 "underscores (_), and dashes (-).",
					 alias);
	if (mlflow_utf8_chars(alias) > MLFLOW_MAX_REGISTERED_MODEL_ALIAS_LENGTH)
		return core_fail(err, CORE_EINVAL,
				 "Registered model alias name '%.40s...' exceeds the maximum length of %d "
				 "characters.",
				 alias, MLFLOW_MAX_REGISTERED_MODEL_ALIAS_LENGTH);
	if (strcasecmp(alias, "latest") == 0)
		return core_fail(err, CORE_EINVAL, "'%s' alias name (case insensitive) is reserved.", alias);
	if ((alias[0] == 'v' || alias[0] == 'V') && alias[1]) {
		const char *p = alias + 1;
		while (isdigit((unsigned char)*p))
			p++;
		if (!*p)
			return core_fail(err, CORE_EINVAL, "Version alias name '%s' is reserved.", alias);
	}
	return CORE_OK;
}

enum core_status mr_check_version(const char *text, int64_t *out, struct core_error *err)
{
	if (!text || !*text)
		return http_jspec_missing(err, NULL, "version");
	const char *p = text;
	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return core_fail(err, CORE_EINVAL, "Model version must be an integer, got '%s'", text);
	errno = 0;
	char *end = NULL;
	long long v = strtoll(text, &end, 10);
	if (errno || *end)
		return core_fail(err, CORE_EINVAL, "Model version must be an integer, got '%s'", text);
	*out = (int64_t)v;
	return CORE_OK;
}

static const char *const stages[] = {"None", "Staging", "Production", "Archived"};

enum core_status mr_check_stage(const char *stage, const char **canonical, struct core_error *err)
{
	for (size_t i = 0; stage && i < sizeof stages / sizeof stages[0]; i++)
		if (strcasecmp(stage, stages[i]) == 0) {
			*canonical = stages[i];
			return CORE_OK;
		}
	return core_fail(err, CORE_EINVAL,
			 "Invalid Model Version stage: %s. Value must be one of None, Staging, Production, Archived.",
			 stage ? stage : "");
}

/* Decodes %XX escapes of s (len bytes) into out (at least len bytes). Returns the
 * decoded length; *any tells whether there was an escape. */
static size_t percent_decode(const char *s, size_t len, char *out, bool *any)
{
	size_t k = 0;
	*any = false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = {s[i + 1], s[i + 2], 0};
			out[k++] = (char)strtol(hex, NULL, 16);
			i += 2;
			*any = true;
		} else {
			out[k++] = s[i];
		}
	}
	return k;
}

/* Whether a path of len bytes holds a ".." segment or a NUL byte. */
static bool has_dotdot(const char *p, size_t len)
{
	if (memchr(p, '\0', len))
		return true;
	for (size_t i = 0; i + 1 < len; i++)
		if (p[i] == '.' && p[i + 1] == '.' && (i == 0 || p[i - 1] == '/' || p[i - 1] == '\\') &&
		    (i + 2 == len || p[i + 2] == '/' || p[i + 2] == '\\'))
			return true;
	return false;
}

enum core_status mr_check_source(const char *source, const char *run_id, struct core_error *err)
{
	(void)run_id;
	if (!source || !*source)
		return http_jspec_missing(err, NULL, "source");
	const char *colon = strchr(source, ':');
	bool has_scheme = colon && colon > source;
	for (const char *p = source; has_scheme && p < colon; p++)
		if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
			has_scheme = false;
	/* Local paths (no scheme, or file:) must lie in the run's local artifact directory;
	 * Lathe's runs keep artifacts behind the tracker (mlflow-artifacts:), never locally. */
	if (!has_scheme || (colon - source == 4 && strncasecmp(source, "file", 4) == 0))
		return core_fail(err, CORE_EINVAL,
				 "Invalid model version source: '%s'. To use a local path as a model version source, "
				 "the run_id request parameter has to be specified and the local path has to be "
				 "contained within the artifact directory of the run specified by the run_id.",
				 source);
	/* Relative references, also percent-encoded (decoded up to 10 times, as MLflow). */
	size_t len = strlen(source);
	char *cur = core_xstrdup(source), *next = core_xmalloc(len + 1);
	bool bad = has_dotdot(cur, len), any = true;
	for (int i = 0; i < 10 && !bad && any; i++) {
		len = percent_decode(cur, len, next, &any);
		char *t = cur;
		cur = next;
		next = t;
		bad = has_dotdot(cur, len);
	}
	free(cur);
	free(next);
	if (bad)
		return core_fail(err, CORE_EINVAL,
				 "Invalid model version source: '%s'. If supplying a source as an http, https, local "
				 "file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be "
				 "provided without relative path references present. Please provide an absolute path.",
				 source);
	return CORE_OK;
}
