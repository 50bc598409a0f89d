/* Unit tests of libs/mlflow's search language (mlflow/filter.h): MLflow's filter and
 * order_by grammar, type rules and error messages for the tracker's runs and
 * experiments and the registry's registered models and model versions, and view
 * types. Links libmlflow.a. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlflow/filter.h"

/* --- helpers ------------------------------------------------------------------- */

static struct mlflow_filter parse_ok(enum mlflow_target t, const char *text)
{
	struct mlflow_filter f;
	struct core_error err = {{0}};
	enum core_status rc = mlflow_filter_parse(t, text, &f, &err);
	ck_assert_msg(rc == CORE_OK, "filter <%s> refused: %s", text, err.message);
	return f;
}

static void parse_fails(enum mlflow_target t, const char *text, const char *message)
{
	struct mlflow_filter f;
	struct core_error err = {{0}};
	ck_assert_msg(mlflow_filter_parse(t, text, &f, &err) == CORE_EINVAL, "filter <%s> accepted", text);
	ck_assert_msg(strcmp(err.message, message) == 0, "filter <%s>:\n got  <%s>\n want <%s>", text, err.message,
		      message);
	ck_assert_ptr_null(f.clauses);
	ck_assert_uint_eq(f.n, 0);
}

static void clause_is(const struct mlflow_clause *c, enum mlflow_entity e, const char *key, enum mlflow_cmp cmp,
		      enum mlflow_value_kind kind, const char *value)
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
	struct mlflow_filter f = parse_ok(MLFLOW_TARGET_RUNS, NULL);
	ck_assert_uint_eq(f.n, 0);
	f = parse_ok(MLFLOW_TARGET_RUNS, "");
	ck_assert_uint_eq(f.n, 0);
	f = parse_ok(MLFLOW_TARGET_RUNS, "   \t ");
	ck_assert_uint_eq(f.n, 0);
}
END_TEST

START_TEST(metric_clauses_take_numbers_and_every_numeric_comparator)
{
	static const struct {
		const char *text;
		enum mlflow_cmp cmp;
		const char *value;
	} cases[] = {
		{"metrics.acc = 1", MLFLOW_CMP_EQ, "1"},       {"metrics.acc != 0.5", MLFLOW_CMP_NE, "0.5"},
		{"metric.acc < -2", MLFLOW_CMP_LT, "-2"},      {"metric.acc <= .5", MLFLOW_CMP_LE, ".5"},
		{"metrics.acc > 1e-3", MLFLOW_CMP_GT, "1e-3"}, {"metrics.acc>=2.5E3", MLFLOW_CMP_GE, "2.5E3"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mlflow_filter f = parse_ok(MLFLOW_TARGET_RUNS, cases[i].text);
		ck_assert_uint_eq(f.n, 1);
		clause_is(&f.clauses[0], MLFLOW_ENT_METRIC, "acc", cases[i].cmp, MLFLOW_VAL_NUMBER, cases[i].value);
		mlflow_filter_free(&f);
	}
}
END_TEST

START_TEST(params_and_tags_take_quoted_strings_with_like_and_ilike)
{
	struct mlflow_filter f =
		parse_ok(MLFLOW_TARGET_RUNS, "params.lr = '0.01' and parameter.opt != \"adam\" AND "
					     "tags.team LIKE 'ml%' aNd tag.`owner name` ILIKE '%BOB%'");
	ck_assert_uint_eq(f.n, 4);
	clause_is(&f.clauses[0], MLFLOW_ENT_PARAM, "lr", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "0.01");
	clause_is(&f.clauses[1], MLFLOW_ENT_PARAM, "opt", MLFLOW_CMP_NE, MLFLOW_VAL_STRING, "adam");
	clause_is(&f.clauses[2], MLFLOW_ENT_TAG, "team", MLFLOW_CMP_LIKE, MLFLOW_VAL_STRING, "ml%");
	clause_is(&f.clauses[3], MLFLOW_ENT_TAG, "owner name", MLFLOW_CMP_ILIKE, MLFLOW_VAL_STRING, "%BOB%");
	mlflow_filter_free(&f);

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
		f = parse_ok(MLFLOW_TARGET_RUNS, aliases[i][0]);
		enum mlflow_entity want = aliases[i][1][0] == 'm'   ? MLFLOW_ENT_METRIC
					  : aliases[i][1][0] == 'p' ? MLFLOW_ENT_PARAM
					  : aliases[i][1][0] == 't' ? MLFLOW_ENT_TAG
					  : aliases[i][1][0] == 'a' ? MLFLOW_ENT_ATTR
								    : MLFLOW_ENT_DATASET;
		ck_assert_msg(f.clauses[0].entity == want, "%s", aliases[i][0]);
		mlflow_filter_free(&f);
	}
}
END_TEST

