/* img/chart: the PNG charts a training run leaves in the tracker (loss and accuracy
 * curves, the confusion matrix), drawn with cairo.
 *
 * Both functions append a complete RGB PNG to png, which the caller has initialised
 * (core_buf_init, with a ceiling: CORE_ELIMIT when the PNG does not fit). They return
 * CORE_OK; CORE_EINVAL for bad arguments (the message names them); CORE_ENOMEM or
 * CORE_EIO when cairo fails. Thread-safe: each call has its own surface. */
#ifndef IMG_CHART_H
#define IMG_CHART_H
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/status.h"

/* One curve: y[0..n) plotted at x = 1..n (epochs). Non-finite values leave a gap. */
struct img_series {
	const char *name; /* legend entry */
	const double *y;
	size_t n;
};

#define IMG_CHART_WIDTH  800
#define IMG_CHART_HEIGHT 500

/* A line chart of IMG_CHART_WIDTH x IMG_CHART_HEIGHT pixels: title on top, x_label
 * under the x axis, "nice" ticks on both axes with grid lines, one colour per series
 * (matplotlib's tab10 order), dots on the points when there are at most 30, a legend.
 * title and x_label may be NULL. CORE_EINVAL when n_series is 0 or above 10, or a
 * series has no name or a NULL y with n > 0. */
enum core_status img_chart_lines(const char *title, const char *x_label, const struct img_series *s, size_t n_series,
				 struct core_buf *png, struct core_error *err);

#define IMG_CHART_MAX_CLASSES 200

/* A confusion-matrix heat map: m [k*k] counts, row = true class, column = predicted;
 * cells shaded from white (0) to dark blue (the largest count; matplotlib's "Blues"),
 * each with its count (when cells are big enough for it); class names (k strings, or
 * NULL for 0..k-1) down the left and slanted along the bottom (shortened with "..."
 * when long; every n-th only when rows are thin). The size follows k and the names' widths (see
 * img_chart_confusion_layout). CORE_EINVAL when k is 0 or above IMG_CHART_MAX_CLASSES,
 * or a count is negative. */
enum core_status img_chart_confusion(const int64_t *m, size_t k, const char *const *names, struct core_buf *png,
				     struct core_error *err);

/* Where img_chart_confusion draws for k classes named names: the image's *width x *height pixels,
 * and cell (row, col) as the square [x, x + cell) x [y, y + cell) with x = *left + col *
 * *cell, y = *top + row * *cell. For callers that map clicks to cells, and for tests. */
/* Frees the process-wide caches cairo and fontconfig fill on the first chart (fonts,
 * patterns), so leak checkers see a clean exit. Call once, at exit, when no chart call
 * is running or will run (a later chart call would rebuild them, slowly). */
void img_chart_shutdown(void);

void img_chart_confusion_layout(size_t k, const char *const *names, int *width, int *height, int *left, int *top,
				int *cell);
#endif
