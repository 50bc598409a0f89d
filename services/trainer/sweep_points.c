/* The points of a sweep (pure: no I/O), for sweep.c which runs them:
 *   grid    every combination of the space's lists, the first key varying slowest
 *           (the space's order), at most `trials` of them when trials is given;
 *   random  `trials` points (default 10), each key's value drawn uniformly from its
 *           list by splitmix64 seeded with the job's seed: same seed, same points.
 * And the comparison of two trials' scores for a goal, and the best of the finished
 * trials (ties to the lowest index, whatever order they ended in). Unit-tested in
 * tests/unit/services/trainer/test_sweep.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tr.h"

/* splitmix64: a small, well-mixed generator; enough to pick list entries. */
static uint64_t next_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

enum core_status tr_sweep_points(json_t *sweep, uint64_t seed, json_t **out, struct core_error *err)
{
	json_t *space = json_object_get(sweep, "space");
	const char *method = json_string_value(json_object_get(sweep, "method"));
	json_int_t trials = json_integer_value(json_object_get(sweep, "trials"));
	size_t n_keys = json_object_size(space);
	*out = NULL;
	if (!json_is_object(space) || n_keys == 0)
		return core_fail(err, CORE_EINVAL, "sweep.space: an object of at least one path");
	const char **keys = core_xcalloc(n_keys, sizeof *keys);
	json_t **vals = core_xcalloc(n_keys, sizeof *vals);
	size_t i = 0, total = 1;
	const char *k;
	json_t *v;
	enum core_status rc = CORE_OK;
	json_object_foreach(space, k, v)
	{
		if (!json_is_array(v) || json_array_size(v) == 0) {
			rc = core_fail(err, CORE_EINVAL, "sweep.space.%s: a non-empty list of values", k);
			goto out;
		}
		keys[i] = k;
		vals[i++] = v;
		total = total > ((size_t)1 << 20) ? total : total * json_array_size(v);
	}
	bool random = method && strcmp(method, "random") == 0;
	size_t n = random ? (size_t)(trials > 0 ? trials : 10) : total;
	if (!random && trials > 0 && (size_t)trials < n)
		n = (size_t)trials;
	if (n > 10000) {
		rc = core_fail(err, CORE_EINVAL, "sweep: %zu trials is more than 10000", n);
		goto out;
	}
	json_t *pts = json_array();
	uint64_t g = seed ^ 0x5357454550ULL; /* "SWEEP" */
	for (size_t t = 0; t < n; t++) {
		json_t *p = json_object();
		size_t rest = t;
		/* grid: mixed radix with the last key varying fastest */
		size_t *idx = core_xcalloc(n_keys, sizeof *idx);
		for (size_t q = n_keys; q-- > 0;) {
			size_t m = json_array_size(vals[q]);
			idx[q] = random ? (size_t)(next_u64(&g) % m) : rest % m;
			rest /= m;
		}
		for (size_t q = 0; q < n_keys; q++)
			json_object_set(p, keys[q], json_array_get(vals[q], idx[q]));
		free(idx);
		json_array_append_new(pts, p);
	}
	*out = pts;
out:
	free(keys);
	free(vals);
	return rc;
}

bool tr_sweep_better(double a, double b, bool maximize)
{
	if (isnan(a))
		return false;
	if (isnan(b))
		return true;
	return maximize ? a > b : a < b;
}

json_t *tr_sweep_best(json_t *done, bool maximize)
{
	json_t *best = NULL, *t;
	double best_score = NAN;
	json_int_t best_trial = 0;
	size_t i;
	json_array_foreach(done, i, t)
	{
		json_t *sc = json_object_get(t, "score");
		double v = json_number_value(sc);
		if (!json_is_number(sc) || !isfinite(v))
			continue;
		json_int_t trial = json_integer_value(json_object_get(t, "trial"));
		bool tie = best && v == best_score && trial < best_trial;
		if (!best || tr_sweep_better(v, best_score, maximize) || tie) {
			best = t;
			best_score = v;
			best_trial = trial;
		}
	}
	return best;
}
