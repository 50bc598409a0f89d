/* Integration tests of the tracker's searches (runs/search, experiments/search)
 * against the real daemon and PostgreSQL: data is made through the HTTP API as the
 * MLflow client makes it, then searched with filters, order_by and pages, and the
 * answers are checked field by field; malformed searches get 400
 * INVALID_PARAMETER_VALUE in MLflow's words. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

#define API "/api/2.0/mlflow/"

/* --- helpers ------------------------------------------------------------------- */

/* POSTs (or GETs, body NULL) and returns the 200 answer's JSON (caller decrefs). */
static json_t *call_ok(struct th_daemon *d, const char *method, const char *path, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct th_response r = th_call(d, method, path, text);
	ck_assert_msg(r.status == 200, "%s %s %s -> %ld %s", method, path, text ? text : "", r.status, r.body);
	ck_assert_msg(r.json != NULL, "%s %s: not JSON: %s", method, path, r.body);
	json_t *j = json_incref(r.json);
	th_response_free(&r);
	free(text);
	json_decref(body);
	return j;
}

/* POSTs body (stolen) and checks a 400 INVALID_PARAMETER_VALUE whose message holds
 * needle. */
static void call_400(struct th_daemon *d, const char *path, json_t *body, const char *needle)
{
	char *text = json_dumps(body, JSON_COMPACT);
	struct th_response r = th_call(d, "POST", path, text);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", needle);
	th_response_free(&r);
	free(text);
	json_decref(body);
}

static char *create_experiment(struct th_daemon *d, const char *name, const char *tag_key, const char *tag_value)
{
	json_t *body = json_pack("{s:s}", "name", name);
	if (tag_key)
		json_object_set_new(body, "tags", json_pack("[{s:s,s:s}]", "key", tag_key, "value", tag_value));
	json_t *j = call_ok(d, "POST", API "experiments/create", body);
	char *id = strdup(json_string_value(json_object_get(j, "experiment_id")));
	json_decref(j);
	return id;
}

struct run {
	char *id;
	const char *name;
};

static char *create_run(struct th_daemon *d, const char *exp, const char *name, long long start)
{
	json_t *j = call_ok(d, "POST", API "runs/create",
			    json_pack("{s:s,s:s,s:s,s:I}", "experiment_id", exp, "run_name", name, "user_id", "tester",
				      "start_time", start));
	char *id = strdup(
		json_string_value(json_object_get(json_object_get(json_object_get(j, "run"), "info"), "run_id")));
	json_decref(j);
	return id;
}

/* value: a JSON number or the string "NaN" (stolen). */
static void log_metric(struct th_daemon *d, const char *run, const char *key, json_t *value)
{
	json_decref(call_ok(d, "POST", API "runs/log-metric",
			    json_pack("{s:s,s:s,s:o,s:I,s:I}", "run_id", run, "key", key, "value", value, "timestamp",
				      (json_int_t)1700000000000, "step", (json_int_t)0)));
}

static void log_param(struct th_daemon *d, const char *run, const char *key, const char *value)
{
	json_decref(call_ok(d, "POST", API "runs/log-parameter",
			    json_pack("{s:s,s:s,s:s}", "run_id", run, "key", key, "value", value)));
}

static void set_tag(struct th_daemon *d, const char *run, const char *key, const char *value)
{
	json_decref(call_ok(d, "POST", API "runs/set-tag",
			    json_pack("{s:s,s:s,s:s}", "run_id", run, "key", key, "value", value)));
}

/* Checks that resp holds exactly the runs named (in order); names NULL-terminated.
 * An empty list means the reply has no "runs" key. */
static void runs_are(json_t *resp, const char *const *names)
{
	json_t *runs = json_object_get(resp, "runs");
	size_t n = 0;
	while (names[n])
		n++;
	if (n == 0) {
		ck_assert_msg(runs == NULL, "expected no runs key: %s", json_dumps(resp, 0));
		return;
	}
	ck_assert_msg(json_array_size(runs) == n, "expected %zu runs, got %zu", n, json_array_size(runs));
	for (size_t i = 0; i < n; i++) {
		const char *got = json_string_value(
			json_object_get(json_object_get(json_array_get(runs, i), "info"), "run_name"));
		ck_assert_msg(got && strcmp(got, names[i]) == 0, "run %zu: got %s, want %s", i, got ? got : "(none)",
			      names[i]);
	}
}

