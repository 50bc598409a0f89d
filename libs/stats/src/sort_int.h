/* Private to libs/stats: sorting doubles fast, for the statistics that need whole
 * sorted samples (KS, Evidently's binning). Never included from outside the library. */
#ifndef STATS_SORT_INT_H
#define STATS_SORT_INT_H
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

/* Sorts a[0..n) ascending in place; tmp has room for n keys. The values must not be
 * NaN; -0.0 comes back as +0.0 (they compare equal, so no order or count changes).
 * CORE_ENOMEM (a unchanged) when the digit tables cannot be allocated. */
enum core_status stats_sort_doubles(double *a, size_t n, uint64_t *tmp);
#endif
