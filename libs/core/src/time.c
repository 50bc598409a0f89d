/* Clocks (face: core/time.h): CLOCK_REALTIME for timestamps, CLOCK_MONOTONIC for
 * durations, so a clock step never makes a latency negative. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/time.h"

int64_t core_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t core_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The inverse of days_from_civil (Hinnant's civil_from_days), for days >= 0. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = z / 146097, doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *o, int64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		o[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return o + width;
}

/* 1970 to the end of 9999: every time a Lathe daemon stamps */
#define ISO_FAST_END_MS INT64_C(253402300800000)

void core_time_iso8601(int64_t unix_ms, char out[32])
{
	if (unix_ms >= 0 && unix_ms < ISO_FAST_END_MS) {
		/* arithmetic, not gmtime_r and strftime: they took a lock and a microsecond,
		 * and every prediction event stamps two times */
		int64_t secs = unix_ms / 1000, days = secs / 86400, sod = secs % 86400, y;
		int m, d;
		civil_from_days(days, &y, &m, &d);
		char *o = put_digits(out, y, 4);
		*o++ = '-';
		o = put_digits(o, m, 2);
		*o++ = '-';
		o = put_digits(o, d, 2);
		*o++ = 'T';
		o = put_digits(o, sod / 3600, 2);
		*o++ = ':';
		o = put_digits(o, sod / 60 % 60, 2);
		*o++ = ':';
		o = put_digits(o, sod % 60, 2);
		*o++ = '.';
		o = put_digits(o, unix_ms % 1000, 3);
		*o++ = 'Z';
		*o = 0;
		return;
	}
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(unix_ms % 1000));
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (m 1..12, d any:
 * linear in d, as timegm normalises an out-of-range day): the era arithmetic of H.
 * Hinnant's days_from_civil, exact for every year. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The fixed digits of "YYYY-MM-DDTHH:MM:SS" at t, or -1 (any other shape): the form
 * every Lathe writer uses, read without sscanf and timegm, which were the largest cost
 * of reading a prediction event's time in the drift monitor. */
static int64_t parse_fixed_seconds(const char *t)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	int v[19];
	for (int i = 0; i < 19; i++) {
		if (shape[i] == 'd') {
			if (t[i] < '0' || t[i] > '9')
				return -1;
			v[i] = t[i] - '0';
		} else if (t[i] != shape[i]) {
			return -1;
		}
	}
	int year = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3], mon = v[5] * 10 + v[6], day = v[8] * 10 + v[9];
	int hour = v[11] * 10 + v[12], min = v[14] * 10 + v[15], sec = v[17] * 10 + v[18];
	if (mon < 1 || mon > 12)
		return -1; /* timegm carries a month into the year: the general reading does it */
	return days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
}

int64_t core_time_parse_iso8601(const char *t)
{
	if (!t)
		return -1;
	int64_t secs = -1;
	int ms = 0, n = 19;
	size_t len = strnlen(t, 19);
	if (len == 19)
		secs = parse_fixed_seconds(t);
	if (secs < 0) {
		struct tm tm = {0};
		if (sscanf(t, "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			   &tm.tm_sec, &n) != 6)
			return -1;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		secs = (int64_t)timegm(&tm);
	}
	if (t[n] == '.') {
		int digits = 0;
		for (const char *p = t + n + 1; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		for (; digits < 3; digits++)
			ms *= 10;
	}
	return secs * 1000 + ms;
}

struct timespec core_deadline_us(int64_t us)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	int64_t ns = (int64_t)t.tv_nsec + (us > 0 ? us : 0) * 1000;
	t.tv_sec += (time_t)(ns / 1000000000);
	t.tv_nsec = (long)(ns % 1000000000);
	return t;
}

void core_sleep_ms(int64_t ms)
{
	struct timespec req = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&req, &req) != 0 && errno == EINTR) {
	}
}
