/* A drift report as one HTML page for people (face: dm.h, html.c section), pure: the
 * Report object (dm_report_json with its "result" document) in, the page's text out.
 * GET /v1/reports/{id}.html and GET /v1/reports/{id} with Accept: text/html answer it.
 *
 * The page stands alone, so it reads in a browser with nothing but the daemon behind
 * it (or saved to a file): inline <style>, inline SVG charts, no script, font, image or
 * style sheet fetched from anywhere. It shows the dataset verdict, then per column (and
 * per prediction output, when the report has them) a small chart of the reference
 * beside the current distribution, the verdict, the test, threshold and score, in the
 * order of Evidently's own table. The charts draw shares, not counts: a window and its
 * reference differ in size, and only shares put them on one scale.
 *
 * Every text taken from the document is HTML-escaped (a column is named by whoever
 * sent the data). The document is read defensively: a member that is missing or of the
 * wrong type is shown as "—" or left out, never trusted, so whatever a report holds
 * gives a page. Text is built in a struct page whose first failure sticks (no memory,
 * the buffer's ceiling): the functions below need not check each append. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/fmt.h"
#include "core/time.h"
#include "stats/drift.h"
#include "dm.h"

/* A chart draws at most this many bar pairs: more bins are merged in runs, more
 * categories are added to "other". */
#define BARS_MAX 40
/* The chart's size in CSS pixels: the bars' area, and the line of labels under it (a
 * numerical column's lowest and highest edges, a categorical one's names). */
#define CHART_W 200
#define CHART_H 44
#define LABEL_H 12
/* Categories are named under their bars when there are at most LABELED_MAX of them,
 * each cut to the characters its pair's width holds (LABEL_CHAR_W pixels each). */
#define LABELED_MAX     8
#define LABEL_CHAR_W    5.5
#define LABEL_CHARS_MAX ((size_t)(CHART_W / LABEL_CHAR_W))
/* The largest Unix ms shown as a date (9999-12-31T23:59:59.999Z); others as numbers. */
#define MS_DATE_MAX 253402300799999LL

struct page {
	struct core_buf *b;
	enum core_status rc; /* the first failure; appends after it do nothing */
};

/* --- text ------------------------------------------------------------------------------ */

static void put(struct page *p, const char *s)
{
	if (p->rc == CORE_OK)
		p->rc = core_buf_append_str(p->b, s);
}

/* Short texts of our own (tags with numbers in them): never document text, which goes
 * through put_esc. */
__attribute__((format(printf, 2, 3))) static void putf(struct page *p, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		if (p->rc == CORE_OK)
			p->rc = CORE_EINVAL;
		return;
	}
	put(p, tmp);
}

/* What stands for byte c in HTML text and in attribute values in double quotes, or
 * NULL when c stands for itself. Controls other than tab and newline become U+FFFD (the
 * HTML parser would keep them as they are). */
static const char *entity(unsigned char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f ? "&#xfffd;" : NULL;
	}
}

/* s HTML-escaped. */
static void put_esc(struct page *p, const char *s)
{
	const char *run = s;
	for (; *s && p->rc == CORE_OK; s++) {
		const char *rep = entity((unsigned char)*s);
		if (!rep)
			continue;
		p->rc = core_buf_append(p->b, run, (size_t)(s - run));
		put(p, rep);
		run = s + 1;
	}
	if (p->rc == CORE_OK)
		p->rc = core_buf_append(p->b, run, strlen(run));
}

