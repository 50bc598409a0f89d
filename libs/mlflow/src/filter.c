/* MLflow's search filter and order_by language, parsed in C into the trees of
 * mlflow/filter.h, for every Lathe search (the tracker's runs and experiments, the
 * registry's registered models and model versions). Pure: no I/O, no SQL (each
 * service's filter_sql.c compiles the trees).
 *
 * MLflow parses with sqlparse and then checks the pieces (mlflow/utils/search_utils.py);
 * this file accepts the same language with a small hand-written lexer and a
 * recursive-descent parser, and answers MLflow's error messages.
 *
 * The grammar (runs; experiments allow fewer entities and keys, see below):
 *
 *   filter     := <blank> | clause ( AND clause )*          AND in any case; no OR
 *   clause     := ident comparator value
 *   ident      := a run, with no blank inside, of bare characters [A-Za-z0-9_.],
 *                 `backquoted` and "double-quoted" segments, starting with a letter,
 *                 '_', '`' or '"'. Split at its FIRST dot: the left part is the entity
 *                 (backquotes trimmed), the right part the key (one pair of enclosing
 *                 quotes, then backquotes, trimmed). No dot: an attribute.
 *                   metrics.acc   tags.mlflow.parentRunId   params.`lr rate`
 *                   metrics."f1 score"   status   `Run name`   "run name"
 *   entity     := metric(s) | param(s) | parameter(s) | tag(s) |
 *                 attribute(s) | attr | run | dataset(s)
 *   comparator := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
 *   value      := 'single' | "double" | number | ( 'a', 'b', ... )
 *                 Quoted text is kept as written between the quotes (as MLflow does:
 *                 '' and \' do not end a string and are not unescaped).
 *   number     := -?( digits [. digits?] | . digits ) ( [eE] [+-]? digits )?
 *
 * Type rules, checked in MLflow's order (entity, key, value, comparator):
 *   metrics            number;  = != < <= > >=
 *   params, tags       quoted;  = != LIKE ILIKE
 *   start_time,
 *   end_time (created) number;  = != < <= > >=
 *   run_id             quoted or (list); = != LIKE ILIKE IN NOT IN (lists: run_id only)
 *   run_name ("run name"), status, user_id, artifact_uri
 *                      quoted;  = != LIKE ILIKE
 *   datasets.name, .digest, .context
 *                      quoted or (list); = != LIKE ILIKE IN NOT IN
 * Experiments: entities attribute, tag, tags; attributes name (quoted) and
 * creation_time, last_update_time (numbers).
 * Registered models (SearchModelUtils): entities attribute, tag, tags; the attribute
 * name (quoted; = != LIKE ILIKE); tags as above.
 * Model versions (SearchModelVersionUtils): as registered models, plus the
 * attributes run_id and source_path (quoted or (list)) and version_number (an
 * integer, bare or quoted, or a (list) of them; = != < <= > >= IN NOT IN). Lists are
 * taken for name and source_path too, as Lathe's registry always did.
 *
 *   order_by   := ident [ ASC | DESC ]     (any case; default ASC)
 *
 * View types (MLflow's ViewType) are parsed here too; page tokens are in token.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "mlflow/filter.h"

/* --- names and sets, as MLflow prints them ------------------------------------- */

static const char RUN_ENTITIES[] = "['metric', 'parameter', 'tag', 'attribute', 'dataset']";
static const char EXP_ENTITIES[] = "('attribute', 'tag', 'tags')";
static const char NUMERIC_CMPS[] = "{'!=', '<', '<=', '=', '>', '>='}";
static const char STRING_CMPS[] = "{'!=', '=', 'ILIKE', 'LIKE'}";
static const char LIST_CMPS[] = "{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}";
static const char RUN_SEARCH_KEYS[] = "{'Created', 'Run Name', 'Run name', 'artifact_uri', 'created', "
				      "'end_time', 'run name', 'run_id', 'run_name', 'start_time', 'status', "
				      "'user_id'}";
static const char RUN_ORDER_KEYS[] = "{'Created', 'artifact_uri', 'created', 'end_time', 'run_id', "
				     "'run_name', 'start_time', 'status', 'user_id'}";
