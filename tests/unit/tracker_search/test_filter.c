/* Unit tests of the tracker's search language: filter_parse.c (MLflow's filter and
 * order_by grammar, type rules, error messages, page tokens) and filter_sql.c (the one
 * parameterised query each search compiles to). The service's pure files are
 * included here, since service objects are not in a library. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "../../../services/experiment-tracker/filter_parse.c"
#include "../../../services/experiment-tracker/filter_sql.c"

/* --- helpers ------------------------------------------------------------------- */

static struct et_filter parse_ok(enum et_target t, const char *text)
{
	struct et_filter f;
	struct core_error err = {{0}};
	enum core_status rc = et_filter_parse(t, text, &f, &err);
	ck_assert_msg(rc == CORE_OK, "filter <%s> refused: %s", text, err.message);
	return f;
}

static void parse_fails(enum et_target t, const char *text, const char *message)
{
	struct et_filter f;
	struct core_error err = {{0}};
	ck_assert_msg(et_filter_parse(t, text, &f, &err) == CORE_EINVAL, "filter <%s> accepted", text);
	ck_assert_msg(strcmp(err.message, message) == 0, "filter <%s>:\n got  <%s>\n want <%s>", text, err.message,
		      message);
	ck_assert_ptr_null(f.clauses);
	ck_assert_uint_eq(f.n, 0);
}

static void clause_is(const struct et_clause *c, enum et_entity e, const char *key, enum et_cmp cmp,
		      enum et_value_kind kind, const char *value)
{
	ck_assert_int_eq(c->entity, e);
	ck_assert_str_eq(c->key, key);
	ck_assert_int_eq(c->cmp, cmp);
	ck_assert_int_eq(c->kind, kind);
	if (value)
		ck_assert_str_eq(c->value, value);
}

/* --- filter: clause types -------------------------------------------------------- */

START_TEST(empty_and_blank_filters_have_no_clauses)
{
	struct et_filter f = parse_ok(ET_TARGET_RUNS, NULL);
	ck_assert_uint_eq(f.n, 0);
	f = parse_ok(ET_TARGET_RUNS, "");
	ck_assert_uint_eq(f.n, 0);
	f = parse_ok(ET_TARGET_RUNS, "   \t ");
	ck_assert_uint_eq(f.n, 0);
}
END_TEST

START_TEST(metric_clauses_take_numbers_and_every_numeric_comparator)
{
	static const struct {
		const char *text;
		enum et_cmp cmp;
		const char *value;
	} cases[] = {
		{"metrics.acc = 1", ET_CMP_EQ, "1"},       {"metrics.acc != 0.5", ET_CMP_NE, "0.5"},
		{"metric.acc < -2", ET_CMP_LT, "-2"},      {"metric.acc <= .5", ET_CMP_LE, ".5"},
		{"metrics.acc > 1e-3", ET_CMP_GT, "1e-3"}, {"metrics.acc>=2.5E3", ET_CMP_GE, "2.5E3"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct et_filter f = parse_ok(ET_TARGET_RUNS, cases[i].text);
		ck_assert_uint_eq(f.n, 1);
		clause_is(&f.clauses[0], ET_ENT_METRIC, "acc", cases[i].cmp, ET_VAL_NUMBER, cases[i].value);
		et_filter_free(&f);
	}
}
END_TEST

START_TEST(params_and_tags_take_quoted_strings_with_like_and_ilike)
{
	struct et_filter f = parse_ok(ET_TARGET_RUNS, "params.lr = '0.01' and parameter.opt != \"adam\" AND "
						      "tags.team LIKE 'ml%' aNd tag.`owner name` ILIKE '%BOB%'");
	ck_assert_uint_eq(f.n, 4);
	clause_is(&f.clauses[0], ET_ENT_PARAM, "lr", ET_CMP_EQ, ET_VAL_STRING, "0.01");
	clause_is(&f.clauses[1], ET_ENT_PARAM, "opt", ET_CMP_NE, ET_VAL_STRING, "adam");
	clause_is(&f.clauses[2], ET_ENT_TAG, "team", ET_CMP_LIKE, ET_VAL_STRING, "ml%");
	clause_is(&f.clauses[3], ET_ENT_TAG, "owner name", ET_CMP_ILIKE, ET_VAL_STRING, "%BOB%");
	et_filter_free(&f);

	/* every alias of every entity */
	static const char *const aliases[][2] = {
		{"metric.a > 1", "m"},
		{"metrics.a > 1", "m"},
		{"param.a = 'x'", "p"},
		{"params.a = 'x'", "p"},
		{"parameter.a = 'x'", "p"},
		{"parameters.a = 'x'", "p"},
		{"tag.a = 'x'", "t"},
		{"tags.a = 'x'", "t"},
		{"attribute.status = 'x'", "a"},
		{"attributes.status = 'x'", "a"},
		{"attr.status = 'x'", "a"},
		{"run.status = 'x'", "a"},
		{"dataset.name = 'x'", "d"},
		{"datasets.name = 'x'", "d"},
		{"`metrics`.a > 1", "m"},
	};
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
		f = parse_ok(ET_TARGET_RUNS, aliases[i][0]);
		enum et_entity want = aliases[i][1][0] == 'm'   ? ET_ENT_METRIC
				      : aliases[i][1][0] == 'p' ? ET_ENT_PARAM
				      : aliases[i][1][0] == 't' ? ET_ENT_TAG
				      : aliases[i][1][0] == 'a' ? ET_ENT_ATTR
								: ET_ENT_DATASET;
		ck_assert_msg(f.clauses[0].entity == want, "%s", aliases[i][0]);
		et_filter_free(&f);
	}
}
END_TEST