/* A member's string value, or NULL when it is absent or not a string. */
static const char *str_of(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The string member escaped, or dash when it is absent or not a string. */
static void put_str_or(struct page *p, const json_t *obj, const char *key, const char *dash)
{
	const char *s = str_of(obj, key);
	put_esc(p, s ? s : dash);
}

/* A number as people read it: four significant digits ("0.01235", "1.2e+05"). */
static void fmt_short(double v, char out[32])
{
	snprintf(out, 32, "%.4g", v);
}

/* A number member: four digits, the exact value in a tooltip; "—" when it is absent,
 * null or not a number. */
static void put_number(struct page *p, const json_t *v)
{
	if (!json_is_number(v)) {
		put(p, "—");
		return;
	}
	char shown[32], exact[CORE_FMT_DOUBLE_MAX];
	fmt_short(json_number_value(v), shown);
	core_fmt_double(json_number_value(v), 0, exact);
	putf(p, "<span title=\"%s\">%s</span>", exact, shown);
}

/* An integer member in full, or "—". */
static void put_count(struct page *p, const json_t *v)
{
	if (json_is_integer(v))
		putf(p, "%lld", (long long)json_integer_value(v));
	else
		put(p, "—");
}

/* A Unix ms member as a UTC date ("2026-11-22T16:20:01.123Z"), or as the number it is
 * when it cannot be one, or "—". */
static void put_time(struct page *p, const json_t *v)
{
	if (!json_is_integer(v)) {
		put(p, "—");
		return;
	}
	json_int_t ms = json_integer_value(v);
	char when[32];
	if (ms < 0 || ms > MS_DATE_MAX) {
		putf(p, "%lld", (long long)ms);
		return;
	}
	core_time_iso8601((int64_t)ms, when);
	put(p, when);
}

/* --- charts ------------------------------------------------------------------------------ */

/* One chart's bars: the reference's and the current's share of each bin or category. */
struct bars {
	size_t n;
	double ref[BARS_MAX], cur[BARS_MAX];
	/* what each pair stands for: a numerical bin [lo, hi) or a category (borrowed from
	 * the document; NULL for the one of all the others) */
	double lo[BARS_MAX], hi[BARS_MAX];
	const char *label[BARS_MAX];
	bool numerical;
};

/* Divides each side's counts by its total, so both sides read as shares (a side with no
 * values, or counts past a double's range, stays at zero). */
static void to_shares(struct bars *b, double tot_ref, double tot_cur)
{
	bool ref_ok = tot_ref > 0 && isfinite(tot_ref), cur_ok = tot_cur > 0 && isfinite(tot_cur);
	for (size_t i = 0; i < b->n; i++) {
		b->ref[i] = ref_ok ? b->ref[i] / tot_ref : 0;
		b->cur[i] = cur_ok ? b->cur[i] / tot_cur : 0;
	}
}

/* A numerical column's bars from both histograms, which must have the same number of
 * bins (the edges are read from the reference's). More than BARS_MAX bins are merged
 * in runs of equal length. false when the histograms are not usable: arrays of the
 * wrong length, a count that is not a number >= 0, an edge that is not a number. */
static bool num_bars(const json_t *ref, const json_t *cur, struct bars *b)
{
	const json_t *hr = json_object_get(ref, "histogram"), *hc = json_object_get(cur, "histogram");
	const json_t *edges = json_object_get(hr, "edges");
	const json_t *counts[2] = {json_object_get(hr, "counts"), json_object_get(hc, "counts")};
	size_t k = json_array_size(counts[0]);
	if (k == 0 || k != json_array_size(counts[1]) || json_array_size(edges) != k + 1)
		return false;
	size_t run = (k + BARS_MAX - 1) / BARS_MAX;
	double tot_ref = 0, tot_cur = 0;
	b->n = (k + run - 1) / run;
	b->numerical = true;
	for (size_t g = 0; g < b->n; g++) {
		size_t from = g * run, to = from + run < k ? from + run : k;
		const json_t *lo = json_array_get(edges, from), *hi = json_array_get(edges, to);
		if (!json_is_number(lo) || !json_is_number(hi))
			return false;
		b->lo[g] = json_number_value(lo);
		b->hi[g] = json_number_value(hi);
		b->ref[g] = b->cur[g] = 0;
		for (size_t i = from; i < to; i++) {
			const json_t *r = json_array_get(counts[0], i), *c = json_array_get(counts[1], i);
			if (!json_is_number(r) || !json_is_number(c) || json_number_value(r) < 0 ||
			    json_number_value(c) < 0)
				return false;
			b->ref[g] += json_number_value(r);
			b->cur[g] += json_number_value(c);
		}
		tot_ref += b->ref[g];
		tot_cur += b->cur[g];
	}
	to_shares(b, tot_ref, tot_cur);
	return true;
}

/* The count of value in a value_counts object, or 0 when absent or not a count. */
static double count_of(const json_t *vc, const char *value)
{
	const json_t *v = json_object_get(vc, value);
	return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : 0;
}

/* A categorical column's bars: the reference's categories in its order, then those
 * only the current has; past BARS_MAX - 1 of them the rest joins "other". false when
 * neither side has value_counts. */
static bool cat_bars(const json_t *ref, const json_t *cur, struct bars *b)
{
	const json_t *vc[2] = {json_object_get(ref, "value_counts"), json_object_get(cur, "value_counts")};
	if (!json_is_object(vc[0]) && !json_is_object(vc[1]))
		return false;
	double other[2] = {count_of(ref, "other"), count_of(cur, "other")}, tot[2] = {other[0], other[1]};
	b->n = 0;
	b->numerical = false;
	for (int s = 0; s < 2; s++) {
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)vc[s], key, v)
		{
			if (s == 1 && json_object_get(vc[0], key))
				continue; /* counted with the reference's */
			double c[2] = {count_of(vc[0], key), count_of(vc[1], key)};
			tot[0] += c[0];
			tot[1] += c[1];
			if (b->n < BARS_MAX - 1) {
				b->label[b->n] = key;
				b->ref[b->n] = c[0];
				b->cur[b->n++] = c[1];
			} else {
				other[0] += c[0];
				other[1] += c[1];
			}
		}
	}
	if (other[0] > 0 || other[1] > 0) {
		b->label[b->n] = NULL;
		b->ref[b->n] = other[0];
		b->cur[b->n++] = other[1];
	}
	if (b->n == 0)
		return false;
	to_shares(b, tot[0], tot[1]);
	return true;
}