static const char EXP_SEARCH_KEYS[] = "{'creation_time', 'last_update_time', 'name'}";
static const char EXP_ORDER_KEYS[] = "{'creation_time', 'experiment_id', 'last_update_time', 'name'}";
static const char DATASET_KEYS[] = "{'name', 'digest', 'context'}";
static const char MODEL_SEARCH_KEYS[] = "{'name'}";
static const char VERSION_SEARCH_KEYS[] = "{'name', 'run_id', 'source_path', 'version_number'}";

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static const char *const run_string_attrs[] = {"run_id", "run_name", "status", "user_id", "artifact_uri", NULL};
static const char *const run_numeric_attrs[] = {"start_time", "end_time", NULL};
static const char *const exp_string_attrs[] = {"name", NULL};
static const char *const exp_numeric_attrs[] = {"creation_time", "last_update_time", NULL};
static const char *const model_attrs[] = {"name", NULL};
static const char *const version_string_attrs[] = {"name", "run_id", "source_path", NULL};
static const char *const version_numeric_attrs[] = {"version_number", NULL};
static const char *const no_attrs[] = {NULL};

static bool is_registry(enum mlflow_target target)
{
	return target == MLFLOW_TARGET_MODELS || target == MLFLOW_TARGET_VERSIONS;
}

/* The attribute keys whose values are numbers, per target. */
static const char *const *numeric_attrs(enum mlflow_target target)
{
	switch (target) {
	case MLFLOW_TARGET_RUNS:
		return run_numeric_attrs;
	case MLFLOW_TARGET_EXPERIMENTS:
		return exp_numeric_attrs;
	case MLFLOW_TARGET_VERSIONS:
		return version_numeric_attrs;
	case MLFLOW_TARGET_MODELS:
		break;
	}
	return no_attrs;
}

/* MLflow's translate_key_alias. */
static const char *attr_alias(const char *key)
{
	if (strcmp(key, "created") == 0 || strcmp(key, "Created") == 0)
		return "start_time";
	if (strcmp(key, "run name") == 0 || strcmp(key, "Run name") == 0 || strcmp(key, "Run Name") == 0)
		return "run_name";
	return key;
}

static bool entity_from_name(enum mlflow_target target, const char *name, enum mlflow_entity *out)
{
	static const struct {
		const char *name;
		enum mlflow_entity entity;
	} names[] = {
		{"metric", MLFLOW_ENT_METRIC},   {"metrics", MLFLOW_ENT_METRIC},   {"param", MLFLOW_ENT_PARAM},
		{"params", MLFLOW_ENT_PARAM},    {"parameter", MLFLOW_ENT_PARAM},  {"parameters", MLFLOW_ENT_PARAM},
		{"tag", MLFLOW_ENT_TAG},         {"tags", MLFLOW_ENT_TAG},         {"attribute", MLFLOW_ENT_ATTR},
		{"attributes", MLFLOW_ENT_ATTR}, {"attr", MLFLOW_ENT_ATTR},        {"run", MLFLOW_ENT_ATTR},
		{"dataset", MLFLOW_ENT_DATASET}, {"datasets", MLFLOW_ENT_DATASET},
	};
	if (target != MLFLOW_TARGET_RUNS) {
		static const char *const exp_names[] = {"attribute", "tag", "tags", NULL};
		if (!in_list(name, exp_names))
			return false;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(names[i].name, name) == 0) {
			*out = names[i].entity;
			return true;
		}
	return false;
}

/* --- lexing ---------------------------------------------------------------------- */