START_TEST(keys_are_quoted_with_backquotes_or_double_quotes_and_split_at_the_first_dot)
{
	struct et_filter f = parse_ok(ET_TARGET_RUNS, "metrics.`f1 score` > 0.5 AND metrics.\"val-loss\" < 1 AND "
						      "tags.mlflow.parentRunId = 'abc' AND params.\"a.b\" = 'c'");
	ck_assert_uint_eq(f.n, 4);
	clause_is(&f.clauses[0], ET_ENT_METRIC, "f1 score", ET_CMP_GT, ET_VAL_NUMBER, "0.5");
	clause_is(&f.clauses[1], ET_ENT_METRIC, "val-loss", ET_CMP_LT, ET_VAL_NUMBER, "1");
	clause_is(&f.clauses[2], ET_ENT_TAG, "mlflow.parentRunId", ET_CMP_EQ, ET_VAL_STRING, "abc");
	clause_is(&f.clauses[3], ET_ENT_PARAM, "a.b", ET_CMP_EQ, ET_VAL_STRING, "c");
	et_filter_free(&f);
}
END_TEST

START_TEST(attributes_resolve_aliases_and_keep_mlflow_quoting)
{
	struct et_filter f =
		parse_ok(ET_TARGET_RUNS, "status = 'FINISHED' AND attributes.run_name LIKE 'r-%' "
					 "AND created >= 1000 AND `Run name` = 'x' AND \"run name\" != 'y' "
					 "AND attr.end_time < 5 AND user_id = 'u' AND artifact_uri ILIKE '%/1/%' "
					 "AND Created < 9");
	ck_assert_uint_eq(f.n, 9);
	clause_is(&f.clauses[0], ET_ENT_ATTR, "status", ET_CMP_EQ, ET_VAL_STRING, "FINISHED");
	clause_is(&f.clauses[1], ET_ENT_ATTR, "run_name", ET_CMP_LIKE, ET_VAL_STRING, "r-%");
	clause_is(&f.clauses[2], ET_ENT_ATTR, "start_time", ET_CMP_GE, ET_VAL_NUMBER, "1000");
	clause_is(&f.clauses[3], ET_ENT_ATTR, "run_name", ET_CMP_EQ, ET_VAL_STRING, "x");
	clause_is(&f.clauses[4], ET_ENT_ATTR, "run_name", ET_CMP_NE, ET_VAL_STRING, "y");
	clause_is(&f.clauses[5], ET_ENT_ATTR, "end_time", ET_CMP_LT, ET_VAL_NUMBER, "5");
	clause_is(&f.clauses[6], ET_ENT_ATTR, "user_id", ET_CMP_EQ, ET_VAL_STRING, "u");
	clause_is(&f.clauses[7], ET_ENT_ATTR, "artifact_uri", ET_CMP_ILIKE, ET_VAL_STRING, "%/1/%");
	clause_is(&f.clauses[8], ET_ENT_ATTR, "start_time", ET_CMP_LT, ET_VAL_NUMBER, "9");
	et_filter_free(&f);

	/* quoted text is kept as written between the quotes, as MLflow keeps it */
	f = parse_ok(ET_TARGET_RUNS, "params.q = 'it''s' AND tags.s = \"a 'b' c\"");
	clause_is(&f.clauses[0], ET_ENT_PARAM, "q", ET_CMP_EQ, ET_VAL_STRING, "it''s");
	clause_is(&f.clauses[1], ET_ENT_TAG, "s", ET_CMP_EQ, ET_VAL_STRING, "a 'b' c");
	et_filter_free(&f);
}
END_TEST