/* One pair's tooltip: what it stands for and both shares. */
static void put_bar_title(struct page *p, const struct bars *b, size_t i)
{
	char lo[32], hi[32];
	put(p, "<title>");
	if (b->numerical) {
		fmt_short(b->lo[i], lo);
		fmt_short(b->hi[i], hi);
		putf(p, "[%s, %s%s", lo, hi, i + 1 == b->n ? "]" : ")");
	} else if (b->label[i]) {
		put_esc(p, b->label[i]);
	} else {
		put(p, "(other values)");
	}
	putf(p, ": reference %.1f %%, current %.1f %%</title>", 100 * b->ref[i], 100 * b->cur[i]);
}

/* A category's name under its bars, cut to max_chars characters (UTF-8 code points)
 * with an ellipsis; the tooltip has it whole. */
static void put_cut(struct page *p, const char *s, size_t max_chars)
{
	size_t chars = 0, i = 0, cut = 0;
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue; /* inside a character */
		if (chars + 1 == max_chars)
			cut = i; /* the characters before this one fit beside the ellipsis */
		chars++;
	}
	if (chars <= max_chars) {
		put_esc(p, s);
		return;
	}
	char head[LABEL_CHARS_MAX * 4 + 1];
	size_t n = cut < sizeof head ? cut : 0;
	memcpy(head, s, n);
	head[n] = '\0';
	put_esc(p, head);
	put(p, "…");
}

/* The chart of a column's row: reference and current bars side by side, scaled to the
 * largest share; under a numerical chart its lowest and highest edges, under a
 * categorical one with few categories their names. "—" when the row's distributions
 * give no bars. */
static void put_chart(struct page *p, const json_t *row, bool numerical)
{
	const json_t *ref = json_object_get(row, "reference"), *cur = json_object_get(row, "current");
	struct bars b;
	if (!(numerical ? num_bars(ref, cur, &b) : cat_bars(ref, cur, &b))) {
		put(p, "<span class=\"none\">—</span>");
		return;
	}
	double top = 0;
	for (size_t i = 0; i < b.n; i++)
		top = fmax(top, fmax(b.ref[i], b.cur[i]));
	bool names = !numerical && b.n <= LABELED_MAX;
	int h = CHART_H + (numerical || names ? LABEL_H : 0);
	putf(p, "<svg class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
	     CHART_W, h, CHART_W, h);
	put(p, "reference and current distribution of ");
	put_str_or(p, row, "column_name", "this column");
	put(p, "\">");
	double w = (double)CHART_W / (double)b.n, bar = w * 0.42;
	for (size_t i = 0; i < b.n; i++) {
		double x = w * (double)i, hr = top > 0 ? CHART_H * b.ref[i] / top : 0,
		       hc = top > 0 ? CHART_H * b.cur[i] / top : 0;
		put(p, "<g>");
		put_bar_title(p, &b, i);
		putf(p, "<rect class=\"hit\" x=\"%.2f\" y=\"0\" width=\"%.2f\" height=\"%d\"/>", x, w, h);
		putf(p, "<rect class=\"ref\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", x + w * 0.08,
		     CHART_H - hr, bar, hr);
		putf(p, "<rect class=\"cur\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", x + w * 0.5,
		     CHART_H - hc, bar, hc);
		if (names) {
			putf(p, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">", x + w / 2, h - 1);
			put_cut(p, b.label[i] ? b.label[i] : "other", (size_t)(w / LABEL_CHAR_W));
			put(p, "</text>");
		}
		put(p, "</g>");
	}
	putf(p, "<line class=\"axis\" x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", CHART_H, CHART_W, CHART_H);
	if (numerical) {
		char lo[32], hi[32];
		fmt_short(b.lo[0], lo);
		fmt_short(b.hi[b.n - 1], hi);
		putf(p, "<text x=\"0\" y=\"%d\">%s</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>", h - 1,
		     lo, CHART_W, h - 1, hi);
	}
	put(p, "</svg>");
}

