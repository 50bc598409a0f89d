/* Tests of the event envelope (libs/bus/src/envelope.c): bus_event_new writes every
 * CloudEvents attribute Lathe promises, well-formed; bus_event_parse accepts what
 * bus_event_new writes and rejects events missing a required attribute or carrying a
 * malformed one. No broker or database needed. */
#include <check.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "bus/bus.h"
#include "core/buf.h"
#include "core/time.h"

/* The canonical 8-4-4-4-12 lower-case hex UUID, version 4. */
static bool is_uuid4(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
			return false;
		}
	}
	return s[14] == '4';
}

static const char *str_member(const json_t *ev, const char *name)
{
	const json_t *v = json_object_get(ev, name);
	ck_assert_msg(json_is_string(v), "attribute %s is missing or not a string", name);
	return json_string_value(v);
}

START_TEST(test_new_has_every_attribute)
{
	int64_t before = core_now_ms();
	json_t *ev =
		bus_event_new("/registry", "lathe.model.version.created", "model-7", json_pack("{s:i}", "version", 3));
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_member(ev, "specversion"), "1.0");
	ck_assert_msg(is_uuid4(str_member(ev, "id")), "id %s", str_member(ev, "id"));
	ck_assert_str_eq(str_member(ev, "source"), "/registry");
	ck_assert_str_eq(str_member(ev, "type"), "lathe.model.version.created");
	ck_assert_str_eq(str_member(ev, "subject"), "model-7");
	ck_assert_str_eq(str_member(ev, "datacontenttype"), "application/json");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ev, "data"), "version")), 3);

	/* time: RFC 3339 UTC with milliseconds, and now */
	const char *when = str_member(ev, "time");
	ck_assert_uint_eq(strlen(when), 24);
	ck_assert_msg(when[4] == '-' && when[7] == '-' && when[10] == 'T' && when[13] == ':' && when[16] == ':' &&
			      when[19] == '.' && when[23] == 'Z',
		      "time %s", when);
	char lower[32], upper[32];
	core_time_iso8601(before, lower);
	core_time_iso8601(core_now_ms(), upper);
	ck_assert_msg(strcmp(lower, when) <= 0 && strcmp(when, upper) <= 0, "time %s not in [%s, %s]", when, lower,
		      upper);

	/* ids differ from event to event */
	json_t *ev2 = bus_event_new("/registry", "t", NULL, NULL);
	ck_assert_str_ne(str_member(ev, "id"), str_member(ev2, "id"));
	json_decref(ev2);
	json_decref(ev);
}
END_TEST

START_TEST(test_new_optional_parts)
{
	json_t *ev = bus_event_new("/trainer", "lathe.job.started", NULL, NULL);
	ck_assert_ptr_nonnull(ev);
	ck_assert_ptr_null(json_object_get(ev, "subject"));
	ck_assert_ptr_null(json_object_get(ev, "data"));
	json_decref(ev);
}
END_TEST

START_TEST(test_new_rejects_missing_source_or_type)
{
	/* data is stolen even on failure: ASan's leak check would catch a leak here */
	ck_assert_ptr_null(bus_event_new(NULL, "t", NULL, json_object()));
	ck_assert_ptr_null(bus_event_new("", "t", NULL, json_object()));
	ck_assert_ptr_null(bus_event_new("/s", NULL, NULL, json_object()));
	ck_assert_ptr_null(bus_event_new("/s", "", "x", json_string("d")));
}
END_TEST

START_TEST(test_round_trip)
{
	json_t *ev =
		bus_event_new("/data", "lathe.dataset.version.created", "ds-1", json_pack("{s:s}", "digest", "ab"));
	char *text = json_dumps(ev, JSON_COMPACT);
	json_t *back = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_event_parse(text, strlen(text), &back, &err) == CORE_OK, "%s", err.message);
	ck_assert(json_equal(ev, back));
	json_decref(back);
	free(text);
	json_decref(ev);
}
END_TEST

/* bus_event_text writes byte for byte what json_dumps writes of bus_event_new's event
 * with the same id and time, with and without the optional members (control characters
 * aside: it spells them \u00XX, jansson \n; the same string either way). */
static void text_matches_new(const char *subject, const char *data)
{
	struct core_buf b;
	core_buf_init(&b, 1 << 20);
	ck_assert_int_eq(
		bus_event_text(&b, "/inference-api", "lathe.prediction", subject, data, data ? strlen(data) : 0),
		CORE_OK);
	json_t *parsed = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_event_parse(b.data, b.len, &parsed, &err) == CORE_OK, "%s: %s", err.message, b.data);
	ck_assert(is_uuid4(str_member(parsed, "id")));
	json_t *ev =
		bus_event_new("/inference-api", "lathe.prediction", subject, data ? json_loads(data, 0, NULL) : NULL);
	json_object_set(ev, "id", json_object_get(parsed, "id"));
	json_object_set(ev, "time", json_object_get(parsed, "time"));
	char *want = json_dumps(ev, JSON_COMPACT);
	if (subject && strchr(subject, '\n')) {
		json_t *back = json_loads(want, 0, NULL);
		ck_assert(json_equal(back, parsed));
		json_decref(back);
	} else {
		ck_assert_str_eq(b.data, want);
	}
	free(want);
	json_decref(ev);
	json_decref(parsed);
	core_buf_free(&b);
}

