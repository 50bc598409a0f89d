/* A prediction event read for a window (face: dm.h, event.c section), pure. The stream
 * reads hundreds of thousands of events a second, and building a jansson tree of each
 * (an allocation per member and value, then freeing them all) was four fifths of its
 * time; so dm_event_scan reads the few members a window needs straight from the text,
 * as the inference API writes the event straight into text: the CloudEvent's type, and
 * in its data model, version, request_id, timestamp, row, role, the features or the
 * image summary, label, probability and prediction. Everything else is skipped.
 * The scan takes the common form only: a string with an escape, a nesting deeper than
 * DM_EVENT_DEPTH, more than DM_EVENT_VALUES values or anything malformed makes it give
 * up (false), and the stream reads that event with jansson (bus_event_parse) and
 * dm_event_of_json, which fills the same struct, so both roads lead to one window.
 * Strings point into the text (or the jansson tree) and are not NUL-terminated.
 * The stream groups a batch by each event's head (dm_event_scan_head stops once it has
 * the grouping members) and reads it whole when it applies it; dm_event_agrees tells an
 * event whose whole text says otherwise than its head (a member given twice, which the
 * scan reads last-wins). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/fmt.h"
#include "dm.h"

#define DM_EVENT_DEPTH 32

struct scan {
	const char *p, *end;
	int depth;
	bool head; /* only what groups the event: its values are skipped unread */
	bool done; /* head: everything that groups it read, the rest left unread */
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool eat(struct scan *s, char c)
{
	ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

/* A string without escapes into *out (the bytes between the quotes). */
static bool string(struct scan *s, struct dm_str *out)
{
	ws(s);
	if (s->p >= s->end || *s->p != '"')
		return false;
	const char *start = ++s->p;
	while (s->p < s->end && *s->p != '"') {
		if (*s->p == '\\' || (unsigned char)*s->p < 0x20)
			return false;
		s->p++;
	}
	if (s->p >= s->end)
		return false;
	*out = (struct dm_str){start, (size_t)(s->p - start)};
	s->p++;
	return true;
}

/* Moves past a number's characters; how many there were. */
static size_t number_span(struct scan *s)
{
	ws(s);
	const char *start = s->p;
	while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || *s->p == '-' || *s->p == '+' || *s->p == '.' ||
				 *s->p == 'e' || *s->p == 'E'))
		s->p++;
	return (size_t)(s->p - start);
}

/* A number: its text (at most DM_NUM_TEXT - 1 bytes) and value. */
static bool number(struct scan *s, struct dm_value *v)
{
	const char *start = (ws(s), s->p);
	size_t n = number_span(s);
	if (n == 0 || n >= DM_NUM_TEXT)
		return false;
	memcpy(v->text, start, n);
	v->text[n] = '\0';
	char *e;
	v->num = core_strtod(v->text, &e);
	if (*e != '\0')
		return false;
	v->kind = DM_VAL_NUM;
	return true;
}

static bool literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);
	ws(s);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool skip_value(struct scan *s);

static bool skip_container(struct scan *s, char open, char close)
{
	if (!eat(s, open) || ++s->depth > DM_EVENT_DEPTH)
		return false;
	if (eat(s, close)) {
		s->depth--;
		return true;
	}
	do {
		struct dm_str k;
		if (open == '{' && (!string(s, &k) || !eat(s, ':')))
			return false;
		if (!skip_value(s))
			return false;
	} while (eat(s, ','));
	s->depth--;
	return eat(s, close);
}

static bool skip_value(struct scan *s)
{
	ws(s);
	if (s->p >= s->end)
		return false;
	struct dm_str str;
	switch (*s->p) {
	case '"':
		return string(s, &str);
	case '{':
		return skip_container(s, '{', '}');
	case '[':
		return skip_container(s, '[', ']');
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	default: /* a number's characters, unconverted: skipped values are never read */
		return number_span(s) > 0;
	}
}

/* A scalar value into *v: a number, a string, null (missing); false for anything else. */
static bool scalar(struct scan *s, struct dm_value *v)
{
	ws(s);
	v->kind = DM_VAL_MISSING;
	if (s->p >= s->end)
		return false;
	if (*s->p == '"') {
		v->kind = DM_VAL_STR;
		return string(s, &v->str);
	}
	if (*s->p == 'n')
		return literal(s, "null");
	if (*s->p == 't' || *s->p == 'f' || *s->p == '{' || *s->p == '[')
		return false;
	return number(s, v);
}

static bool is(struct dm_str k, const char *name)
{
	size_t n = strlen(name);
	return k.n == n && memcmp(k.p, name, n) == 0;
}