/* --- tables --------------------------------------------------------------------------------- */

/* The score cell: the number and what kind it is (a p-value: small means drift; a
 * distance: large means drift), when the method is one Lathe knows. */
static void put_score(struct page *p, const json_t *row)
{
	const json_t *score = json_object_get(row, "drift_score");
	put_number(p, score);
	enum stats_method m;
	if (stats_method_by_name(str_of(row, "stattest_name"), &m))
		put(p, stats_method_score_kind(m) == STATS_SCORE_PVALUE ? "<small>p-value</small>"
									: "<small>distance</small>");
}

static void put_verdict_cell(struct page *p, const json_t *detected)
{
	if (json_is_boolean(detected))
		put(p, json_is_true(detected) ? "<td class=\"verdict yes\">Drift detected</td>"
					      : "<td class=\"verdict no\">No drift</td>");
	else
		put(p, "<td class=\"verdict unknown\">—</td>");
}

/* A column's row, in the order of Evidently's own table: name, type, the
 * distributions, the verdict, then how it was reached (test, threshold, score). */
static void put_row(struct page *p, const json_t *row)
{
	const char *type = str_of(row, "column_type");
	bool numerical = type && strcmp(type, "num") == 0, categorical = type && strcmp(type, "cat") == 0;
	enum stats_method m;
	put(p, "<tr><th scope=\"row\">");
	put_str_or(p, row, "column_name", "(unnamed)");
	put(p, "</th><td>");
	put_esc(p, numerical ? "numerical" : categorical ? "categorical" : type ? type : "—");
	put(p, "</td><td>");
	if (numerical || categorical)
		put_chart(p, row, numerical);
	else
		put(p, "<span class=\"none\">—</span>");
	put(p, "</td>");
	put_verdict_cell(p, json_object_get(row, "drift_detected"));
	put(p, "<td>");
	put_str_or(p, row, "stattest_name", "—");
	if (stats_method_by_name(str_of(row, "stattest_name"), &m)) {
		put(p, "<small>");
		put_esc(p, stats_method_display_name(m));
		put(p, "</small>");
	}
	put(p, "</td><td class=\"num\">");
	put_number(p, json_object_get(row, "stattest_threshold"));
	put(p, "</td><td class=\"num\">");
	put_score(p, row);
	put(p, "</td></tr>\n");
}

/* The table of rows (an array of ROW objects; other items are skipped), or a line
 * saying there is none. */
static void put_table(struct page *p, const json_t *rows, const char *what)
{
	size_t shown = 0, i;
	json_t *row;
	json_array_foreach(rows, i, row) shown += json_is_object(row);
	if (shown == 0) {
		putf(p, "<p class=\"empty\">No %s in this report.</p>\n", what);
		return;
	}
	put(p, "<div class=\"scroll\"><table>\n<colgroup><col><col class=\"type\"><col class=\"chart\">"
	       "<col class=\"verdict\"><col class=\"test\"><col class=\"thr\"><col class=\"score\"></colgroup>\n"
	       "<thead><tr><th scope=\"col\">Column</th><th scope=\"col\">Type</th><th scope=\"col\">Reference "
	       "<span class=\"key ref\"></span> vs current <span class=\"key cur\"></span></th><th scope=\"col\">"
	       "Verdict</th><th scope=\"col\">Test</th><th scope=\"col\">Threshold</th><th scope=\"col\">Score</th>"
	       "</tr></thead>\n<tbody>\n");
	json_array_foreach(rows, i, row)
	{
		if (json_is_object(row))
			put_row(p, row);
	}
	put(p, "</tbody>\n</table></div>\n");
}