START_TEST(run_id_in_and_not_in_take_lists)
{
	struct et_filter f =
		parse_ok(ET_TARGET_RUNS, "attributes.run_id IN ('abc1', 'def2' ,'GHI3') and run_id not in ('x9')");
	ck_assert_uint_eq(f.n, 2);
	clause_is(&f.clauses[0], ET_ENT_ATTR, "run_id", ET_CMP_IN, ET_VAL_LIST, NULL);
	ck_assert_uint_eq(f.clauses[0].n_list, 2); /* upper-case ids dropped, as MLflow */
	ck_assert_str_eq(f.clauses[0].list[0], "abc1");
	ck_assert_str_eq(f.clauses[0].list[1], "def2");
	clause_is(&f.clauses[1], ET_ENT_ATTR, "run_id", ET_CMP_NOT_IN, ET_VAL_LIST, NULL);
	ck_assert_uint_eq(f.clauses[1].n_list, 1);
	et_filter_free(&f);

	f = parse_ok(ET_TARGET_RUNS, "datasets.name IN ('train', 'Eval') AND dataset.context = 'training' "
				     "AND datasets.digest != 'ab12'");
	clause_is(&f.clauses[0], ET_ENT_DATASET, "name", ET_CMP_IN, ET_VAL_LIST, NULL);
	ck_assert_uint_eq(f.clauses[0].n_list, 2);
	clause_is(&f.clauses[1], ET_ENT_DATASET, "context", ET_CMP_EQ, ET_VAL_STRING, "training");
	clause_is(&f.clauses[2], ET_ENT_DATASET, "digest", ET_CMP_NE, ET_VAL_STRING, "ab12");
	et_filter_free(&f);
}
END_TEST

/* --- filter: errors, in MLflow's words ------------------------------------------ */

