/* Unit tests of the prediction event reader (event.c): dm_event_scan reads what
 * dm_event_of_json reads from bus_event_parse's tree, member by member, on events as
 * the inference API writes them (tabular and image, classifier and regressor, nulls,
 * strings, extra members, blanks), and dm_event_scan_head the grouping members alone; it gives up (so the stream takes
 * the jansson road) on escapes, deep nesting and malformed text, and never reads past the text (every prefix of a valid
 * event is tried, under ASan in make test); and dm_event_agrees tells an event whose whole text says otherwise than its
 * head (a member given twice). Linked from libdrift-monitor.a. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "bus/bus.h"
#include "dm.h"

static void same_str(struct dm_str a, struct dm_str b, const char *what)
{
	ck_assert_msg(a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0), "%s: '%.*s' vs '%.*s'", what, (int)a.n,
		      a.p ? a.p : "", (int)b.n, b.p ? b.p : "");
}

static void same_value(const struct dm_value *a, const struct dm_value *b, const char *what)
{
	same_str(a->name, b->name, what);
	ck_assert_msg(a->kind == b->kind, "%s: kind %d vs %d", what, a->kind, b->kind);
	if (a->kind == DM_VAL_NUM)
		ck_assert_msg(a->num == b->num, "%s: %.17g vs %.17g", what, a->num, b->num);
	if (a->kind == DM_VAL_STR)
		same_str(a->str, b->str, what);
}

/* Scans text and reads it with jansson; both must agree. */
static void agree(const char *text)
{
	struct dm_event a, b;
	dm_event_init(&a);
	dm_event_init(&b);
	ck_assert_msg(dm_event_scan(text, strlen(text), &a), "the scan gave up on %s", text);
	json_t *tree = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_event_parse(text, strlen(text), &tree, &err) == CORE_OK, "%s", err.message);
	dm_event_of_json(tree, &b);
	same_str(a.type, b.type, "type");
	same_str(a.model, b.model, "model");
	same_str(a.version, b.version, "version");
	same_str(a.request_id, b.request_id, "request_id");
	same_str(a.timestamp, b.timestamp, "timestamp");
	same_str(a.role, b.role, "role");
	same_str(a.label, b.label, "label");
	ck_assert_int_eq(a.row, b.row);
	ck_assert_int_eq(a.image, b.image);
	same_value(&a.probability, &b.probability, "probability");
	ck_assert_uint_eq(a.n_values, b.n_values);
	for (size_t i = 0; i < a.n_values; i++)
		same_value(&a.values[i], &b.values[i], "value");
	ck_assert_uint_eq(a.n_pred, b.n_pred);
	for (size_t i = 0; i < a.n_pred; i++)
		same_value(&a.pred[i], &b.pred[i], "prediction");
	/* the head alone: the same grouping members, no values read */
	ck_assert(dm_event_scan_head(text, strlen(text), &a));
	same_str(a.model, b.model, "head model");
	same_str(a.version, b.version, "head version");
	same_str(a.role, b.role, "head role");
	same_str(a.timestamp, b.timestamp, "head timestamp");
	ck_assert_uint_eq(a.n_values, 0);
	ck_assert_uint_eq(a.n_pred, 0);
	json_decref(tree);
	dm_event_free(&a);
	dm_event_free(&b);
}

#define ENVELOPE                                                                                                       \
	"{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"lathe/inference-api\",\"type\":\"lathe.prediction\","     \
	"\"subject\":\"m\",\"time\":\"2026-12-06T10:00:00.000Z\",\"datacontenttype\":\"application/json\",\"data\":"

