/* stats_histogram: counts on fixed edges with numpy.histogram's rule (bin i is
 * [e_i, e_i+1), the last bin is closed), found by binary search over the edges, which is
 * what numpy's own correction step settles on. stats_edges_linspace reproduces the
 * edges numpy.histogram(x, bins=n) makes from min and max, so a profile's histogram can
 * be read back and compared with numpy's bin for bin. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "stats/stats.h"

void stats_edges_linspace(double lo, double hi, size_t bins, double *edges)
{
	if (lo == hi) {
		lo -= 0.5;
		hi += 0.5;
	}
	double div = (double)bins, delta = hi - lo, step = delta / div;

	for (size_t i = 0; i < bins; i++)
		edges[i] = step == 0 ? (double)i / div * delta + lo : (double)i * step + lo;
	edges[bins] = hi;
}

bool stats_histogram_init(struct stats_histogram *h, const double *edges, size_t bins)
{
	memset(h, 0, sizeof *h);
	if (bins == 0)
		return false;
	for (size_t i = 0; i <= bins; i++)
		if (!isfinite(edges[i]) || (i > 0 && !(edges[i] > edges[i - 1])))
			return false;
	h->bins = bins;
	h->edges = core_xmalloc((bins + 1) * sizeof *h->edges);
	memcpy(h->edges, edges, (bins + 1) * sizeof *h->edges);
	h->counts = core_xcalloc(bins, sizeof *h->counts);
	return true;
}

void stats_histogram_free(struct stats_histogram *h)
{
	free(h->edges);
	free(h->counts);
	memset(h, 0, sizeof *h);
}

void stats_histogram_add_n(struct stats_histogram *h, double x, uint64_t count)
{
	if (isnan(x)) {
		h->missing += count;
		return;
	}
	if (x < h->edges[0]) {
		h->below += count;
		return;
	}
	if (x > h->edges[h->bins]) {
		h->above += count;
		return;
	}
	/* the largest i < bins with edges[i] <= x */
	size_t lo = 0, hi = h->bins;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (h->edges[mid] <= x)
			lo = mid;
		else
			hi = mid;
	}
	h->counts[lo] += count;
}

void stats_histogram_add(struct stats_histogram *h, double x)
{
	stats_histogram_add_n(h, x, 1);
}