START_TEST(malformed_filters_are_refused_with_mlflow_messages)
{
	parse_fails(ET_TARGET_RUNS, "metrics.a > 1 OR metrics.b < 2", "Invalid clause(s) in filter string: 'OR'");
	parse_fails(ET_TARGET_RUNS, "metrics.a", "Invalid clause(s) in filter string: 'metrics.a'");
	parse_fails(ET_TARGET_RUNS, "metrics.a >", "Invalid clause(s) in filter string: 'metrics.a >'");
	parse_fails(ET_TARGET_RUNS, "metrics.a > 1 AND", "Invalid clause(s) in filter string: 'AND'");
	parse_fails(ET_TARGET_RUNS, "(metrics.a > 1)", "Invalid clause(s) in filter string: '(metrics.a > 1)'");
	parse_fails(ET_TARGET_RUNS, "params.a = 'unterminated",
		    "Invalid clause(s) in filter string: 'params.a = 'unterminated'");
	parse_fails(ET_TARGET_RUNS, "run_id IN 'a'", "Invalid clause(s) in filter string: 'run_id IN 'a''");
	parse_fails(ET_TARGET_RUNS, "foo.a = 'x'",
		    "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', "
		    "'dataset']");
	parse_fails(ET_TARGET_RUNS, "attributes.lifecycle_stage = 'x'",
		    "Invalid attribute key 'lifecycle_stage' specified. Valid keys are '{'Created', 'Run Name', "
		    "'Run name', 'artifact_uri', 'created', 'end_time', 'run name', 'run_id', 'run_name', "
		    "'start_time', 'status', 'user_id'}'");
	parse_fails(ET_TARGET_RUNS, "datasets.schema = 'x'",
		    "Invalid dataset key 'schema' specified. Valid keys are '{'name', 'digest', 'context'}'");
	parse_fails(ET_TARGET_RUNS, "metrics.a > 'x'", "Expected numeric value type for metric. Found 'x'");
	parse_fails(ET_TARGET_RUNS, "metrics.a LIKE 'x%'", "Expected numeric value type for metric. Found 'x%'");
	parse_fails(ET_TARGET_RUNS, "metrics.a LIKE 1",
		    "Invalid comparator 'LIKE' not one of '{'!=', '<', '<=', '=', '>', '>='}'");
	parse_fails(ET_TARGET_RUNS, "params.a = 1",
		    "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1");
	parse_fails(ET_TARGET_RUNS, "tags.a = 1",
		    "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1");
	parse_fails(ET_TARGET_RUNS, "params.a = abc",
		    "Parameter value is either not quoted or unidentified quote types used for string value abc. Use "
		    "either single or double quotes.");
	parse_fails(ET_TARGET_RUNS, "params.a > '1'",
		    "Invalid comparator '>' not one of '{'!=', '=', 'ILIKE', 'LIKE'}'");
	parse_fails(ET_TARGET_RUNS, "params.a <> '1'",
		    "Invalid comparator '<>' not one of '{'!=', '=', 'ILIKE', 'LIKE'}'");
	parse_fails(ET_TARGET_RUNS, "start_time > 'x'",
		    "Expected numeric value type for numeric attribute: start_time. Found 'x'");
	parse_fails(ET_TARGET_RUNS, "created LIKE 5",
		    "Invalid comparator 'LIKE' not one of '{'!=', '<', '<=', '=', '>', '>='}'");
	parse_fails(ET_TARGET_RUNS, "status = 3", "Expected a quoted string value for attributes. Got value 3");
	parse_fails(ET_TARGET_RUNS, "status > 'a'",
		    "Invalid comparator '>' not one of '{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}'");
	parse_fails(ET_TARGET_RUNS, "status IN ('a')",
		    "Only the 'run_id' attribute supports comparison with a list of quoted string values.");
	parse_fails(
		ET_TARGET_RUNS, "run_id IN ()",
		"While parsing a list in the query, expected a non-empty list of string values, but got empty list");
	parse_fails(ET_TARGET_RUNS, "run_id IN ('a', 3)",
		    "While parsing a list in the query, expected string value, punctuation, or whitespace, but got "
		    "different type in list: ('a', 3)");
	parse_fails(ET_TARGET_RUNS, "run_id IN ('a' 'b')",
		    "While parsing a list in the query, expected a non-empty list of string values, but got "
		    "ill-formed list.");
}
END_TEST

/* --- experiments' grammar ---------------------------------------------------------- */

START_TEST(experiment_filters_take_name_times_and_tags_only)
{
	struct et_filter f = parse_ok(ET_TARGET_EXPERIMENTS, "name LIKE 'exp%' AND attribute.creation_time > 5 "
							     "AND last_update_time <= 9 AND tags.team = 'a' AND "
							     "tag.`k k` ILIKE 'B%'");
	ck_assert_uint_eq(f.n, 5);
	clause_is(&f.clauses[0], ET_ENT_ATTR, "name", ET_CMP_LIKE, ET_VAL_STRING, "exp%");
	clause_is(&f.clauses[1], ET_ENT_ATTR, "creation_time", ET_CMP_GT, ET_VAL_NUMBER, "5");
	clause_is(&f.clauses[2], ET_ENT_ATTR, "last_update_time", ET_CMP_LE, ET_VAL_NUMBER, "9");
	clause_is(&f.clauses[3], ET_ENT_TAG, "team", ET_CMP_EQ, ET_VAL_STRING, "a");
	clause_is(&f.clauses[4], ET_ENT_TAG, "k k", ET_CMP_ILIKE, ET_VAL_STRING, "B%");
	et_filter_free(&f);

	parse_fails(ET_TARGET_EXPERIMENTS, "metrics.a > 1",
		    "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')");
	parse_fails(ET_TARGET_EXPERIMENTS, "status = 'x'",
		    "Invalid attribute key 'status' specified. Valid keys are '{'creation_time', 'last_update_time', "
		    "'name'}'");
	parse_fails(ET_TARGET_EXPERIMENTS, "creation_time = 'x'",
		    "Expected numeric value type for numeric attribute: creation_time. Found 'x'");
	parse_fails(ET_TARGET_EXPERIMENTS, "name > 'x'",
		    "Invalid comparator '>' not one of '{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}'");
}
END_TEST

/* --- order_by ------------------------------------------------------------------- */