static bool is_bare(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

static const char *skip_blank(const char *p)
{
	while (*p && isspace((unsigned char)*p))
		p++;
	return p;
}

/* Returns the end of the quoted segment starting at p (*p is the quote), past the
 * closing quote, or NULL when it does not close. '' and \x do not close it (sqlparse's
 * rule for '...' and "..."); backquoted names close at the next backquote. */
static const char *quoted_end(const char *p)
{
	char q = *p++;
	while (*p) {
		if (q != '`' && *p == '\\' && p[1]) {
			p += 2;
		} else if (*p == q) {
			if (q != '`' && p[1] == q)
				p += 2;
			else
				return p + 1;
		} else {
			p++;
		}
	}
	return NULL;
}

/* Returns the end of the identifier starting at p, or p when there is none there
 * (or a quote inside it does not close). */
static const char *ident_end(const char *p)
{
	if (!(isalpha((unsigned char)*p) || *p == '_' || *p == '`' || *p == '"'))
		return p;
	const char *start = p;
	while (*p) {
		if (*p == '`' || *p == '"') {
			const char *e = quoted_end(p);
			if (!e)
				return start;
			p = e;
		} else if (is_bare(*p)) {
			p++;
		} else {
			break;
		}
	}
	return p;
}

/* Returns the end of a number at p, or p when there is none. */
static const char *number_end(const char *p)
{
	const char *s = p;
	if (*p == '-')
		p++;
	const char *digits = p;
	while (isdigit((unsigned char)*p))
		p++;
	bool whole = p > digits;
	if (*p == '.') {
		p++;
		const char *frac = p;
		while (isdigit((unsigned char)*p))
			p++;
		if (!whole && p == frac)
			return s;
	} else if (!whole) {
		return s;
	}
	if (*p == 'e' || *p == 'E') {
		const char *e = p + 1;
		if (*e == '+' || *e == '-')
			e++;
		if (isdigit((unsigned char)*e)) {
			while (isdigit((unsigned char)*e))
				e++;
			p = e;
		}
	}
	if (isalpha((unsigned char)*p) || *p == '_')
		return s; /* 12abc is no number */
	return p;
}

/* Whether the word at p (length n) is kw, ignoring case, and ends there. */
static bool word_is(const char *p, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(p, kw, n) == 0;
}

static size_t word_len(const char *p)
{
	size_t n = 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_')
		n++;
	return n;
}

/* --- identifiers ----------------------------------------------------------------- */

static bool enclosed(const char *s, size_t n, char q)
{
	return n >= 2 && s[0] == q && s[n - 1] == q;
}

/* MLflow's _trim_backticks(_strip_quotes(s)): a malloc'd copy. */
static char *unquote_key(const char *s, size_t n)
{
	if (enclosed(s, n, '\'') || enclosed(s, n, '"')) {
		s++;
		n -= 2;
	}
	if (enclosed(s, n, '`')) {
		s++;
		n -= 2;
	}
	return core_xstrndup(s, n);
}

/* Splits the identifier text [p, e) into entity and key, as MLflow's _get_identifier
 * does; checks the entity and, for attributes and datasets, the key.
 * order: validating an order_by key (other attribute keys, no dataset). */
static enum core_status resolve_ident(enum mlflow_target target, const char *p, const char *e, bool order,
				      enum mlflow_entity *entity, char **key, struct core_error *err)
{
	const char *dot = memchr(p, '.', (size_t)(e - p));
	char *k;
	if (!dot) {
		*entity = MLFLOW_ENT_ATTR;
		k = unquote_key(p, (size_t)(e - p));
	} else {
		size_t n = (size_t)(dot - p);
		const char *ep = p;
		if (enclosed(ep, n, '`')) {
			ep++;
			n -= 2;
		}
		char *name = core_xstrndup(ep, n);
		if (!entity_from_name(target, name, entity)) {
			enum core_status rc;
			if (target != MLFLOW_TARGET_RUNS)
				rc = core_fail(err, CORE_EINVAL, "Invalid entity type '%s'. Valid entity types are %s",
					       name, EXP_ENTITIES);
			else
				rc = core_fail(err, CORE_EINVAL, "Invalid entity type '%s'. Valid values are %s", name,
					       RUN_ENTITIES);
			free(name);
			return rc;
		}
		free(name);
		k = unquote_key(dot + 1, (size_t)(e - dot - 1));
	}
	if (*entity == MLFLOW_ENT_ATTR) {
		bool ok;
		const char *valid;
		if (target == MLFLOW_TARGET_EXPERIMENTS) {
			static const char *const order_keys[] = {"name", "experiment_id", "creation_time",
								 "last_update_time", NULL};
			ok = order ? in_list(k, order_keys)
				   : in_list(k, exp_string_attrs) || in_list(k, exp_numeric_attrs);
			valid = order ? EXP_ORDER_KEYS : EXP_SEARCH_KEYS;
		} else if (target == MLFLOW_TARGET_MODELS) {
			ok = in_list(k, model_attrs);
			valid = MODEL_SEARCH_KEYS;
		} else if (target == MLFLOW_TARGET_VERSIONS) {
			ok = in_list(k, version_string_attrs) || in_list(k, version_numeric_attrs);
			valid = VERSION_SEARCH_KEYS;
		} else {
			static const char *const order_aliases[] = {"created", "Created", NULL};
			const char *a = attr_alias(k);
			ok = in_list(a, run_string_attrs) || in_list(a, run_numeric_attrs);
			if (order && a != k && !in_list(k, order_aliases))
				ok = false; /* "run name" is for filters only */
			valid = order ? RUN_ORDER_KEYS : RUN_SEARCH_KEYS;
		}
		if (!ok) {
			enum core_status rc =
				core_fail(err, CORE_EINVAL, "Invalid attribute key '%s' specified. Valid keys are '%s'",
					  k, valid);
			free(k);
			return rc;
		}
		const char *a = attr_alias(k);
		if (a != k) {
			free(k);
			k = core_xstrdup(a);
		}
	} else if (*entity == MLFLOW_ENT_DATASET) {
		static const char *const dataset_keys[] = {"name", "digest", "context", NULL};
		if (!in_list(k, dataset_keys)) {
			enum core_status rc =
				core_fail(err, CORE_EINVAL, "Invalid dataset key '%s' specified. Valid keys are '%s'",
					  k, DATASET_KEYS);
			free(k);
			return rc;
		}
	}
	*key = k;
	return CORE_OK;
}

/* --- clauses --------------------------------------------------------------------- */

static void clause_free(struct mlflow_clause *c)
{
	free(c->key);
	free(c->value);
	for (size_t i = 0; i < c->n_list; i++)
		free(c->list[i]);
	free(c->list);
	memset(c, 0, sizeof *c);
}

void mlflow_filter_free(struct mlflow_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		clause_free(&f->clauses[i]);
	free(f->clauses);
	f->clauses = NULL;
	f->n = 0;
}

static enum core_status invalid_clause(struct core_error *err, const char *p, size_t n)
{
	return core_fail(err, CORE_EINVAL, "Invalid clause(s) in filter string: '%.*s'", (int)n, p);
}

/* The comparator at *pp (after blanks): sets *cmp, or leaves *known false for an
 * operator outside MLflow's set ("<>", "=="), whose text goes to *text. Returns
 * false when there is no comparator at all. */
static bool lex_comparator(const char **pp, enum mlflow_cmp *cmp, bool *known, char text[8])
{
	const char *p = skip_blank(*pp);
	size_t n = strspn(p, "=!<>");
	*known = true;
	if (n > 0) {
		snprintf(text, 8, "%.*s", (int)(n < 7 ? n : 7), p);
		static const struct {
			const char *op;
			enum mlflow_cmp cmp;
		} ops[] = {{"=", MLFLOW_CMP_EQ},  {"!=", MLFLOW_CMP_NE}, {"<", MLFLOW_CMP_LT},
			   {"<=", MLFLOW_CMP_LE}, {">", MLFLOW_CMP_GT},  {">=", MLFLOW_CMP_GE}};
		*known = false;
		for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
			if (strcmp(text, ops[i].op) == 0) {
				*cmp = ops[i].cmp;
				*known = true;
			}
		*pp = p + n;
		return true;
	}
	size_t w = word_len(p);
	if (word_is(p, w, "LIKE") || word_is(p, w, "ILIKE") || word_is(p, w, "IN")) {
		*cmp = word_is(p, w, "LIKE")    ? MLFLOW_CMP_LIKE
		       : word_is(p, w, "ILIKE") ? MLFLOW_CMP_ILIKE
						: MLFLOW_CMP_IN;
		snprintf(text, 8, "%s", *cmp == MLFLOW_CMP_LIKE ? "LIKE" : *cmp == MLFLOW_CMP_ILIKE ? "ILIKE" : "IN");
		*pp = p + w;
		return true;
	}
	if (word_is(p, w, "NOT")) {
		const char *q = skip_blank(p + w);
		size_t w2 = word_len(q);
		if (q > p + w && word_is(q, w2, "IN")) {
			*cmp = MLFLOW_CMP_NOT_IN;
			snprintf(text, 8, "NOT IN");
			*pp = q + w2;
			return true;
		}
	}
	return false;
}

/* A value token as lexed: its raw text and what it is. */
enum vtok { V_NONE, V_SQUOTE, V_DQUOTE, V_NUMBER, V_WORD, V_LIST };

struct value_tok {
	enum vtok type;
	const char *p; /* raw text, quotes and parentheses included */
	size_t n;
};

static const char *list_end(const char *p)
{
	/* ( ... ) with quoted strings inside; the parenthesis closes outside quotes */
	p++;
	while (*p && *p != ')') {
		if (*p == '\'' || *p == '"') {
			const char *e = quoted_end(p);
			if (!e)
				return NULL;
			p = e;
		} else {
			p++;
		}
	}
	return *p == ')' ? p + 1 : NULL;
}

static bool lex_value(const char **pp, struct value_tok *v)
{
	const char *p = skip_blank(*pp);
	const char *e = NULL;
	v->type = V_NONE;
	if (*p == '\'' || *p == '"') {
		e = quoted_end(p);
		v->type = *p == '\'' ? V_SQUOTE : V_DQUOTE;
	} else if (*p == '(') {
		e = list_end(p);
		v->type = V_LIST;
	} else if ((e = number_end(p)) > p) {
		v->type = V_NUMBER;
	} else if ((e = ident_end(p)) > p) {
		v->type = V_WORD;
	} else {
		e = NULL;
	}
	if (!e)
		return false;
	v->p = p;
	v->n = (size_t)(e - p);
	*pp = e;
	return true;
}

/* MLflow's str.islower(): some cased character, and every cased one lower-case. */
static bool py_islower(const char *s)
{
	bool cased = false;
	for (; *s; s++) {
		if (isupper((unsigned char)*s))
			return false;
		if (islower((unsigned char)*s))
			cased = true;
	}
	return cased;
}

/* A decimal integer literal, as the registry's version_number takes ("-3", "12"). */
static bool is_integer_text(const char *s, size_t n)
{
	size_t i = n > 0 && s[0] == '-' ? 1 : 0;
	if (i == n || n - i > 18)
		return false;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static enum core_status not_integer(struct core_error *err, const char *p, size_t n)
{
	return core_fail(err, CORE_EINVAL, "Expected an integer value for version_number, got '%.*s'", (int)n, p);
}

/* What a list holds: strings; run ids (MLflow keeps the lower-case ones only: run ids
 * are, and its IN is case-blind on MySQL); integers, bare or quoted (version_number). */
enum list_mode { LIST_STRINGS, LIST_RUN_IDS, LIST_INTEGERS };

/* Parses "( 'a' , 'b' )" into c->list. MLflow accepts single-quoted strings only. */
static enum core_status parse_list(const struct value_tok *v, enum list_mode mode, struct mlflow_clause *c,
				   struct core_error *err)
{
	const char *p = v->p + 1, *end = v->p + v->n - 1; /* inside the parentheses */
	size_t cap = 0;
	p = skip_blank(p);
	if (p >= end)
		return core_fail(err, CORE_EINVAL,
				 "While parsing a list in the query, expected a non-empty list of string values, "
				 "but got empty list");
	for (;;) {
		p = skip_blank(p);
		const char *num_end = mode == LIST_INTEGERS ? number_end(p) : p;
		if (num_end > p) {
			if (!is_integer_text(p, (size_t)(num_end - p)))
				return not_integer(err, p, (size_t)(num_end - p));
			if (c->n_list == cap) {
				cap = cap ? 2 * cap : 4;
				c->list = core_xrealloc(c->list, cap * sizeof *c->list);
			}
			c->list[c->n_list++] = core_xstrndup(p, (size_t)(num_end - p));
			p = skip_blank(num_end);
			if (p == end)
				return CORE_OK;
			if (*p != ',')
				return core_fail(
					err, CORE_EINVAL,
					"While parsing a list in the query, expected a non-empty list of string "
					"values, but got ill-formed list.");
			p++;
			continue;
		}
		if (*p != '\'')
			return core_fail(err, CORE_EINVAL,
					 "While parsing a list in the query, expected string value, punctuation, or "
					 "whitespace, but got different type in list: %.*s",
					 (int)v->n, v->p);
		const char *e = quoted_end(p);
		if (!e || e > end)
			return core_fail(err, CORE_EINVAL,
					 "While parsing a list in the query, expected a non-empty list of string "
					 "values, but got ill-formed list.");
		char *s = core_xstrndup(p + 1, (size_t)(e - p - 2));
		if (mode == LIST_INTEGERS && !is_integer_text(s, strlen(s))) {
			enum core_status rc = not_integer(err, s, strlen(s));
			free(s);
			return rc;
		}
		if (mode == LIST_RUN_IDS && !py_islower(s)) {
			free(s);
		} else {
			if (c->n_list == cap) {
				cap = cap ? 2 * cap : 4;
				c->list = core_xrealloc(c->list, cap * sizeof *c->list);
			}
			c->list[c->n_list++] = s;
		}
		p = skip_blank(e);
		if (p == end)
			return CORE_OK;
		if (*p != ',')
			return core_fail(err, CORE_EINVAL,
					 "While parsing a list in the query, expected a non-empty list of string "
					 "values, but got ill-formed list.");
		p++;
	}
}

static const char *entity_word(enum mlflow_entity e)
{
	switch (e) {
	case MLFLOW_ENT_METRIC:
		return "metric";
	case MLFLOW_ENT_PARAM:
		return "parameter";
	case MLFLOW_ENT_TAG:
		return "tag";
	case MLFLOW_ENT_DATASET:
		return "dataset";
	case MLFLOW_ENT_ATTR:
		break;
	}
	return "attribute";
}

/* MLflow's _get_value: checks the value's type against the entity and key, and
 * stores it in c. */
static enum core_status take_value(enum mlflow_target target, const struct value_tok *v, struct mlflow_clause *c,
				   struct core_error *err)
{
	bool numeric = c->entity == MLFLOW_ENT_METRIC ||
		       (c->entity == MLFLOW_ENT_ATTR && in_list(c->key, numeric_attrs(target)));
	if (numeric && target == MLFLOW_TARGET_VERSIONS) {
		/* version_number: an integer, bare or quoted, or a list of them */
		if (v->type == V_LIST) {
			c->kind = MLFLOW_VAL_LIST;
			return parse_list(v, LIST_INTEGERS, c, err);
		}
		const char *p = v->p;
		size_t n = v->n;
		if (v->type == V_SQUOTE || v->type == V_DQUOTE) {
			p++;
			n -= 2;
		}
		if (!is_integer_text(p, n))
			return not_integer(err, p, n);
		c->kind = MLFLOW_VAL_NUMBER;
		c->value = core_xstrndup(p, n);
		return CORE_OK;
	}
	if (numeric) {
		if (v->type != V_NUMBER) {
			if (c->entity == MLFLOW_ENT_METRIC)
				return core_fail(err, CORE_EINVAL, "Expected numeric value type for metric. Found %.*s",
						 (int)v->n, v->p);
			return core_fail(err, CORE_EINVAL,
					 "Expected numeric value type for numeric attribute: %s. Found %.*s", c->key,
					 (int)v->n, v->p);
		}
		c->kind = MLFLOW_VAL_NUMBER;
		c->value = core_xstrndup(v->p, v->n);
		return CORE_OK;
	}
	if (v->type == V_SQUOTE || v->type == V_DQUOTE) {
		c->kind = MLFLOW_VAL_STRING;
		c->value = core_xstrndup(v->p + 1, v->n - 2);
		return CORE_OK;
	}
	if (v->type == V_WORD)
		return core_fail(err, CORE_EINVAL,
				 "Parameter value is either not quoted or unidentified quote types used for string "
				 "value %.*s. Use either single or double quotes.",
				 (int)v->n, v->p);
	if (v->type == V_LIST && c->entity == MLFLOW_ENT_ATTR) {
		/* model versions take lists for every string attribute (name, run_id, source_path) */
		if (target != MLFLOW_TARGET_VERSIONS &&
		    (target == MLFLOW_TARGET_MODELS || strcmp(c->key, "run_id") != 0))
			return core_fail(err, CORE_EINVAL,
					 "Only the 'run_id' attribute supports comparison with a list of quoted string "
					 "values.");
		c->kind = MLFLOW_VAL_LIST;
		return parse_list(v, target == MLFLOW_TARGET_RUNS ? LIST_RUN_IDS : LIST_STRINGS, c, err);
	}
	if (v->type == V_LIST && c->entity == MLFLOW_ENT_DATASET) {
		c->kind = MLFLOW_VAL_LIST;
		return parse_list(v, LIST_STRINGS, c, err);
	}
	if (c->entity == MLFLOW_ENT_ATTR && is_registry(target))
		return core_fail(err, CORE_EINVAL,
				 "Expected a quoted string value or a list of quoted string values for attributes. "
				 "Got value %.*s",
				 (int)v->n, v->p);
	if (c->entity == MLFLOW_ENT_ATTR)
		return core_fail(err, CORE_EINVAL, "Expected a quoted string value for attributes. Got value %.*s",
				 (int)v->n, v->p);
	if (c->entity == MLFLOW_ENT_DATASET)
		return core_fail(err, CORE_EINVAL,
				 "Expected a quoted string value for dataset attributes. Got value %.*s", (int)v->n,
				 v->p);
	return core_fail(err, CORE_EINVAL, "Expected a quoted string value for %s (e.g. 'my-value'). Got value %.*s",
			 entity_word(c->entity), (int)v->n, v->p);
}

/* MLflow's is_metric / is_param / ... checks: the comparator fits the entity. */
static enum core_status check_comparator(enum mlflow_target target, const struct mlflow_clause *c, bool known,
					 const char *text, struct core_error *err)
{
	const char *set;
	bool ok;
	enum mlflow_cmp k = c->cmp;
	bool numeric_ok = k <= MLFLOW_CMP_GE;
	bool string_ok = k == MLFLOW_CMP_EQ || k == MLFLOW_CMP_NE || k == MLFLOW_CMP_LIKE || k == MLFLOW_CMP_ILIKE;
	bool list_ok = string_ok || k == MLFLOW_CMP_IN || k == MLFLOW_CMP_NOT_IN;
	if (c->kind == MLFLOW_VAL_NUMBER) {
		set = NUMERIC_CMPS;
		ok = numeric_ok;
	} else if (c->entity == MLFLOW_ENT_PARAM || c->entity == MLFLOW_ENT_TAG) {
		set = STRING_CMPS;
		ok = string_ok;
	} else {
		set = LIST_CMPS;
		ok = list_ok;
		(void)target;
	}
	if (!known || !ok)
		return core_fail(err, CORE_EINVAL, "Invalid comparator '%s' not one of '%s'", text, set);
	return CORE_OK;
}

/* Parses one clause at *pp into c. */
static enum core_status parse_clause(enum mlflow_target target, const char **pp, struct mlflow_clause *c,
				     struct core_error *err)
{
	const char *start = skip_blank(*pp);
	const char *ie = ident_end(start);
	if (ie == start) {
		size_t n = word_len(start);
		return invalid_clause(err, start, n ? n : strlen(start));
	}
	const char *p = ie;
	enum mlflow_cmp cmp = MLFLOW_CMP_EQ;
	bool known;
	char text[8];
	if (!lex_comparator(&p, &cmp, &known, text))
		return invalid_clause(err, start, (size_t)(skip_blank(p) - start) + word_len(skip_blank(p)));
	struct value_tok v;
	if (!lex_value(&p, &v))
		return invalid_clause(err, start, strlen(start));
	/* IN goes with a list and a list with IN only: anything else is no comparison
	 * sqlparse would build */
	if ((cmp == MLFLOW_CMP_IN || cmp == MLFLOW_CMP_NOT_IN) != (v.type == V_LIST))
		return invalid_clause(err, start, (size_t)(p - start));
	*pp = p;
	c->cmp = cmp;
	enum core_status rc = resolve_ident(target, start, ie, false, &c->entity, &c->key, err);
	if (rc == CORE_OK)
		rc = take_value(target, &v, c, err);
	if (rc == CORE_OK)
		rc = check_comparator(target, c, known, text, err);
	return rc;
}

enum core_status mlflow_filter_parse(enum mlflow_target target, const char *text, struct mlflow_filter *out,
				     struct core_error *err)
{
	memset(out, 0, sizeof *out);
	if (!text)
		return CORE_OK;
	size_t len = strlen(text);
	if (len > MLFLOW_FILTER_MAX_BYTES)
		return core_fail(err, CORE_EINVAL, "Invalid filter string: %zu bytes long, the limit is %d bytes", len,
				 MLFLOW_FILTER_MAX_BYTES);
	const char *p = skip_blank(text);
	size_t cap = 0;
	enum core_status rc = CORE_OK;
	while (*p) {
		if (out->n == MLFLOW_FILTER_MAX_CLAUSES) {
			rc = core_fail(err, CORE_EINVAL,
				       "Invalid filter string: it holds more than %d clauses (the limit is %d)",
				       MLFLOW_FILTER_MAX_CLAUSES, MLFLOW_FILTER_MAX_CLAUSES);
			goto out;
		}
		if (out->n == cap) {
			cap = cap ? 2 * cap : 4;
			out->clauses = core_xrealloc(out->clauses, cap * sizeof *out->clauses);
		}
		struct mlflow_clause *c = &out->clauses[out->n++];
		memset(c, 0, sizeof *c);
		rc = parse_clause(target, &p, c, err);
		if (rc != CORE_OK)
			goto out;
		p = skip_blank(p);
		if (!*p)
			break;
		size_t w = word_len(p);
		if (!word_is(p, w, "AND")) {
			rc = invalid_clause(err, p, w ? w : strlen(p));
			goto out;
		}
		p = skip_blank(p + w);
		if (!*p) {
			rc = invalid_clause(err, p - w, w);
			goto out;
		}
	}
out:
	if (rc != CORE_OK)
		mlflow_filter_free(out);
	return rc;
}

/* --- order_by -------------------------------------------------------------------- */

void mlflow_order_free(struct mlflow_order *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++)
		free(o->keys[i].key);
	free(o->keys);
	o->keys = NULL;
	o->n = 0;
}

/* Appends s as a Python string literal in a list repr. */
static void py_repr_list(struct core_buf *b, const char *const *items, size_t n)
{
	core_buf_append_str(b, "[");
	for (size_t i = 0; i < n; i++)
		core_buf_printf(b, "%s'%s'", i ? ", " : "", items[i]);
	core_buf_append_str(b, "]");
}

static enum core_status parse_order_item(enum mlflow_target target, const char *item, struct mlflow_order_key *k,
					 struct core_error *err)
{
	const char *p = skip_blank(item);
	const char *ie = ident_end(p);
	if (ie == p)
		return core_fail(err, CORE_EINVAL, "Invalid order_by clause '%s'. Could not be parsed.", item);
	const char *q = skip_blank(ie);
	k->ascending = true;
	if (*q) {
		size_t w = word_len(q);
		if (q == ie || w == 0 || *skip_blank(q + w))
			return core_fail(err, CORE_EINVAL, "Invalid order_by clause '%s'. Could not be parsed.", item);
		if (word_is(q, w, "DESC"))
			k->ascending = false;
		else if (!word_is(q, w, "ASC"))
			return core_fail(err, CORE_EINVAL, "Invalid ordering key in order_by clause '%s'.", item);
	}
	enum core_status rc = resolve_ident(target, p, ie, true, &k->entity, &k->key, err);
	if (rc != CORE_OK)
		return rc;
	if (k->entity == MLFLOW_ENT_DATASET || (target == MLFLOW_TARGET_EXPERIMENTS && k->entity != MLFLOW_ENT_ATTR)) {
		rc = core_fail(err, CORE_EINVAL, "Invalid order_by entity: %s", entity_word(k->entity));
		free(k->key);
		k->key = NULL;
	}
	return rc;
}

enum core_status mlflow_order_parse(enum mlflow_target target, const char *const *items, size_t n,
				    struct mlflow_order *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	if (n == 0)
		return CORE_OK;
	if (n > MLFLOW_ORDER_MAX_KEYS)
		return core_fail(err, CORE_EINVAL, "Invalid order_by: %zu entries, the limit is %d", n,
				 MLFLOW_ORDER_MAX_KEYS);
	out->keys = core_xcalloc(n, sizeof *out->keys);
	enum core_status rc = CORE_OK;
	for (size_t i = 0; i < n; i++) {
		rc = parse_order_item(target, items[i] ? items[i] : "", &out->keys[i], err);
		if (rc != CORE_OK)
			goto out;
		out->n++;
		for (size_t j = 0; j < i; j++)
			if (out->keys[j].entity == out->keys[i].entity &&
			    strcmp(out->keys[j].key, out->keys[i].key) == 0) {
				struct core_buf b;
				core_buf_init(&b, sizeof err->message);
				py_repr_list(&b, items, n);
				rc = core_fail(err, CORE_EINVAL, "`order_by` contains duplicate fields: %s",
					       b.data ? b.data : "[...]");
				core_buf_free(&b);
				goto out;
			}
	}
out:
	if (rc != CORE_OK)
		mlflow_order_free(out);
	return rc;
}

/* --- view types ------------------------------------------------------------------ */

enum core_status mlflow_view_parse(const char *text, const char *field, enum mlflow_view *out, struct core_error *err)
{
	static const struct {
		const char *name;
		enum mlflow_view view;
	} views[] = {{"ACTIVE_ONLY", MLFLOW_VIEW_ACTIVE_ONLY},
		     {"DELETED_ONLY", MLFLOW_VIEW_DELETED_ONLY},
		     {"ALL", MLFLOW_VIEW_ALL},
		     {"1", MLFLOW_VIEW_ACTIVE_ONLY},
		     {"2", MLFLOW_VIEW_DELETED_ONLY},
		     {"3", MLFLOW_VIEW_ALL}};
	for (size_t i = 0; text && i < sizeof views / sizeof views[0]; i++)
		if (strcasecmp(text, views[i].name) == 0) {
			*out = views[i].view;
			return CORE_OK;
		}
	return core_fail(
		err, CORE_EINVAL,
		"Invalid value %s for parameter '%s' supplied. Valid values are ACTIVE_ONLY, DELETED_ONLY, ALL",
		text ? text : "null", field);
}

const char *mlflow_cmp_sql(enum mlflow_cmp cmp)
{
	switch (cmp) {
	case MLFLOW_CMP_EQ:
		return " = ";
	case MLFLOW_CMP_NE:
		return " <> ";
	case MLFLOW_CMP_LT:
		return " < ";
	case MLFLOW_CMP_LE:
		return " <= ";
	case MLFLOW_CMP_GT:
		return " > ";
	case MLFLOW_CMP_GE:
		return " >= ";
	case MLFLOW_CMP_LIKE:
		return " LIKE ";
	case MLFLOW_CMP_ILIKE:
		return " ILIKE ";
	case MLFLOW_CMP_IN:
	case MLFLOW_CMP_NOT_IN:
		break;
	}
	return " = ";
}