/* --- the page ----------------------------------------------------------------------------------- */

static const char style[] =
	"<style>\n"
	"body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2430;margin:2rem auto;"
	"max-width:72rem;padding:0 1rem}\n"
	"h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}\n"
	".meta{color:#5b6472;margin:0 0 1.25rem}code{font-size:.85em}\n"
	".dataset{border-radius:6px;padding:.75rem 1rem;border:1px solid}\n"
	".dataset.yes{background:#fdecea;border-color:#e0a39c}.dataset.no{background:#e9f5ec;border-color:#9fd0ab}\n"
	".dataset.unknown{background:#f1f2f4;border-color:#c9cdd3}\n"
	".dataset p{margin:.15rem 0}.dataset .big{font-size:1.2rem;font-weight:600}\n"
	".scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;table-layout:fixed;min-width:60rem}\n"
	"col.type{width:7rem}col.test{width:9.5rem}col.thr{width:6rem}col.score{width:7rem}col.verdict{width:8.5rem}"
	"col.chart{width:14rem}th,td{text-align:left;padding:.35rem .6rem;"
	"border-bottom:1px solid #e3e6ea;vertical-align:middle}\n"
	"thead th{font-size:.85rem;color:#5b6472;font-weight:600;border-bottom:2px solid #c9cdd3}\n"
	"tbody th{font-weight:600;word-break:break-all}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
	"small{display:block;color:#5b6472;font-size:.75rem}\n"
	".verdict{font-weight:600;white-space:nowrap}.verdict.yes{color:#b3261e}.verdict.no{color:#1e7b34}\n"
	".verdict.unknown,.none,.empty{color:#8a919c}\n"
	"svg.chart{display:block}svg .ref,.key.ref{fill:#7b8fc4;background:#7b8fc4}"
	"svg .cur,.key.cur{fill:#f08a4b;background:#f08a4b}\n"
	"svg .hit{fill:transparent}svg g:hover .hit{fill:#eef0f4}svg .axis{stroke:#9aa1ab;stroke-width:1}\n"
	"svg text{font-size:9px;fill:#5b6472}\n"
	".key{display:inline-block;width:.7em;height:.7em;border-radius:2px;vertical-align:baseline}\n"
	"dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dt{color:#5b6472}dd{margin:0}\n"
	"footer{margin-top:2.5rem;color:#5b6472;font-size:.85rem}\n"
	"</style>\n";

/* The result's member key, else the report summary's (the summary repeats the dataset
 * verdict), else NULL. */
static const json_t *either(const json_t *result, const json_t *report, const char *key)
{
	const json_t *v = json_object_get(result, key);
	return v ? v : json_object_get(report, key);
}

/* "iris version 3", or what of it the report has. */
static void put_model(struct page *p, const json_t *report)
{
	put_str_or(p, report, "model", "unknown model");
	if (str_of(report, "model_version")) {
		put(p, " version ");
		put_esc(p, str_of(report, "model_version"));
	}
}

/* "<start> to <end>" of the report's window. */
static void put_span(struct page *p, const json_t *window)
{
	put_time(p, json_object_get(window, "start"));
	put(p, " to ");
	put_time(p, json_object_get(window, "end"));
}

static void put_header(struct page *p, const json_t *report)
{
	const json_t *window = json_object_get(report, "window");
	put(p, "<title>Drift report: ");
	put_model(p, report);
	if (json_is_object(window)) {
		put(p, ", ");
		put_span(p, window);
	}
	put(p, "</title>\n");
	put(p, style);
	put(p, "</head>\n<body>\n<h1>Drift report: ");
	put_model(p, report);
	put(p, "</h1>\n<p class=\"meta\">");
	if (json_is_object(window)) {
		put(p, "Window ");
		put_span(p, window);
		put(p, ", ");
		put_count(p, json_object_get(window, "rows"));
		put(p, " rows. ");
	}
	put(p, "Report <code>");
	put_str_or(p, report, "id", "—");
	put(p, "</code> of monitor <code>");
	put_str_or(p, report, "monitor_id", "—");
	put(p, "</code>, written ");
	put_time(p, json_object_get(report, "created_at"));
	put(p, ".</p>\n");
}