START_TEST(keys_are_quoted_with_backquotes_or_double_quotes_and_split_at_the_first_dot)
{
	struct mlflow_filter f =
		parse_ok(MLFLOW_TARGET_RUNS, "metrics.`f1 score` > 0.5 AND metrics.\"val-loss\" < 1 AND "
					     "tags.mlflow.parentRunId = 'abc' AND params.\"a.b\" = 'c'");
	ck_assert_uint_eq(f.n, 4);
	clause_is(&f.clauses[0], MLFLOW_ENT_METRIC, "f1 score", MLFLOW_CMP_GT, MLFLOW_VAL_NUMBER, "0.5");
	clause_is(&f.clauses[1], MLFLOW_ENT_METRIC, "val-loss", MLFLOW_CMP_LT, MLFLOW_VAL_NUMBER, "1");
	clause_is(&f.clauses[2], MLFLOW_ENT_TAG, "mlflow.parentRunId", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "abc");
	clause_is(&f.clauses[3], MLFLOW_ENT_PARAM, "a.b", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "c");
	mlflow_filter_free(&f);
}
END_TEST

START_TEST(attributes_resolve_aliases_and_keep_mlflow_quoting)
{
	struct mlflow_filter f =
		parse_ok(MLFLOW_TARGET_RUNS, "status = 'FINISHED' AND attributes.run_name LIKE 'r-%' "
					     "AND created >= 1000 AND `Run name` = 'x' AND \"run name\" != 'y' "
					     "AND attr.end_time < 5 AND user_id = 'u' AND artifact_uri ILIKE '%/1/%' "
					     "AND Created < 9");
	ck_assert_uint_eq(f.n, 9);
	clause_is(&f.clauses[0], MLFLOW_ENT_ATTR, "status", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "FINISHED");
	clause_is(&f.clauses[1], MLFLOW_ENT_ATTR, "run_name", MLFLOW_CMP_LIKE, MLFLOW_VAL_STRING, "r-%");
	clause_is(&f.clauses[2], MLFLOW_ENT_ATTR, "start_time", MLFLOW_CMP_GE, MLFLOW_VAL_NUMBER, "1000");
	clause_is(&f.clauses[3], MLFLOW_ENT_ATTR, "run_name", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "x");
	clause_is(&f.clauses[4], MLFLOW_ENT_ATTR, "run_name", MLFLOW_CMP_NE, MLFLOW_VAL_STRING, "y");
	clause_is(&f.clauses[5], MLFLOW_ENT_ATTR, "end_time", MLFLOW_CMP_LT, MLFLOW_VAL_NUMBER, "5");
	clause_is(&f.clauses[6], MLFLOW_ENT_ATTR, "user_id", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "u");
	clause_is(&f.clauses[7], MLFLOW_ENT_ATTR, "artifact_uri", MLFLOW_CMP_ILIKE, MLFLOW_VAL_STRING, "%/1/%");
	clause_is(&f.clauses[8], MLFLOW_ENT_ATTR, "start_time", MLFLOW_CMP_LT, MLFLOW_VAL_NUMBER, "9");
	mlflow_filter_free(&f);

	/* quoted text is kept as written between the quotes, as MLflow keeps it */
	f = parse_ok(MLFLOW_TARGET_RUNS, "params.q = 'it''s' AND tags.s = \"a 'b' c\"");
	clause_is(&f.clauses[0], MLFLOW_ENT_PARAM, "q", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "it''s");
	clause_is(&f.clauses[1], MLFLOW_ENT_TAG, "s", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "a 'b' c");
	mlflow_filter_free(&f);
}
END_TEST