static json_t *search(struct th_daemon *d, const char *exp, const char *filter, const char *order, long max,
		      const char *token)
{
	json_t *body = json_pack("{s:[s]}", "experiment_ids", exp);
	if (filter)
		json_object_set_new(body, "filter", json_string(filter));
	if (order)
		json_object_set_new(body, "order_by", json_pack("[s]", order));
	if (max > 0)
		json_object_set_new(body, "max_results", json_integer(max));
	if (token)
		json_object_set_new(body, "page_token", json_string(token));
	return call_ok(d, "POST", API "runs/search", body);
}

/* search and check the names, with no page token */
static void expect(struct th_daemon *d, const char *exp, const char *filter, const char *order,
		   const char *const *names)
{
	json_t *j = search(d, exp, filter, order, 0, NULL);
	runs_are(j, names);
	ck_assert_msg(json_object_get(j, "next_page_token") == NULL, "unexpected token for <%s>", filter);
	json_decref(j);
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE       ((const char *const[]){NULL})

/* Seven runs, r0 oldest .. r6 newest:
 *        acc   lr     team    status
 *   r0   0.1   0.01   alpha
 *   r1   0.5   0.1    alpha
 *   r2   0.9   0.01   alpha
 *   r3   0.7   0.1    Beta
 *   r4   NaN   0.01   Beta
 *   r5   0.3   0.1    -
 *   r6   -     -      gamma   FINISHED */
struct world {
	struct th_daemon *d;
	char *exp;
	char *run_ids[7];
};

static void make_world(struct world *w)
{
	static const char *const names[] = {"r0", "r1", "r2", "r3", "r4", "r5", "r6"};
	static const double acc[] = {0.1, 0.5, 0.9, 0.7, -1, 0.3};
	static const char *const team[] = {"alpha", "alpha", "alpha", "Beta", "Beta", NULL, "gamma"};
	w->d = th_daemon_start("experiment-tracker", NULL, NULL);
	w->exp = create_experiment(w->d, "search-runs", NULL, NULL);
	for (int i = 0; i < 7; i++) {
		w->run_ids[i] = create_run(w->d, w->exp, names[i], 1000 + i);
		if (i < 6) {
			log_metric(w->d, w->run_ids[i], "acc", i == 4 ? json_string("NaN") : json_real(acc[i]));
			log_param(w->d, w->run_ids[i], "lr", i % 2 ? "0.1" : "0.01");
		}
		if (team[i])
			set_tag(w->d, w->run_ids[i], "team", team[i]);
	}
	json_decref(call_ok(w->d, "POST", API "runs/update",
			    json_pack("{s:s,s:s,s:I}", "run_id", w->run_ids[6], "status", "FINISHED", "end_time",
				      (json_int_t)2000)));
}

static void free_world(struct world *w)
{
	th_daemon_stop(w->d);
	for (int i = 0; i < 7; i++)
		free(w->run_ids[i]);
	free(w->exp);
}

/* --- runs/search ------------------------------------------------------------------ */

START_TEST(runs_search_default_order_and_run_fields)
{
	struct world w;
	make_world(&w);
	json_t *j = search(w.d, w.exp, NULL, NULL, 0, NULL);
	runs_are(j, NAMES("r6", "r5", "r4", "r3", "r2", "r1", "r0"));
	ck_assert_ptr_null(json_object_get(j, "next_page_token"));

	/* r3 (index 3: r6 r5 r4 r3) field by field */
	json_t *run = json_array_get(json_object_get(j, "runs"), 3);
	json_t *info = json_object_get(run, "info");
	ck_assert_str_eq(json_string_value(json_object_get(info, "run_id")), w.run_ids[3]);
	ck_assert_str_eq(json_string_value(json_object_get(info, "run_uuid")), w.run_ids[3]);
	ck_assert_str_eq(json_string_value(json_object_get(info, "experiment_id")), w.exp);
	ck_assert_str_eq(json_string_value(json_object_get(info, "run_name")), "r3");
	ck_assert_str_eq(json_string_value(json_object_get(info, "user_id")), "tester");
	ck_assert_str_eq(json_string_value(json_object_get(info, "status")), "RUNNING");
	ck_assert_int_eq(json_integer_value(json_object_get(info, "start_time")), 1003);
	ck_assert_ptr_null(json_object_get(info, "end_time"));
	ck_assert_str_eq(json_string_value(json_object_get(info, "lifecycle_stage")), "active");
	char uri[200];
	snprintf(uri, sizeof uri, "mlflow-artifacts:/%s/%s/artifacts", w.exp, w.run_ids[3]);
	ck_assert_str_eq(json_string_value(json_object_get(info, "artifact_uri")), uri);
	json_t *data = json_object_get(run, "data");
	json_t *m = json_array_get(json_object_get(data, "metrics"), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(data, "metrics")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(m, "key")), "acc");
	ck_assert(json_real_value(json_object_get(m, "value")) == 0.7);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "timestamp")), 1700000000000);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "step")), 0);
	json_t *p = json_array_get(json_object_get(data, "params"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(p, "key")), "lr");
	ck_assert_str_eq(json_string_value(json_object_get(p, "value")), "0.1");
	json_t *tags = json_object_get(data, "tags");
	int found = 0;
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "key")), "team") == 0) {
			ck_assert_str_eq(json_string_value(json_object_get(t, "value")), "Beta");
			found++;
		}
	}
	ck_assert_int_eq(found, 1);
	/* the finished run carries its status and end time */
	info = json_object_get(json_array_get(json_object_get(j, "runs"), 0), "info");
	ck_assert_str_eq(json_string_value(json_object_get(info, "status")), "FINISHED");
	ck_assert_int_eq(json_integer_value(json_object_get(info, "end_time")), 2000);
	/* NaN travels as the string "NaN" */
	m = json_array_get(
		json_object_get(json_object_get(json_array_get(json_object_get(j, "runs"), 2), "data"), "metrics"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "value")), "NaN");
	json_decref(j);

	/* the /ajax-api twin answers the same */
	j = call_ok(w.d, "POST", "/ajax-api/2.0/mlflow/runs/search",
		    json_pack("{s:[s],s:s}", "experiment_ids", w.exp, "filter", "run_name = 'r2'"));
	runs_are(j, NAMES("r2"));
	json_decref(j);
	free_world(&w);
}
END_TEST

