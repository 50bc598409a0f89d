/* The event envelope: CloudEvents 1.0 in structured JSON mode, the one shape every
 * Lathe event has on Kafka (docs/architecture.md, "Events"):
 *   {"specversion":"1.0","id":"<uuid>","source":"/registry","type":"lathe.model.created",
 *    "subject":"<entity id>","time":"2026-11-22T16:20:01.123Z",
 *    "datacontenttype":"application/json","data":{...}}
 * bus_event_new builds one (id from core_id_uuid, time from core_now_ms), bus_event_text
 * writes the same as text around data already serialized; bus_event_parse
 * checks what a consumer may rely on: the four attributes CloudEvents requires (id,
 * source, specversion, type) and the form of the optional ones it finds. Extension
 * attributes are kept and not checked. Pure functions: no state, any thread. */
#include <stdio.h>
#include <string.h>
#include "bus/bus.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/time.h"

json_t *bus_event_new(const char *source, const char *type, const char *subject, json_t *data)
{
	json_t *ev = NULL;
	if (!source || !*source || !type || !*type)
		goto cleanup;
	char id[37];
	char when[32];
	core_id_uuid(id);
	core_time_iso8601(core_now_ms(), when);
	ev = json_object();
	if (!ev)
		goto cleanup;
	int bad = json_object_set_new(ev, "specversion", json_string("1.0"));
	bad |= json_object_set_new(ev, "id", json_string(id));
	bad |= json_object_set_new(ev, "source", json_string(source));
	bad |= json_object_set_new(ev, "type", json_string(type));
	if (subject)
		bad |= json_object_set_new(ev, "subject", json_string(subject));
	bad |= json_object_set_new(ev, "time", json_string(when));
	bad |= json_object_set_new(ev, "datacontenttype", json_string("application/json"));
	if (data) {
		bad |= json_object_set_new(ev, "data", data);
		data = NULL; /* json_object_set_new steals it even when it fails */
	}
	if (bad) {
		json_decref(ev);
		ev = NULL;
	}
cleanup:
	json_decref(data);
	return ev;
}

static enum core_status put_str(struct core_buf *out, const char *key, const char *value)
{
	enum core_status st = core_buf_append_str(out, key);
	if (st == CORE_OK)
		st = core_buf_append(out, "\"", 1);
	if (st == CORE_OK)
		st = core_buf_append_json_escaped(out, value);
	if (st == CORE_OK)
		st = core_buf_append(out, "\"", 1);
	return st;
}

enum core_status bus_event_text(struct core_buf *out, const char *source, const char *type, const char *subject,
				const char *data, size_t data_len)
{
	if (!source || !*source || !type || !*type)
		return CORE_EINVAL;
	char id[37], when[32];
	core_id_uuid(id);
	core_time_iso8601(core_now_ms(), when);
	enum core_status st = put_str(out, "{\"specversion\":", "1.0");
	if (st == CORE_OK)
		st = put_str(out, ",\"id\":", id);
	if (st == CORE_OK)
		st = put_str(out, ",\"source\":", source);
	if (st == CORE_OK)
		st = put_str(out, ",\"type\":", type);
	if (st == CORE_OK && subject)
		st = put_str(out, ",\"subject\":", subject);
	if (st == CORE_OK)
		st = put_str(out, ",\"time\":", when);
	if (st == CORE_OK)
		st = put_str(out, ",\"datacontenttype\":", "application/json");
	if (st == CORE_OK && data) {
		st = core_buf_append_str(out, ",\"data\":");
		if (st == CORE_OK)
			st = core_buf_append(out, data, data_len);
	}
	if (st == CORE_OK)
		st = core_buf_append(out, "}", 1);
	return st;
}

/* Reads exactly n decimal digits at s into *v. */
static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

static int days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), T and Z in
 * either case, every field in range (a leap second 60 allowed). */
static bool is_rfc3339(const char *s)
{
	int y, mo, d, h, mi, sec, oh, om;
	size_t n = strlen(s);
	if (n < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return false;
	const char *p = s + 19;
	if (*p == '.') {
		const char *frac = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == frac)
			return false;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return true;
	if ((*p != '+' && *p != '-') || strlen(p) != 6 || !digits(p + 1, 2, &oh) || p[3] != ':' ||
	    !digits(p + 4, 2, &om))
		return false;
	return oh <= 23 && om <= 59;
}

/* Checks that member name of ev is a string (non-empty when required); absent is fine
 * unless required. */
static enum core_status check_string(const json_t *ev, const char *name, bool required, struct core_error *err)
{
	const json_t *v = json_object_get(ev, name);
	if (!v)
		return required ? core_fail(err, CORE_EINVAL, "event: attribute '%s' is missing", name) : CORE_OK;
	if (!json_is_string(v))
		return core_fail(err, CORE_EINVAL, "event: attribute '%s' must be a string", name);
	if (required && json_string_length(v) == 0)
		return core_fail(err, CORE_EINVAL, "event: attribute '%s' is empty", name);
	return CORE_OK;
}

enum core_status bus_event_parse(const char *payload, size_t len, json_t **event_out, struct core_error *err)
{
	enum core_status rc = CORE_EINVAL;
	json_error_t jerr;
	json_t *ev = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!ev) {
		rc = core_fail(err, CORE_EINVAL, "event: not JSON: %s (at %d:%d)", jerr.text, jerr.line, jerr.column);
		goto cleanup;
	}
	if (!json_is_object(ev)) {
		rc = core_fail(err, CORE_EINVAL, "event: not a JSON object");
		goto cleanup;
	}
	static const char *const required[] = {"specversion", "id", "source", "type"};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		rc = check_string(ev, required[i], true, err);
		if (rc != CORE_OK)
			goto cleanup;
	}
	const char *version = json_string_value(json_object_get(ev, "specversion"));
	if (strcmp(version, "1.0") != 0) {
		rc = core_fail(err, CORE_EINVAL, "event: specversion '%s' is not 1.0", version);
		goto cleanup;
	}
	static const char *const optional[] = {"subject", "time", "datacontenttype", "dataschema"};
	for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++) {
		rc = check_string(ev, optional[i], false, err);
		if (rc != CORE_OK)
			goto cleanup;
	}
	const char *when = json_string_value(json_object_get(ev, "time"));
	if (when && !is_rfc3339(when)) {
		rc = core_fail(err, CORE_EINVAL, "event: time '%s' is not an RFC 3339 timestamp", when);
		goto cleanup;
	}
	*event_out = ev;
	ev = NULL;
	rc = CORE_OK;
cleanup:
	json_decref(ev);
	return rc;
}
