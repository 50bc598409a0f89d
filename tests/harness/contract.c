/* OpenAPI contract checks for the integration tests (face: contract.h). A small
 * JSON-Schema subset is enough here because our own documents are the only input:
 * what it does not understand it rejects loudly (an unknown "type"), so a document
 * cannot silently check less than it seems to. */
#include "contract.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *load_json_file(const char *path)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		ck_abort_msg("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
	return doc;
}

json_t *th_contract_load(const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/proto/openapi/%s.yaml", th_env("LATHE_ROOT"), name);
	json_t *doc = load_json_file(path);
	ck_assert_msg(json_is_object(json_object_get(doc, "paths")), "%s has no paths", name);
	return doc;
}

/* --- paths -------------------------------------------------------------------------- */

/* Whether the concrete path matches the document's template. */
static bool template_matches(const char *tmpl, const char *path, bool rest)
{
	while (*tmpl && *path) {
		if (*tmpl == '{') {
			const char *close = strchr(tmpl, '}');
			if (!close)
				return false;
			bool last = close[1] == '\0';
			size_t seg = strcspn(path, "/");
			if (seg == 0)
				return false;
			if (rest && last)
				return true; /* the rest parameter takes everything left */
			tmpl = close + 1;
			path += seg;
			continue;
		}
		if (*tmpl != *path)
			return false;
		tmpl++;
		path++;
	}
	return *tmpl == '\0' && *path == '\0';
}

/* Finds the path item for a concrete path (query stripped, ajax twin mapped); its
 * template into *tmpl_out when not NULL. */
static json_t *find_path_item(json_t *doc, const char *raw_path, const char **tmpl_out)
{
	char path[2048];
	snprintf(path, sizeof path, "%s", raw_path);
	path[strcspn(path, "?")] = '\0';
	const char *ajax = "/ajax-api/2.0/";
	if (json_is_true(json_object_get(doc, "x-lathe-ajax-twins")) && strncmp(path, ajax, strlen(ajax)) == 0) {
		char mapped[2048];
		snprintf(mapped, sizeof mapped, "/api/2.0/%s", path + strlen(ajax));
		snprintf(path, sizeof path, "%s", mapped);
	}
	const char *tmpl;
	json_t *item;
	json_t *found = NULL;
	json_object_foreach(json_object_get(doc, "paths"), tmpl, item)
	{
		bool rest = json_is_true(json_object_get(item, "x-lathe-rest"));
		/* a literal path wins over a template that also matches */
		if (strcmp(tmpl, path) == 0) {
			if (tmpl_out)
				*tmpl_out = tmpl;
			return item;
		}
		if (!found && template_matches(tmpl, path, rest)) {
			found = item;
			if (tmpl_out)
				*tmpl_out = tmpl;
		}
	}
	return found;
}

/* --- schemas ------------------------------------------------------------------------ */

static json_t *resolve_ref(json_t *doc, const char *ref)
{
	const char *prefix = "#/components/schemas/";
	ck_assert_msg(strncmp(ref, prefix, strlen(prefix)) == 0, "unsupported $ref %s", ref);
	const char *name = ref + strlen(prefix);
	json_t *s = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), name);
	ck_assert_msg(s != NULL, "$ref %s not found", ref);
	return s;
}

static bool type_ok(const char *type, const json_t *v)
{
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "null") == 0)
		return json_is_null(v);
	ck_abort_msg("schema uses unknown type %s", type);
	return false;
}

/* Returns NULL when v is valid, else a description of the first problem (static). */
static const char *validate(json_t *doc, json_t *schema, json_t *v, char *where, size_t where_size);

static const char *validate_any_of(json_t *doc, json_t *list, json_t *v, char *where, size_t where_size)
{
	size_t i;
	json_t *alt;
	json_array_foreach(list, i, alt)
	{
		if (!validate(doc, alt, v, where, where_size))
			return NULL;
	}
	return "matches none of oneOf/anyOf";
}

static const char *validate_object(json_t *doc, json_t *schema, json_t *v, char *where, size_t where_size)
{
	size_t i;
	json_t *req;
	json_array_foreach(json_object_get(schema, "required"), i, req)
	{
		if (!json_object_get(v, json_string_value(req))) {
			snprintf(where + strlen(where), where_size - strlen(where), ".%s", json_string_value(req));
			return "required member missing";
		}
	}
	json_t *props = json_object_get(schema, "properties");
	bool closed = json_is_false(json_object_get(schema, "additionalProperties"));
	const char *key;
	json_t *member;
	json_object_foreach(v, key, member)
	{
		json_t *sub = json_object_get(props, key);
		size_t len = strlen(where);
		snprintf(where + len, where_size - len, ".%s", key);
		if (!sub && closed)
			return "member not in the schema";
		if (sub) {
			const char *bad = validate(doc, sub, member, where, where_size);
			if (bad)
				return bad;
		}
		where[len] = '\0';
	}
	return NULL;
}