/* {"name": scalar, ...} into ev->values. */
static bool values(struct scan *s, struct dm_event *ev)
{
	if (!eat(s, '{'))
		return false;
	if (eat(s, '}'))
		return true;
	do {
		if (ev->n_values == DM_EVENT_VALUES)
			return false;
		struct dm_value *v = &ev->values[ev->n_values];
		if (!string(s, &v->name) || !eat(s, ':') || !scalar(s, v))
			return false;
		ev->n_values++;
	} while (eat(s, ','));
	return eat(s, '}');
}

/* [scalar, ...] into ev->pred. */
static bool outputs(struct scan *s, struct dm_event *ev)
{
	if (!eat(s, '['))
		return false;
	if (eat(s, ']'))
		return true;
	do {
		if (ev->n_pred == DM_EVENT_VALUES)
			return false;
		if (!scalar(s, &ev->pred[ev->n_pred++]))
			return false;
	} while (eat(s, ','));
	return eat(s, ']');
}

/* The members of "data" the scan reads (M_NONE: one it skips). A member given twice
 * makes the scan give up, so the event is read by jansson (bus_event_parse), which
 * refuses it: both readers agree on such a text, and last-wins never decides. features
 * and image share one: an event has one or the other. */
enum member {
	M_NONE = -1,
	M_MODEL,
	M_VERSION,
	M_REQUEST_ID,
	M_TIMESTAMP,
	M_ROLE,
	M_LABEL,
	M_ROW,
	M_PROBABILITY,
	M_VALUES,
	M_PREDICTION
};

static enum member member_of(struct dm_str k)
{
	static const struct {
		const char *name;
		enum member m;
	} known[] = {{"model", M_MODEL},
		     {"version", M_VERSION},
		     {"request_id", M_REQUEST_ID},
		     {"timestamp", M_TIMESTAMP},
		     {"role", M_ROLE},
		     {"label", M_LABEL},
		     {"row", M_ROW},
		     {"probability", M_PROBABILITY},
		     {"features", M_VALUES},
		     {"image", M_VALUES},
		     {"prediction", M_PREDICTION}};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (is(k, known[i].name))
			return known[i].m;
	return M_NONE;
}

static bool str_or_null(struct scan *s, struct dm_str *out)
{
	ws(s);
	if (s->p < s->end && *s->p == 'n') {
		*out = (struct dm_str){NULL, 0};
		return literal(s, "null");
	}
	return string(s, out);
}

static bool data(struct scan *s, struct dm_event *ev)
{
	if (!eat(s, '{'))
		return false;
	if (eat(s, '}'))
		return true;
	unsigned seen = 0; /* the known members read so far, one bit each */
	do {
		struct dm_str k;
		struct dm_value v;
		if (!string(s, &k) || !eat(s, ':'))
			return false;
		enum member m = member_of(k);
		if (m != M_NONE && (seen & (1u << m)))
			return false; /* given twice: jansson's reading refuses it too */
		if (m != M_NONE)
			seen |= 1u << m;
		bool ok;
		switch (m) {
		case M_MODEL:
			ok = string(s, &ev->model);
			break;
		case M_VERSION:
			ok = string(s, &ev->version);
			break;
		case M_REQUEST_ID:
			ok = str_or_null(s, &ev->request_id);
			break;
		case M_TIMESTAMP:
			ok = string(s, &ev->timestamp);
			break;
		case M_ROLE:
			ok = string(s, &ev->role);
			break;
		case M_LABEL:
			ok = string(s, &ev->label);
			break;
		case M_ROW:
			ok = number(s, &v) && v.num >= 0 && v.num == floor(v.num);
			ev->row = ok ? (int64_t)v.num : 0;
			break;
		case M_PROBABILITY: /* the head leaves the values to the full scan */
			ok = s->head ? skip_value(s) : scalar(s, &ev->probability);
			break;
		case M_VALUES:
			ev->image = is(k, "image");
			ok = s->head ? skip_value(s) : values(s, ev);
			break;
		case M_PREDICTION:
			ok = s->head ? skip_value(s) : outputs(s, ev);
			break;
		default:
			ok = skip_value(s);
		}
		if (!ok)
			return false;
		/* the head has all it groups by (the inference API writes these members before
		 * the values): the values are read, and the whole text checked, by the full scan */
		if (s->head && ev->type.p && ev->model.p && ev->version.p && ev->timestamp.p && ev->role.p) {
			s->done = true;
			return true;
		}
	} while (eat(s, ','));
	return eat(s, '}');
}