START_TEST(runs_search_filters)
{
	struct world w;
	make_world(&w);
	struct th_daemon *d = w.d;
	const char *e = w.exp;
	expect(d, e, "metrics.acc > 0.4", NULL, NAMES("r3", "r2", "r1")); /* NaN never > */
	expect(d, e, "metric.acc >= 0.5 and metrics.acc < 0.9", NULL, NAMES("r3", "r1"));
	expect(d, e, "metrics.acc != 0.5", NULL, NAMES("r5", "r4", "r3", "r2", "r0")); /* r6 lacks it */
	expect(d, e, "metrics.acc = 0.3", NULL, NAMES("r5"));
	expect(d, e, "metrics.acc <= 0.1", NULL, NAMES("r0"));
	expect(d, e, "params.lr = '0.1' AND tags.team ILIKE 'BETA'", NULL, NAMES("r3"));
	expect(d, e, "parameters.lr != \"0.1\"", NULL, NAMES("r4", "r2", "r0"));
	expect(d, e, "tags.team LIKE 'a%'", NULL, NAMES("r2", "r1", "r0"));
	expect(d, e, "tags.team LIKE 'b%'", NULL, NONE); /* LIKE is case-sensitive */
	expect(d, e, "tags.`team` != 'alpha'", NULL, NAMES("r6", "r4", "r3"));
	expect(d, e, "attributes.status = 'FINISHED'", NULL, NAMES("r6"));
	expect(d, e, "status != 'FINISHED' AND metrics.acc < 0.2", NULL, NAMES("r0"));
	expect(d, e, "\"run name\" = 'r4'", NULL, NAMES("r4"));
	expect(d, e, "run_name LIKE 'r_'", NULL, NAMES("r6", "r5", "r4", "r3", "r2", "r1", "r0"));
	expect(d, e, "created >= 1004", NULL, NAMES("r6", "r5", "r4"));
	expect(d, e, "attribute.start_time < 1002 AND attr.end_time > 0", NULL, NONE);
	expect(d, e, "end_time = 2000", NULL, NAMES("r6"));
	expect(d, e, "user_id = 'tester' AND run.artifact_uri LIKE 'mlflow-artifacts:/%'", NULL,
	       NAMES("r6", "r5", "r4", "r3", "r2", "r1", "r0"));
	expect(d, e, "tags.mlflow.runName = 'r1'", NULL, NAMES("r1"));

	char f[300];
	snprintf(f, sizeof f, "attributes.run_id IN ('%s', '%s')", w.run_ids[1], w.run_ids[3]);
	expect(d, e, f, NULL, NAMES("r3", "r1"));
	snprintf(f, sizeof f, "run_id NOT IN ('%s', '%s') AND metrics.acc > 0", w.run_ids[1], w.run_ids[3]);
	expect(d, e, f, NULL, NAMES("r5", "r2", "r0"));

	/* nothing matches: {} */
	json_t *j = search(d, e, "metrics.acc > 5", NULL, 0, NULL);
	ck_assert_uint_eq(json_object_size(j), 0);
	json_decref(j);
	/* an experiment that does not exist holds no runs */
	j = call_ok(d, "POST", API "runs/search", json_pack("{s:[s,s]}", "experiment_ids", "987654", "nope"));
	ck_assert_uint_eq(json_object_size(j), 0);
	json_decref(j);
	free_world(&w);
}
END_TEST