static const char *validate(json_t *doc, json_t *schema, json_t *v, char *where, size_t where_size)
{
	const char *ref = json_string_value(json_object_get(schema, "$ref"));
	if (ref)
		return validate(doc, resolve_ref(doc, ref), v, where, where_size);
	if (json_is_null(v) && json_is_true(json_object_get(schema, "nullable")))
		return NULL; /* OpenAPI 3.0's way of saying "or null" */
	json_t *alts = json_object_get(schema, "oneOf");
	if (!alts)
		alts = json_object_get(schema, "anyOf");
	if (alts)
		return validate_any_of(doc, alts, v, where, where_size);
	json_t *type = json_object_get(schema, "type");
	if (json_is_string(type) && !type_ok(json_string_value(type), v))
		return "wrong type";
	if (json_is_array(type)) {
		bool any = false;
		size_t i;
		json_t *t;
		json_array_foreach(type, i, t) any = any || type_ok(json_string_value(t), v);
		if (!any)
			return "wrong type";
	}
	json_t *enumeration = json_object_get(schema, "enum");
	if (enumeration) {
		bool any = false;
		size_t i;
		json_t *e;
		json_array_foreach(enumeration, i, e) any = any || json_equal(e, v);
		if (!any)
			return "value not in enum";
	}
	if (json_is_object(v))
		return validate_object(doc, schema, v, where, where_size);
	if (json_is_array(v) && json_object_get(schema, "items")) {
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item)
		{
			size_t len = strlen(where);
			snprintf(where + len, where_size - len, "[%zu]", i);
			const char *bad = validate(doc, json_object_get(schema, "items"), item, where, where_size);
			if (bad)
				return bad;
			where[len] = '\0';
		}
	}
	return NULL;
}

static void lower(char *out, size_t size, const char *method)
{
	size_t i = 0;
	for (; method[i] && i + 1 < size; i++)
		out[i] = (char)(method[i] >= 'A' && method[i] <= 'Z' ? method[i] + 32 : method[i]);
	out[i] = '\0';
}

void th_contract_check(json_t *doc, const char *method, const char *path, const struct th_response *r)
{
	json_t *item = find_path_item(doc, path, NULL);
	ck_assert_msg(item != NULL, "contract: %s is not in the document", path);
	char m[16];
	lower(m, sizeof m, method);
	json_t *op = json_object_get(item, m);
	ck_assert_msg(op != NULL, "contract: %s %s is not in the document", method, path);
	char status[8];
	snprintf(status, sizeof status, "%ld", r->status);
	json_t *responses = json_object_get(op, "responses");
	json_t *resp = json_object_get(responses, status);
	if (!resp)
		resp = json_object_get(responses, "default");
	ck_assert_msg(resp != NULL, "contract: %s %s does not document status %ld", method, path, r->status);
	json_t *schema =
		json_object_get(json_object_get(json_object_get(resp, "content"), "application/json"), "schema");
	if (!schema)
		return;
	ck_assert_msg(r->json != NULL, "contract: %s %s %ld should answer JSON: %s", method, path, r->status, r->body);
	char where[512] = "$";
	const char *bad = validate(doc, schema, r->json, where, sizeof where);
	ck_assert_msg(bad == NULL, "contract: %s %s %ld: %s at %s in %s", method, path, r->status, bad ? bad : "",
		      where, r->body);
}

void th_contract_media_type(json_t *doc, const char *method, const char *path, long status, const char *content_type)
{
	json_t *item = find_path_item(doc, path, NULL);
	ck_assert_msg(item != NULL, "contract: %s is not in the document", path);
	char m[16], code[8], type[128];
	lower(m, sizeof m, method);
	snprintf(code, sizeof code, "%ld", status);
	ck_assert_ptr_nonnull(content_type);
	snprintf(type, sizeof type, "%.*s", (int)strcspn(content_type, "; "), content_type);
	json_t *content = json_object_get(json_object_get(json_object_get(json_object_get(item, m), "responses"), code),
					  "content");
	ck_assert_msg(json_object_get(content, type) != NULL,
		      "contract: %s %s %ld answers Content-Type '%s', which the document does not list", method, path,
		      status, content_type);
}

/* --- a session's coverage ------------------------------------------------------------- */

