/* JSON-lines logging to stderr: one line per event, written with one write(2) so lines
 * from concurrent threads never interleave:
 *   {"ts":"2026-11-22T16:20:01.123Z","level":"info","service":"experiment-tracker","msg":"...",<fields>}
 * Level names are debug, info, warn, error. Tests treat an "error" line they did not
 * expect as a failure, so "error" is for our own faults; client mistakes are "warn". */
#ifndef CORE_LOG_H
#define CORE_LOG_H
#include <stdbool.h>
#include <stddef.h>

enum core_log_level { CORE_LOG_DEBUG, CORE_LOG_INFO, CORE_LOG_WARN, CORE_LOG_ERROR };

/* One extra member of a log line. Build with CORE_LF_STR / CORE_LF_INT / CORE_LF_NUM. */
struct core_log_field {
	const char *key;
	const char *str;   /* used when kind == 's'; NULL renders as null */
	long long integer; /* used when kind == 'i' */
	double number;     /* used when kind == 'd' */
	char kind;
};
#define CORE_LF_STR(k, v) ((struct core_log_field){.key = (k), .str = (v), .kind = 's'})
#define CORE_LF_INT(k, v) ((struct core_log_field){.key = (k), .integer = (v), .kind = 'i'})
#define CORE_LF_NUM(k, v) ((struct core_log_field){.key = (k), .number = (v), .kind = 'd'})

/* Sets the service name and the lowest level written. Call once, before any thread
 * starts; until then the service is "lathe" and the level info. service is copied. */
void core_log_init(const char *service, enum core_log_level min_level);

/* Parses "debug", "info", "warn"/"warning", "error" (any case). Returns false when s is
 * none of them, leaving *out unchanged. */
bool core_log_parse_level(const char *s, enum core_log_level *out);

/* Whether a line at this level would be written (to skip building costly fields). */
bool core_log_enabled(enum core_log_level level);

void core_log(enum core_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like core_log, with extra members after "msg". */
void core_log_with(enum core_log_level level, const struct core_log_field *fields, size_t n_fields, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));

#define core_debug(...) core_log(CORE_LOG_DEBUG, __VA_ARGS__)
#define core_info(...)  core_log(CORE_LOG_INFO, __VA_ARGS__)
#define core_warn(...)  core_log(CORE_LOG_WARN, __VA_ARGS__)
#define core_error(...) core_log(CORE_LOG_ERROR, __VA_ARGS__)
#endif
