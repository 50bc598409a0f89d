/* MLflow's registry search language (search_utils.py SearchModelUtils /
 * SearchModelVersionUtils, 2.12.2) parsed into data the search statements take as
 * parameters, so no client text ever becomes SQL text:
 *
 *   filter  := clause { AND clause }          (AND in any case; no OR, no parentheses)
 *   clause  := ident comparator value
 *   ident   := [entity "."] key               entity: tag(s) | attribute(s) | attr;
 *                                             key plain, `quoted` or "quoted"
 *   value   := 'string' | "string" | integer | "(" value { "," value } ")"
 *
 * Registered models: name (= != LIKE ILIKE) and tags.<key> (= != LIKE ILIKE).
 * Model versions: name, run_id, source_path (= != LIKE ILIKE IN NOT IN),
 * version_number (= != < <= > >= IN NOT IN, integers) and tags.<key>.
 * A filter becomes four parallel PostgreSQL array literals (kind, key, op, value) that
 * the statements unnest and evaluate with mr_text_match / mr_num_match (migration
 * 0002). order_by entries become an ORDER BY assembled from fixed pieces, with
 * MLflow's tie-breakers (models: name ASC; versions: name ASC, version DESC), and a
 * short "shape" that names the prepared statement, so the set of statement texts is
 * finite. Pure; unit-tested in tests/unit/registry. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mr.h"

#define MR_FILTER_MAX_CLAUSES 64

struct clause {
	const char *kind; /* "attr", "num", "tag" (static) */
	char *key;        /* malloc'd */
	const char *op;   /* static */
	char *value;      /* malloc'd: the string, the integer text, or a JSON array for IN */
};

struct parser {
	const char *filter; /* for messages */
	const char *p;
	enum mr_search_kind kind;
	struct clause clauses[MR_FILTER_MAX_CLAUSES];
	size_t n;
};

static void skip_ws(struct parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static enum core_status bad_clause(struct parser *ps, struct core_error *err, const char *why)
{
	return core_fail(err, CORE_EINVAL, "Invalid clause(s) in filter string: '%s' (%s)", ps->filter, why);
}

/* A quoted token starting at ps->p (quote char q, doubled quote = one quote). */
static enum core_status read_quoted(struct parser *ps, char **out, struct core_error *err)
{
	char q = *ps->p++;
	struct core_buf b;
	core_buf_init(&b, 1 << 20);
	for (;;) {
		if (!*ps->p) {
			core_buf_free(&b);
			return bad_clause(ps, err, "unterminated quote");
		}
		if (*ps->p == q) {
			if (ps->p[1] == q) {
				core_buf_append(&b, &q, 1);
				ps->p += 2;
				continue;
			}
			ps->p++;
			break;
		}
		if (*ps->p == '\\' && ps->p[1] == q) {
			core_buf_append(&b, &q, 1);
			ps->p += 2;
			continue;
		}
		core_buf_append(&b, ps->p, 1);
		ps->p++;
	}
	*out = core_buf_steal(&b, NULL);
	return CORE_OK;
}

static bool ident_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '.' || ch == '-';
}

/* ident: sets *is_tag and *key (malloc'd). */
static enum core_status read_ident(struct parser *ps, bool *is_tag, char **key, struct core_error *err)
{
	const char *start = ps->p;
	*is_tag = false;
	if (*ps->p == '`' || *ps->p == '"')
		return read_quoted(ps, key, err);
	while (ident_char(*ps->p) && *ps->p != '.')
		ps->p++;
	size_t len = (size_t)(ps->p - start);
	if (len == 0)
		return bad_clause(ps, err, "expected an identifier");
	if (*ps->p != '.') {
		*key = core_xstrndup(start, len);
		return CORE_OK;
	}
	/* entity "." key: only the first dot splits */
	bool tag = (len == 3 && strncasecmp(start, "tag", 3) == 0) || (len == 4 && strncasecmp(start, "tags", 4) == 0);
	bool attr = (len == 4 && strncasecmp(start, "attr", 4) == 0) ||
		    (len == 9 && strncasecmp(start, "attribute", 9) == 0) ||
		    (len == 10 && strncasecmp(start, "attributes", 10) == 0);
	if (!tag && !attr)
		return core_fail(err, CORE_EINVAL,
				 "Invalid entity type '%.*s'. Valid values are ['tag', 'attribute'] (filter '%s')",
				 (int)len, start, ps->filter);
	ps->p++;
	*is_tag = tag;
	if (*ps->p == '`' || *ps->p == '"')
		return read_quoted(ps, key, err);
	start = ps->p;
	while (ident_char(*ps->p))
		ps->p++;
	if (ps->p == start)
		return bad_clause(ps, err, "expected a key after the entity");
	*key = core_xstrndup(start, (size_t)(ps->p - start));
	return CORE_OK;
}

