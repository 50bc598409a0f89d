/* Settings from the environment (face: core/settings.h). One pass over the table,
 * each row parsed by its type into the struct at its offset; the same table prints
 * the README's rows, so documentation and behaviour cannot drift apart. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/alloc.h"
#include "core/log.h"
#include "core/settings.h"

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static enum core_status load_row(const struct core_setting *row, char *base, struct core_error *err)
{
	const char *value = getenv(row->name);
	if (value && value[0] == '\0')
		value = NULL; /* an empty variable means "unset", as in most shells' idiom */
	if (!value)
		value = row->default_value;
	if (!value) {
		if (row->required)
			return core_fail(err, CORE_EINVAL, "setting %s is required: %s", row->name, row->help);
		return CORE_OK;
	}
	void *field = base + row->offset;
	switch (row->type) {
	case CORE_SETTING_STRING:
		*(char **)field = core_xstrdup(value);
		return CORE_OK;
	case CORE_SETTING_INT: {
		char *end = NULL;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0')
			return core_fail(err, CORE_EINVAL, "setting %s must be an integer, got '%s'", row->name, value);
		if ((row->min != 0 || row->max != 0) && (v < row->min || v > row->max))
			return core_fail(err, CORE_EINVAL, "setting %s must be between %ld and %ld, got %ld", row->name,
					 row->min, row->max, v);
		*(long *)field = v;
		return CORE_OK;
	}
	case CORE_SETTING_BOOL:
		if (!parse_bool(value, (bool *)field))
			return core_fail(err, CORE_EINVAL, "setting %s must be true or false, got '%s'", row->name,
					 value);
		return CORE_OK;
	case CORE_SETTING_LOG_LEVEL:
		if (!core_log_parse_level(value, (enum core_log_level *)field))
			return core_fail(err, CORE_EINVAL, "setting %s must be debug, info, warn or error, got '%s'",
					 row->name, value);
		return CORE_OK;
	}
	return core_fail(err, CORE_EINVAL, "setting %s has an unknown type", row->name);
}

enum core_status core_settings_load(const struct core_setting *table, void *out, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	for (const struct core_setting *row = table; row->name; row++) {
		rc = load_row(row, out, err);
		if (rc != CORE_OK)
			break;
	}
	if (rc != CORE_OK)
		core_settings_free(table, out);
	return rc;
}

void core_settings_free(const struct core_setting *table, void *settings)
{
	for (const struct core_setting *row = table; row->name; row++) {
		if (row->type != CORE_SETTING_STRING)
			continue;
		char **field = (char **)((char *)settings + row->offset);
		free(*field);
		*field = NULL;
	}
}

void core_settings_markdown(const struct core_setting *table, FILE *out)
{
	static const char *const type_names[] = {"string", "integer", "boolean", "log level"};
	for (const struct core_setting *row = table; row->name; row++) {
		const char *dflt = row->default_value ? row->default_value : (row->required ? "(required)" : "(unset)");
		fprintf(out, "| `%s` | %s | `%s` | %s |\n", row->name, type_names[row->type], dflt, row->help);
	}
}