START_TEST(order_by_parses_entities_directions_and_quoted_keys)
{
	const char *items[] = {"metrics.acc DESC", "params.`lr rate` asc", "tags.t", "attributes.start_time Desc",
			       "created"};
	struct et_order o;
	struct core_error err = {{0}};
	/* "created" is start_time again: a duplicate */
	ck_assert_int_eq(et_order_parse(ET_TARGET_RUNS, items, 5, &o, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "`order_by` contains duplicate fields: ['metrics.acc DESC', "
				      "'params.`lr rate` asc', 'tags.t', 'attributes.start_time Desc', 'created']");
	ck_assert_ptr_null(o.keys);
	ck_assert_int_eq(et_order_parse(ET_TARGET_RUNS, items, 4, &o, &err), CORE_OK);
	ck_assert_uint_eq(o.n, 4);
	ck_assert_int_eq(o.keys[0].entity, ET_ENT_METRIC);
	ck_assert_str_eq(o.keys[0].key, "acc");
	ck_assert(!o.keys[0].ascending);
	ck_assert_int_eq(o.keys[1].entity, ET_ENT_PARAM);
	ck_assert_str_eq(o.keys[1].key, "lr rate");
	ck_assert(o.keys[1].ascending);
	ck_assert_int_eq(o.keys[2].entity, ET_ENT_TAG);
	ck_assert(o.keys[2].ascending);
	ck_assert_int_eq(o.keys[3].entity, ET_ENT_ATTR);
	ck_assert_str_eq(o.keys[3].key, "start_time");
	ck_assert(!o.keys[3].ascending);
	et_order_free(&o);
}
END_TEST

START_TEST(order_by_errors)
{
	static const struct {
		enum et_target t;
		const char *item, *message;
	} cases[] = {
		{ET_TARGET_RUNS, "metrics.a DOWN", "Invalid ordering key in order_by clause 'metrics.a DOWN'."},
		{ET_TARGET_RUNS, "metrics.a DESC x",
		 "Invalid order_by clause 'metrics.a DESC x'. Could not be parsed."},
		{ET_TARGET_RUNS, "", "Invalid order_by clause ''. Could not be parsed."},
		{ET_TARGET_RUNS, "'metrics.a'", "Invalid order_by clause ''metrics.a''. Could not be parsed."},
		{ET_TARGET_RUNS, "run name", "Invalid ordering key in order_by clause 'run name'."},
		{ET_TARGET_RUNS, "`run name`",
		 "Invalid attribute key 'run name' specified. Valid keys are '{'Created', 'artifact_uri', 'created', "
		 "'end_time', 'run_id', 'run_name', 'start_time', 'status', 'user_id'}'"},
		{ET_TARGET_RUNS, "datasets.name", "Invalid order_by entity: dataset"},
		{ET_TARGET_EXPERIMENTS, "tags.a", "Invalid order_by entity: tag"},
		{ET_TARGET_EXPERIMENTS, "status",
		 "Invalid attribute key 'status' specified. Valid keys are '{'creation_time', 'experiment_id', "
		 "'last_update_time', 'name'}'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct et_order o;
		struct core_error err = {{0}};
		ck_assert_msg(et_order_parse(cases[i].t, &cases[i].item, 1, &o, &err) == CORE_EINVAL, "%s",
			      cases[i].item);
		ck_assert_msg(strcmp(err.message, cases[i].message) == 0, "<%s>: got <%s>", cases[i].item, err.message);
		ck_assert_ptr_null(o.keys);
	}
}
END_TEST

/* --- view types and page tokens ---------------------------------------------------- */

START_TEST(view_types_by_name_or_number)
{
	enum et_view v;
	struct core_error err;
	ck_assert_int_eq(et_view_parse("ACTIVE_ONLY", "run_view_type", &v, &err), CORE_OK);
	ck_assert_int_eq(v, ET_VIEW_ACTIVE_ONLY);
	ck_assert_int_eq(et_view_parse("deleted_only", "run_view_type", &v, &err), CORE_OK);
	ck_assert_int_eq(v, ET_VIEW_DELETED_ONLY);
	ck_assert_int_eq(et_view_parse("3", "run_view_type", &v, &err), CORE_OK);
	ck_assert_int_eq(v, ET_VIEW_ALL);
	ck_assert_int_eq(et_view_parse("SOME", "view_type", &v, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "'view_type'"));
}
END_TEST

START_TEST(page_tokens_are_mlflow_base64_json)
{
	char tok[64];
	et_page_token_encode(1000, tok);
	ck_assert_str_eq(tok, "eyJvZmZzZXQiOiAxMDAwfQ=="); /* base64.b64encode(b'{"offset": 1000}') */
	et_page_token_encode(3, tok);
	int64_t off = -1;
	struct core_error err;
	ck_assert_int_eq(et_page_token_decode(tok, &off, &err), CORE_OK);
	ck_assert_int_eq(off, 3);
	ck_assert_int_eq(et_page_token_decode("", &off, &err), CORE_OK);
	ck_assert_int_eq(off, 0);
	ck_assert_int_eq(et_page_token_decode(NULL, &off, &err), CORE_OK);
	ck_assert_int_eq(off, 0);
	for (int64_t n = 1; n < 100000; n = n * 7 + 1) { /* every padding length */
		et_page_token_encode(n, tok);
		ck_assert_int_eq(et_page_token_decode(tok, &off, &err), CORE_OK);
		ck_assert_int_eq(off, n);
	}
	/* {"offset": "12"} (MLflow int()s strings) */
	ck_assert_int_eq(et_page_token_decode("eyJvZmZzZXQiOiAiMTIifQ==", &off, &err), CORE_OK);
	ck_assert_int_eq(off, 12);

	ck_assert_int_eq(et_page_token_decode("not base64!", &off, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "Invalid page token, could not base64-decode");
	ck_assert_int_eq(et_page_token_decode("abc", &off, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "Invalid page token, could not base64-decode");
	ck_assert_int_eq(et_page_token_decode("aGVsbG8=", &off, &err), CORE_EINVAL); /* "hello" */
	ck_assert_str_eq(err.message, "Invalid page token, decoded value=hello");
	ck_assert_int_eq(et_page_token_decode("eyJvZmZzZXQiOiAwfQ==", &off, &err), CORE_EINVAL); /* offset 0 */
	ck_assert_str_eq(err.message, "Invalid page token, parsed value={\"offset\": 0}");
	ck_assert_int_eq(et_page_token_decode("eyJhIjogMX0=", &off, &err), CORE_EINVAL); /* {"a": 1} */
	ck_assert_int_eq(off, 0);
}
END_TEST

/* --- SQL ----------------------------------------------------------------------- */

static void sql_params_are(const struct et_sql *q, const char *const *want, size_t n)
{
	ck_assert_uint_eq(q->n_params, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strcmp(q->params[i], want[i]) == 0, "param $%zu: got <%s> want <%s>", i + 1, q->params[i],
			      want[i]);
}

START_TEST(runs_sql_default_is_newest_first_over_the_experiments)
{
	const char *ids[] = {"1", "22", "x'); DROP TABLE runs; --"};
	struct et_runs_query rq = {
		.experiment_ids = ids, .n_experiment_ids = 3, .view = ET_VIEW_ACTIVE_ONLY, .offset = 0, .limit = 1000};
	struct et_sql q;
	et_sql_init(&q);
	struct core_error err;
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_OK);
	ck_assert_str_eq(q.text.data, "SELECT r.run_id FROM runs r WHERE r.experiment_id = ANY($1::bigint[]) AND "
				      "r.lifecycle_stage = 'active' ORDER BY r.start_time DESC, r.run_id ASC "
				      "LIMIT $2::bigint OFFSET $3::bigint");
	const char *want[] = {"{\"1\",\"22\"}", "1000", "0"};
	sql_params_are(&q, want, 3);
	et_sql_free(&q);

	rq.view = ET_VIEW_DELETED_ONLY;
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(q.text.data, "r.lifecycle_stage = 'deleted'"));
	et_sql_free(&q);
	rq.view = ET_VIEW_ALL;
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(q.text.data, "r.lifecycle_stage IN ('active', 'deleted')"));
	et_sql_free(&q);
}
END_TEST

START_TEST(runs_sql_binds_every_key_and_value)
{
	struct et_filter f =
		parse_ok(ET_TARGET_RUNS, "metrics.`a'b` > 0.5 AND params.p = 'x''; DROP' AND tags.t LIKE '%q%' AND "
					 "status != 'FAILED' AND start_time >= 10 AND run_id IN ('r1', 'r\"2') AND "
					 "datasets.context = 'train' AND datasets.name NOT IN ('d')");
	const char *order_items[] = {"metrics.acc DESC", "params.p", "attributes.end_time"};
	struct et_order o;
	struct core_error err;
	ck_assert_int_eq(et_order_parse(ET_TARGET_RUNS, order_items, 3, &o, &err), CORE_OK);
	const char *ids[] = {"7"};
	struct et_runs_query rq = {.filter = &f,
				   .order = &o,
				   .experiment_ids = ids,
				   .n_experiment_ids = 1,
				   .view = ET_VIEW_ACTIVE_ONLY,
				   .offset = 20,
				   .limit = 10};
	struct et_sql q;
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_OK);
	ck_assert_str_eq(
		q.text.data,
		"SELECT r.run_id FROM runs r"
		" LEFT JOIN latest_metrics o0 ON o0.run_id = r.run_id AND o0.key = $1"
		" LEFT JOIN params o1 ON o1.run_id = r.run_id AND o1.key = $2"
		" WHERE r.experiment_id = $3::bigint AND r.lifecycle_stage = 'active'"
		" AND EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.run_id AND m.key = $4"
		" AND m.value > $5::float8 AND m.value <> 'NaN'::float8)"
		" AND EXISTS (SELECT 1 FROM params x WHERE x.run_id = r.run_id AND x.key = $6 AND x.value = $7)"
		" AND EXISTS (SELECT 1 FROM tags x WHERE x.run_id = r.run_id AND x.key = $8 AND x.value LIKE $9)"
		" AND r.status <> $10"
		" AND r.start_time >= $11::numeric"
		" AND r.run_id = ANY($12::text[])"
		" AND EXISTS (SELECT 1 FROM inputs i JOIN input_tags t ON t.input_id = i.input_id WHERE i.run_id = "
		"r.run_id AND t.key = 'mlflow.data.context' AND t.value = $13)"
		" AND EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_id = i.dataset_id WHERE i.run_id = "
		"r.run_id AND NOT d.name = ANY($14::text[]))"
		" ORDER BY CASE WHEN o0.value IS NULL THEN 2 WHEN o0.value = 'NaN'::float8 THEN 1 ELSE 0 END,"
		" o0.value DESC, o1.value IS NULL, o1.value ASC, r.end_time IS NULL, r.end_time ASC,"
		" r.start_time DESC, r.run_id ASC LIMIT $15::bigint OFFSET $16::bigint");
	const char *want[] = {"acc",       "p",       "7",   "a'b",    "0.5", "p",
			      "x''; DROP", "t",       "%q%", "FAILED", "10",  "{\"r1\",\"r\\\"2\"}",
			      "train",     "{\"d\"}", "10",  "20"};
	sql_params_are(&q, want, 16);
	et_sql_free(&q);
	et_order_free(&o);
	et_filter_free(&f);
}
END_TEST

