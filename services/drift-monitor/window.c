/* A monitor's window of live traffic (face: dm.h, window.c section), in memory fixed by
 * its reference, whatever the traffic: per numeric column a reservoir of at most
 * DM_SAMPLE_MAX values (every value while the window holds fewer, so windows up to that
 * size are compared exactly as Evidently would compare them; beyond it a uniform sample,
 * Vitter's algorithm R, with its seed in the state) and the count of values and of
 * missing ones; per categorical column the counts of at most DM_CATS_MAX categories
 * (later new ones are counted together as DM_OTHER); and the request keys of the last
 * 2 x DM_DEDUPE_KEYS predictions, so a prediction sent twice is counted once. Pure: the
 * stream (stream.c) feeds it events and keeps it durable with dm_window_save/load.
 *
 * Bound per monitor: 8 x DM_SAMPLE_MAX bytes per numeric column, DM_CATS_MAX x
 * (DM_LABEL_MAX + 24) bytes per categorical column, 16 x 2 x DM_DEDUPE_KEYS bytes of keys.
 *
 * The saved form (a bytea in drift.windows) is little-endian binary, versioned by its
 * first 4 bytes; dm_window_load checks every length against what the reference allows,
 * so a damaged row is refused, never read past. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "stats/stats.h"
#include "dm.h"

#define SAVE_MAGIC "DMW1"

static const char *const empty_key_marker = "";

/* --- the state ------------------------------------------------------------------------ */

static size_t n_all(const struct dm_window *w)
{
	return w->ref->n_cols + w->ref->n_pred;
}

static const struct dm_ref_col *ref_col(const struct dm_window *w, size_t i)
{
	return i < w->ref->n_cols ? &w->ref->cols[i] : &w->ref->pred[i - w->ref->n_cols];
}

static void col_clear(struct dm_win_col *c)
{
	free(c->res);
	for (size_t j = 0; j < c->k; j++)
		free(c->cats[j].label);
	free(c->cats);
	*c = (struct dm_win_col){0};
}

void dm_window_init(struct dm_window *w, const struct dm_ref *ref, int64_t now_ms)
{
	*w = (struct dm_window){.ref = ref, .start_ms = now_ms, .end_ms = now_ms};
	w->cols = core_xcalloc(n_all(w) ? n_all(w) : 1, sizeof *w->cols);
	w->rng = stats_hash64(&now_ms, sizeof now_ms) | 1;
	for (int g = 0; g < 2; g++)
		w->keys[g] = core_xcalloc(2 * DM_DEDUPE_KEYS, sizeof *w->keys[g]);
	w->partition = -1;
	w->offset = -1;
}

void dm_window_clear(struct dm_window *w)
{
	if (w->cols)
		for (size_t i = 0; i < n_all(w); i++)
			col_clear(&w->cols[i]);
	free(w->cols);
	free(w->keys[0]);
	free(w->keys[1]);
	*w = (struct dm_window){0};
}

void dm_window_restart(struct dm_window *w, int64_t now_ms)
{
	for (size_t i = 0; i < n_all(w); i++)
		col_clear(&w->cols[i]);
	w->rows = 0;
	w->start_ms = w->end_ms = now_ms;
	/* The keys stay: a duplicate of the last window's prediction is still one. */
}

/* --- adding a prediction -------------------------------------------------------------- */

static uint64_t next_rand(struct dm_window *w)
{
	/* xorshift64*: the reservoir's draws need speed and a state that saves in 8 bytes */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545F4914F6CDD1DULL;
}

static void add_number(struct dm_window *w, struct dm_win_col *c, double x)
{
	if (!isfinite(x)) {
		c->missing++;
		return;
	}
	c->seen++;
	if (c->n_res < DM_SAMPLE_MAX) {
		if (!c->res)
			c->res = core_xmalloc(DM_SAMPLE_MAX * sizeof *c->res);
		c->res[c->n_res++] = x;
		return;
	}
	uint64_t j = next_rand(w) % c->seen;
	if (j < DM_SAMPLE_MAX)
		c->res[j] = x;
}

