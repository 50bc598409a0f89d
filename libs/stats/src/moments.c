/* stats_moments: count, mean, sum of squared deviations (Welford's update, so a long
 * stream of large similar values keeps its precision), min and max. std uses ddof=1 as
 * pandas.describe does. NaN counts as missing and enters nothing else. merge combines two
 * accumulators (Chan, Golub, LeVeque) for per-thread or per-split partial results. */
#include <math.h>

#include "stats/stats.h"

void stats_moments_init(struct stats_moments *m)
{
	m->count = 0;
	m->missing = 0;
	m->mean = 0;
	m->m2 = 0;
	m->min = NAN;
	m->max = NAN;
}

void stats_moments_add(struct stats_moments *m, double x)
{
	if (isnan(x)) {
		m->missing++;
		return;
	}
	m->count++;
	double d = x - m->mean;
	m->mean += d / (double)m->count;
	m->m2 += d * (x - m->mean);
	if (m->count == 1 || x < m->min)
		m->min = x;
	if (m->count == 1 || x > m->max)
		m->max = x;
}

void stats_moments_merge(struct stats_moments *a, const struct stats_moments *b)
{
	a->missing += b->missing;
	if (b->count == 0)
		return;
	if (a->count == 0) {
		uint64_t missing = a->missing;
		*a = *b;
		a->missing = missing;
		return;
	}
	double na = (double)a->count, nb = (double)b->count, n = na + nb;
	double d = b->mean - a->mean;

	a->mean += d * nb / n;
	a->m2 += b->m2 + d * d * na * nb / n;
	a->count += b->count;
	if (b->min < a->min)
		a->min = b->min;
	if (b->max > a->max)
		a->max = b->max;
}

double stats_moments_mean(const struct stats_moments *m)
{
	return m->count ? m->mean : NAN;
}

double stats_moments_std(const struct stats_moments *m)
{
	if (m->count < 2)
		return NAN;
	double v = m->m2 / (double)(m->count - 1);
	return v > 0 ? sqrt(v) : 0;
}

double stats_moments_min(const struct stats_moments *m)
{
	return m->count ? m->min : NAN;
}

double stats_moments_max(const struct stats_moments *m)
{
	return m->count ? m->max : NAN;
}