START_TEST(run_id_in_and_not_in_take_lists)
{
	struct mlflow_filter f =
		parse_ok(MLFLOW_TARGET_RUNS, "attributes.run_id IN ('abc1', 'def2' ,'GHI3') and run_id not in ('x9')");
	ck_assert_uint_eq(f.n, 2);
	clause_is(&f.clauses[0], MLFLOW_ENT_ATTR, "run_id", MLFLOW_CMP_IN, MLFLOW_VAL_LIST, NULL);
	ck_assert_uint_eq(f.clauses[0].n_list, 2); /* upper-case ids dropped, as MLflow */
	ck_assert_str_eq(f.clauses[0].list[0], "abc1");
	ck_assert_str_eq(f.clauses[0].list[1], "def2");
	clause_is(&f.clauses[1], MLFLOW_ENT_ATTR, "run_id", MLFLOW_CMP_NOT_IN, MLFLOW_VAL_LIST, NULL);
	ck_assert_uint_eq(f.clauses[1].n_list, 1);
	mlflow_filter_free(&f);

	f = parse_ok(MLFLOW_TARGET_RUNS, "datasets.name IN ('train', 'Eval') AND dataset.context = 'training' "
					 "AND datasets.digest != 'ab12'");
	clause_is(&f.clauses[0], MLFLOW_ENT_DATASET, "name", MLFLOW_CMP_IN, MLFLOW_VAL_LIST, NULL);
	ck_assert_uint_eq(f.clauses[0].n_list, 2);
	clause_is(&f.clauses[1], MLFLOW_ENT_DATASET, "context", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "training");
	clause_is(&f.clauses[2], MLFLOW_ENT_DATASET, "digest", MLFLOW_CMP_NE, MLFLOW_VAL_STRING, "ab12");
	mlflow_filter_free(&f);
}
END_TEST

/* --- filter: errors, in MLflow's words ------------------------------------------ */

