/* Cron expressions for the schedules (pure: no I/O, no clock, no libc time zone): the
 * five fields of Vixie cron in UTC (minute hour day-of-month month day-of-week) with
 * `*`, numbers, ranges a-b, steps * /n and a-b/n, lists, month names JAN-DEC, day names
 * SUN-SAT (0 and 7 are Sunday), and the @hourly ... @yearly shorthands. As in Vixie
 * cron, when both day fields are restricted (neither starts with `*`) a day matching
 * either one fires; otherwise both must match. Civil dates come from the day count
 * (Howard Hinnant's days_from_civil), so next() needs no gmtime. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tr.h"

#define MIN_MS      60000LL
#define DAY_MS      86400000LL
#define SEARCH_DAYS (366 * 9) /* Feb 29 of a non-leap century: eight years may pass */

struct field {
	const char *name;
	int lo, hi;
	const char *const *names; /* names[i] is the value lo + i, or NULL */
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
					  "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const struct field fields[5] = {
	{"minute", 0, 59, NULL},          {"hour", 0, 23, NULL},
	{"day-of-month", 1, 31, NULL},    {"month", 1, 12, month_names},
	{"day-of-week", 0, 7, day_names},
};

/* Reads a number or a name at *p into *v; false when there is none. */
static bool read_value(const struct field *f, const char **p, int *v)
{
	const char *s = *p;
	if (isdigit((unsigned char)*s)) {
		long n = 0;
		while (isdigit((unsigned char)*s) && n < 1000)
			n = n * 10 + (*s++ - '0');
		if (isdigit((unsigned char)*s))
			return false;
		*v = (int)n;
		*p = s;
		return true;
	}
	for (int i = 0; f->names && f->names[i]; i++) {
		if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
			*v = f->lo + i;
			*p = s + 3;
			return true;
		}
	}
	return false;
}

/* Parses one list item (text up to ',' or the end) into *bits. */
static enum core_status parse_item(const struct field *f, const char *text, const char *item, size_t len,
				   uint64_t *bits, struct core_error *err)
{
	char buf[64];
	if (len == 0 || len >= sizeof buf)
		return core_fail(err, CORE_EINVAL, "cron: %s field '%s': an empty or overlong list item", f->name,
				 text);
	memcpy(buf, item, len);
	buf[len] = 0;
	const char *p = buf;
	int a, b, step = 1;
	bool star = *p == '*';
	if (star) {
		a = f->lo;
		b = f->hi;
		p++;
	} else {
		if (!read_value(f, &p, &a))
			return core_fail(err, CORE_EINVAL, "cron: %s field '%s': '%s' is not a number%s", f->name, text,
					 buf, f->names ? " or a name" : "");
		b = a;
		if (*p == '-') {
			p++;
			if (!read_value(f, &p, &b))
				return core_fail(err, CORE_EINVAL, "cron: %s field '%s': '%s' has no range end",
						 f->name, text, buf);
		}
		if (a < f->lo || a > f->hi || b < f->lo || b > f->hi)
			return core_fail(err, CORE_EINVAL, "cron: %s field '%s': '%s' is out of range %d-%d", f->name,
					 text, buf, f->lo, f->hi);
		if (a > b)
			return core_fail(err, CORE_EINVAL, "cron: %s field '%s': range '%s' runs backwards", f->name,
					 text, buf);
	}
	if (*p == '/') {
		if (!star && a == b)
			return core_fail(err, CORE_EINVAL, "cron: %s field '%s': a step needs '*' or a range: '%s'",
					 f->name, text, buf);
		p++;
		if (!read_value(&(struct field){0}, &p, &step) || step < 1 || step > f->hi)
			return core_fail(err, CORE_EINVAL, "cron: %s field '%s': step in '%s' must be 1-%d", f->name,
					 text, buf, f->hi);
	}
	if (*p)
		return core_fail(err, CORE_EINVAL, "cron: %s field '%s': unexpected '%s'", f->name, text, p);
	for (int v = a; v <= b; v += step)
		*bits |= (uint64_t)1 << v;
	return CORE_OK;
}

