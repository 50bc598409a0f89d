/* PNG charts with cairo (face: img/chart.h): the trainer's loss/accuracy curves and
 * confusion matrix, logged as run artifacts. Everything is drawn on an RGB image surface
 * with cairo's own text API (fontconfig picks the system's sans-serif face) and written
 * out with cairo_surface_write_to_png_stream into the caller's buffer; no file is
 * touched. Layout is in fixed pixels so the charts look the same on every machine that
 * has a sans-serif font. */
#include "img/chart.h"
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define FONT "sans-serif"

/* matplotlib's tab10, the colours data scientists read as "series 1, 2, ...". */
static const double palette[10][3] = {
	{0x1f / 255.0, 0x77 / 255.0, 0xb4 / 255.0}, {0xff / 255.0, 0x7f / 255.0, 0x0e / 255.0},
	{0x2c / 255.0, 0xa0 / 255.0, 0x2c / 255.0}, {0xd6 / 255.0, 0x27 / 255.0, 0x28 / 255.0},
	{0x94 / 255.0, 0x67 / 255.0, 0xbd / 255.0}, {0x8c / 255.0, 0x56 / 255.0, 0x4b / 255.0},
	{0xe3 / 255.0, 0x77 / 255.0, 0xc2 / 255.0}, {0x7f / 255.0, 0x7f / 255.0, 0x7f / 255.0},
	{0xbc / 255.0, 0xbd / 255.0, 0x22 / 255.0}, {0x17 / 255.0, 0xbe / 255.0, 0xcf / 255.0},
};

/* matplotlib's "Blues" stops, from 0 to 1. */
static const unsigned char blues[9][3] = {
	{247, 251, 255}, {222, 235, 247}, {198, 219, 239}, {158, 202, 225}, {107, 174, 214},
	{66, 146, 198},  {33, 113, 181},  {8, 81, 156},    {8, 48, 107},
};

