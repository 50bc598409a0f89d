/* mlflow/names.h: MLflow's rules for the names and values clients send
 * (mlflow/utils/validation.py, 2.12.2), with MLflow's messages. Lengths are counted in
 * characters (Unicode code points of valid UTF-8), as Python's len() counts them,
 * never in bytes. Pure; nothing here does I/O. */
#ifndef MLFLOW_NAMES_H
#define MLFLOW_NAMES_H
#include <stddef.h>
#include "core/status.h"

/* MLflow's limits, in characters. */
#define MLFLOW_MAX_ENTITY_KEY_LENGTH               250 /* metric, param and run tag keys */
#define MLFLOW_MAX_PARAM_VAL_LENGTH                6000
#define MLFLOW_MAX_TAG_VAL_LENGTH                  5000 /* run tags */
#define MLFLOW_MAX_EXPERIMENT_TAG_KEY_LENGTH       250
#define MLFLOW_MAX_EXPERIMENT_TAG_VAL_LENGTH       5000
#define MLFLOW_MAX_MODEL_REGISTRY_TAG_KEY_LENGTH   250
#define MLFLOW_MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH 5000
#define MLFLOW_MAX_REGISTERED_MODEL_ALIAS_LENGTH   255
/* The SQL store's column widths (String(256) / String(250)): MLflow 2.12.2 checks no
 * length for these names, and its database refuses longer ones. */
#define MLFLOW_MAX_EXPERIMENT_NAME_LENGTH       256
#define MLFLOW_MAX_RUN_NAME_LENGTH              250
#define MLFLOW_MAX_REGISTERED_MODEL_NAME_LENGTH 256

/* The number of characters in s (UTF-8; a byte that starts no character is not
 * counted, so a malformed string is not counted longer than it looks). */
size_t mlflow_utf8_chars(const char *s);
/* The length in bytes of s's first max_chars characters (for truncation). */
size_t mlflow_utf8_prefix(const char *s, size_t max_chars);

/* MLflow's _validate_metric_name / _validate_param_name / _validate_tag_name:
 * what is "metric", "parameter" or "tag" (it names the kind in the message). Checks
 * the characters (^[/\w.\- ]*$; non-ASCII counts as \w) and that the name is its own
 * posixpath.normpath and neither "." nor under ".." nor absolute. Returns CORE_OK or
 * CORE_EINVAL with MLflow's message:
 *   "Invalid tag name: 'a//b'. Names may be treated as files in certain cases, and
 *    must not resolve to other names when treated as such. This name would resolve to
 *    'a/b'"
 * name must not be NULL; an empty name is the caller's "missing value" answer. */
enum core_status mlflow_check_name(const char *what, const char *name, struct core_error *err);

/* MLflow's _validate_length_limit: CORE_OK when value (NULL passes) has at most limit
 * characters, else CORE_EINVAL with "<label> '<first 250 characters>' had length N,
 * which exceeded length limit of <limit>". label is MLflow's: "Metric name",
 * "Param key", "Tag key", "Tag value", "Registered model key", "Model version value"... */
enum core_status mlflow_check_length(const char *label, size_t limit, const char *value, struct core_error *err);

/* mlflow_check_length for the names above, with the labels "Experiment name", "Run name"
 * and "Registered model name": "Experiment name '...' had length 300, which exceeded
 * length limit of 256". For the names a request writes (create, rename), not for lookups. */
enum core_status mlflow_check_experiment_name(const char *name, struct core_error *err);
enum core_status mlflow_check_run_name(const char *name, struct core_error *err);
enum core_status mlflow_check_registered_model_name(const char *name, struct core_error *err);
#endif
