/* Unit tests of the schedules' cron expressions (cron.c, pure): every malformed field
 * is refused naming the field; known expressions give their known next times
 * (shorthands, names, Sunday as 0 and 7, Vixie's either-day rule, leap days); and
 * tr_cron_next is compared, over thousands of random expressions and start times
 * (leap years, Feb 29, month and year ends), with a brute-force matcher written here:
 * it walks minute by minute through libc's gmtime_r and tests each minute against sets
 * the generator built itself, not against anything cron.c parsed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tr.h"

/* Unix ms of a UTC civil time, through libc. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
	return (int64_t)timegm(&tm) * 1000;
}

static void refused(const char *expr, const char *needle)
{
	struct tr_cron c;
	struct core_error err = {{0}};
	ck_assert_msg(tr_cron_parse(expr, &c, &err) == CORE_EINVAL, "'%s' was accepted", expr);
	ck_assert_msg(strstr(err.message, needle), "'%s': '%s' lacks '%s'", expr, err.message, needle);
}

START_TEST(bad_expressions_name_the_field)
{
	refused("* * * *", "5 fields expected");
	refused("* * * * * *", "5 fields expected");
	refused("", "5 fields expected");
	refused("60 * * * *", "minute field '60'");
	refused("* 24 * * *", "hour field '24'");
	refused("* * 0 * *", "day-of-month field '0'");
	refused("* * 32 * *", "day-of-month field '32'");
	refused("* * * 13 *", "month field '13'");
	refused("* * * * 8", "day-of-week field '8'");
	refused("5-1 * * * *", "runs backwards");
	refused("*/0 * * * *", "step");
	refused("*/61 * * * *", "step");
	refused("5/2 * * * *", "a step needs");
	refused("1,,2 * * * *", "minute field");
	refused("a * * * *", "minute field 'a'");
	refused("* * * FOO *", "month field 'FOO'");
	refused("* * * * MONDAY", "day-of-week field");
	refused("* * * JAN-FOO *", "no range end");
	refused("1- * * * *", "no range end");
	refused("@every_minute", "unknown shorthand");
	refused("0 0 30 2 *", "never fires");
	refused("0 0 31 4,6,9,11 *", "never fires");
	struct tr_cron c;
	struct core_error err = {{0}};
	ck_assert_int_eq(tr_cron_parse(NULL, &c, &err), CORE_EINVAL);
	/* accepted: the day-of-week restricts Feb 30 away, so Vixie's OR rule fires on Mondays */
	ck_assert_int_eq(tr_cron_parse("0 0 30 2 MON", &c, &err), CORE_OK);
	ck_assert_int_eq(tr_cron_parse("  0   3 * * *  ", &c, &err), CORE_OK);
	ck_assert_int_eq(tr_cron_parse("@Daily", &c, &err), CORE_OK);
}
END_TEST

static int64_t next_of(const char *expr, int64_t after)
{
	struct tr_cron c;
	struct core_error err = {{0}};
	ck_assert_msg(tr_cron_parse(expr, &c, &err) == CORE_OK, "%s: %s", expr, err.message);
	int64_t out = 0;
	ck_assert_int_eq(tr_cron_next(&c, after, &out), CORE_OK);
	return out;
}