static const char *read_comparator(struct parser *ps)
{
	static const char *const words[] = {"NOT IN", "ILIKE", "LIKE", "IN"};
	static const char *const syms[] = {"!=", "<=", ">=", "<>", "=", "<", ">"};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
		if (strncmp(ps->p, syms[i], strlen(syms[i])) == 0) {
			ps->p += strlen(syms[i]);
			return strcmp(syms[i], "<>") == 0 ? "!=" : syms[i];
		}
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t n = strlen(words[i]);
		if (strncasecmp(ps->p, words[i], n) == 0 && !ident_char(ps->p[n])) {
			ps->p += n;
			return words[i];
		}
	}
	/* NOT IN with more than one space between */
	if (strncasecmp(ps->p, "NOT", 3) == 0 && isspace((unsigned char)ps->p[3])) {
		const char *q = ps->p + 3;
		while (isspace((unsigned char)*q))
			q++;
		if (strncasecmp(q, "IN", 2) == 0 && !ident_char(q[2])) {
			ps->p = q + 2;
			return "NOT IN";
		}
	}
	return NULL;
}

/* A single value: quoted string or integer. *quoted tells which. */
static enum core_status read_scalar(struct parser *ps, char **out, bool *quoted, struct core_error *err)
{
	skip_ws(ps);
	if (*ps->p == '\'' || *ps->p == '"') {
		*quoted = true;
		return read_quoted(ps, out, err);
	}
	*quoted = false;
	const char *start = ps->p;
	if (*ps->p == '-' || *ps->p == '+')
		ps->p++;
	while (isalnum((unsigned char)*ps->p) || *ps->p == '.' || *ps->p == '_')
		ps->p++;
	if (ps->p == start)
		return bad_clause(ps, err, "expected a value");
	*out = core_xstrndup(start, (size_t)(ps->p - start));
	return CORE_OK;
}

static bool is_integer(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!*s || strlen(s) > 18)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Which attribute keys and comparators each search takes. */
static enum core_status check_clause(struct parser *ps, bool is_tag, const char *key, const char *op, const char **kind,
				     struct core_error *err)
{
	static const char *const str_ops[] = {"=", "!=", "LIKE", "ILIKE"};
	bool in_op = strcmp(op, "IN") == 0 || strcmp(op, "NOT IN") == 0;
	bool str_op = false;
	for (size_t i = 0; i < sizeof str_ops / sizeof str_ops[0]; i++)
		str_op = str_op || strcmp(op, str_ops[i]) == 0;
	if (is_tag) {
		*kind = "tag";
		if (!str_op)
			return core_fail(err, CORE_EINVAL, "Invalid comparator for tag: %s (filter '%s')", op,
					 ps->filter);
		return CORE_OK;
	}
	if (ps->kind == MR_SEARCH_MODELS) {
		if (strcmp(key, "name") != 0)
			return core_fail(err, CORE_EINVAL,
					 "Invalid attribute key '%s' specified. Valid keys are '{'name'}'", key);
		*kind = "attr";
		if (!str_op)
			return core_fail(err, CORE_EINVAL, "Invalid comparator for attribute: %s", op);
		return CORE_OK;
	}
	if (strcmp(key, "version_number") == 0) {
		*kind = "num";
		if (strcmp(op, "LIKE") == 0 || strcmp(op, "ILIKE") == 0)
			return core_fail(err, CORE_EINVAL, "Invalid comparator for attribute: %s", op);
		return CORE_OK;
	}
	if (strcmp(key, "name") != 0 && strcmp(key, "run_id") != 0 && strcmp(key, "source_path") != 0)
		return core_fail(err, CORE_EINVAL,
				 "Invalid attribute key '%s' specified. Valid keys are "
				 "'{'name', 'run_id', 'source_path', 'version_number'}'",
				 key);
	*kind = "attr";
	if (!str_op && !in_op)
		return core_fail(err, CORE_EINVAL, "Invalid comparator for attribute: %s", op);
	return CORE_OK;
}