START_TEST(runs_search_orders_and_pages)
{
	struct world w;
	make_world(&w);
	struct th_daemon *d = w.d;
	const char *e = w.exp;
	/* numbers, then NaN, then runs without the metric, in both directions */
	expect(d, e, NULL, "metrics.acc DESC", NAMES("r2", "r3", "r1", "r5", "r0", "r4", "r6"));
	expect(d, e, NULL, "metrics.acc", NAMES("r0", "r5", "r1", "r3", "r2", "r4", "r6"));
	/* ties broken by start_time DESC */
	expect(d, e, NULL, "params.lr DESC", NAMES("r5", "r3", "r1", "r4", "r2", "r0", "r6"));
	expect(d, e, "run_name != 'r3' AND run_name != 'r4'", "tags.team DESC", NAMES("r6", "r2", "r1", "r0", "r5"));
	expect(d, e, NULL, "attributes.start_time ASC", NAMES("r0", "r1", "r2", "r3", "r4", "r5", "r6"));
	expect(d, e, NULL, "end_time DESC", NAMES("r6", "r5", "r4", "r3", "r2", "r1", "r0"));
	expect(d, e, "metrics.acc > 0.2", "run_name DESC", NAMES("r5", "r3", "r2", "r1"));

	/* three pages of 3: a token after each full page, none after the last */
	json_t *p1 = search(d, e, NULL, "metrics.acc DESC", 3, NULL);
	runs_are(p1, NAMES("r2", "r3", "r1"));
	const char *t1 = json_string_value(json_object_get(p1, "next_page_token"));
	ck_assert_str_eq(t1, "eyJvZmZzZXQiOiAzfQ=="); /* {"offset": 3}, as MLflow makes it */
	json_t *p2 = search(d, e, NULL, "metrics.acc DESC", 3, t1);
	runs_are(p2, NAMES("r5", "r0", "r4"));
	const char *t2 = json_string_value(json_object_get(p2, "next_page_token"));
	ck_assert_ptr_nonnull(t2);
	json_t *p3 = search(d, e, NULL, "metrics.acc DESC", 3, t2);
	runs_are(p3, NAMES("r6"));
	ck_assert_ptr_null(json_object_get(p3, "next_page_token"));
	json_decref(p1);
	json_decref(p2);
	json_decref(p3);

	/* a full last page still gives a token; the page after it is {} */
	p1 = search(d, e, "metrics.acc > 0.4", NULL, 3, NULL);
	runs_are(p1, NAMES("r3", "r2", "r1"));
	p2 = search(d, e, "metrics.acc > 0.4", NULL, 3, json_string_value(json_object_get(p1, "next_page_token")));
	ck_assert_uint_eq(json_object_size(p2), 0);
	json_decref(p1);
	json_decref(p2);

	/* view types: deleted runs only with DELETED_ONLY or ALL */
	json_decref(call_ok(d, "POST", API "runs/delete", json_pack("{s:s}", "run_id", w.run_ids[0])));
	expect(d, e, "metrics.acc < 0.2", NULL, NONE);
	json_t *j = call_ok(d, "POST", API "runs/search",
			    json_pack("{s:[s],s:s}", "experiment_ids", e, "run_view_type", "DELETED_ONLY"));
	runs_are(j, NAMES("r0"));
	ck_assert_str_eq(
		json_string_value(json_object_get(
			json_object_get(json_array_get(json_object_get(j, "runs"), 0), "info"), "lifecycle_stage")),
		"deleted");
	json_decref(j);
	j = call_ok(
		d, "POST", API "runs/search",
		json_pack("{s:[s],s:i,s:s}", "experiment_ids", e, "run_view_type", 3, "filter", "metrics.acc < 0.6"));
	runs_are(j, NAMES("r5", "r1", "r0"));
	json_decref(j);
	free_world(&w);
}
END_TEST