START_TEST(runs_sql_keeps_nan_out_of_greater_than_and_orders_by_start_time_once)
{
	struct et_filter f = parse_ok(ET_TARGET_RUNS, "metrics.m >= 1 AND metrics.m < 5 AND metrics.m != 2");
	const char *order_items[] = {"attribute.start_time ASC", "run_id DESC"};
	struct et_order o;
	struct core_error err;
	ck_assert_int_eq(et_order_parse(ET_TARGET_RUNS, order_items, 2, &o, &err), CORE_OK);
	const char *ids[] = {"0"};
	struct et_runs_query rq = {.filter = &f,
				   .order = &o,
				   .experiment_ids = ids,
				   .n_experiment_ids = 1,
				   .view = ET_VIEW_ALL,
				   .offset = 0,
				   .limit = 5};
	struct et_sql q;
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(q.text.data, "m.value >= $3::float8 AND m.value <> 'NaN'::float8)"));
	ck_assert_ptr_nonnull(strstr(q.text.data, "m.value < $5::float8)"));
	ck_assert_ptr_nonnull(strstr(q.text.data, "m.value <> $7::float8)"));
	ck_assert_ptr_nonnull(strstr(q.text.data, " ORDER BY r.start_time IS NULL, r.start_time ASC, r.run_id IS "
						  "NULL, r.run_id DESC, r.run_id LIMIT"));
	et_sql_free(&q);
	et_order_free(&o);
	et_filter_free(&f);
}
END_TEST

