/* The table of Evidently's stattests that Lathe supports, and the rules around it:
 * default choice per column, drift verdict per score, dataset verdict. One row per
 * method holds every fact Evidently registers for it (short and display name, score
 * kind, default threshold, allowed column types), so a lookup is an index and nothing
 * is repeated in switch statements. Facts are from Evidently's
 * legacy/calculations/stattests (one file per stattest); see stats/drift.h for the sources. */
#include <string.h>

#include "stats/drift.h"

#define NUM (1u << STATS_COLUMN_NUMERICAL)
#define CAT (1u << STATS_COLUMN_CATEGORICAL)

struct method_row {
	const char *name;
	const char *display;
	enum stats_score_kind kind;
	double threshold;
	unsigned types; /* NUM | CAT */
};

static const struct method_row METHODS[STATS_METHOD_COUNT] = {
	[STATS_METHOD_KS] = {"ks", "K-S p_value", STATS_SCORE_PVALUE, 0.05, NUM},
	[STATS_METHOD_CHISQUARE] = {"chisquare", "chi-square p_value", STATS_SCORE_PVALUE, 0.05, CAT},
	[STATS_METHOD_Z] = {"z", "Z-test p_value", STATS_SCORE_PVALUE, 0.05, CAT},
	[STATS_METHOD_WASSERSTEIN] = {"wasserstein", "Wasserstein distance (normed)", STATS_SCORE_DISTANCE, 0.1, NUM},
	[STATS_METHOD_JENSENSHANNON] = {"jensenshannon", "Jensen-Shannon distance", STATS_SCORE_DISTANCE, 0.1,
					NUM | CAT},
	[STATS_METHOD_PSI] = {"psi", "PSI", STATS_SCORE_DISTANCE, 0.1, NUM | CAT},
	[STATS_METHOD_KL_DIV] = {"kl_div", "Kullback-Leibler divergence", STATS_SCORE_DISTANCE, 0.1, NUM | CAT},
	[STATS_METHOD_HELLINGER] = {"hellinger", "Hellinger distance", STATS_SCORE_DISTANCE, 0.1, NUM | CAT},
	/* Evidently's TVD is a permutation-test p-value with a distance-like default of 0.1 */
	[STATS_METHOD_TVD] = {"TVD", "Total-Variation-Distance", STATS_SCORE_PVALUE, 0.1, CAT},
};

/* The enum is unsigned or signed at the compiler's choice; compare as unsigned so a
 * negative value cast in is refused too. */
static const struct method_row *row(enum stats_method m)
{
	return (unsigned)m < STATS_METHOD_COUNT ? &METHODS[m] : NULL;
}

const char *stats_method_name(enum stats_method m)
{
	const struct method_row *r = row(m);
	return r ? r->name : NULL;
}

const char *stats_method_display_name(enum stats_method m)
{
	const struct method_row *r = row(m);
	return r ? r->display : NULL;
}

bool stats_method_by_name(const char *name, enum stats_method *out)
{
	if (!name)
		return false;
	for (unsigned i = 0; i < STATS_METHOD_COUNT; i++)
		if (strcmp(METHODS[i].name, name) == 0) {
			*out = (enum stats_method)i;
			return true;
		}
	return false;
}

enum stats_score_kind stats_method_score_kind(enum stats_method m)
{
	const struct method_row *r = row(m);
	return r ? r->kind : STATS_SCORE_DISTANCE;
}

double stats_method_default_threshold(enum stats_method m)
{
	const struct method_row *r = row(m);
	return r ? r->threshold : 0;
}

bool stats_method_applies(enum stats_method m, enum stats_column_type t)
{
	const struct method_row *r = row(m);
	return r && (unsigned)t <= STATS_COLUMN_CATEGORICAL && (r->types & (1u << t));
}

bool stats_method_drifted(enum stats_method m, double score, double threshold)
{
	/* every comparison with NaN is false, which is Evidently's "no data, no drift" */
	if (m == STATS_METHOD_KS)
		return score <= threshold;
	if (stats_method_score_kind(m) == STATS_SCORE_PVALUE)
		return score < threshold;
	return score >= threshold;
}

enum stats_method stats_default_method(enum stats_column_type t, uint64_t n_ref, uint64_t n_unique)
{
	if (n_ref > 1000) {
		if (t == STATS_COLUMN_NUMERICAL && n_unique > 5)
			return STATS_METHOD_WASSERSTEIN;
		return STATS_METHOD_JENSENSHANNON;
	}
	if (t == STATS_COLUMN_NUMERICAL && n_unique > 5)
		return STATS_METHOD_KS;
	/* categorical, or numerical with at most 5 values: Evidently treats them as classes */
	return n_unique > 2 ? STATS_METHOD_CHISQUARE : STATS_METHOD_Z;
}

bool stats_dataset_drift(size_t n_drifted, size_t n_columns, double drift_share, double *share)
{
	double s = n_columns ? (double)n_drifted / (double)n_columns : 0;

	if (share)
		*share = s;
	return n_columns > 0 && s >= drift_share;
}
