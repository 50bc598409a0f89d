/* MLflow's input rules for the registry (mlflow/utils/validation.py and
 * model_version_stages.py, 2.12.2), as pure functions: model names, tag keys and
 * values, alias names, version numbers, stages and model-version sources. Each answers
 * CORE_OK or CORE_EINVAL with MLflow's own wording in err, which the handlers send back
 * as 400 INVALID_PARAMETER_VALUE. No I/O; unit-tested in tests/unit/registry. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mr.h"

#define MR_TAG_KEY_MAX   250
#define MR_TAG_VALUE_MAX 5000
#define MR_ALIAS_MAX     255

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

/* posixpath.normpath(key) == key, and not "." / "..", "../x", "/x" (MLflow's
 * path-uniqueness rule for keys). */
static bool path_unique(const char *key)
{
	size_t n = strlen(key);
	if (n == 0)
		return true;
	if (key[0] == '/' || key[n - 1] == '/' || strstr(key, "//"))
		return false;
	for (const char *seg = key; seg;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		seg = slash ? slash + 1 : NULL;
	}
	return true;
}

enum core_status mr_check_tag_key(const char *key, struct core_error *err)
{
	if (!key || !*key)
		return core_fail(err, CORE_EINVAL,
				 "Missing value for required parameter 'key'. See the API docs for "
				 "more information about request parameters.");
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		if (!word_byte(*p) && *p != '/' && *p != '.' && *p != '-' && *p != ' ')
			return core_fail(err, CORE_EINVAL,
					 "Invalid tag name: '%s'. Names may only contain alphanumerics, underscores "
					 "(_), dashes (-), periods (.), spaces ( ), and slashes (/).",
					 key);
	if (!path_unique(key))
		return core_fail(err, CORE_EINVAL,
				 "Invalid tag name: '%s'. Names may be treated as files in certain cases, and must "
				 "not resolve to other names when treated as such.",
				 key);
	if (strlen(key) > MR_TAG_KEY_MAX)
		return core_fail(err, CORE_EINVAL,
				 "Tag key '%.40s...' had length %zu, which exceeded length limit of %d", key,
				 strlen(key), MR_TAG_KEY_MAX);
	return CORE_OK;
}

enum core_status mr_check_tag(const char *key, const char *value, struct core_error *err)
{
	enum core_status rc = mr_check_tag_key(key, err);
	if (rc != CORE_OK)
		return rc;
	if (value && strlen(value) > MR_TAG_VALUE_MAX)
		return core_fail(err, CORE_EINVAL,
				 "Tag value '%.40s...' had length %zu, which exceeded length limit of %d", value,
				 strlen(value), MR_TAG_VALUE_MAX);
	return CORE_OK;
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
	if (strlen(alias) > MR_ALIAS_MAX)
		return core_fail(err, CORE_EINVAL,
				 "Registered model alias name '%.40s...' exceeds the maximum length of %d "
				 "characters.",
				 alias, MR_ALIAS_MAX);
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
		return core_fail(err, CORE_EINVAL,
				 "Missing value for required parameter 'version'. See the API docs for "
				 "more information about request parameters.");
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
		return core_fail(err, CORE_EINVAL,
				 "Missing value for required parameter 'source'. See the API docs for "
				 "more information about request parameters.");
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