static bool scan_event(const char *text, size_t len, struct dm_event *ev, bool head)
{
	struct scan s = {.p = text, .end = text + len, .head = head};
	dm_event_reset(ev);
	if (!eat(&s, '{'))
		return false;
	bool has_data = false;
	do {
		struct dm_str k;
		if (!string(&s, &k) || !eat(&s, ':'))
			return false;
		bool ok;
		if (is(k, "type"))
			ok = !ev->type.p && string(&s, &ev->type); /* twice: give up, as in data() */
		else if (is(k, "data"))
			ok = !has_data && (has_data = data(&s, ev));
		else
			ok = skip_value(&s);
		if (!ok)
			return false;
		if (s.done)
			return true;
	} while (eat(&s, ','));
	if (!eat(&s, '}'))
		return false;
	ws(&s);
	return has_data && s.p == s.end;
}

bool dm_event_scan(const char *text, size_t len, struct dm_event *ev)
{
	return scan_event(text, len, ev, false);
}

bool dm_event_scan_head(const char *text, size_t len, struct dm_event *ev)
{
	return scan_event(text, len, ev, true);
}

void dm_event_init(struct dm_event *ev)
{
	*ev = (struct dm_event){0};
	ev->values = core_xcalloc(DM_EVENT_VALUES, sizeof *ev->values);
	ev->pred = core_xcalloc(DM_EVENT_VALUES, sizeof *ev->pred);
}

void dm_event_free(struct dm_event *ev)
{
	free(ev->values);
	free(ev->pred);
	*ev = (struct dm_event){0};
}

void dm_event_reset(struct dm_event *ev)
{
	struct dm_value *values = ev->values, *pred = ev->pred;
	*ev = (struct dm_event){.values = values, .pred = pred, .probability = {.kind = DM_VAL_MISSING}};
}

static struct dm_str jstr(json_t *v)
{
	return json_is_string(v) ? (struct dm_str){json_string_value(v), json_string_length(v)}
				 : (struct dm_str){NULL, 0};
}

static void jvalue(json_t *j, struct dm_value *v)
{
	v->kind = DM_VAL_MISSING;
	if (json_is_string(j)) {
		v->kind = DM_VAL_STR;
		v->str = jstr(j);
	} else if (json_is_number(j)) {
		v->kind = DM_VAL_NUM;
		v->num = json_number_value(j);
		if (json_is_integer(j))
			snprintf(v->text, sizeof v->text, "%lld", (long long)json_integer_value(j));
		else
			snprintf(v->text, sizeof v->text, "%.17g", v->num);
	}
}

void dm_event_of_json(json_t *event, struct dm_event *ev)
{
	dm_event_reset(ev);
	json_t *d = json_object_get(event, "data");
	ev->type = jstr(json_object_get(event, "type"));
	ev->model = jstr(json_object_get(d, "model"));
	ev->version = jstr(json_object_get(d, "version"));
	ev->request_id = jstr(json_object_get(d, "request_id"));
	ev->timestamp = jstr(json_object_get(d, "timestamp"));
	ev->role = jstr(json_object_get(d, "role"));
	ev->label = jstr(json_object_get(d, "label"));
	ev->row = json_integer_value(json_object_get(d, "row"));
	jvalue(json_object_get(d, "probability"), &ev->probability);
	json_t *vals = json_object_get(d, "image");
	ev->image = vals != NULL;
	if (!vals)
		vals = json_object_get(d, "features");
	const char *k;
	json_t *x;
	json_object_foreach(vals, k, x)
	{
		if (ev->n_values == DM_EVENT_VALUES)
			break;
		struct dm_value *v = &ev->values[ev->n_values++];
		v->name = (struct dm_str){k, strlen(k)};
		jvalue(x, v);
	}
	size_t i;
	json_array_foreach(json_object_get(d, "prediction"), i, x)
	{
		if (ev->n_pred < DM_EVENT_VALUES)
			jvalue(x, &ev->pred[ev->n_pred++]);
	}
}

bool dm_str_is(struct dm_str s, const char *c)
{
	return s.p && strlen(c) == s.n && memcmp(s.p, c, s.n) == 0;
}

bool dm_event_agrees(const struct dm_event *ev, const char *model, const char *version, struct dm_str timestamp)
{
	struct dm_str t = ev->timestamp;
	bool same_time = (t.p == NULL) == (timestamp.p == NULL) && t.n == timestamp.n &&
			 (t.n == 0 || memcmp(t.p, timestamp.p, t.n) == 0);
	return same_time && dm_str_is(ev->type, "lathe.prediction") && dm_str_is(ev->role, "serve") &&
	       dm_str_is(ev->model, model) && dm_str_is(ev->version, version);
}