static enum core_status parse_field(const struct field *f, const char *text, uint64_t *bits, struct core_error *err)
{
	*bits = 0;
	const char *s = text;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		enum core_status rc = parse_item(f, text, s, len, bits, err);
		if (rc != CORE_OK)
			return rc;
		if (!comma)
			return CORE_OK;
		s = comma + 1;
	}
}

static const struct {
	const char *name, *expr;
} macros[] = {
	{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
	{"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
};

enum core_status tr_cron_parse(const char *text, struct tr_cron *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	if (!text)
		return core_fail(err, CORE_EINVAL, "cron: missing");
	while (isspace((unsigned char)*text))
		text++;
	if (*text == '@') {
		for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
			size_t n = strlen(macros[i].name);
			if (strncasecmp(text, macros[i].name, n) == 0 && !text[n + strspn(text + n, " \t")])
				return tr_cron_parse(macros[i].expr, out, err);
		}
		return core_fail(err, CORE_EINVAL,
				 "cron: unknown shorthand '%.40s' (@hourly, @daily, @weekly, @monthly, @yearly)", text);
	}
	char part[5][64];
	int n = 0;
	const char *s = text;
	while (*s) {
		size_t len = strcspn(s, " \t");
		if (n == 5 || len >= sizeof part[0])
			return core_fail(
				err, CORE_EINVAL,
				"cron: '%.100s': 5 fields expected (minute hour day-of-month month day-of-week)", text);
		memcpy(part[n], s, len);
		part[n++][len] = 0;
		s += len;
		s += strspn(s, " \t");
	}
	if (n != 5)
		return core_fail(
			err, CORE_EINVAL,
			"cron: '%.100s': 5 fields expected (minute hour day-of-month month day-of-week), got %d", text,
			n);
	uint64_t bits[5];
	for (int i = 0; i < 5; i++) {
		enum core_status rc = parse_field(&fields[i], part[i], &bits[i], err);
		if (rc != CORE_OK)
			return rc;
	}
	out->minutes = bits[0];
	out->hours = (uint32_t)bits[1];
	out->mdays = (uint32_t)bits[2];
	out->months = (uint16_t)bits[3];
	out->wdays = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f); /* 7 is Sunday */
	out->mday_star = part[2][0] == '*';
	out->wday_star = part[4][0] == '*';
	int64_t first;
	if (tr_cron_next(out, 0, &first) != CORE_OK)
		return core_fail(err, CORE_EINVAL, "cron: '%.100s' never fires (day-of-month is not in its months)",
				 text);
	return CORE_OK;
}

/* Days since 1970-01-01 -> civil date (Hinnant). */
static void civil(int64_t days, int *y, int *m, int *d)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	int64_t doe = days - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool day_matches(const struct tr_cron *c, int64_t days)
{
	int y, m, d;
	civil(days, &y, &m, &d);
	if (!(c->months >> m & 1))
		return false;
	int wday = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
	bool md = c->mdays >> d & 1, wd = c->wdays >> wday & 1;
	return (c->mday_star || c->wday_star) ? md && wd : md || wd;
}

enum core_status tr_cron_next(const struct tr_cron *c, int64_t after_ms, int64_t *out)
{
	int64_t t = after_ms - ((after_ms % MIN_MS) + MIN_MS) % MIN_MS + MIN_MS; /* next whole minute */
	int64_t day = t >= 0 ? t / DAY_MS : -((-t + DAY_MS - 1) / DAY_MS);
	int first_minute = (int)((t - day * DAY_MS) / MIN_MS);
	for (int i = 0; i < SEARCH_DAYS; i++, day++, first_minute = 0) {
		if (!day_matches(c, day))
			continue;
		for (int m = first_minute; m < 24 * 60; m++) {
			if ((c->hours >> (m / 60) & 1) && (c->minutes >> (m % 60) & 1)) {
				*out = day * DAY_MS + (int64_t)m * MIN_MS;
				return CORE_OK;
			}
		}
	}
	return CORE_ENOENT;
}