struct png_sink {
	struct core_buf *buf;
	enum core_status status;
};

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int length)
{
	struct png_sink *sink = closure;
	sink->status = core_buf_append(sink->buf, data, length);
	return sink->status == CORE_OK ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* Writes the surface as PNG into png; frees the context and the surface either way. */
static enum core_status finish(cairo_t *cr, cairo_surface_t *surf, struct core_buf *png, struct core_error *err)
{
	enum core_status st = CORE_OK;
	cairo_status_t cs = cairo_status(cr);
	cairo_destroy(cr);
	if (cs == CAIRO_STATUS_SUCCESS) {
		struct png_sink sink = {png, CORE_OK};
		cs = cairo_surface_write_to_png_stream(surf, png_write, &sink);
		if (sink.status != CORE_OK)
			st = core_fail(err, sink.status, "chart: the PNG does not fit in its buffer");
	}
	if (st == CORE_OK && cs != CAIRO_STATUS_SUCCESS)
		st = core_fail(err, cs == CAIRO_STATUS_NO_MEMORY ? CORE_ENOMEM : CORE_EIO, "chart: cairo: %s",
			       cairo_status_to_string(cs));
	cairo_surface_destroy(surf);
	return st;
}

/* A white RGB canvas and its context; NULL context on failure (then finish reports). */
static cairo_t *canvas(int w, int h, cairo_surface_t **surf)
{
	*surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
	cairo_t *cr = cairo_create(*surf);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	return cr;
}

enum align { LEFT, CENTRE, RIGHT };

/* Draws text with its (horizontal) anchor at x and its vertical middle at y. */
static void text_at(cairo_t *cr, const char *s, double x, double y, enum align a)
{
	cairo_text_extents_t te;
	cairo_text_extents(cr, s, &te);
	double dx = a == LEFT ? 0 : a == CENTRE ? te.width / 2 + te.x_bearing : te.width + te.x_bearing;
	cairo_move_to(cr, x - dx, y - te.height / 2 - te.y_bearing);
	cairo_show_text(cr, s);
}

static void font(cairo_t *cr, double size, bool bold)
{
	cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
			       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
}

/* s, shortened with "..." until it is at most max_w pixels wide in the current font. */
static void fit_text(cairo_t *cr, const char *s, double max_w, char *out, size_t cap)
{
	snprintf(out, cap, "%s", s);
	cairo_text_extents_t te;
	cairo_text_extents(cr, out, &te);
	size_t len = strlen(out);
	while (te.x_advance > max_w && len > 1) {
		len--;
		while (len > 1 && ((unsigned char)out[len] & 0xC0) == 0x80) /* keep UTF-8 whole */
			len--;
		snprintf(out + len, cap - len, "...");
		cairo_text_extents(cr, out, &te);
	}
}

/* --- line chart ------------------------------------------------------------------- */

/* The 1, 2, 5 x 10^k step nearest above raw. */
static double nice_step(double raw)
{
	double p = pow(10, floor(log10(raw))), f = raw / p;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* Decimals that print every multiple of step exactly enough. */
static int decimals(double step)
{
	int d = (int)-floor(log10(step) + 1e-9);
	return d < 0 ? 0 : d > 8 ? 8 : d;
}

struct plot {
	double x0, y0, x1, y1;         /* pixel box: left, top, right, bottom */
	double xmin, xmax, ymin, ymax; /* data range shown */
};

static double px(const struct plot *p, double x)
{
	return p->x0 + (x - p->xmin) / (p->xmax - p->xmin) * (p->x1 - p->x0);
}

static double py(const struct plot *p, double y)
{
	return p->y1 - (y - p->ymin) / (p->ymax - p->ymin) * (p->y1 - p->y0);
}

static void axes(cairo_t *cr, const struct plot *p, double ystep, double xstep)
{
	char label[64];
	font(cr, 12, false);
	cairo_set_line_width(cr, 1);
	int yd = decimals(ystep);
	for (double v = ceil(p->ymin / ystep - 1e-9) * ystep; v <= p->ymax + ystep * 1e-9; v += ystep) {
		double y = round(py(p, v)) + 0.5;
		cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
		cairo_move_to(cr, p->x0, y);
		cairo_line_to(cr, p->x1, y);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		cairo_move_to(cr, p->x0 - 5, y);
		cairo_line_to(cr, p->x0, y);
		cairo_stroke(cr);
		snprintf(label, sizeof label, "%.*f", yd, fabs(v) < ystep * 1e-6 ? 0.0 : v);
		text_at(cr, label, p->x0 - 8, y, RIGHT);
	}
	for (double v = ceil(p->xmin / xstep) * xstep; v <= p->xmax + 1e-9; v += xstep) {
		if (v < 1)
			continue;
		double x = round(px(p, v)) + 0.5;
		cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
		cairo_move_to(cr, x, p->y0);
		cairo_line_to(cr, x, p->y1);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		cairo_move_to(cr, x, p->y1);
		cairo_line_to(cr, x, p->y1 + 5);
		cairo_stroke(cr);
		snprintf(label, sizeof label, "%.0f", v);
		text_at(cr, label, x, p->y1 + 16, CENTRE);
	}
	cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
	cairo_rectangle(cr, round(p->x0) + 0.5, round(p->y0) + 0.5, round(p->x1 - p->x0), round(p->y1 - p->y0));
	cairo_stroke(cr);
}

static void series_line(cairo_t *cr, const struct plot *p, const struct img_series *s, const double *rgb, bool dots)
{
	cairo_save(cr);
	cairo_rectangle(cr, p->x0, p->y0, p->x1 - p->x0, p->y1 - p->y0);
	cairo_clip(cr);
	cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
	cairo_set_line_width(cr, 2.2);
	cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
	bool pen = false;
	for (size_t i = 0; i < s->n; i++) {
		if (!isfinite(s->y[i])) {
			pen = false;
			continue;
		}
		double x = px(p, (double)(i + 1)), y = py(p, s->y[i]);
		if (pen)
			cairo_line_to(cr, x, y);
		else
			cairo_move_to(cr, x, y);
		pen = true;
	}
	cairo_stroke(cr);
	for (size_t i = 0; dots && i < s->n; i++) {
		if (!isfinite(s->y[i]))
			continue;
		cairo_new_sub_path(cr);
		cairo_arc(cr, px(p, (double)(i + 1)), py(p, s->y[i]), 3.5, 0, 2 * M_PI);
		cairo_fill(cr);
	}
	cairo_restore(cr);
}

/* The y range of the finite values (0..1 when there are none) with 5% margins, as
 * matplotlib's autoscaling; ticks go at the multiples of *step inside it. */
static void y_range(const struct img_series *s, size_t n_series, struct plot *p, double *step)
{
	double lo = INFINITY, hi = -INFINITY;
	for (size_t k = 0; k < n_series; k++)
		for (size_t i = 0; i < s[k].n; i++)
			if (isfinite(s[k].y[i])) {
				lo = fmin(lo, s[k].y[i]);
				hi = fmax(hi, s[k].y[i]);
			}
	if (!(lo <= hi)) {
		lo = 0;
		hi = 1;
	} else if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
		double pad = fabs(hi) > 0 ? fabs(hi) * 0.1 : 1;
		lo -= pad;
		hi += pad;
	}
	double margin = (hi - lo) * 0.05;
	p->ymin = lo - margin;
	p->ymax = hi + margin;
	*step = nice_step((hi - lo) / 6);
}

/* How much of the data a legend box at (x, y, w, h) would hide: points inside it,
 * sampled along each segment every few pixels. */
static int legend_overlap(const struct plot *p, const struct img_series *s, size_t n_series, double x, double y,
			  double w, double h)
{
	int hits = 0;
	for (size_t k = 0; k < n_series; k++)
		for (size_t i = 0; i + 1 < s[k].n || (i == 0 && s[k].n == 1); i++) {
			double a = s[k].y[i], b = s[k].n > 1 ? s[k].y[i + 1] : a;
			if (!isfinite(a) || !isfinite(b))
				continue;
			double xa = px(p, (double)(i + 1)), xb = px(p, (double)(i + (s[k].n > 1 ? 2 : 1)));
			double ya = py(p, a), yb = py(p, b);
			int steps = 1 + (int)(hypot(xb - xa, yb - ya) / 4);
			for (int t = 0; t <= steps; t++) {
				double qx = xa + (xb - xa) * t / steps, qy = ya + (yb - ya) * t / steps;
				hits += qx >= x - 4 && qx <= x + w + 4 && qy >= y - 4 && qy <= y + h + 4;
			}
		}
	return hits;
}

/* The legend, in whichever corner (or side) hides the least of the curves. */
static void legend(cairo_t *cr, const struct plot *p, const struct img_series *s, size_t n)
{
	font(cr, 12, false);
	char names[10][64];
	double w = 0;
	for (size_t i = 0; i < n; i++) {
		fit_text(cr, s[i].name, 220, names[i], sizeof names[i]);
		cairo_text_extents_t te;
		cairo_text_extents(cr, names[i], &te);
		w = fmax(w, te.x_advance);
	}
	double row = 20, bw = w + 50, bh = row * (double)n + 10;
	double spots[6][2] = {
		{p->x1 - bw - 10, p->y0 + 10},
		{p->x1 - bw - 10, p->y1 - bh - 10},
		{p->x0 + 10, p->y0 + 10},
		{p->x0 + 10, p->y1 - bh - 10},
		{p->x1 - bw - 10, (p->y0 + p->y1 - bh) / 2},
		{(p->x0 + p->x1 - bw) / 2, p->y0 + 10},
	};
	double bx = spots[0][0], by = spots[0][1];
	int best = -1;
	for (int i = 0; i < 6; i++) {
		int o = legend_overlap(p, s, n, spots[i][0], spots[i][1], bw, bh);
		if (best < 0 || o < best) {
			best = o;
			bx = spots[i][0];
			by = spots[i][1];
		}
	}
	cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
	cairo_rectangle(cr, bx, by, bw, bh);
	cairo_fill_preserve(cr);
	cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
	cairo_set_line_width(cr, 1);
	cairo_stroke(cr);
	for (size_t i = 0; i < n; i++) {
		double y = by + 5 + row * ((double)i + 0.5);
		const double *rgb = palette[i];
		cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
		cairo_set_line_width(cr, 2.2);
		cairo_move_to(cr, bx + 8, y);
		cairo_line_to(cr, bx + 32, y);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
		text_at(cr, names[i], bx + 40, y, LEFT);
	}
}

enum core_status img_chart_lines(const char *title, const char *x_label, const struct img_series *s, size_t n_series,
				 struct core_buf *png, struct core_error *err)
{
	if (n_series == 0 || n_series > 10)
		return core_fail(err, CORE_EINVAL, "chart: %zu series (1 to 10 can be drawn)", n_series);
	size_t n = 0;
	for (size_t i = 0; i < n_series; i++) {
		if (!s[i].name)
			return core_fail(err, CORE_EINVAL, "chart: series %zu has no name", i);
		if (s[i].n > 0 && !s[i].y)
			return core_fail(err, CORE_EINVAL, "chart: series '%s' has no values", s[i].name);
		n = s[i].n > n ? s[i].n : n;
	}
	struct plot p = {.x0 = 80, .y0 = 56, .x1 = IMG_CHART_WIDTH - 24, .y1 = IMG_CHART_HEIGHT - 64};
	double ystep, xstep = n <= 10 ? 1 : nice_step((double)n / 10);
	y_range(s, n_series, &p, &ystep);
	p.xmin = n <= 1 ? 0.5 : 1 - (double)(n - 1) * 0.03;
	p.xmax = n <= 1 ? 1.5 : (double)n + (double)(n - 1) * 0.03;

	cairo_surface_t *surf;
	cairo_t *cr = canvas(IMG_CHART_WIDTH, IMG_CHART_HEIGHT, &surf);
	axes(cr, &p, ystep, xstep);
	for (size_t i = 0; i < n_series; i++)
		series_line(cr, &p, &s[i], palette[i], n <= 30);
	legend(cr, &p, s, n_series);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	char buf[256];
	if (title) {
		font(cr, 18, true);
		fit_text(cr, title, IMG_CHART_WIDTH - 40, buf, sizeof buf);
		text_at(cr, buf, IMG_CHART_WIDTH / 2.0, 28, CENTRE);
	}
	if (x_label) {
		font(cr, 14, false);
		fit_text(cr, x_label, IMG_CHART_WIDTH - 40, buf, sizeof buf);
		text_at(cr, buf, (p.x0 + p.x1) / 2, IMG_CHART_HEIGHT - 22, CENTRE);
	}
	return finish(cr, surf, png, err);
}

/* --- confusion matrix ---------------------------------------------------------------- */

#define CM_TOP      60 /* the title */
#define CM_RIGHT    30
#define CM_AXIS     40  /* room for "True label" / "Predicted label" */
#define CM_NAME_MAX 150 /* longer class names are shortened */

struct cm_layout {
	int width, height, left, top, cell;
	double name_size; /* font size of the class names; 0: not drawn (cells too small) */
	int name_every;   /* draw every n-th name when rows are too thin for all */
	int name_w;       /* widest (shortened) name, pixels */
};

static const char *class_name(const char *const *names, size_t i, char num[32])
{
	snprintf(num, 32, "%zu", i);
	return names && names[i] ? names[i] : num;
}

/* Sizes everything from k and the names' widths in the names' font (measured on cr). */
static void cm_layout(cairo_t *cr, size_t k, const char *const *names, struct cm_layout *L)
{
	int cell = 560 / (int)k;
	cell = cell < 8 ? 8 : cell > 64 ? 64 : cell;
	L->cell = cell;
	L->name_size = fmin(13, fmax(8, cell * 0.6));
	L->name_every = cell >= 10 ? 1 : (10 + cell - 1) / cell;
	font(cr, L->name_size, false);
	double w = 0;
	for (size_t i = 0; i < k; i++) {
		char num[32], fitted[128];
		fit_text(cr, class_name(names, i, num), CM_NAME_MAX, fitted, sizeof fitted);
		cairo_text_extents_t te;
		cairo_text_extents(cr, fitted, &te);
		w = fmax(w, te.x_advance);
	}
	L->name_w = (int)ceil(w);
	int grid = cell * (int)k;
	L->left = CM_AXIS + L->name_w + 10;
	L->top = CM_TOP;
	/* column names slant at 45 degrees: w * sin 45 down, plus the font's height */
	int below = 10 + (int)ceil((w + L->name_size) * 0.7072) + CM_AXIS;
	L->width = L->left + (grid > 300 ? grid : 300) + CM_RIGHT;
	L->height = L->top + grid + below;
}

void img_chart_confusion_layout(size_t k, const char *const *names, int *width, int *height, int *left, int *top,
				int *cell)
{
	struct cm_layout L = {0};
	if (k >= 1 && k <= IMG_CHART_MAX_CLASSES) {
		cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
		cairo_t *cr = cairo_create(surf);
		cm_layout(cr, k, names, &L);
		cairo_destroy(cr);
		cairo_surface_destroy(surf);
	}
	*width = L.width;
	*height = L.height;
	*left = L.left;
	*top = L.top;
	*cell = L.cell;
}

static void blues_at(double t, double rgb[3])
{
	t = t < 0 ? 0 : t > 1 ? 1 : t;
	double f = t * 8;
	int i = (int)f;
	if (i >= 8)
		i = 7;
	f -= i;
	for (int c = 0; c < 3; c++)
		rgb[c] = (blues[i][c] + (blues[i + 1][c] - blues[i][c]) * f) / 255.0;
}

static void cm_cells(cairo_t *cr, const int64_t *m, size_t k, int64_t max, const struct cm_layout *L)
{
	int cell = L->cell;
	double num_size = fmin(14, cell * 0.32);
	font(cr, num_size, false);
	for (size_t r = 0; r < k; r++)
		for (size_t c = 0; c < k; c++) {
			double t = max ? (double)m[r * k + c] / (double)max : 0, rgb[3];
			blues_at(t, rgb);
			double x = L->left + (double)(c * (size_t)cell), y = L->top + (double)(r * (size_t)cell);
			cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
			cairo_rectangle(cr, x, y, cell, cell);
			cairo_fill(cr);
			if (cell < 20) /* no room for numbers: the colour says it */
				continue;
			char num[32];
			snprintf(num, sizeof num, "%lld", (long long)m[r * k + c]);
			cairo_text_extents_t te;
			cairo_text_extents(cr, num, &te);
			if (te.x_advance > cell - 3)
				continue;
			if (t > 0.5)
				cairo_set_source_rgb(cr, 1, 1, 1);
			else
				cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
			text_at(cr, num, x + cell / 2.0, y + cell / 2.0, CENTRE);
		}
}

/* Class names: rows right-aligned on the left, columns slanted under the grid. */
static void cm_names(cairo_t *cr, size_t k, const char *const *names, const struct cm_layout *L)
{
	double grid = (double)L->cell * (double)k;
	font(cr, L->name_size, false);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	for (size_t i = 0; i < k; i += (size_t)L->name_every) {
		char num[32], fitted[128];
		fit_text(cr, class_name(names, i, num), CM_NAME_MAX, fitted, sizeof fitted);
		double mid = (double)i * L->cell + L->cell / 2.0;
		text_at(cr, fitted, L->left - 6, L->top + mid, RIGHT);
		cairo_save(cr);
		cairo_translate(cr, L->left + mid, L->top + grid + 6);
		cairo_rotate(cr, -M_PI / 4);
		cairo_text_extents_t te;
		cairo_text_extents(cr, fitted, &te);
		cairo_move_to(cr, -te.x_advance, (te.height) / 2);
		cairo_show_text(cr, fitted);
		cairo_restore(cr);
	}
}

enum core_status img_chart_confusion(const int64_t *m, size_t k, const char *const *names, struct core_buf *png,
				     struct core_error *err)
{
	if (k == 0 || k > IMG_CHART_MAX_CLASSES)
		return core_fail(err, CORE_EINVAL, "chart: %zu classes (1 to %d can be drawn)", k,
				 IMG_CHART_MAX_CLASSES);
	int64_t max = 0;
	for (size_t i = 0; i < k * k; i++) {
		if (m[i] < 0)
			return core_fail(err, CORE_EINVAL, "chart: count [%zu][%zu] is negative", i / k, i % k);
		max = m[i] > max ? m[i] : max;
	}
	struct cm_layout L;
	cairo_surface_t *probe = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
	cairo_t *pcr = cairo_create(probe);
	cm_layout(pcr, k, names, &L);
	cairo_destroy(pcr);
	cairo_surface_destroy(probe);

	cairo_surface_t *surf;
	cairo_t *cr = canvas(L.width, L.height, &surf);
	double grid = (double)L.cell * (double)k;
	cm_cells(cr, m, k, max, &L);
	cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
	cairo_set_line_width(cr, 1);
	cairo_rectangle(cr, L.left - 0.5, L.top - 0.5, grid + 1, grid + 1);
	cairo_stroke(cr);
	cm_names(cr, k, names, &L);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	font(cr, 18, true);
	text_at(cr, "Confusion matrix", L.left + grid / 2, 28, CENTRE);
	font(cr, 14, false);
	text_at(cr, "Predicted label", L.left + grid / 2, L.height - CM_AXIS / 2.0, CENTRE);
	cairo_save(cr);
	cairo_translate(cr, CM_AXIS / 2.0, L.top + grid / 2);
	cairo_rotate(cr, -M_PI / 2);
	text_at(cr, "True label", 0, 0, CENTRE);
	cairo_restore(cr);
	return finish(cr, surf, png, err);
}

void img_chart_shutdown(void)
{
	cairo_debug_reset_static_data();
	FcFini();
}