START_TEST(scan_agrees_with_jansson)
{
	agree(ENVELOPE
	      "{\"model\":\"m\",\"version\":\"3\",\"request_id\":\"r-1\",\"timestamp\":\"2026-12-06T10:00:00.123Z\","
	      "\"protocol\":\"oip\",\"row\":2,\"features\":{\"age\":41,\"city\":\"Lyon\",\"income\":null,"
	      "\"score\":-1.5e-3},\"label\":\"yes\",\"probability\":0.875,\"role\":\"serve\"}}");
	agree(ENVELOPE
	      "{\"model\":\"img\",\"version\":\"12\",\"request_id\":null,\"timestamp\":\"2026-12-06T10:00:00.123Z\","
	      "\"protocol\":\"image\",\"row\":0,\"image\":{\"width\":28,\"height\":28,\"channels\":1,"
	      "\"brightness\":72.5,\"contrast\":88.25},\"label\":\"c3\",\"probability\":1,\"role\":\"shadow\"}}");
	agree(ENVELOPE
	      "{\"model\":\"reg\",\"version\":\"1\",\"request_id\":\"x\",\"timestamp\":\"t\",\"protocol\":\"\","
	      "\"row\":7,\"features\":{},\"prediction\":[1.5,null,-2],\"role\":\"serve\"}}");
	/* blanks everywhere, members in another order, unknown members of every kind */
	agree("  { \"data\" : { \"role\" : \"serve\" , \"extra\" : {\"a\": [1, {\"b\": null}], \"c\": true},"
	      " \"version\" : \"2\" , \"model\" : \"m\" , \"row\" : 0 , \"features\" : { \"x\" : \"7\" } } ,"
	      " \"type\" : \"lathe.prediction\" , \"specversion\" : \"1.0\" , \"id\" : \"i\" , \"source\" : \"s\" ,"
	      " \"list\" : [ ] , \"flag\" : false }\n");
}
END_TEST