START_TEST(known_cases)
{
	int64_t t = utc(2026, 12, 6, 15, 46) + 17000; /* a Sunday, 15:46:17 */
	ck_assert_int_eq(next_of("* * * * *", t), utc(2026, 12, 6, 15, 47));
	/* strictly after: a start on a whole matching minute gives the next one */
	ck_assert_int_eq(next_of("* * * * *", utc(2026, 12, 6, 15, 47)), utc(2026, 12, 6, 15, 48));
	ck_assert_int_eq(next_of("0 3 * * *", t), utc(2026, 12, 7, 3, 0));
	ck_assert_int_eq(next_of("@hourly", t), utc(2026, 12, 6, 16, 0));
	ck_assert_int_eq(next_of("@daily", t), utc(2026, 12, 7, 0, 0));
	ck_assert_int_eq(next_of("@weekly", t), utc(2026, 12, 13, 0, 0));
	ck_assert_int_eq(next_of("@monthly", t), utc(2027, 1, 1, 0, 0));
	ck_assert_int_eq(next_of("@yearly", t), utc(2027, 1, 1, 0, 0));
	ck_assert_int_eq(next_of("@annually", t), utc(2027, 1, 1, 0, 0));
	ck_assert_int_eq(next_of("*/15 * * * *", t), utc(2026, 12, 6, 16, 0));
	ck_assert_int_eq(next_of("10-20/5 * * * *", t), utc(2026, 12, 6, 16, 10));
	ck_assert_int_eq(next_of("5,50 * * * *", t), utc(2026, 12, 6, 15, 50));
	/* names; 0 and 7 are Sunday */
	ck_assert_int_eq(next_of("0 9 * * MON-FRI", t), utc(2026, 12, 7, 9, 0));
	ck_assert_int_eq(next_of("0 9 * * sat", t), utc(2026, 12, 12, 9, 0));
	ck_assert_int_eq(next_of("0 9 * * 7", t), utc(2026, 12, 13, 9, 0));
	ck_assert_int_eq(next_of("0 9 * * 0", t), utc(2026, 12, 13, 9, 0));
	ck_assert_int_eq(next_of("0 0 1 jan,JUL *", t), utc(2027, 1, 1, 0, 0));
	ck_assert_int_eq(next_of("0 0 * FEB-MAR *", t), utc(2027, 2, 1, 0, 0));
	/* Vixie: both days restricted -> either; one starred -> both */
	ck_assert_int_eq(next_of("0 0 13 * FRI", t), utc(2026, 12, 11, 0, 0)); /* Friday 11th first */
	ck_assert_int_eq(next_of("0 0 13 * *", t), utc(2026, 12, 13, 0, 0));
	ck_assert_int_eq(next_of("0 0 */2 * FRI", t), utc(2026, 12, 11, 0, 0)); /* "*" first: odd Fridays */
	ck_assert_int_eq(next_of("0 0 1 * */7", t), utc(2027, 8, 1, 0, 0));     /* a Sunday the 1st */
	/* leap days and month ends */
	ck_assert_int_eq(next_of("0 0 29 2 *", t), utc(2028, 2, 29, 0, 0));
	ck_assert_int_eq(next_of("0 0 29 2 *", utc(2096, 3, 1, 0, 0)), utc(2104, 2, 29, 0, 0)); /* 2100 is not leap */
	ck_assert_int_eq(next_of("0 0 31 * *", utc(2027, 1, 31, 0, 0)), utc(2027, 3, 31, 0, 0));
	ck_assert_int_eq(next_of("59 23 31 12 *", utc(2026, 12, 31, 23, 58)), utc(2026, 12, 31, 23, 59));
	ck_assert_int_eq(next_of("0 0 1 1 *", utc(2026, 12, 31, 23, 59)), utc(2027, 1, 1, 0, 0));
	/* before 1970 too */
	ck_assert_int_eq(next_of("30 12 * * *", utc(1969, 12, 31, 13, 0)), utc(1970, 1, 1, 12, 30));
}
END_TEST

/* --- random expressions against a brute-force matcher ---------------------------------- */

struct field_rand {
	int lo, hi;
	bool set[64];
	bool star; /* the text begins with '*' */
	char text[128];
};

