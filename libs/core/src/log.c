/* JSON-lines logging (face: core/log.h). The module owns two pieces of state, the
 * service name and the minimum level, set once by core_log_init before threads start
 * and only read afterwards. Each line is built in a bounded buffer on the stack and
 * written with a single write(2), which keeps lines whole across threads. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "core/fmt.h"
#include "core/log.h"
#include "core/time.h"

#define LOG_LINE_MAX 8192

static char log_service[64] = "lathe";
static enum core_log_level log_min_level = CORE_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void core_log_init(const char *service, enum core_log_level min_level)
{
	snprintf(log_service, sizeof log_service, "%s", service ? service : "lathe");
	log_min_level = min_level;
}

bool core_log_parse_level(const char *s, enum core_log_level *out)
{
	static const struct {
		const char *name;
		enum core_log_level level;
	} names[] = {
		{"debug", CORE_LOG_DEBUG},  {"info", CORE_LOG_INFO},   {"warn", CORE_LOG_WARN},
		{"warning", CORE_LOG_WARN}, {"error", CORE_LOG_ERROR},
	};
	for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return true;
		}
	}
	return false;
}

bool core_log_enabled(enum core_log_level level)
{
	return level >= log_min_level;
}

/* A fixed-size line under construction; text past the end is dropped, and the line
 * is still closed properly (truncation beats a torn JSON line). */
struct line {
	char text[LOG_LINE_MAX];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	size_t room = sizeof l->text - 3 - l->len; /* keep room for "}\n" */
	if (n > room)
		n = room;
	memcpy(l->text + l->len, s, n);
	l->len += n;
}

static void put_str(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence starting at s, or 0 when it is not one (stray
 * continuation byte, overlong form, surrogate, past U+10FFFF, or cut short). */
static size_t utf8_sequence(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (n == 0 || s[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
	    (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* Writes s as the body of a JSON string. Text from clients lands in log lines (paths,
 * methods), so bytes that are not valid UTF-8 become U+FFFD: one bad request must not
 * make a line that log pipelines reject. */
static void put_escaped(struct line *l, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned char c = *p;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(l, esc, 2);
		} else if (c == '\n') {
			put(l, "\\n", 2);
		} else if (c == '\t') {
			put(l, "\\t", 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			put(l, esc, 6);
		} else if (c >= 0x80) {
			size_t n = utf8_sequence(p);
			if (n == 0) {
				put(l, "\xef\xbf\xbd", 3);
				p++;
				continue;
			}
			put(l, (const char *)p, n);
			p += n;
			continue;
		} else {
			put(l, (const char *)&c, 1);
		}
		p++;
	}
}

static void put_field(struct line *l, const struct core_log_field *f)
{
	char num[64];
	put_str(l, ",\"");
	put_escaped(l, f->key);
	put_str(l, "\":");
	switch (f->kind) {
	case 'i':
		snprintf(num, sizeof num, "%lld", f->integer);
		put_str(l, num);
		break;
	case 'd':
		if (f->number != f->number || f->number > 1.7976931348623157e308 ||
		    f->number < -1.7976931348623157e308) {
			put_str(l, "null"); /* JSON has no NaN or Infinity */
		} else {
			core_fmt_double(f->number, 0, num);
			put_str(l, num);
		}
		break;
	default:
		if (!f->str) {
			put_str(l, "null");
		} else {
			put_str(l, "\"");
			put_escaped(l, f->str);
			put_str(l, "\"");
		}
	}
}

static void log_write(enum core_log_level level, const struct core_log_field *fields, size_t n_fields, const char *fmt,
		      va_list ap)
{
	struct line l;
	char ts[32];
	char msg[4096];
	l.len = 0;
	core_time_iso8601(core_now_ms(), ts);
	vsnprintf(msg, sizeof msg, fmt, ap);
	put_str(&l, "{\"ts\":\"");
	put_str(&l, ts);
	put_str(&l, "\",\"level\":\"");
	put_str(&l, level_names[level]);
	put_str(&l, "\",\"service\":\"");
	put_escaped(&l, log_service);
	put_str(&l, "\",\"msg\":\"");
	put_escaped(&l, msg);
	put_str(&l, "\"");
	for (size_t i = 0; i < n_fields; i++)
		put_field(&l, &fields[i]);
	l.text[l.len++] = '}';
	l.text[l.len++] = '\n';
	/* stderr may be a pipe that a test reads; a short write is retried, an error
	 * dropped (there is nowhere else to report it). */
	for (size_t off = 0; off < l.len;) {
		ssize_t w = write(STDERR_FILENO, l.text + off, l.len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

void core_log(enum core_log_level level, const char *fmt, ...)
{
	if (!core_log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	log_write(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void core_log_with(enum core_log_level level, const struct core_log_field *fields, size_t n_fields, const char *fmt,
		   ...)
{
	if (!core_log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	log_write(level, fields, n_fields, fmt, ap);
	va_end(ap);
}
