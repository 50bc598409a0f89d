/* prep.h: what the loader (loader.c) calls to compile a package's preprocessing into a
 * loaded model's input fields, and to free them (prep.c). The per-request functions
 * (ia_prep_pixels, ia_prep_rows) are declared in ia.h. */
#ifndef IA_PREP_H
#define IA_PREP_H
#include "ia.h"

/* Reads m->pkg.preprocessing (the data registry's tensor `preprocessing` metadata, or
 * NULL) and m->pkg.net's input shape, and fills m->kind, c/h/w, prep, columns,
 * n_columns, tab, n_in and n_raw:
 *   images   ("size" [h, w], "channels", "normalize" none|unit|meanstd, "mean"/"std"):
 *            clients send c*h*w raw pixel values, prepared by libs/img
 *   tabular  ("columns"): clients send one cell per column, encoded by ml/tabular.h
 *   NULL or neither: a tabular model of c*h*w numeric columns named "0".."n-1" (pandas'
 *            default column names) taken as they are (no standardisation)
 * CORE_EINVAL naming the problem when the preprocessing is malformed or does not give
 * the net's input size. On failure nothing needs freeing (ia_prep_free is harmless). */
enum core_status ia_prep_compile(struct ia_model *m, struct core_error *err);
/* Frees what ia_prep_compile filled; safe on a zeroed or already freed model. */
void ia_prep_free(struct ia_model *m);
/* ia-mlflow's tabular encoder (prep.c), declared in its ia.h; here until the lead
 * reconciles ia.h (merge of ia-mlflow into ia-img, for lathe predict's CSV). */
enum core_status ia_prep_tab_compile(struct ia_model *m, struct core_error *err);
void ia_prep_tab_free(void *tab);
#endif