/* The value of one clause: scalar, or a parenthesised list for IN (as a JSON array). */
static enum core_status read_value(struct parser *ps, const char *kind, const char *op, char **out,
				   struct core_error *err)
{
	bool numeric = strcmp(kind, "num") == 0, quoted = false;
	enum core_status rc;
	skip_ws(ps);
	if (strcmp(op, "IN") == 0 || strcmp(op, "NOT IN") == 0) {
		if (*ps->p != '(')
			return bad_clause(ps, err, "IN takes a parenthesised list");
		ps->p++;
		json_t *list = json_array();
		for (;;) {
			char *v = NULL;
			rc = read_scalar(ps, &v, &quoted, err);
			if (rc == CORE_OK && numeric && !is_integer(v))
				rc = core_fail(err, CORE_EINVAL,
					       "Expected an integer value for version_number, got '%s'", v);
			if (rc == CORE_OK && !numeric && !quoted)
				rc = bad_clause(ps, err, "string values must be quoted");
			if (rc != CORE_OK) {
				free(v);
				json_decref(list);
				return rc;
			}
			json_array_append_new(list, json_string(v));
			free(v);
			skip_ws(ps);
			if (*ps->p == ',') {
				ps->p++;
				continue;
			}
			if (*ps->p == ')') {
				ps->p++;
				break;
			}
			json_decref(list);
			return bad_clause(ps, err, "unterminated list");
		}
		*out = json_dumps(list, JSON_COMPACT);
		json_decref(list);
		return *out ? CORE_OK : core_fail(err, CORE_EINVAL, "filter list too large");
	}
	rc = read_scalar(ps, out, &quoted, err);
	if (rc != CORE_OK)
		return rc;
	if (numeric && !is_integer(*out))
		return core_fail(err, CORE_EINVAL, "Expected an integer value for version_number, got '%s'", *out);
	if (!numeric && !quoted)
		return core_fail(err, CORE_EINVAL,
				 "Parameter value is either not quoted or unidentified quote types used for string "
				 "value %s. Use either single or double quotes.",
				 *out);
	return CORE_OK;
}

static enum core_status parse_clause(struct parser *ps, struct core_error *err)
{
	bool is_tag = false;
	char *key = NULL, *value = NULL;
	const char *op, *kind = NULL;
	enum core_status rc;

	if (ps->n == MR_FILTER_MAX_CLAUSES)
		return core_fail(err, CORE_EINVAL, "Too many clauses in filter string (at most %d)",
				 MR_FILTER_MAX_CLAUSES);
	skip_ws(ps);
	rc = read_ident(ps, &is_tag, &key, err);
	if (rc != CORE_OK)
		goto out;
	skip_ws(ps);
	op = read_comparator(ps);
	if (!op) {
		rc = bad_clause(ps, err, "expected a comparator");
		goto out;
	}
	rc = check_clause(ps, is_tag, key, op, &kind, err);
	if (rc != CORE_OK)
		goto out;
	rc = read_value(ps, kind, op, &value, err);
	if (rc != CORE_OK)
		goto out;
	ps->clauses[ps->n++] = (struct clause){.kind = kind, .key = key, .op = op, .value = value};
	key = value = NULL;
out:
	free(key);
	free(value);
	return rc;
}