START_TEST(scan_gives_up_where_it_should)
{
	struct dm_event ev;
	dm_event_init(&ev);
	const char *refused[] = {
		ENVELOPE "{\"model\":\"m\\u00e9\",\"version\":\"1\",\"row\":0,\"role\":\"serve\"}}", /* an escape */
		ENVELOPE "{\"model\":\"m\",\"features\":{\"a\":[1]}}}", /* a feature that is not a scalar */
		ENVELOPE "{\"model\":\"m\",\"row\":-1}}",               /* a row that is not an index */
		ENVELOPE "{\"model\":\"m\"}} trailing",                 /* text after the event */
		ENVELOPE
		"{\"model\":\"m\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}",
		"{\"type\":\"lathe.prediction\"}", /* no data */
		"[1, 2]",
		"",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		ck_assert_msg(!dm_event_scan(refused[i], strlen(refused[i]), &ev), "accepted %s", refused[i]);
	/* every prefix of a valid event: refused, never read past (a copy of exactly that
	 * length, so ASan sees an overread) */
	const char *full =
		ENVELOPE "{\"model\":\"m\",\"version\":\"3\",\"row\":2,\"features\":{\"age\":41.5,\"c\":\"x\"},"
			 "\"label\":\"yes\",\"probability\":0.5,\"role\":\"serve\"}}";
	size_t n = strlen(full);
	for (size_t k = 0; k < n; k++) {
		char *part = malloc(k ? k : 1);
		memcpy(part, full, k);
		ck_assert_msg(!dm_event_scan(part, k, &ev), "accepted a prefix of %zu bytes", k);
		free(part);
	}
	ck_assert(dm_event_scan(full, n, &ev));
	dm_event_free(&ev);
}
END_TEST

/* The head stops once it has type, model, version, timestamp and role (the inference
 * API's order): what follows is left to the full scan, which still refuses it; without
 * all five before the values, or with type after data, the head reads to the end. */
START_TEST(head_stops_once_it_has_the_grouping_members)
{
	struct dm_event ev;
	dm_event_init(&ev);
	const char *bad_tail =
		ENVELOPE "{\"model\":\"m\",\"version\":\"3\",\"request_id\":\"r\","
			 "\"timestamp\":\"2026-12-06T10:00:00.123Z\",\"protocol\":\"oip\",\"role\":\"serve\","
			 "\"row\":0,\"features\":{\"a\":[1]}} trailing";
	ck_assert(dm_event_scan_head(bad_tail, strlen(bad_tail), &ev));
	ck_assert(dm_str_is(ev.model, "m") && dm_str_is(ev.version, "3") && dm_str_is(ev.role, "serve"));
	ck_assert(dm_str_is(ev.type, "lathe.prediction"));
	ck_assert(!dm_event_scan(bad_tail, strlen(bad_tail), &ev));
	/* role after the values: the head reads (and checks the form of) the whole text */
	const char *role_last = ENVELOPE "{\"model\":\"m\",\"version\":\"3\",\"timestamp\":\"t\","
					 "\"features\":{\"a\":},\"role\":\"serve\"}}";
	ck_assert(!dm_event_scan_head(role_last, strlen(role_last), &ev));
	/* type after data: the same */
	const char *type_last = "{\"data\":{\"model\":\"m\",\"version\":\"3\",\"timestamp\":\"t\","
				"\"role\":\"serve\",\"features\":{\"a\":}},\"type\":\"lathe.prediction\"}";
	ck_assert(!dm_event_scan_head(type_last, strlen(type_last), &ev));
	dm_event_free(&ev);
}
END_TEST

/* Whether text, read whole as the stream reads it (the scan, or jansson where the scan
 * gives up; jansson refusing it: skipped), agrees with its head (which must stop early):
 * dm_event_agrees, as the stream asks before it applies an event. */
static bool whole_agrees_with_head(const char *text)
{
	struct dm_event head, whole;
	json_t *tree = NULL;
	struct core_error err = {{0}};
	bool agrees = false;
	dm_event_init(&head);
	dm_event_init(&whole);
	ck_assert_msg(dm_event_scan_head(text, strlen(text), &head), "no head in %s", text);
	char model[64], version[64];
	ck_assert(head.model.n < sizeof model && head.version.n < sizeof version);
	memcpy(model, head.model.p, head.model.n);
	model[head.model.n] = '\0';
	memcpy(version, head.version.p, head.version.n);
	version[head.version.n] = '\0';
	if (dm_event_scan(text, strlen(text), &whole)) {
		agrees = dm_event_agrees(&whole, model, version, head.timestamp);
	} else if (bus_event_parse(text, strlen(text), &tree, &err) == CORE_OK) {
		dm_event_of_json(tree, &whole);
		agrees = dm_event_agrees(&whole, model, version, head.timestamp);
	}
	json_decref(tree);
	dm_event_free(&head);
	dm_event_free(&whole);
	return agrees;
}

#define HEAD                                                                                                           \
	"{\"model\":\"m\",\"version\":\"3\",\"request_id\":\"r\",\"timestamp\":\"2026-12-06T10:00:00.123Z\","          \
	"\"protocol\":\"oip\",\"role\":\"serve\",\"row\":0,\"features\":{\"a\":1.5},\"label\":\"yes\","                \
	"\"probability\":0.5"

/* A member the head groups by, given again after the head stopped, with another value:
 * the whole scan gives up on a member given twice and jansson refuses it, so the stream
 * skips the event; dm_event_agrees is the check that would catch a reading that took the
 * second value. */
START_TEST(whole_text_against_its_head)
{
	ck_assert(whole_agrees_with_head(ENVELOPE HEAD "}}"));
	const char *twice[] = {
		ENVELOPE HEAD ",\"model\":\"other\"}}",
		ENVELOPE HEAD ",\"version\":\"4\"}}",
		ENVELOPE HEAD ",\"role\":\"shadow\"}}",
		ENVELOPE HEAD ",\"timestamp\":\"2020-01-01T00:00:00.000Z\"}}",
		ENVELOPE HEAD "},\"type\":\"lathe.other\"}",
	};
	for (size_t i = 0; i < sizeof twice / sizeof twice[0]; i++) {
		ck_assert_msg(!whole_agrees_with_head(twice[i]), "the whole text agrees with its head: %s", twice[i]);
		json_t *tree = NULL;
		struct core_error err = {{0}};
		ck_assert_msg(bus_event_parse(twice[i], strlen(twice[i]), &tree, &err) != CORE_OK, "jansson read %s",
			      twice[i]);
	}
	/* the stream's own check on an event read by jansson: the same verdicts */
	struct dm_event ev;
	dm_event_init(&ev);
	json_t *tree = NULL;
	struct core_error err = {{0}};
	const char *good = ENVELOPE HEAD "}}";
	ck_assert_msg(bus_event_parse(good, strlen(good), &tree, &err) == CORE_OK, "%s", err.message);
	dm_event_of_json(tree, &ev);
	struct dm_str ts = {"2026-12-06T10:00:00.123Z", strlen("2026-12-06T10:00:00.123Z")};
	ck_assert(dm_event_agrees(&ev, "m", "3", ts));
	ck_assert(!dm_event_agrees(&ev, "m", "4", ts));
	ck_assert(!dm_event_agrees(&ev, "m2", "3", ts));
	ck_assert(!dm_event_agrees(&ev, "m", "3", (struct dm_str){"2026-12-06T10:00:00.124Z", ts.n}));
	ck_assert(!dm_event_agrees(&ev, "m", "3", (struct dm_str){NULL, 0}));
	json_decref(tree);
	dm_event_free(&ev);
}
END_TEST

/* A member given twice, anywhere: the scan gives up (so the stream reads the event with
 * jansson) and jansson refuses it, so last-wins decides nothing on either road. */
START_TEST(a_member_given_twice_is_refused_by_both_readers)
{
	struct dm_event ev;
	dm_event_init(&ev);
	const char *twice[] = {
		ENVELOPE "{\"model\":\"m\",\"version\":\"3\",\"label\":\"a\",\"label\":\"b\"}}",
		ENVELOPE "{\"model\":\"m\",\"features\":{\"a\":1},\"features\":{\"a\":2}}}",
		ENVELOPE "{\"model\":\"m\",\"row\":1,\"row\":2}}",
		ENVELOPE "{\"model\":\"m\",\"prediction\":[1],\"prediction\":[2]}}",
		ENVELOPE "{\"model\":\"m\",\"probability\":0.1,\"probability\":0.9}}",
		ENVELOPE "{\"model\":\"m\",\"request_id\":\"a\",\"request_id\":\"b\"}}",
		ENVELOPE "{\"model\":\"m\"},\"data\":{\"model\":\"n\"}}",
		ENVELOPE "{\"model\":\"m\"},\"type\":\"lathe.prediction\"}",
	};
	for (size_t i = 0; i < sizeof twice / sizeof twice[0]; i++) {
		ck_assert_msg(!dm_event_scan(twice[i], strlen(twice[i]), &ev), "the scan read %s", twice[i]);
		json_t *tree = NULL;
		struct core_error err = {{0}};
		ck_assert_msg(bus_event_parse(twice[i], strlen(twice[i]), &tree, &err) != CORE_OK, "jansson read %s",
			      twice[i]);
	}
	/* features and image both: the scan leaves it to jansson's reading (one of them) */
	const char *both = ENVELOPE "{\"model\":\"m\",\"features\":{\"a\":1},\"image\":{\"a\":2}}}";
	ck_assert(!dm_event_scan(both, strlen(both), &ev));
	/* one of each is read */
	const char *once = ENVELOPE "{\"model\":\"m\",\"version\":\"3\",\"label\":\"a\",\"row\":1,\"image\":{\"a\":2},"
				    "\"prediction\":[2],\"probability\":0.9,\"request_id\":\"r\"}}";
	ck_assert(dm_event_scan(once, strlen(once), &ev));
	dm_event_free(&ev);
}
END_TEST

static Suite *event_suite(void)
{
	Suite *s = suite_create("drift-monitor-event");
	TCase *tc = tcase_create("event");
	tcase_add_test(tc, scan_agrees_with_jansson);
	tcase_add_test(tc, scan_gives_up_where_it_should);
	tcase_add_test(tc, head_stops_once_it_has_the_grouping_members);
	tcase_add_test(tc, whole_text_against_its_head);
	tcase_add_test(tc, a_member_given_twice_is_refused_by_both_readers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(event_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
