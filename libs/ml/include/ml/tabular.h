/* ml/tabular: the tabular preprocessing of a model, the one encoder both the data
 * registry's tensor export (services/data-registry/tensors.c) and the inference API
 * (services/inference-api/prep.c) turn a row of raw cells into features with, so a
 * served row is encoded exactly as the training rows were.
 *
 * It is compiled from the data registry's tensor `preprocessing` metadata (what a
 * package's model.json carries under "preprocessing"):
 *   {"columns": [{"name": "age", "type": "numeric", "mean": m, "std": s, "fill": f},
 *                {"name": "city", "type": "categorical", "vocabulary": ["a", "b"]}],
 *    "one_hot": true, "standardize": false, ...}
 * Encoding, column by column, in order:
 *   numeric      a number, or fill when missing: (v - mean) / std when standardize
 *                (std 0 taken as 1), one float
 *   categorical  one_hot: one float per vocabulary entry, 1 at the value's, all 0 for a
 *                missing or unknown value (scikit-learn's handle_unknown="ignore");
 *                else one float, the value's vocabulary index or -1
 * Missing: a null cell, or text that is empty, "NA", "N/A", "NaN", "nan" or "null" (what
 * the data registry's CSV reader takes as missing). A number given to a categorical
 * column matches the vocabulary entry it equals as a number ("3", "3.0" for 3). Text
 * in a numeric column is parsed as a number (CSV cells are text). */
#ifndef ML_TABULAR_H
#define ML_TABULAR_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "core/status.h"

enum ml_tab_kind { ML_TAB_MISSING = 0, ML_TAB_NUMBER, ML_TAB_TEXT };

/* One raw cell. */
struct ml_tab_value {
	enum ml_tab_kind kind;
	double num;       /* ML_TAB_NUMBER */
	const char *text; /* ML_TAB_TEXT: borrowed */
};

struct ml_tab_column {
	char *name;
	bool numeric;
	double mean, std, fill; /* numeric */
	char **vocab;           /* categorical: the entries, in index order */
	size_t n_vocab;
	size_t *by_text;   /* vocab indices sorted by text (lookup) */
	double *vocab_num; /* each entry as a number, NAN when it is not one */
};

struct ml_tabular {
	struct ml_tab_column *cols;
	size_t n_cols;
	bool one_hot, standardize;
	size_t width; /* floats per encoded row */
};

/* Compiles prep (the `preprocessing` object above) into *out (free with
 * ml_tabular_free). CORE_EINVAL naming the field for a prep that is not one ("columns[2]:
 * type must be numeric or categorical"); on failure *out is zeroed. */
enum core_status ml_tabular_compile(const json_t *prep, struct ml_tabular *out, struct core_error *err);
/* Frees what t owns and zeroes it; NULL or already freed is fine. */
void ml_tabular_free(struct ml_tabular *t);

/* True for the texts taken as missing (above). */
bool ml_tabular_missing_text(const char *v);
/* Parses v as a whole finite number (strtod). */
bool ml_tabular_number_text(const char *v, double *out);

/* Encodes one row of t->n_cols cells (in t's column order) into out[t->width].
 * strict: a numeric column's text that is neither missing nor a number, or a non-finite
 * number, gives CORE_EINVAL ("column 'age': 'abc' is not a number") and *bad_col (may be
 * NULL) its index; not strict: it takes the fill, as the data registry's export does for
 * the rows it was not fitted on. */
enum core_status ml_tabular_encode(const struct ml_tabular *t, const struct ml_tab_value *row, bool strict, float *out,
				   size_t *bad_col, struct core_error *err);
#endif