START_TEST(malformed_filters_are_refused_with_mlflow_messages)
{
	parse_fails(MLFLOW_TARGET_RUNS, "metrics.a > 1 OR metrics.b < 2", "Invalid clause(s) in filter string: 'OR'");
	parse_fails(MLFLOW_TARGET_RUNS, "metrics.a", "Invalid clause(s) in filter string: 'metrics.a'");
	parse_fails(MLFLOW_TARGET_RUNS, "metrics.a >", "Invalid clause(s) in filter string: 'metrics.a >'");
	parse_fails(MLFLOW_TARGET_RUNS, "metrics.a > 1 AND", "Invalid clause(s) in filter string: 'AND'");
	parse_fails(MLFLOW_TARGET_RUNS, "(metrics.a > 1)", "Invalid clause(s) in filter string: '(metrics.a > 1)'");
	parse_fails(MLFLOW_TARGET_RUNS, "params.a = 'unterminated",
		    "Invalid clause(s) in filter string: 'params.a = 'unterminated'");
	parse_fails(MLFLOW_TARGET_RUNS, "run_id IN 'a'", "Invalid clause(s) in filter string: 'run_id IN 'a''");
	parse_fails(MLFLOW_TARGET_RUNS, "foo.a = 'x'",
		    "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', "
		    "'dataset']");
	parse_fails(MLFLOW_TARGET_RUNS, "attributes.lifecycle_stage = 'x'",
		    "Invalid attribute key 'lifecycle_stage' specified. Valid keys are '{'Created', 'Run Name', "
		    "'Run name', 'artifact_uri', 'created', 'end_time', 'run name', 'run_id', 'run_name', "
		    "'start_time', 'status', 'user_id'}'");
	parse_fails(MLFLOW_TARGET_RUNS, "datasets.schema = 'x'",
		    "Invalid dataset key 'schema' specified. Valid keys are '{'name', 'digest', 'context'}'");
	parse_fails(MLFLOW_TARGET_RUNS, "metrics.a > 'x'", "Expected numeric value type for metric. Found 'x'");
	parse_fails(MLFLOW_TARGET_RUNS, "metrics.a LIKE 'x%'", "Expected numeric value type for metric. Found 'x%'");
	parse_fails(MLFLOW_TARGET_RUNS, "metrics.a LIKE 1",
		    "Invalid comparator 'LIKE' not one of '{'!=', '<', '<=', '=', '>', '>='}'");
	parse_fails(MLFLOW_TARGET_RUNS, "params.a = 1",
		    "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1");
	parse_fails(MLFLOW_TARGET_RUNS, "tags.a = 1",
		    "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1");
	parse_fails(MLFLOW_TARGET_RUNS, "params.a = abc",
		    "Parameter value is either not quoted or unidentified quote types used for string value abc. Use "
		    "either single or double quotes.");
	parse_fails(MLFLOW_TARGET_RUNS, "params.a > '1'",
		    "Invalid comparator '>' not one of '{'!=', '=', 'ILIKE', 'LIKE'}'");
	parse_fails(MLFLOW_TARGET_RUNS, "params.a <> '1'",
		    "Invalid comparator '<>' not one of '{'!=', '=', 'ILIKE', 'LIKE'}'");
	parse_fails(MLFLOW_TARGET_RUNS, "start_time > 'x'",
		    "Expected numeric value type for numeric attribute: start_time. Found 'x'");
	parse_fails(MLFLOW_TARGET_RUNS, "created LIKE 5",
		    "Invalid comparator 'LIKE' not one of '{'!=', '<', '<=', '=', '>', '>='}'");
	parse_fails(MLFLOW_TARGET_RUNS, "status = 3", "Expected a quoted string value for attributes. Got value 3");
	parse_fails(MLFLOW_TARGET_RUNS, "status > 'a'",
		    "Invalid comparator '>' not one of '{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}'");
	parse_fails(MLFLOW_TARGET_RUNS, "status IN ('a')",
		    "Only the 'run_id' attribute supports comparison with a list of quoted string values.");
	parse_fails(
		MLFLOW_TARGET_RUNS, "run_id IN ()",
		"While parsing a list in the query, expected a non-empty list of string values, but got empty list");
	parse_fails(MLFLOW_TARGET_RUNS, "run_id IN ('a', 3)",
		    "While parsing a list in the query, expected string value, punctuation, or whitespace, but got "
		    "different type in list: ('a', 3)");
	parse_fails(MLFLOW_TARGET_RUNS, "run_id IN ('a' 'b')",
		    "While parsing a list in the query, expected a non-empty list of string values, but got "
		    "ill-formed list.");
}
END_TEST

/* --- experiments' grammar ---------------------------------------------------------- */

START_TEST(experiment_filters_take_name_times_and_tags_only)
{
	struct mlflow_filter f =
		parse_ok(MLFLOW_TARGET_EXPERIMENTS, "name LIKE 'exp%' AND attribute.creation_time > 5 "
						    "AND last_update_time <= 9 AND tags.team = 'a' AND "
						    "tag.`k k` ILIKE 'B%'");
	ck_assert_uint_eq(f.n, 5);
	clause_is(&f.clauses[0], MLFLOW_ENT_ATTR, "name", MLFLOW_CMP_LIKE, MLFLOW_VAL_STRING, "exp%");
	clause_is(&f.clauses[1], MLFLOW_ENT_ATTR, "creation_time", MLFLOW_CMP_GT, MLFLOW_VAL_NUMBER, "5");
	clause_is(&f.clauses[2], MLFLOW_ENT_ATTR, "last_update_time", MLFLOW_CMP_LE, MLFLOW_VAL_NUMBER, "9");
	clause_is(&f.clauses[3], MLFLOW_ENT_TAG, "team", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "a");
	clause_is(&f.clauses[4], MLFLOW_ENT_TAG, "k k", MLFLOW_CMP_ILIKE, MLFLOW_VAL_STRING, "B%");
	mlflow_filter_free(&f);

	parse_fails(MLFLOW_TARGET_EXPERIMENTS, "metrics.a > 1",
		    "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')");
	parse_fails(MLFLOW_TARGET_EXPERIMENTS, "status = 'x'",
		    "Invalid attribute key 'status' specified. Valid keys are '{'creation_time', 'last_update_time', "
		    "'name'}'");
	parse_fails(MLFLOW_TARGET_EXPERIMENTS, "creation_time = 'x'",
		    "Expected numeric value type for numeric attribute: creation_time. Found 'x'");
	parse_fails(MLFLOW_TARGET_EXPERIMENTS, "name > 'x'",
		    "Invalid comparator '>' not one of '{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}'");
}
END_TEST