static const char *const mon[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const dow[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static void num_text(char *out, size_t size, int v, int which, unsigned r)
{
	if (which == 3 && r % 3 == 0)
		snprintf(out, size, "%s", mon[v - 1]);
	else if (which == 4 && r % 3 == 0 && v < 7)
		snprintf(out, size, "%s", dow[v]);
	else
		snprintf(out, size, "%d", v);
}

/* A random field: '*', '*' / n, a value, a range, a stepped range, or a list of those. */
static void rand_field(struct field_rand *f, int which, int lo, int hi)
{
	memset(f->set, 0, sizeof f->set);
	f->lo = lo;
	f->hi = hi;
	f->text[0] = 0;
	f->star = false;
	int kind = rand() % 6;
	if (kind == 0 || (which >= 2 && kind == 1)) {
		snprintf(f->text, sizeof f->text, "*");
		f->star = true;
		for (int v = lo; v <= hi; v++)
			f->set[v] = true;
		return;
	}
	if (kind == 1) {
		int n = 1 + rand() % (hi > 12 ? 20 : 5);
		snprintf(f->text, sizeof f->text, "*/%d", n);
		f->star = true;
		for (int v = lo; v <= hi; v += n)
			f->set[v] = true;
		return;
	}
	int items = 1 + rand() % 3;
	for (int i = 0; i < items; i++) {
		char a[8], b[8], item[32];
		int x = lo + rand() % (hi - lo + 1), y = x + rand() % (hi - x + 1);
		unsigned r = (unsigned)rand();
		num_text(a, sizeof a, x, which, r);
		num_text(b, sizeof b, y, which, r / 3);
		int k = rand() % 3;
		if (k == 0 || x == y) {
			snprintf(item, sizeof item, "%s", a);
			f->set[x] = true;
		} else if (k == 1) {
			snprintf(item, sizeof item, "%s-%s", a, b);
			for (int v = x; v <= y; v++)
				f->set[v] = true;
		} else {
			int n = 1 + rand() % 7;
			snprintf(item, sizeof item, "%s-%s/%d", a, b, n);
			for (int v = x; v <= y; v += n)
				f->set[v] = true;
		}
		size_t len = strlen(f->text);
		snprintf(f->text + len, sizeof f->text - len, "%s%s", i ? "," : "", item);
	}
}

struct expr_rand {
	struct field_rand f[5];
	char text[700];
};

static bool brute_day(const struct expr_rand *e, const struct tm *tm)
{
	const struct field_rand *f = e->f;
	if (!f[3].set[tm->tm_mon + 1])
		return false;
	bool md = f[2].set[tm->tm_mday];
	bool wd = f[4].set[tm->tm_wday] || (tm->tm_wday == 0 && f[4].set[7]);
	return (f[2].star || f[4].star) ? md && wd : md || wd;
}

/* The first matching minute after after_ms, minute by minute (libc's gmtime_r names each
 * day; a day that cannot match is passed over whole), within limit minutes; -1: none. */
static int64_t brute_next(const struct expr_rand *e, int64_t after_ms, long limit)
{
	time_t t = (time_t)(after_ms / 1000);
	t = t - (t % 60 + 60) % 60 + 60;
	time_t end = t + (time_t)limit * 60;
	while (t < end) {
		struct tm tm;
		gmtime_r(&t, &tm);
		if (!brute_day(e, &tm)) {
			t += (time_t)(1440 - (tm.tm_hour * 60 + tm.tm_min)) * 60;
			continue;
		}
		if (e->f[1].set[tm.tm_hour] && e->f[0].set[tm.tm_min])
			return (int64_t)t * 1000;
		t += 60;
	}
	return -1;
}

static int64_t rand_start(void)
{
	static const int special[][5] = {{2024, 2, 28, 23, 59}, {2024, 2, 29, 23, 59}, {2023, 2, 28, 23, 59},
					 {2100, 2, 28, 23, 30}, {2000, 2, 29, 12, 0},  {2026, 12, 31, 23, 59},
					 {2027, 1, 31, 23, 59}, {2027, 4, 30, 23, 59}, {2026, 6, 30, 0, 0}};
	int k = rand() % 4;
	if (k == 0) {
		const int *s = special[rand() % (int)(sizeof special / sizeof special[0])];
		return utc(s[0], s[1], s[2], s[3], s[4]) + (rand() % 2) * (rand() % 60000);
	}
	/* 1990 .. 2099, any ms */
	int64_t lo = utc(1990, 1, 1, 0, 0), hi = utc(2099, 12, 1, 0, 0);
	int64_t r = ((int64_t)rand() << 31 | rand()) % (hi - lo);
	return lo + (k == 1 ? r - r % 60000 : r);
}

START_TEST(next_agrees_with_brute_force)
{
	srand(20261206);
	int compared = 0, never = 0;
	for (int i = 0; i < 3000; i++) {
		struct expr_rand e;
		static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};
		for (int k = 0; k < 5; k++)
			rand_field(&e.f[k], k, lo[k], hi[k]);
		snprintf(e.text, sizeof e.text, "%s %s %s %s %s", e.f[0].text, e.f[1].text, e.f[2].text, e.f[3].text,
			 e.f[4].text);
		struct tr_cron c;
		struct core_error err = {{0}};
		if (tr_cron_parse(e.text, &c, &err) != CORE_OK) {
			/* only an expression that never fires may be refused: none in nine years */
			ck_assert_msg(strstr(err.message, "never fires"), "'%s': %s", e.text, err.message);
			ck_assert_int_eq(brute_next(&e, utc(2000, 1, 1, 0, 0), 9L * 366 * 1440), -1);
			never++;
			continue;
		}
		for (int s = 0; s < 3; s++) {
			int64_t start = rand_start(), got = 0;
			ck_assert_int_eq(tr_cron_next(&c, start, &got), CORE_OK);
			int64_t want = brute_next(&e, start, 9L * 366 * 1440);
			ck_assert_msg(got == want, "'%s' after %lld: %lld, brute force %lld", e.text, (long long)start,
				      (long long)got, (long long)want);
			compared++;
		}
	}
	ck_assert_int_ge(compared, 8000);
	ck_assert_int_lt(never, 300);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tr_cron");
	TCase *tc = tcase_create("cron");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bad_expressions_name_the_field);
	tcase_add_test(tc, known_cases);
	tcase_add_test(tc, next_agrees_with_brute_force);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