START_TEST(experiments_sql_filters_orders_and_pages)
{
	struct et_filter f = parse_ok(ET_TARGET_EXPERIMENTS, "name ILIKE 'e%' AND creation_time > 3 AND tags.k != 'v'");
	const char *order_items[] = {"name DESC"};
	struct et_order o;
	struct core_error err;
	ck_assert_int_eq(et_order_parse(ET_TARGET_EXPERIMENTS, order_items, 1, &o, &err), CORE_OK);
	struct et_experiments_query eq = {
		.filter = &f, .order = &o, .view = ET_VIEW_ACTIVE_ONLY, .offset = 4, .limit = 3};
	struct et_sql q;
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_experiments(&eq, &q, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(q.text.data,
				     " FROM experiments e WHERE e.lifecycle_stage = 'active' AND "
				     "e.name ILIKE $1 AND e.creation_time > $2::numeric AND EXISTS (SELECT 1 "
				     "FROM experiment_tags x WHERE x.experiment_id = e.experiment_id AND "
				     "x.key = $3 AND x.value <> $4) ORDER BY e.name DESC, "
				     "e.experiment_id DESC LIMIT $5::bigint OFFSET $6::bigint"));
	const char *want[] = {"e%", "3", "k", "v", "3", "4"};
	sql_params_are(&q, want, 6);
	et_sql_free(&q);
	et_order_free(&o);
	et_filter_free(&f);

	struct et_experiments_query dq = {.view = ET_VIEW_ALL, .limit = 1001};
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_experiments(&dq, &q, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(q.text.data, "WHERE e.lifecycle_stage IN ('active', 'deleted') ORDER BY "
						  "e.creation_time DESC, e.experiment_id ASC LIMIT"));
	et_sql_free(&q);
}
END_TEST