/* --- order_by ------------------------------------------------------------------- */

START_TEST(order_by_parses_entities_directions_and_quoted_keys)
{
	const char *items[] = {"metrics.acc DESC", "params.`lr rate` asc", "tags.t", "attributes.start_time Desc",
			       "created"};
	struct mlflow_order o;
	struct core_error err = {{0}};
	/* "created" is start_time again: a duplicate */
	ck_assert_int_eq(mlflow_order_parse(MLFLOW_TARGET_RUNS, items, 5, &o, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "`order_by` contains duplicate fields: ['metrics.acc DESC', "
				      "'params.`lr rate` asc', 'tags.t', 'attributes.start_time Desc', 'created']");
	ck_assert_ptr_null(o.keys);
	ck_assert_int_eq(mlflow_order_parse(MLFLOW_TARGET_RUNS, items, 4, &o, &err), CORE_OK);
	ck_assert_uint_eq(o.n, 4);
	ck_assert_int_eq(o.keys[0].entity, MLFLOW_ENT_METRIC);
	ck_assert_str_eq(o.keys[0].key, "acc");
	ck_assert(!o.keys[0].ascending);
	ck_assert_int_eq(o.keys[1].entity, MLFLOW_ENT_PARAM);
	ck_assert_str_eq(o.keys[1].key, "lr rate");
	ck_assert(o.keys[1].ascending);
	ck_assert_int_eq(o.keys[2].entity, MLFLOW_ENT_TAG);
	ck_assert(o.keys[2].ascending);
	ck_assert_int_eq(o.keys[3].entity, MLFLOW_ENT_ATTR);
	ck_assert_str_eq(o.keys[3].key, "start_time");
	ck_assert(!o.keys[3].ascending);
	mlflow_order_free(&o);
}
END_TEST

START_TEST(order_by_errors)
{
	static const struct {
		enum mlflow_target t;
		const char *item, *message;
	} cases[] = {
		{MLFLOW_TARGET_RUNS, "metrics.a DOWN", "Invalid ordering key in order_by clause 'metrics.a DOWN'."},
		{MLFLOW_TARGET_RUNS, "metrics.a DESC x",
		 "Invalid order_by clause 'metrics.a DESC x'. Could not be parsed."},
		{MLFLOW_TARGET_RUNS, "", "Invalid order_by clause ''. Could not be parsed."},
		{MLFLOW_TARGET_RUNS, "'metrics.a'", "Invalid order_by clause ''metrics.a''. Could not be parsed."},
		{MLFLOW_TARGET_RUNS, "run name", "Invalid ordering key in order_by clause 'run name'."},
		{MLFLOW_TARGET_RUNS, "`run name`",
		 "Invalid attribute key 'run name' specified. Valid keys are '{'Created', 'artifact_uri', 'created', "
		 "'end_time', 'run_id', 'run_name', 'start_time', 'status', 'user_id'}'"},
		{MLFLOW_TARGET_RUNS, "datasets.name", "Invalid order_by entity: dataset"},
		{MLFLOW_TARGET_EXPERIMENTS, "tags.a", "Invalid order_by entity: tag"},
		{MLFLOW_TARGET_EXPERIMENTS, "status",
		 "Invalid attribute key 'status' specified. Valid keys are '{'creation_time', 'experiment_id', "
		 "'last_update_time', 'name'}'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mlflow_order o;
		struct core_error err = {{0}};
		ck_assert_msg(mlflow_order_parse(cases[i].t, &cases[i].item, 1, &o, &err) == CORE_EINVAL, "%s",
			      cases[i].item);
		ck_assert_msg(strcmp(err.message, cases[i].message) == 0, "<%s>: got <%s>", cases[i].item, err.message);
		ck_assert_ptr_null(o.keys);
	}
}
END_TEST

/* --- view types ------------------------------------------------------------------ */

START_TEST(view_types_by_name_or_number)
{
	enum mlflow_view v;
	struct core_error err;
	ck_assert_int_eq(mlflow_view_parse("ACTIVE_ONLY", "run_view_type", &v, &err), CORE_OK);
	ck_assert_int_eq(v, MLFLOW_VIEW_ACTIVE_ONLY);
	ck_assert_int_eq(mlflow_view_parse("deleted_only", "run_view_type", &v, &err), CORE_OK);
	ck_assert_int_eq(v, MLFLOW_VIEW_DELETED_ONLY);
	ck_assert_int_eq(mlflow_view_parse("3", "run_view_type", &v, &err), CORE_OK);
	ck_assert_int_eq(v, MLFLOW_VIEW_ALL);
	ck_assert_int_eq(mlflow_view_parse("SOME", "view_type", &v, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "'view_type'"));
}
END_TEST

/* --- the registry's grammar ------------------------------------------------------- */

static void list_is(const struct mlflow_clause *c, const char *const *want, size_t n)
{
	ck_assert_int_eq(c->kind, MLFLOW_VAL_LIST);
	ck_assert_uint_eq(c->n_list, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(c->list[i], want[i]);
}

START_TEST(registered_model_filters_take_name_and_tags)
{
	struct mlflow_filter f = parse_ok(MLFLOW_TARGET_MODELS, NULL);
	ck_assert_uint_eq(f.n, 0);
	f = parse_ok(MLFLOW_TARGET_MODELS, "name = 'm'");
	ck_assert_uint_eq(f.n, 1);
	clause_is(&f.clauses[0], MLFLOW_ENT_ATTR, "name", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "m");
	mlflow_filter_free(&f);
	f = parse_ok(MLFLOW_TARGET_MODELS, "name LIKE \"a%\" and tags.team != 'x' AND tag.`my key` ilike 'it''s' "
					   "AND tags.mlflow.source = 'a\"b' AND attribute.name ILIKE '%'");
	ck_assert_uint_eq(f.n, 5);
	clause_is(&f.clauses[0], MLFLOW_ENT_ATTR, "name", MLFLOW_CMP_LIKE, MLFLOW_VAL_STRING, "a%");
	clause_is(&f.clauses[1], MLFLOW_ENT_TAG, "team", MLFLOW_CMP_NE, MLFLOW_VAL_STRING, "x");
	/* as MLflow: the text between the quotes, '' not unescaped */
	clause_is(&f.clauses[2], MLFLOW_ENT_TAG, "my key", MLFLOW_CMP_ILIKE, MLFLOW_VAL_STRING, "it''s");
	clause_is(&f.clauses[3], MLFLOW_ENT_TAG, "mlflow.source", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "a\"b");
	clause_is(&f.clauses[4], MLFLOW_ENT_ATTR, "name", MLFLOW_CMP_ILIKE, MLFLOW_VAL_STRING, "%");
	mlflow_filter_free(&f);
}
END_TEST

START_TEST(model_version_filters_take_numbers_and_lists)
{
	struct mlflow_filter f = parse_ok(
		MLFLOW_TARGET_VERSIONS, "version_number >= 2 AND run_id IN ('a', 'B') AND source_path not in ('s') "
					"AND version_number IN (1, '3', -4) AND version_number != '7' AND name = 'm'");
	ck_assert_uint_eq(f.n, 6);
	clause_is(&f.clauses[0], MLFLOW_ENT_ATTR, "version_number", MLFLOW_CMP_GE, MLFLOW_VAL_NUMBER, "2");
	ck_assert_int_eq(f.clauses[1].cmp, MLFLOW_CMP_IN);
	list_is(&f.clauses[1], (const char *const[]){"a", "B"}, 2); /* upper case kept, unlike runs */
	ck_assert_int_eq(f.clauses[2].cmp, MLFLOW_CMP_NOT_IN);
	ck_assert_str_eq(f.clauses[2].key, "source_path");
	list_is(&f.clauses[2], (const char *const[]){"s"}, 1);
	list_is(&f.clauses[3], (const char *const[]){"1", "3", "-4"}, 3);
	clause_is(&f.clauses[4], MLFLOW_ENT_ATTR, "version_number", MLFLOW_CMP_NE, MLFLOW_VAL_NUMBER, "7");
	clause_is(&f.clauses[5], MLFLOW_ENT_ATTR, "name", MLFLOW_CMP_EQ, MLFLOW_VAL_STRING, "m");
	mlflow_filter_free(&f);
}
END_TEST

START_TEST(registry_filters_are_refused_with_mlflow_messages)
{
	static const struct {
		enum mlflow_target t;
		const char *text, *message;
	} cases[] = {
		{MLFLOW_TARGET_MODELS, "name =", "Invalid clause(s) in filter string: 'name ='"},
		{MLFLOW_TARGET_MODELS, "name = 'a' OR name = 'b'", "Invalid clause(s) in filter string: 'OR'"},
		{MLFLOW_TARGET_MODELS, "name = 'a' AND", "Invalid clause(s) in filter string: 'AND'"},
		{MLFLOW_TARGET_MODELS, "name = 'a", "Invalid clause(s) in filter string: 'name = 'a'"},
		{MLFLOW_TARGET_MODELS, "name = a",
		 "Parameter value is either not quoted or unidentified quote types used for string value a. Use "
		 "either single or double quotes."},
		{MLFLOW_TARGET_MODELS, "run_id = 'a'",
		 "Invalid attribute key 'run_id' specified. Valid keys are '{'name'}'"},
		{MLFLOW_TARGET_VERSIONS, "flavor = 'x'",
		 "Invalid attribute key 'flavor' specified. Valid keys are '{'name', 'run_id', 'source_path', "
		 "'version_number'}'"},
		{MLFLOW_TARGET_MODELS, "name > 'a'",
		 "Invalid comparator '>' not one of '{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}'"},
		{MLFLOW_TARGET_VERSIONS, "tags.k > 'a'",
		 "Invalid comparator '>' not one of '{'!=', '=', 'ILIKE', 'LIKE'}'"},
		{MLFLOW_TARGET_VERSIONS, "version_number = 'x'",
		 "Expected an integer value for version_number, got 'x'"},
		{MLFLOW_TARGET_VERSIONS, "version_number = 1.5",
		 "Expected an integer value for version_number, got '1.5'"},
		{MLFLOW_TARGET_VERSIONS, "version_number IN (1, 'x')",
		 "Expected an integer value for version_number, got 'x'"},
		{MLFLOW_TARGET_VERSIONS, "version_number LIKE '1'",
		 "Invalid comparator 'LIKE' not one of '{'!=', '<', '<=', '=', '>', '>='}'"},
		{MLFLOW_TARGET_VERSIONS, "metrics.acc > 1",
		 "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')"},
		{MLFLOW_TARGET_VERSIONS, "name IN 'a'", "Invalid clause(s) in filter string: 'name IN 'a''"},
		{MLFLOW_TARGET_MODELS, "name IN ('a')",
		 "Only the 'run_id' attribute supports comparison with a list of quoted string values."},
		{MLFLOW_TARGET_MODELS, "name = 5",
		 "Expected a quoted string value or a list of quoted string values for attributes. Got value 5"},
		{MLFLOW_TARGET_MODELS, "tags.t = 5",
		 "Expected a quoted string value for tag (e.g. 'my-value'). Got value 5"},
		{MLFLOW_TARGET_MODELS, "= 'a'", "Invalid clause(s) in filter string: '= 'a''"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		parse_fails(cases[i].t, cases[i].text, cases[i].message);
}
END_TEST

/* Builds "<clause> AND <clause> ..." with n clauses into a malloc'd string. */
static char *clauses(const char *clause, size_t n)
{
	size_t cl = strlen(clause), len = 0;
	char *s = malloc(n * (cl + 5) + 1);
	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++) {
		if (i) {
			memcpy(s + len, " AND ", 5);
			len += 5;
		}
		memcpy(s + len, clause, cl);
		len += cl;
	}
	s[len] = '\0';
	return s;
}

START_TEST(complexity_bounds_name_the_limit)
{
	/* the probe's planning bomb: 80 LIKE clauses; exactly the limit still parses */
	char *at_limit = clauses("params.lr LIKE '%'", MLFLOW_FILTER_MAX_CLAUSES);
	char *over = clauses("params.lr LIKE '%'", 80);
	struct mlflow_filter f = parse_ok(MLFLOW_TARGET_RUNS, at_limit);
	ck_assert_uint_eq(f.n, MLFLOW_FILTER_MAX_CLAUSES);
	mlflow_filter_free(&f);
	for (enum mlflow_target t = MLFLOW_TARGET_RUNS; t <= MLFLOW_TARGET_VERSIONS; t++) {
		char *c = clauses("tags.k LIKE '%'", MLFLOW_FILTER_MAX_CLAUSES + 1);
		parse_fails(t, c, "Invalid filter string: it holds more than 20 clauses (the limit is 20)");
		free(c);
	}
	parse_fails(MLFLOW_TARGET_RUNS, over, "Invalid filter string: it holds more than 20 clauses (the limit is 20)");

	/* length: one long value is fine up to the bound, refused past it */
	char *text = malloc(MLFLOW_FILTER_MAX_BYTES + 16);
	ck_assert_ptr_nonnull(text);
	size_t head = strlen("tags.k = '");
	memcpy(text, "tags.k = '", head);
	memset(text + head, 'x', MLFLOW_FILTER_MAX_BYTES - head - 1);
	memcpy(text + MLFLOW_FILTER_MAX_BYTES - 1, "'", 2);
	f = parse_ok(MLFLOW_TARGET_MODELS, text);
	ck_assert_uint_eq(f.n, 1);
	mlflow_filter_free(&f);
	memcpy(text + MLFLOW_FILTER_MAX_BYTES - 1, "x'", 3);
	parse_fails(MLFLOW_TARGET_MODELS, text, "Invalid filter string: 65537 bytes long, the limit is 65536 bytes");

	/* order_by entries */
	const char *keys[MLFLOW_ORDER_MAX_KEYS + 1];
	char names[MLFLOW_ORDER_MAX_KEYS + 1][24];
	for (size_t i = 0; i <= MLFLOW_ORDER_MAX_KEYS; i++) {
		snprintf(names[i], sizeof names[i], "metrics.m%zu", i);
		keys[i] = names[i];
	}
	struct mlflow_order o;
	struct core_error err = {{0}};
	ck_assert_int_eq(mlflow_order_parse(MLFLOW_TARGET_RUNS, keys, MLFLOW_ORDER_MAX_KEYS, &o, &err), CORE_OK);
	ck_assert_uint_eq(o.n, MLFLOW_ORDER_MAX_KEYS);
	mlflow_order_free(&o);
	ck_assert_int_eq(mlflow_order_parse(MLFLOW_TARGET_RUNS, keys, MLFLOW_ORDER_MAX_KEYS + 1, &o, &err),
			 CORE_EINVAL);
	ck_assert_str_eq(err.message, "Invalid order_by: 17 entries, the limit is 16");
	ck_assert_ptr_null(o.keys);
	free(text);
	free(over);
	free(at_limit);
}
END_TEST

static Suite *filter_suite(void)
{
	Suite *s = suite_create("mlflow_filter");
	TCase *tc = tcase_create("runs_and_experiments");
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
	tcase_add_test(tc, complexity_bounds_name_the_limit);
	suite_add_tcase(s, tc);
	tc = tcase_create("order_and_view");
	tcase_add_test(tc, order_by_parses_entities_directions_and_quoted_keys);
	tcase_add_test(tc, view_types_by_name_or_number);
	suite_add_tcase(s, tc);
	tc = tcase_create("registry");
	tcase_add_test(tc, registered_model_filters_take_name_and_tags);
	tcase_add_test(tc, model_version_filters_take_numbers_and_lists);
	tcase_add_test(tc, registry_filters_are_refused_with_mlflow_messages);
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
