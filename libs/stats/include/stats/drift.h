/* Evidently's drift methods as data: which stattests Lathe supports (by Evidently's short
 * names, the ones its users put in `stattest=` and read back in reports), whether each
 * one's score is a p-value or a distance, its default threshold, the column types it
 * accepts, the method Evidently picks when the user names none, and the dataset-level
 * verdict. No statistic is computed here: the tests are in stats/stattest.h, the
 * distances in stats/distance.h; this is the table that says which to run and how to
 * read its score.
 *
 * Source: evidentlyai/evidently, src/evidently/legacy/calculations/stattests/
 * (registry.py `_get_default_stattest`, one file per stattest for its threshold, types
 * and drift rule) and calculations/data_drift.py (`get_one_column_drift`, which drops
 * NaN and ±inf from both columns before choosing; `get_dataset_drift`). */
#ifndef STATS_DRIFT_H
#define STATS_DRIFT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The stattests Lathe implements, under Evidently's registered names. */
enum stats_method {
	STATS_METHOD_KS,            /* "ks": two-sample Kolmogorov–Smirnov, p-value */
	STATS_METHOD_CHISQUARE,     /* "chisquare": chi-squared goodness of fit, p-value */
	STATS_METHOD_Z,             /* "z": two-proportion z-test, p-value */
	STATS_METHOD_WASSERSTEIN,   /* "wasserstein": W1 / max(std(ref), 0.001), distance */
	STATS_METHOD_JENSENSHANNON, /* "jensenshannon": JS distance, natural log */
	STATS_METHOD_PSI,           /* "psi": population stability index */
	STATS_METHOD_KL_DIV,        /* "kl_div": KL(ref ‖ cur) */
	STATS_METHOD_HELLINGER,     /* "hellinger": Hellinger distance */
	STATS_METHOD_TVD,           /* "TVD": total variation, permutation-test p-value */
	STATS_METHOD_COUNT
};

/* Evidently's column types that have drift methods here (its Text type has none). */
enum stats_column_type {
	STATS_COLUMN_NUMERICAL,
	STATS_COLUMN_CATEGORICAL,
};

/* How a method's score reads: a p-value (small means drift) or a distance (large means
 * drift). */
enum stats_score_kind {
	STATS_SCORE_PVALUE,
	STATS_SCORE_DISTANCE,
};

/* Dataset drift when at least this share of the columns drifted (Evidently's
 * `drift_share`). */
#define STATS_DRIFT_SHARE_DEFAULT 0.5

/* Evidently's short name ("ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi",
 * "kl_div", "hellinger", "TVD"): what reports carry as `stattest_name` and what users
 * pass to choose a method. NULL for a value outside the enum. */
const char *stats_method_name(enum stats_method m);

/* Evidently's display name ("K-S p_value", "Jensen-Shannon distance", ...), the label its
 * own HTML report shows. NULL for a value outside the enum. */
const char *stats_method_display_name(enum stats_method m);

/* The method whose short name is `name`, exactly (case matters: "TVD" but "psi", as
 * Evidently registers them), into *out. Returns false, *out untouched, for NULL or any
 * other name. */
bool stats_method_by_name(const char *name, enum stats_method *out);

/* P-value or distance. TVD is a p-value: Evidently's "TVD" stattest reports the p-value
 * of a permutation test on the total variation distance, not the distance itself. */
enum stats_score_kind stats_method_score_kind(enum stats_method m);

/* Evidently's default threshold: 0.05 for ks, chisquare and z; 0.1 for the distances and
 * for TVD's p-value. */
double stats_method_default_threshold(enum stats_method m);

/* Whether the user may choose m for a column of type t (Evidently's
 * `allowed_feature_types`: ks and wasserstein numerical only; chisquare, z and TVD
 * categorical only; the rest both). stats_default_method may still pick chisquare or z
 * for a numerical column with few values, as Evidently does: its default choice skips
 * this check. */
bool stats_method_applies(enum stats_method m, enum stats_column_type t);

/* Evidently's drift verdict for a score: ks drifts when p <= threshold, the other
 * p-values when p < threshold, distances when score >= threshold. A NaN score (no data)
 * never drifts, as in Evidently. */
bool stats_method_drifted(enum stats_method m, double score, double threshold);

/* The method Evidently chooses for a column when none is configured
 * (`_get_default_stattest`). n_ref: rows of the reference column after dropping NaN and
 * ±inf; n_unique: distinct non-missing values over reference ∪ current together.
 *
 *                        n_ref <= 1000     n_ref > 1000
 *   numerical, > 5       ks                wasserstein
 *   numerical, 3..5      chisquare         jensenshannon
 *   numerical, <= 2      z                 jensenshannon
 *   categorical, > 2     chisquare         jensenshannon
 *   categorical, <= 2    z                 jensenshannon
 */
enum stats_method stats_default_method(enum stats_column_type t, uint64_t n_ref, uint64_t n_unique);

/* Evidently's dataset verdict: share = n_drifted / n_columns into *share (when share is
 * not NULL), and true when share >= drift_share. No columns: share 0 and false (Evidently
 * divides by zero there). */
bool stats_dataset_drift(size_t n_drifted, size_t n_columns, double drift_share, double *share);
#endif