START_TEST(too_many_values_is_refused_not_truncated)
{
	struct core_buf b;
	core_buf_init(&b, 1 << 20);
	for (int i = 0; i < 200; i++)
		core_buf_printf(&b, "%sparams.p%d = 'v'", i ? " AND " : "", i);
	struct et_filter f = parse_ok(ET_TARGET_RUNS, b.data);
	ck_assert_uint_eq(f.n, 200);
	const char *ids[] = {"0"};
	struct et_runs_query rq = {.filter = &f, .experiment_ids = ids, .n_experiment_ids = 1, .limit = 1};
	struct et_sql q;
	et_sql_init(&q);
	struct core_error err;
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "too complex"));
	et_sql_free(&q);
	et_filter_free(&f);
	core_buf_free(&b);
}
END_TEST

static Suite *filter_suite(void)
{
	Suite *s = suite_create("tracker_search");
	TCase *tc = tcase_create("filter");
	tcase_add_test(tc, empty_and_blank_filters_have_no_clauses);
	tcase_add_test(tc, metric_clauses_take_numbers_and_every_numeric_comparator);
	tcase_add_test(tc, params_and_tags_take_quoted_strings_with_like_and_ilike);
	tcase_add_test(tc, keys_are_quoted_with_backquotes_or_double_quotes_and_split_at_the_first_dot);
	tcase_add_test(tc, attributes_resolve_aliases_and_keep_mlflow_quoting);
	tcase_add_test(tc, run_id_in_and_not_in_take_lists);
	tcase_add_test(tc, experiment_filters_take_name_times_and_tags_only);
	suite_add_tcase(s, tc);
	tc = tcase_create("errors");
	tcase_add_test(tc, malformed_filters_are_refused_with_mlflow_messages);
	tcase_add_test(tc, order_by_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("order_view_token");
	tcase_add_test(tc, order_by_parses_entities_directions_and_quoted_keys);
	tcase_add_test(tc, view_types_by_name_or_number);
	tcase_add_test(tc, page_tokens_are_mlflow_base64_json);
	suite_add_tcase(s, tc);
	tc = tcase_create("sql");
	tcase_add_test(tc, runs_sql_default_is_newest_first_over_the_experiments);
	tcase_add_test(tc, runs_sql_binds_every_key_and_value);
	tcase_add_test(tc, runs_sql_keeps_nan_out_of_greater_than_and_orders_by_start_time_once);
	tcase_add_test(tc, experiments_sql_filters_orders_and_pages);
	tcase_add_test(tc, too_many_values_is_refused_not_truncated);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(filter_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