void th_contract_note(struct th_contract_cover *c, const char *method, const char *path, const struct th_response *r)
{
	th_contract_check(c->doc, method, path, r);
	if (r->status < 200 || r->status >= 300)
		return;
	const char *tmpl = NULL;
	find_path_item(c->doc, path, &tmpl);
	char key[sizeof c->seen[0]];
	snprintf(key, sizeof key, "%.8s %.180s", method, tmpl);
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->seen[i], key) == 0)
			return;
	ck_assert_uint_lt(c->n, TH_CONTRACT_OPS_MAX);
	snprintf(c->seen[c->n++], sizeof c->seen[0], "%s", key);
}

void th_contract_expect_all(const struct th_contract_cover *c, size_t n_ops)
{
	static const char *const methods[] = {"get", "post", "put", "delete", "patch"};
	const char *tmpl;
	json_t *item;
	size_t n = 0;
	json_object_foreach(json_object_get(c->doc, "paths"), tmpl, item)
	{
		for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
			if (!json_object_get(item, methods[m]))
				continue;
			n++;
			char key[sizeof c->seen[0]], upper[8];
			size_t k = 0;
			for (; methods[m][k]; k++)
				upper[k] = (char)(methods[m][k] - 32);
			upper[k] = '\0';
			snprintf(key, sizeof key, "%s %.180s", upper, tmpl);
			bool found = false;
			for (size_t i = 0; i < c->n && !found; i++)
				found = strcmp(c->seen[i], key) == 0;
			ck_assert_msg(found, "the session never got a 2xx from %s", key);
		}
	}
	ck_assert_uint_eq(n, n_ops);
}

/* --- routes ------------------------------------------------------------------------- */

/* Writes the template with every {param} written as {} (names do not matter). */
static void normalise(const char *tmpl, char *out, size_t size)
{
	size_t k = 0;
	for (const char *p = tmpl; *p && k + 3 < size; p++) {
		if (*p == '{') {
			out[k++] = '{';
			out[k++] = '}';
			p = strchr(p, '}');
			if (!p)
				break;
			continue;
		}
		out[k++] = *p;
	}
	out[k] = '\0';
}

static bool doc_has(json_t *doc, const char *method, const char *pattern)
{
	char want[1024], have[1024], m[16];
	normalise(pattern, want, sizeof want);
	lower(m, sizeof m, method);
	const char *tmpl;
	json_t *item;
	json_object_foreach(json_object_get(doc, "paths"), tmpl, item)
	{
		normalise(tmpl, have, sizeof have);
		if (strcmp(have, want) == 0 && json_object_get(item, m))
			return true;
	}
	return false;
}

void th_contract_routes(json_t *doc, const char *service)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s/lathe-%s --routes", th_env("LATHE_TEST_BIN"), service);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char line[1024];
	char *served = NULL;
	size_t served_len = 0;
	FILE *served_f = open_memstream(&served, &served_len);
	const char *ajax = "/ajax-api/2.0/";
	bool twins = json_is_true(json_object_get(doc, "x-lathe-ajax-twins"));
	while (fgets(line, sizeof line, p)) {
		line[strcspn(line, "\n")] = '\0';
		char *space = strchr(line, ' ');
		ck_assert_ptr_nonnull(space);
		*space = '\0';
		const char *method = line, *pattern = space + 1;
		char mapped[1024];
		if (twins && strncmp(pattern, ajax, strlen(ajax)) == 0) {
			snprintf(mapped, sizeof mapped, "/api/2.0/%s", pattern + strlen(ajax));
			pattern = mapped;
		}
		char norm[1024];
		normalise(pattern, norm, sizeof norm);
		fprintf(served_f, "%s %s\n", method, norm);
		if (strcmp(method, "HEAD") == 0)
			continue;
		ck_assert_msg(doc_has(doc, method, pattern), "contract: %s serves %s %s, the document lacks it",
			      service, method, pattern);
	}
	ck_assert_int_eq(pclose(p), 0);
	fclose(served_f);
	static const char *const methods[] = {"get", "post", "put", "delete", "patch"};
	const char *tmpl;
	json_t *item;
	json_object_foreach(json_object_get(doc, "paths"), tmpl, item)
	{
		for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
			if (!json_object_get(item, methods[i]))
				continue;
			char upper[16], norm[1024], needle[1100];
			size_t k = 0;
			for (; methods[i][k]; k++)
				upper[k] = (char)(methods[i][k] - 32);
			upper[k] = '\0';
			normalise(tmpl, norm, sizeof norm);
			snprintf(needle, sizeof needle, "%s %s\n", upper, norm);
			ck_assert_msg(strstr(served, needle), "contract: the document has %s %s, %s does not serve it",
				      upper, tmpl, service);
		}
	}
	free(served);
}