/* The dataset verdict: drifted or not, and the share of drifted columns against the
 * share at which the dataset drifts. */
static void put_dataset(struct page *p, const json_t *result, const json_t *report)
{
	const json_t *drift = either(result, report, "dataset_drift");
	const char *kind = !json_is_boolean(drift) ? "unknown" : json_is_true(drift) ? "yes" : "no";
	putf(p, "<section class=\"dataset %s\">\n<p class=\"big\">%s</p>\n<p>", kind,
	     !json_is_boolean(drift) ? "Dataset drift: unknown"
	     : json_is_true(drift)   ? "Dataset drift detected"
				     : "No dataset drift");
	put_count(p, json_object_get(result, "number_of_drifted_columns"));
	put(p, " of ");
	put_count(p, json_object_get(result, "number_of_columns"));
	put(p, " columns drifted: a share of ");
	put_number(p, either(result, report, "share_of_drifted_columns"));
	put(p, "; the dataset drifts at a share of ");
	put_number(p, json_object_get(result, "drift_share"));
	put(p, " or more.</p>\n</section>\n");
}

/* One line of a definition list: the member, its label, whether it is a Unix ms. */
struct fact {
	const char *key, *label;
	bool time;
};

/* A definition list of the object's members named in facts (in that order): strings as
 * text, times as dates, numbers; null (a lineage member not known) as "unknown".
 * Members the object lacks are left out. */
static void put_facts(struct page *p, const json_t *obj, const struct fact *facts)
{
	put(p, "<dl>\n");
	for (const struct fact *f = facts; f->key; f++) {
		const json_t *v = json_object_get(obj, f->key);
		if (!v)
			continue;
		putf(p, "<dt>%s</dt><dd>", f->label);
		if (json_is_string(v))
			put_esc(p, json_string_value(v));
		else if (f->time && json_is_integer(v))
			put_time(p, v);
		else if (json_is_integer(v))
			put_count(p, v);
		else if (json_is_number(v))
			put_number(p, v);
		else
			put(p, "<span class=\"none\">unknown</span>");
		put(p, "</dd>\n");
	}
	put(p, "</dl>\n");
}

static const struct fact lineage_facts[] = {
	{"model", "Model", false},
	{"version", "Version", false},
	{"run_id", "Training run", false},
	{"dataset", "Dataset", false},
	{"dataset_version", "Dataset version", false},
	{NULL, NULL, false},
};
static const struct fact window_facts[] = {
	{"start", "First prediction", true},
	{"end", "Closed", true},
	{"rows", "Rows", false},
	{"size", "Closes after (rows)", false},
	{"seconds", "Closes after (seconds)", false},
	{NULL, NULL, false},
};

enum core_status dm_report_html(const json_t *report, struct core_buf *out)
{
	struct page pg = {.b = out, .rc = CORE_OK}, *p = &pg;
	const json_t *result = json_object_get(report, "result");
	put(p, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
	put_header(p, report);
	if (!json_is_object(result)) {
		put(p, "<p class=\"empty\">This report has no readable document.</p>\n");
	} else {
		put_dataset(p, result, report);
		put(p, "<h2>Features</h2>\n");
		put_table(p, json_object_get(result, "columns"), "columns");
		const json_t *predictions = json_object_get(result, "predictions");
		if (predictions) {
			put(p, "<h2>Predictions</h2>\n");
			put_table(p, json_object_get(predictions, "columns"), "prediction columns");
		}
		if (json_is_object(json_object_get(result, "lineage"))) {
			put(p, "<h2>Lineage</h2>\n");
			put_facts(p, json_object_get(result, "lineage"), lineage_facts);
		}
		if (json_is_object(json_object_get(result, "window"))) {
			put(p, "<h2>Window</h2>\n");
			put_facts(p, json_object_get(result, "window"), window_facts);
		}
	}
	put(p, "<footer>Scores are p-values for statistical tests (drift when small) and distances otherwise "
	       "(drift when large), with Evidently's names and thresholds. The charts show each side's share of its "
	       "values per bin or category. Lathe drift monitor.</footer>\n</body>\n</html>\n");
	return p->rc;
}
