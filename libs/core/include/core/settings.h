/* Settings from environment variables, declared as a table (docs/style.md §16). A daemon
 * describes each setting once (name, type, where it goes, default, bounds, help);
 * core_settings_load fills a struct from the environment and validates every row, and
 * core_settings_markdown prints the same table for the README.
 *
 *   static const struct core_setting my_settings[] = {
 *       {"PORT", CORE_SETTING_INT, offsetof(struct cfg, port), "5000", false, 1, 65535,
 *        "TCP port the HTTP server listens on"},
 *       {0}};
 *
 * Strings are malloc'd into the struct (char *), freed by core_settings_free. */
#ifndef CORE_SETTINGS_H
#define CORE_SETTINGS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "core/status.h"

enum core_setting_type {
	CORE_SETTING_STRING,    /* char *: malloc'd copy; NULL when unset with no default */
	CORE_SETTING_INT,       /* long: decimal, within [min, max] */
	CORE_SETTING_BOOL,      /* bool: 1/0, true/false, yes/no, on/off */
	CORE_SETTING_LOG_LEVEL, /* enum core_log_level: debug, info, warn, error */
};

struct core_setting {
	const char *name; /* environment variable; NULL ends the table */
	enum core_setting_type type;
	size_t offset;             /* offsetof the field in the settings struct */
	const char *default_value; /* text, parsed as the environment would be; NULL: none */
	bool required;             /* unset and no default: load fails */
	long min, max;             /* bounds for INT (ignored when both are 0) */
	const char *help;          /* one line for the README */
};

/* Fills *out (a struct whose fields the table's offsets name) from the environment.
 * Every row is checked; on failure err names the first bad setting and the value, and
 * any strings already stored are freed (out is left zeroed for them). */
enum core_status core_settings_load(const struct core_setting *table, void *out, struct core_error *err);

/* Frees the strings core_settings_load stored in *settings. */
void core_settings_free(const struct core_setting *table, void *settings);

/* Writes the table as Markdown rows: | name | type | default | help |. */
void core_settings_markdown(const struct core_setting *table, FILE *out);
#endif