START_TEST(runs_search_refuses_malformed_requests)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	const char *p = API "runs/search";
	call_400(d, p, json_pack("{s:[s],s:s}", "experiment_ids", "0", "filter", "metrics.a > 1 OR metrics.b < 2"),
		 "Invalid clause(s) in filter string: 'OR'");
	call_400(d, p, json_pack("{s:[s],s:s}", "experiment_ids", "0", "filter", "metrics.a > 'x'"),
		 "Expected numeric value type for metric. Found 'x'");
	call_400(d, p, json_pack("{s:[s],s:s}", "experiment_ids", "0", "filter", "params.a > '1'"),
		 "Invalid comparator '>' not one of");
	call_400(d, p, json_pack("{s:[s],s:s}", "experiment_ids", "0", "filter", "params.a = 1"),
		 "Expected a quoted string value for parameter");
	call_400(d, p, json_pack("{s:[s],s:s}", "experiment_ids", "0", "filter", "foo.a = '1'"),
		 "Invalid entity type 'foo'");
	call_400(d, p, json_pack("{s:[s],s:s}", "experiment_ids", "0", "filter", "status IN ('a')"),
		 "Only the 'run_id' attribute supports comparison with a list");
	call_400(d, p, json_pack("{s:[s],s:s}", "experiment_ids", "0", "filter", "metrics.a > 1e999"),
		 "Invalid search value"); /* PostgreSQL: out of range for double precision */
	call_400(d, p, json_pack("{s:[s],s:i}", "experiment_ids", "0", "max_results", 50001),
		 "It must be at most 50000, but got value 50001");
	call_400(d, p, json_pack("{s:[s],s:s}", "experiment_ids", "0", "page_token", "!!not-a-token"),
		 "Invalid page token");
	call_400(d, p, json_pack("{s:[s],s:[s,s]}", "experiment_ids", "0", "order_by", "metrics.a", "metric.a DESC"),
		 "`order_by` contains duplicate fields");
	call_400(d, p, json_pack("{s:[s],s:[s]}", "experiment_ids", "0", "order_by", "metrics.a SIDEWAYS"),
		 "Invalid ordering key in order_by clause 'metrics.a SIDEWAYS'.");
	call_400(d, p, json_pack("{s:[s],s:s}", "experiment_ids", "0", "run_view_type", "SOMETIMES"), "run_view_type");
	call_400(d, p, json_pack("{s:s}", "experiment_ids", "0"), "experiment_ids");
	th_daemon_stop(d);
}
END_TEST

/* --- experiments/search ---------------------------------------------------------------- */