char *mr_pg_array(const char *const *items, size_t n)
{
	struct core_buf b;
	core_buf_init(&b, (size_t)1 << 30);
	core_buf_append_str(&b, "{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			core_buf_append_str(&b, ",");
		core_buf_append_str(&b, "\"");
		for (const char *p = items[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				core_buf_append_str(&b, "\\");
			core_buf_append(&b, p, 1);
		}
		core_buf_append_str(&b, "\"");
	}
	core_buf_append_str(&b, "}");
	return core_buf_steal(&b, NULL);
}

void mr_filter_free(struct mr_filter *f)
{
	for (size_t i = 0; i < 4; i++) {
		free(f->arrays[i]);
		f->arrays[i] = NULL;
	}
	f->n_clauses = 0;
}

enum core_status mr_filter_parse(const char *filter, enum mr_search_kind kind, struct mr_filter *out,
				 struct core_error *err)
{
	struct parser ps = {.filter = filter ? filter : "", .p = filter ? filter : "", .kind = kind};
	enum core_status rc = CORE_OK;

	memset(out, 0, sizeof *out);
	skip_ws(&ps);
	while (*ps.p) {
		rc = parse_clause(&ps, err);
		if (rc != CORE_OK)
			goto out;
		skip_ws(&ps);
		if (!*ps.p)
			break;
		if (strncasecmp(ps.p, "AND", 3) != 0 || !isspace((unsigned char)ps.p[3])) {
			rc = bad_clause(&ps, err, "clauses are joined by AND");
			goto out;
		}
		ps.p += 3;
		skip_ws(&ps);
		if (!*ps.p) {
			rc = bad_clause(&ps, err, "nothing after AND");
			goto out;
		}
	}
	const char *cols[4][MR_FILTER_MAX_CLAUSES];
	for (size_t i = 0; i < ps.n; i++) {
		cols[0][i] = ps.clauses[i].kind;
		cols[1][i] = ps.clauses[i].key;
		cols[2][i] = ps.clauses[i].op;
		cols[3][i] = ps.clauses[i].value;
	}
	for (size_t k = 0; k < 4; k++)
		out->arrays[k] = mr_pg_array(cols[k], ps.n);
	out->n_clauses = ps.n;
out:
	for (size_t i = 0; i < ps.n; i++) {
		free(ps.clauses[i].key);
		free(ps.clauses[i].value);
	}
	return rc;
}

/* --- order_by --------------------------------------------------------------------- */

struct order_key {
	const char *name; /* as the client writes it */
	char letter;      /* in the shape */
	const char *column;
};

static const struct order_key model_keys[] = {
	{"name", 'n', "r.name COLLATE \"C\""},
	{"timestamp", 'u', "r.last_updated_time"},
	{"last_updated_timestamp", 'u', "r.last_updated_time"},
	{"creation_timestamp", 'c', "r.creation_time"},
	{NULL, 0, NULL},
};

static const struct order_key version_keys[] = {
	{"name", 'n', "v.name COLLATE \"C\""},          {"version_number", 'v', "v.version"},
	{"timestamp", 'u', "v.last_updated_time"},      {"last_updated_timestamp", 'u', "v.last_updated_time"},
	{"creation_timestamp", 'c', "v.creation_time"}, {NULL, 0, NULL},
};

static const struct order_key *find_key(const struct order_key *keys, const char *name, size_t len)
{
	for (const struct order_key *k = keys; k->name; k++)
		if (strlen(k->name) == len && strncmp(k->name, name, len) == 0)
			return k;
	return NULL;
}

static const struct order_key *find_letter(const struct order_key *keys, char letter)
{
	for (const struct order_key *k = keys; k->name; k++)
		if (k->letter == letter)
			return k;
	return NULL;
}

/* Appends "column ASC|DESC" and the shape letters; false when a buffer is full. */
static bool add_order(struct core_buf *sql, struct core_buf *shape, const struct order_key *k, bool asc)
{
	char sign = asc ? '+' : '-';
	return (sql->len == 0 || core_buf_append_str(sql, ", ") == CORE_OK) &&
	       core_buf_printf(sql, "%s %s", k->column, asc ? "ASC" : "DESC") == CORE_OK &&
	       core_buf_append(shape, &k->letter, 1) == CORE_OK && core_buf_append(shape, &sign, 1) == CORE_OK;
}

enum core_status mr_order_parse(const char *const *order_by, size_t n, enum mr_search_kind kind, char *sql,
				size_t sql_size, char *shape, size_t shape_size, struct core_error *err)
{
	const struct order_key *keys = kind == MR_SEARCH_MODELS ? model_keys : version_keys;
	struct core_buf sb, hb;
	char seen[8] = "";
	size_t n_seen = 0;
	enum core_status rc = CORE_OK;

	core_buf_init(&sb, sql_size - 1);
	core_buf_init(&hb, shape_size - 1);
	for (size_t i = 0; i < n; i++) {
		const char *p = order_by[i];
		while (isspace((unsigned char)*p))
			p++;
		const char *start = p;
		if (*p == '`') {
			start = ++p;
			while (*p && *p != '`')
				p++;
		} else {
			while (*p && !isspace((unsigned char)*p))
				p++;
		}
		size_t len = (size_t)(p - start);
		if (*p == '`')
			p++;
		/* "attribute.name" is accepted as "name" */
		if (len > 10 && strncmp(start, "attribute.", 10) == 0) {
			start += 10;
			len -= 10;
		}
		while (isspace((unsigned char)*p))
			p++;
		bool asc = true;
		if (strcasecmp(p, "DESC") == 0 || strncasecmp(p, "DESC ", 5) == 0)
			asc = false, p += 4;
		else if (strcasecmp(p, "ASC") == 0 || strncasecmp(p, "ASC ", 4) == 0)
			p += 3;
		while (isspace((unsigned char)*p))
			p++;
		const struct order_key *k = find_key(keys, start, len);
		if (*p || len == 0) {
			rc = core_fail(err, CORE_EINVAL, "Invalid order_by clause '%s'. Could not be parsed.",
				       order_by[i]);
			goto out;
		}
		if (!k) {
			rc = core_fail(err, CORE_EINVAL, "Invalid order by key '%.*s' specified. Valid keys are %s",
				       (int)len, start,
				       kind == MR_SEARCH_MODELS
					       ? "'['name', 'last_updated_timestamp', 'creation_timestamp']'"
					       : "'['name', 'version_number', 'last_updated_timestamp', "
						 "'creation_timestamp']'");
			goto out;
		}
		if (strchr(seen, k->letter)) {
			rc = core_fail(err, CORE_EINVAL, "`order_by` contains duplicate fields: %s", order_by[i]);
			goto out;
		}
		seen[n_seen++] = k->letter;
		if (!add_order(&sb, &hb, k, asc)) {
			rc = core_fail(err, CORE_EINVAL, "order_by too long");
			goto out;
		}
	}
	/* MLflow's tie-breakers */
	if (!strchr(seen, 'n') && !add_order(&sb, &hb, find_letter(keys, 'n'), true))
		rc = core_fail(err, CORE_EINVAL, "order_by too long");
	if (rc == CORE_OK && kind == MR_SEARCH_VERSIONS && !strchr(seen, 'v') &&
	    !add_order(&sb, &hb, find_letter(keys, 'v'), false))
		rc = core_fail(err, CORE_EINVAL, "order_by too long");
	if (rc == CORE_OK) {
		snprintf(sql, sql_size, "%s", sb.data ? sb.data : "");
		snprintf(shape, shape_size, "%s", hb.data ? hb.data : "");
	}
out:
	core_buf_free(&sb);
	core_buf_free(&hb);
	return rc;
}