START_TEST(test_text_is_what_new_serializes)
{
	text_matches_new("model \"x\" \\ caf\xc3\xa9", "{\"label\":\"T-shirt/top\",\"probability\":0.5}");
	text_matches_new("line\nbreak", "{}");
	text_matches_new(NULL, NULL);
	text_matches_new("m", "[1,2]");
	struct core_buf b;
	core_buf_init(&b, 1 << 20);
	ck_assert_int_eq(bus_event_text(&b, "", "t", NULL, NULL, 0), CORE_EINVAL);
	ck_assert_int_eq(bus_event_text(&b, "/s", NULL, NULL, NULL, 0), CORE_EINVAL);
	core_buf_free(&b);
	/* a ceiling too low for the event: the buffer's error, not a truncated event */
	core_buf_init(&b, 40);
	ck_assert_int_eq(bus_event_text(&b, "/s", "t", NULL, "{}", 2), CORE_ELIMIT);
	core_buf_free(&b);
}
END_TEST

START_TEST(test_parse_not_nul_terminated)
{
	const char buf[] = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}garbage";
	json_t *ev = NULL;
	ck_assert_int_eq(bus_event_parse(buf, strlen(buf) - strlen("garbage"), &ev, NULL), CORE_OK);
	json_decref(ev);
}
END_TEST

static const char *const required[] = {"specversion", "id", "source", "type"};

START_TEST(test_parse_rejects_missing_required)
{
	const char *name = required[_i];
	json_t *ev = bus_event_new("/s", "t", "subj", json_object());
	json_object_del(ev, name);
	char *text = json_dumps(ev, JSON_COMPACT);
	json_t *out = (json_t *)&out; /* must stay untouched */
	struct core_error err = {{0}};
	ck_assert_int_eq(bus_event_parse(text, strlen(text), &out, &err), CORE_EINVAL);
	ck_assert_ptr_eq(out, (json_t *)&out);
	ck_assert_msg(strstr(err.message, name) != NULL, "message '%s' does not name %s", err.message, name);
	free(text);
	json_decref(ev);
}
END_TEST

/* Each entry must be rejected. */
static const char *const malformed[] = {
	"",
	"not json",
	"[1,2]",
	"{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}",
	"{\"specversion\":1.0,\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}",
	"{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"/s\",\"type\":\"t\"}",
	"{\"specversion\":\"1.0\",\"id\":7,\"source\":\"/s\",\"type\":\"t\"}",
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"\",\"type\":\"t\"}",
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":null}",
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"subject\":5}",
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"datacontenttype\":[]}",
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"yesterday\"}",
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"2026-02-30T00:00:00Z\"}",
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"2026-01-01T24:00:00Z\"}",
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"2026-01-01T10:00:00\"}",
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"2026-01-01T10:00:00.Z\"}",
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"2026-01-01T10:00:00+1:00\"}",
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"id\":\"2\",\"source\":\"/s\",\"type\":\"t\"}",
};

START_TEST(test_parse_rejects_malformed)
{
	const char *text = malformed[_i];
	json_t *out = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_event_parse(text, strlen(text), &out, &err) == CORE_EINVAL, "accepted: %s", text);
	ck_assert_ptr_null(out);
	ck_assert_msg(err.message[0] != '\0', "no message for %s", text);
}
END_TEST

static const char *const good_times[] = {
	"2026-11-22T16:20:01.123Z",  "2026-11-22t16:20:01z",
	"2024-02-29T23:59:60Z",      "2026-11-22T16:20:01.123456789+05:30",
	"2026-11-22T16:20:01-08:00",
};

START_TEST(test_parse_accepts_rfc3339_times)
{
	char text[256];
	snprintf(text, sizeof text,
		 "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"%s\",\"ext\":1}",
		 good_times[_i]);
	json_t *out = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_event_parse(text, strlen(text), &out, &err) == CORE_OK, "%s: %s", good_times[_i],
		      err.message);
	json_decref(out);
}
END_TEST

static Suite *envelope_suite(void)
{
	Suite *s = suite_create("bus_envelope");
	TCase *tc = tcase_create("new");
	tcase_add_test(tc, test_new_has_every_attribute);
	tcase_add_test(tc, test_new_optional_parts);
	tcase_add_test(tc, test_new_rejects_missing_source_or_type);
	suite_add_tcase(s, tc);
	tc = tcase_create("parse");
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_text_is_what_new_serializes);
	tcase_add_test(tc, test_parse_not_nul_terminated);
	tcase_add_loop_test(tc, test_parse_rejects_missing_required, 0, (int)(sizeof required / sizeof required[0]));
	tcase_add_loop_test(tc, test_parse_rejects_malformed, 0, (int)(sizeof malformed / sizeof malformed[0]));
	tcase_add_loop_test(tc, test_parse_accepts_rfc3339_times, 0, (int)(sizeof good_times / sizeof good_times[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(envelope_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