START_TEST(experiments_search_filters_orders_pages_and_views)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *a = create_experiment(d, "exp-a", "team", "x");
	char *b = create_experiment(d, "exp-b", "team", "y");
	char *o = create_experiment(d, "other", NULL, NULL);

	json_t *j = call_ok(d, "POST", API "experiments/search",
			    json_pack("{s:s,s:[s]}", "filter", "name LIKE 'exp-%'", "order_by", "name DESC"));
	json_t *exps = json_object_get(j, "experiments");
	ck_assert_uint_eq(json_array_size(exps), 2);
	json_t *eb = json_array_get(exps, 0);
	ck_assert_str_eq(json_string_value(json_object_get(eb, "experiment_id")), b);
	ck_assert_str_eq(json_string_value(json_object_get(eb, "name")), "exp-b");
	char loc[64];
	snprintf(loc, sizeof loc, "mlflow-artifacts:/%s", b);
	ck_assert_str_eq(json_string_value(json_object_get(eb, "artifact_location")), loc);
	ck_assert_str_eq(json_string_value(json_object_get(eb, "lifecycle_stage")), "active");
	ck_assert(json_integer_value(json_object_get(eb, "creation_time")) > 1600000000000);
	ck_assert(json_integer_value(json_object_get(eb, "last_update_time")) >=
		  json_integer_value(json_object_get(eb, "creation_time")));
	json_t *tag = json_array_get(json_object_get(eb, "tags"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(tag, "key")), "team");
	ck_assert_str_eq(json_string_value(json_object_get(tag, "value")), "y");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(exps, 1), "name")), "exp-a");
	ck_assert_ptr_null(json_object_get(j, "next_page_token"));
	json_decref(j);

	j = call_ok(d, "POST", API "experiments/search", json_pack("{s:s}", "filter", "tags.team = 'x'"));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "experiments")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "experiments"), 0),
							   "experiment_id")),
			 a);
	json_decref(j);

	/* GET with query parameters; no tags key when an experiment has none */
	j = call_ok(d, "GET", API "experiments/search?filter=name%20%3D%20%27other%27&max_results=5", NULL);
	json_t *eo = json_array_get(json_object_get(j, "experiments"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(eo, "experiment_id")), o);
	ck_assert_ptr_null(json_object_get(eo, "tags"));
	json_decref(j);

	/* pages of 2 over Default, exp-a, exp-b, other: a token only when more exist */
	j = call_ok(d, "POST", API "experiments/search",
		    json_pack("{s:i,s:[s]}", "max_results", 2, "order_by", "experiment_id ASC"));
	exps = json_object_get(j, "experiments");
	ck_assert_uint_eq(json_array_size(exps), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(exps, 0), "name")), "Default");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(exps, 1), "name")), "exp-a");
	const char *tok = json_string_value(json_object_get(j, "next_page_token"));
	ck_assert_str_eq(tok, "eyJvZmZzZXQiOiAyfQ==");
	json_t *j2 = call_ok(
		d, "POST", API "experiments/search",
		json_pack("{s:i,s:[s],s:s}", "max_results", 2, "order_by", "experiment_id ASC", "page_token", tok));
	exps = json_object_get(j2, "experiments");
	ck_assert_uint_eq(json_array_size(exps), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(exps, 0), "name")), "exp-b");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(exps, 1), "name")), "other");
	ck_assert_ptr_null(json_object_get(j2, "next_page_token"));
	json_decref(j2);
	json_decref(j);

	/* view types */
	json_decref(call_ok(d, "POST", API "experiments/delete", json_pack("{s:s}", "experiment_id", o)));
	j = call_ok(d, "POST", API "experiments/search", json_pack("{s:s}", "filter", "name = 'other'"));
	ck_assert_uint_eq(json_object_size(j), 0);
	json_decref(j);
	j = call_ok(d, "GET", API "experiments/search?view_type=DELETED_ONLY", NULL);
	exps = json_object_get(j, "experiments");
	ck_assert_uint_eq(json_array_size(exps), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(exps, 0), "lifecycle_stage")), "deleted");
	json_decref(j);
	j = call_ok(d, "POST", API "experiments/search",
		    json_pack("{s:s,s:s}", "view_type", "ALL", "filter", "creation_time > 0 AND last_update_time > 0"));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "experiments")), 4);
	json_decref(j);

	const char *p = API "experiments/search";
	call_400(d, p, json_pack("{s:s}", "filter", "metrics.a > 1"),
		 "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')");
	call_400(d, p, json_pack("{s:s}", "filter", "name = 'a' OR name = 'b'"), "Invalid clause(s) in filter string");
	call_400(d, p, json_pack("{s:i}", "max_results", 0), "It must be a positive integer");
	call_400(d, p, json_pack("{s:i}", "max_results", 50001), "It must be at most 50000");
	call_400(d, p, json_pack("{s:[s]}", "order_by", "tags.team"), "Invalid order_by entity: tag");
	call_400(d, p, json_pack("{s:s}", "page_token", "eyJvZmZzZXQiOiAwfQ=="), "Invalid page token");
	free(a);
	free(b);
	free(o);
	th_daemon_stop(d);
}
END_TEST

static Suite *search_suite(void)
{
	Suite *s = suite_create("tracker_search");
	TCase *tc = tcase_create("runs");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, runs_search_default_order_and_run_fields);
	tcase_add_test(tc, runs_search_filters);
	tcase_add_test(tc, runs_search_orders_and_pages);
	tcase_add_test(tc, runs_search_refuses_malformed_requests);
	suite_add_tcase(s, tc);
	tc = tcase_create("experiments");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, experiments_search_filters_orders_pages_and_views);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(search_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
