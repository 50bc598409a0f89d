/* MLflow's name and length rules (mlflow/names.h; mlflow/utils/validation.py, 2.12.2):
 * the characters a metric, parameter or tag name may hold, path uniqueness
 * (posixpath.normpath written out below), and length limits counted in characters as
 * Python's len() counts them. One copy for the tracker and the registry, which used to
 * disagree (bytes against characters, two wordings of the path rule). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "mlflow/names.h"

size_t mlflow_utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

size_t mlflow_utf8_prefix(const char *s, size_t max_chars)
{
	size_t i = 0, chars = 0;
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (chars == max_chars)
				break;
			chars++;
		}
	}
	return i;
}

/* ^[/\w.\- ]*$: Python's \w on str also takes non-ASCII letters, so every byte of a
 * multi-byte character passes. */
static bool name_char_ok(unsigned char ch)
{
	return ch >= 0x80 || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '/' || ch == '.' || ch == '-' || ch == ' ';
}

/* posixpath.normpath(path), malloc'd. */
static char *normpath(const char *path)
{
	size_t len = strlen(path);
	if (len == 0)
		return core_xstrdup(".");
	size_t slashes = path[0] == '/' ? (strncmp(path, "//", 2) == 0 && path[2] != '/' ? 2 : 1) : 0;
	/* the components kept, as offsets into path */
	const char **comp = core_xcalloc(len + 1, sizeof *comp);
	size_t *comp_len = core_xcalloc(len + 1, sizeof *comp_len);
	size_t n = 0;
	for (const char *seg = path; seg;) {
		const char *end = strchr(seg, '/');
		size_t sl = end ? (size_t)(end - seg) : strlen(seg);
		bool dotdot = sl == 2 && seg[0] == '.' && seg[1] == '.';
		if (sl == 0 || (sl == 1 && seg[0] == '.')) {
			/* dropped */
		} else if (!dotdot || (!slashes && n == 0) ||
			   (n > 0 && comp_len[n - 1] == 2 && strncmp(comp[n - 1], "..", 2) == 0)) {
			comp[n] = seg;
			comp_len[n++] = sl;
		} else if (n > 0) {
			n--;
		}
		seg = end ? end + 1 : NULL;
	}
	struct core_buf b;
	core_buf_init(&b, 2 * len + 8);
	for (size_t i = 0; i < slashes; i++)
		core_buf_append_str(&b, "/");
	for (size_t i = 0; i < n; i++) {
		if (i)
			core_buf_append_str(&b, "/");
		core_buf_append(&b, comp[i], comp_len[i]);
	}
	if (b.len == 0)
		core_buf_append_str(&b, ".");
	free(comp);
	free(comp_len);
	return core_buf_steal(&b, NULL);
}

enum core_status mlflow_check_name(const char *what, const char *name, struct core_error *err)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (!name_char_ok(*p))
			return core_fail(
				err, CORE_EINVAL,
				"Invalid %s name: '%s'. Names may only contain alphanumerics, underscores (_), "
				"dashes (-), periods (.), spaces ( ), and slashes (/).",
				what, name);
	/* path_not_unique */
	char *norm = normpath(name);
	bool bad = strcmp(norm, name) != 0 || strcmp(norm, ".") == 0 || strncmp(norm, "..", 2) == 0 || norm[0] == '/';
	enum core_status rc = CORE_OK;
	if (bad)
		rc = core_fail(err, CORE_EINVAL,
			       "Invalid %s name: '%s'. Names may be treated as files in certain cases, and must not "
			       "resolve to other names when treated as such. This name would resolve to '%s'",
			       what, name, norm);
	free(norm);
	return rc;
}

enum core_status mlflow_check_length(const char *label, size_t limit, const char *value, struct core_error *err)
{
	if (!value)
		return CORE_OK;
	size_t n = mlflow_utf8_chars(value);
	if (n <= limit)
		return CORE_OK;
	/* MLflow quotes value[:250]; cut shorter (at a character) when that would push the
	 * end of the message, which clients match on, out of err */
	size_t room = sizeof err->message - 96 - strlen(label);
	size_t chars = n < 250 ? n : 250;
	size_t quoted = mlflow_utf8_prefix(value, chars);
	while (quoted > room)
		quoted = mlflow_utf8_prefix(value, --chars);
	return core_fail(err, CORE_EINVAL, "%s '%.*s' had length %zu, which exceeded length limit of %zu", label,
			 (int)quoted, value, n, limit);
}

enum core_status mlflow_check_experiment_name(const char *name, struct core_error *err)
{
	return mlflow_check_length("Experiment name", MLFLOW_MAX_EXPERIMENT_NAME_LENGTH, name, err);
}

enum core_status mlflow_check_run_name(const char *name, struct core_error *err)
{
	return mlflow_check_length("Run name", MLFLOW_MAX_RUN_NAME_LENGTH, name, err);
}

enum core_status mlflow_check_registered_model_name(const char *name, struct core_error *err)
{
	return mlflow_check_length("Registered model name", MLFLOW_MAX_REGISTERED_MODEL_NAME_LENGTH, name, err);
}
