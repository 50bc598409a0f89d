/* mlflow_in.h: MLflow's scoring inputs (mlflow models serve, 2.12: POST /invocations)
 * parsed into what a model takes (mlflow_in.c). Pure: no HTTP, no model table. */
#ifndef IA_MLFLOW_IN_H
#define IA_MLFLOW_IN_H
#include "http/errors_gen.h"
#include "ia.h"

/* Why a body was refused: code decides the status (proto/errors.csv) and the error_code
 * of MLflow's {"error_code", "message"} body. Messages are MLflow's where it has one.
 * (MLflow answers its 415s as text/plain; ours are JSON like every other error, with
 * MLflow's text as the message.) */
struct ia_mlflow_error {
	enum http_error_code code;
	char message[2048];
};

/* A parsed body: n rows of what m takes. */
struct ia_mlflow_input {
	size_t n;
	struct ia_cell *cells; /* tabular: [n, m->n_columns] in the model's column order */
	float *raw;            /* images: [n, m->n_raw] raw pixel values (CHW), unchecked */
	json_t *doc;           /* owns the JSON strings cells borrow */
	char *arena;           /* owns the CSV strings cells borrow */
};

/* Parses body (len bytes) sent with content_type (the Content-Type header, NULL when
 * absent) for model m (its kind, columns and n_raw):
 *   application/json (charset utf-8 only): an object with exactly one of
 *     "dataframe_split": {"columns": [...], "data": [[...]...], "index"?: [...]}
 *     "dataframe_records": [{"col": v, ...}, ...]
 *     "instances" / "inputs": a list of rows (lists, scalars, or {"col": v} records), or
 *                  {"col": [v, ...], ...} columns (TF Serving's columnar form)
 *   and optionally "params" (accepted, unused);
 *   text/csv: a header row, then rows (pandas.DataFrame.to_csv, its index column too).
 * Tabular models: named columns are matched by name, in any order (extra ones are
 * ignored, a missing one is an error); unnamed rows are positional. Image models: each
 * row's numbers, nested lists flattened ([h][w] or [c][h][w] or flat), must be m->n_raw.
 * Returns CORE_OK (*out filled; free with ia_mlflow_input_free; n may be 0), or
 * CORE_EINVAL with *e filled (nothing to free). */
enum core_status ia_mlflow_parse(const struct ia_model *m, const char *content_type, const char *body, size_t len,
				 struct ia_mlflow_input *out, struct ia_mlflow_error *e);
void ia_mlflow_input_free(struct ia_mlflow_input *in);
#endif