/* The category's index in c's sorted labels, or where it would go (*found false). */
static size_t find_label(const struct dm_win_col *c, const char *s, bool *found)
{
	size_t lo = 0, hi = c->k;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(c->cats[mid].label, s);
		if (d == 0) {
			*found = true;
			return mid;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static void add_label(struct dm_win_col *c, const char *s, uint64_t n)
{
	bool found;
	size_t at = find_label(c, s, &found);
	if (found) {
		c->cats[at].count += n;
		return;
	}
	if (c->k >= DM_CATS_MAX || strlen(s) > DM_LABEL_MAX) {
		c->other += n;
		return;
	}
	c->cats = core_xrealloc(c->cats, (c->k + 1) * sizeof *c->cats);
	memmove(&c->cats[at + 1], &c->cats[at], (c->k - at) * sizeof *c->cats);
	c->cats[at] = (struct dm_ref_label){core_xstrdup(s), n};
	c->k++;
}

/* A value as the column reads it: a numeric column takes numbers (and numeric text), a
 * categorical one takes text (and numbers as their text, as the inference API takes
 * them); null, absent (v NULL) or unreadable is missing. */
static void add_value(struct dm_window *w, size_t i, const struct dm_value *v)
{
	struct dm_win_col *c = &w->cols[i];
	char buf[DM_LABEL_MAX + 2];
	bool str = v && v->kind == DM_VAL_STR;
	if (str) { /* NUL-terminated; longer than any label kept: then it counts as other */
		size_t n = v->str.n < sizeof buf - 1 ? v->str.n : sizeof buf - 1;
		memcpy(buf, v->str.p, n);
		buf[n] = '\0';
	}
	if (ref_col(w, i)->type == STATS_COLUMN_NUMERICAL) {
		double x = NAN;
		if (v && v->kind == DM_VAL_NUM) {
			x = v->num;
		} else if (str && v->str.n < sizeof buf - 1) {
			char *end;
			x = strtod(buf, &end);
			if (end == buf || *end)
				x = NAN;
		}
		add_number(w, c, x);
		return;
	}
	if (str)
		add_label(c, buf, 1);
	else if (v && v->kind == DM_VAL_NUM)
		add_label(c, v->text, 1);
	else
		c->missing++;
}

/* The event's value named name (its values are usually in the reference's order: try
 * slot hint first), or NULL. */
static const struct dm_value *value_named(const struct dm_event *ev, const char *name, size_t hint)
{
	if (hint < ev->n_values && dm_str_is(ev->values[hint].name, name))
		return &ev->values[hint];
	for (size_t j = 0; j < ev->n_values; j++)
		if (dm_str_is(ev->values[j].name, name))
			return &ev->values[j];
	return NULL;
}

/* The dedupe sets: open addressing over 2 x DM_DEDUPE_KEYS slots, 0 marks a free slot
 * (a key of 0 becomes 1). When the newer generation holds DM_DEDUPE_KEYS keys it
 * becomes the older one and the older is emptied. */
static bool key_in(const uint64_t *set, uint64_t key)
{
	for (size_t i = key % (2 * DM_DEDUPE_KEYS);; i = (i + 1) % (2 * DM_DEDUPE_KEYS)) {
		if (set[i] == key)
			return true;
		if (set[i] == 0)
			return false;
	}
}

static void key_put(struct dm_window *w, uint64_t key)
{
	if (w->n_keys >= DM_DEDUPE_KEYS) {
		uint64_t *older = w->keys[1];
		w->keys[1] = w->keys[0];
		w->keys[0] = older;
		memset(older, 0, 2 * DM_DEDUPE_KEYS * sizeof *older);
		w->n_keys = 0;
	}
	size_t i = key % (2 * DM_DEDUPE_KEYS);
	while (w->keys[0][i] != 0)
		i = (i + 1) % (2 * DM_DEDUPE_KEYS);
	w->keys[0][i] = key;
	w->n_keys++;
}

uint64_t dm_window_event_key(const struct dm_event *ev)
{
	/* request id, NUL, row (decimal), NUL, role: a request's rows and its shadow differ.
	 * Written by hand, byte for byte what "%.*s%c%lld%c%.*s" wrote (saved windows hold
	 * these keys), without printf's cost on every event. */
	char buf[512], digits[24];
	size_t n = ev->request_id.p ? strnlen(ev->request_id.p, ev->request_id.n < 400 ? ev->request_id.n : 400) : 0;
	size_t nd = 0;
	memcpy(buf, ev->request_id.p ? ev->request_id.p : empty_key_marker, n);
	buf[n++] = '\0';
	unsigned long long mag = ev->row < 0 ? 0ull - (unsigned long long)ev->row : (unsigned long long)ev->row;
	do
		digits[nd++] = (char)('0' + mag % 10);
	while ((mag /= 10) != 0);
	if (ev->row < 0)
		buf[n++] = '-';
	while (nd > 0)
		buf[n++] = digits[--nd];
	buf[n++] = '\0';
	size_t role_n = ev->role.p ? strnlen(ev->role.p, ev->role.n < 64 ? ev->role.n : 64) : 0;
	memcpy(buf + n, ev->role.p ? ev->role.p : empty_key_marker, role_n);
	n += role_n;
	uint64_t key = stats_hash64(buf, n);
	return key ? key : 1;
}

enum dm_add dm_window_add_event(struct dm_window *w, const struct dm_event *ev, int64_t at_ms)
{
	if (ev->request_id.n > 0) {
		uint64_t key = dm_window_event_key(ev);
		if (key_in(w->keys[0], key) || key_in(w->keys[1], key))
			return DM_DUPLICATE;
		key_put(w, key);
	}
	bool fits = ev->image == w->ref->image; /* features for a tabular model, image for an image one */
	for (size_t i = 0; i < w->ref->n_cols; i++)
		add_value(w, i, fits ? value_named(ev, w->ref->cols[i].name, i) : NULL);
	for (size_t i = 0; i < w->ref->n_pred; i++) {
		const char *name = w->ref->pred[i].name;
		struct dm_value label = {.kind = ev->label.p ? DM_VAL_STR : DM_VAL_MISSING, .str = ev->label};
		const struct dm_value *v = NULL;
		if (strcmp(name, "label") == 0) {
			v = &label;
		} else if (strcmp(name, "confidence") == 0) {
			v = &ev->probability;
		} else if (strncmp(name, "output_", 7) == 0) {
			unsigned long k = strtoul(name + 7, NULL, 10);
			v = k < ev->n_pred ? &ev->pred[k] : NULL;
		}
		add_value(w, w->ref->n_cols + i, v);
	}
	if (w->rows == 0 || at_ms < w->start_ms)
		w->start_ms = at_ms;
	if (at_ms > w->end_ms)
		w->end_ms = at_ms;
	w->rows++;
	return DM_ADDED;
}

enum dm_add dm_window_add(struct dm_window *w, json_t *data, int64_t at_ms)
{
	struct dm_event ev;
	dm_event_init(&ev);
	json_t *event = json_pack("{s:O}", "data", data);
	dm_event_of_json(event, &ev);
	enum dm_add r = dm_window_add_event(w, &ev, at_ms);
	json_decref(event);
	dm_event_free(&ev);
	return r;
}

/* --- the report ----------------------------------------------------------------------- */

/* The categories of a reference column and of the window merged on one sorted label
 * list (the window's overflow as DM_OTHER), into b; labels borrowed (b->labels is a
 * fresh array of borrowed pointers: release it with free, not stats_bins_free). */
static void merge_cats(const struct dm_ref_col *r, const struct dm_win_col *c, struct stats_bins *b)
{
	size_t cap = r->k + c->k + 1;
	*b = (struct stats_bins){0};
	b->labels = core_xcalloc(cap, sizeof *b->labels);
	b->ref = core_xcalloc(cap, sizeof *b->ref);
	b->cur = core_xcalloc(cap, sizeof *b->cur);
	size_t i = 0, j = 0;
	while (i < r->k || j < c->k) {
		int d = i == r->k ? 1 : j == c->k ? -1 : strcmp(r->cats[i].label, c->cats[j].label);
		if (d <= 0) {
			b->labels[b->k] = r->cats[i].label;
			b->ref[b->k] = r->cats[i++].count;
		}
		if (d >= 0) {
			b->labels[b->k] = c->cats[j].label;
			b->cur[b->k] = c->cats[j++].count;
		}
		b->k++;
	}
	if (c->other) {
		b->labels[b->k] = (char *)DM_OTHER;
		b->cur[b->k++] = c->other;
	}
}

static uint64_t col_count(const struct dm_win_col *c)
{
	uint64_t n = c->seen + c->other;
	for (size_t j = 0; j < c->k; j++)
		n += c->cats[j].count;
	return n;
}

/* A row for a column the window saw no value of: the method it would get, no score. */
static json_t *row_without_values(const struct dm_ref_col *r, const struct dm_win_col *c, json_t *override)
{
	enum stats_method m = r->type == STATS_COLUMN_NUMERICAL ? STATS_METHOD_KS : STATS_METHOD_CHISQUARE;
	const char *method = json_string_value(json_object_get(override, "method"));
	if (method)
		stats_method_by_name(method, &m);
	json_t *th = json_object_get(override, "threshold");
	return json_pack("{s:s, s:s, s:s, s:f, s:n, s:b, s:{s:I, s:I}, s:{s:I, s:I}, s:s}", "column_name", r->name,
			 "column_type", r->type == STATS_COLUMN_NUMERICAL ? "num" : "cat", "stattest_name",
			 stats_method_name(m), "stattest_threshold",
			 th ? json_real_value(th) : stats_method_default_threshold(m), "drift_score", "drift_detected",
			 0, "reference", "count", (json_int_t)r->count, "missing", (json_int_t)r->missing, "current",
			 "count", (json_int_t)0, "missing", (json_int_t)c->missing, "note",
			 "no value in this window: nothing to compare");
}

static enum core_status col_row(const struct dm_window *w, size_t i, json_t *overrides, json_t **row, bool *drifted,
				struct core_error *err)
{
	const struct dm_ref_col *r = ref_col(w, i);
	const struct dm_win_col *c = &w->cols[i];
	json_t *override = json_object_get(overrides, r->name);
	*drifted = false;
	if (col_count(c) == 0) {
		*row = row_without_values(r, c, override);
		return *row ? CORE_OK : core_fail(err, CORE_ENOMEM, "out of memory");
	}
	struct dm_col dc = {.name = r->name,
			    .type = r->type,
			    .missing = {r->missing, c->missing},
			    .count = {r->count, col_count(c)},
			    .n_ref = r->count};
	struct stats_bins b = {0};
	if (r->type == STATS_COLUMN_NUMERICAL) {
		dc.num[0] = r->sample;
		dc.n_num[0] = r->n_sample;
		dc.num[1] = c->res;
		dc.n_num[1] = c->n_res;
	} else {
		merge_cats(r, c, &b);
		dc.cats = &b;
	}
	enum core_status rc = dm_col_report(&dc, override, "features", row, drifted, err);
	free(b.labels);
	free(b.ref);
	free(b.cur);
	return rc;
}

enum core_status dm_window_report(const struct dm_window *w, json_t *overrides, double drift_share, json_t **doc,
				  struct core_error *err)
{
	json_t *rows = json_array(), *pred = json_array();
	size_t n_drifted = 0;
	enum core_status rc = CORE_OK;
	*doc = NULL;
	for (size_t i = 0; rc == CORE_OK && i < n_all(w); i++) {
		json_t *row = NULL;
		bool drifted = false;
		rc = col_row(w, i, i < w->ref->n_cols ? overrides : NULL, &row, &drifted, err);
		if (rc != CORE_OK)
			break;
		if (i < w->ref->n_cols) {
			json_array_append_new(rows, row);
			n_drifted += drifted;
		} else {
			json_array_append_new(pred, row);
		}
	}
	if (rc == CORE_OK) {
		*doc = dm_table(rows, n_drifted, drift_share);
		rows = NULL;
		if (!*doc)
			rc = core_fail(err, CORE_ENOMEM, "the report cannot be built (out of memory)");
	}
	if (rc == CORE_OK)
		json_object_set_new(*doc, "predictions", json_pack("{s:O}", "columns", pred));
	json_decref(rows);
	json_decref(pred);
	return rc;
}

/* --- saving and loading -------------------------------------------------------------- */

/* A buffer whose first failed append is remembered, so the writer checks once. */
struct writer {
	struct core_buf *b;
	enum core_status rc;
};

static void put(struct writer *b, const void *p, size_t n)
{
	if (b->rc == CORE_OK)
		b->rc = core_buf_append(b->b, p, n);
}

static void put_u64(struct writer *b, uint64_t v)
{
	unsigned char x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	put(b, x, 8);
}

static void put_f64(struct writer *b, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	put_u64(b, v);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

enum core_status dm_window_save(const struct dm_window *w, struct core_buf *out)
{
	struct writer wr = {out, CORE_OK}, *b = &wr;
	put(b, SAVE_MAGIC, 4);
	put_u64(b, n_all(w));
	put_u64(b, w->rows);
	put_u64(b, (uint64_t)w->start_ms);
	put_u64(b, (uint64_t)w->end_ms);
	put_u64(b, w->rng);
	put_u64(b, (uint64_t)(int64_t)w->partition);
	put_u64(b, (uint64_t)w->offset);
	put_u64(b, w->duplicates);
	for (size_t i = 0; i < n_all(w); i++) {
		const struct dm_win_col *c = &w->cols[i];
		put_u64(b, c->seen);
		put_u64(b, c->missing);
		put_u64(b, c->other);
		put_u64(b, c->n_res);
		for (size_t j = 0; j < c->n_res; j++)
			put_f64(b, c->res[j]);
		put_u64(b, c->k);
		for (size_t j = 0; j < c->k; j++) {
			size_t len = strlen(c->cats[j].label);
			put_u64(b, len);
			put(b, c->cats[j].label, len);
			put_u64(b, c->cats[j].count);
		}
	}
	/* the keys, newer generation first, each sorted (the same set saves the same bytes) */
	uint64_t *keys = core_xmalloc(2 * DM_DEDUPE_KEYS * sizeof *keys);
	for (int g = 0; g < 2; g++) {
		size_t n = 0;
		for (size_t i = 0; i < 2 * DM_DEDUPE_KEYS; i++)
			if (w->keys[g][i])
				keys[n++] = w->keys[g][i];
		qsort(keys, n, sizeof *keys, cmp_u64);
		put_u64(b, n);
		for (size_t i = 0; i < n; i++)
			put_u64(b, keys[i]);
	}
	free(keys);
	return wr.rc;
}

struct reader {
	const unsigned char *p;
	size_t left;
	bool bad;
};

static uint64_t get_u64(struct reader *r)
{
	if (r->left < 8) {
		r->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	r->left -= 8;
	return v;
}

static double get_f64(struct reader *r)
{
	uint64_t v = get_u64(r);
	double d;
	memcpy(&d, &v, 8);
	return d;
}

enum core_status dm_window_load(struct dm_window *w, const struct dm_ref *ref, const void *data, size_t len,
				struct core_error *err)
{
	struct reader r = {data, len, false};
	dm_window_init(w, ref, 0);
	if (len < 4 || memcmp(data, SAVE_MAGIC, 4) != 0) {
		r.bad = true;
		goto out;
	}
	r.p += 4;
	r.left -= 4;
	if (get_u64(&r) != n_all(w)) {
		r.bad = true;
		goto out;
	}
	w->rows = get_u64(&r);
	w->start_ms = (int64_t)get_u64(&r);
	w->end_ms = (int64_t)get_u64(&r);
	w->rng = get_u64(&r);
	if (w->rng == 0)
		w->rng = 1; /* xorshift never leaves 0 */
	w->partition = (int32_t)(int64_t)get_u64(&r);
	w->offset = (int64_t)get_u64(&r);
	w->duplicates = get_u64(&r);
	for (size_t i = 0; !r.bad && i < n_all(w); i++) {
		struct dm_win_col *c = &w->cols[i];
		c->seen = get_u64(&r);
		c->missing = get_u64(&r);
		c->other = get_u64(&r);
		uint64_t n = get_u64(&r);
		if (n > DM_SAMPLE_MAX || n > c->seen || n > r.left / 8) {
			r.bad = true;
			break;
		}
		if (n)
			c->res = core_xmalloc(DM_SAMPLE_MAX * sizeof *c->res);
		c->n_res = (size_t)n;
		for (size_t j = 0; j < c->n_res; j++)
			c->res[j] = get_f64(&r);
		uint64_t k = get_u64(&r);
		if (k > DM_CATS_MAX || k > r.left / 16) {
			r.bad = true;
			break;
		}
		c->cats = k ? core_xcalloc((size_t)k, sizeof *c->cats) : NULL;
		for (size_t j = 0; !r.bad && j < k; j++) {
			uint64_t l = get_u64(&r);
			if (l > DM_LABEL_MAX || l > r.left) {
				r.bad = true;
				break;
			}
			char *s = core_xmalloc((size_t)l + 1);
			memcpy(s, r.p, (size_t)l);
			s[l] = '\0';
			r.p += l;
			r.left -= l;
			c->cats[c->k++] = (struct dm_ref_label){s, get_u64(&r)};
			if (c->k > 1 && strcmp(c->cats[c->k - 2].label, s) >= 0)
				r.bad = true; /* labels are saved sorted and distinct */
		}
	}
	for (int g = 0; !r.bad && g < 2; g++) {
		uint64_t n = get_u64(&r);
		if (n > DM_DEDUPE_KEYS * 2 || n > r.left / 8) {
			r.bad = true;
			break;
		}
		for (uint64_t i = 0; i < n; i++) {
			uint64_t key = get_u64(&r);
			if (key == 0 || key_in(w->keys[g], key))
				continue;
			size_t at = key % (2 * DM_DEDUPE_KEYS);
			while (w->keys[g][at] != 0)
				at = (at + 1) % (2 * DM_DEDUPE_KEYS);
			w->keys[g][at] = key;
			if (g == 0)
				w->n_keys++;
		}
	}
	if (!r.bad && r.left != 0)
		r.bad = true;
out:
	if (!r.bad)
		return CORE_OK;
	dm_window_clear(w);
	return core_fail(err, CORE_EINVAL, "the saved window state is damaged or was saved for another reference");
}
