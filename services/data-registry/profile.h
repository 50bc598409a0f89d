/* The data registry's profiles (prefix dr_prof_): the statistics of a version that
 * GET .../profile serves and the drift monitor later compares live traffic with. Shape:
 * proto/profile.schema.json. Files:
 *   profile_col.c    one numeric column's accumulators and JSON (shared)
 *   profile_tab.c    tabular (CSV) profiles: column types, per-column statistics
 *   profile_img.c    image profiles (image-folder, idx): sizes, channels, pixel
 *                    statistics, per-image brightness and contrast
 *   profile_worker.c the periodic task that profiles PENDING versions
 * The builders are pure: fed item by item (bounded memory whatever the count, through
 * libs/stats), they return the profile as a jansson object; nothing here touches the
 * database, the blob store or the decoders. */
#ifndef DR_PROFILE_H
#define DR_PROFILE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "blob/blob.h"
#include "core/status.h"
#include "svc/svc.h"

/* The quantiles every numeric column reports, as "p1" ... "p99". */
#define DR_PROF_NQ 7
extern const double dr_prof_quantiles[DR_PROF_NQ];
extern const char *const dr_prof_quantile_names[DR_PROF_NQ];
/* Equal-width bins of a numeric column's histogram over [min, max]
 * (numpy.histogram(x, bins=20)). */
#define DR_PROF_BINS 20
/* Values listed for a categorical column (then "other"). */
#define DR_PROF_TOP 100
/* A non-numeric column is categorical when its distinct values are at most this many,
 * or at most DR_PROF_CAT_SHARE of its non-missing values; else text. */
#define DR_PROF_CAT_MAX   50
#define DR_PROF_CAT_SHARE 0.05

/* --- profile_col.c: a numeric column ----------------------------------------------- */

struct dr_prof_num;
/* qbound, dbound: the exact bounds of its quantiles and distinct count (0: defaults). */
struct dr_prof_num *dr_prof_num_new(size_t qbound, size_t dbound);
void dr_prof_num_free(struct dr_prof_num *c);
/* Adds a value; NaN counts as missing. */
void dr_prof_num_add(struct dr_prof_num *c, double x);
/* Sets the numeric members of obj: count, missing, distinct, distinct_exact, min, max,
 * mean, std (ddof=1), quantiles, quantiles_exact, histogram (null without values). */
void dr_prof_num_json(struct dr_prof_num *c, json_t *obj);

/* Whether s is missing as pandas.read_csv reads it by default: "", "NA", "NaN", "null",
 * "N/A", "#N/A", "None", ... (its whole default na_values list, exact match). */
bool dr_prof_missing(const char *s);
/* Parses s as pandas would a number (surrounding spaces allowed; decimal only, no hex;
 * finite only): true with *out, else false. */
bool dr_prof_parse_number(const char *s, double *out);

/* --- profile_tab.c: tabular ---------------------------------------------------------- */

struct dr_prof_tab;
/* A builder for rows with these columns (copied); label_column (may be NULL) names the
 * column whose values are the classes. */
struct dr_prof_tab *dr_prof_tab_new(const char *const *columns, size_t n, const char *label_column);
/* Adds one row: n fields in the columns' order (a shorter row's missing fields count as
 * missing); cls its class or NULL. */
void dr_prof_tab_add(struct dr_prof_tab *t, const char *const *fields, size_t n, const char *cls);
/* The profile: {"version_id", "format":"csv", "items", "classes", "columns"}. New
 * reference; the builder stays usable. */
json_t *dr_prof_tab_json(struct dr_prof_tab *t, const char *version_id);
void dr_prof_tab_free(struct dr_prof_tab *t);

/* --- profile_img.c: images ------------------------------------------------------------ */

struct dr_prof_img;
/* format: "idx" or "image-folder" (written into the profile). */
struct dr_prof_img *dr_prof_img_new(const char *format);
/* Adds one image: HWC bytes, channels 1 (gray) or 3 (RGB); cls its class or NULL. */
void dr_prof_img_add(struct dr_prof_img *p, const char *cls, unsigned width, unsigned height, unsigned channels,
		     const uint8_t *pixels);
/* The profile: {"version_id", "format", "items", "classes", "columns" (brightness,
 * contrast), "images"}. New reference. */
json_t *dr_prof_img_json(struct dr_prof_img *p, const char *version_id);
void dr_prof_img_free(struct dr_prof_img *p);

/* A JSON string of len bytes; bytes that are not valid UTF-8 become '?' (CSV files
 * are not checked for an encoding; the profile must still be JSON). */
json_t *dr_prof_string(const char *s, size_t len);

/* --- profile_build.c: a version's items to its profile ------------------------------- */

/* Needs enum dr_format and struct dr_manifest_file: include dr.h or data.h first (both
 * define them). Reads every item of a version (data.h's iterator; image files decoded
 * by libs/img) into the builder of its format and returns the profile in *out (new
 * reference). stopping (may be NULL) is asked every few hundred items; when it answers
 * true the build ends with CORE_ENOENT and nothing in *out. Else CORE_OK, or the
 * iterator's or decoder's failure (CORE_EINVAL; CORE_EIO when the store cannot be read)
 * with a message naming the file. */
#if defined(DR_H) || defined(DR_DATA_H)
enum core_status dr_prof_build(struct blob_store *store, enum dr_format fmt, const struct dr_manifest_file *files,
			       size_t n, const char *label_column, const char *version_id, bool (*stopping)(void *cls),
			       void *stopping_cls, json_t **out, struct core_error *err);
#endif

/* --- profile_worker.c ---------------------------------------------------------------- */

/* The profiler's periodic task, for svc_def.periodic. */
extern const struct svc_periodic_def dr_prof_periodic[];

/* Class counts shared by both builders: NULL-safe helpers over stats_counts, written as
 * [{"name","count"}] sorted by name, or null when no item had a class or there were
 * too many to count exactly. */
struct stats_counts;
json_t *dr_prof_classes_json(const struct stats_counts *classes);
#endif
