/* pyrepr.h (private to libs/mlflow): Python's repr() of the values MLflow puts into
 * its messages with f-strings (bytes as b'...', parsed JSON as dicts and lists), so
 * that Lathe's messages read as MLflow's. */
#ifndef MLFLOW_PYREPR_H
#define MLFLOW_PYREPR_H
#include <jansson.h>
#include <stddef.h>
#include "core/buf.h"

/* Appends repr(bytes(data[0..n))) to b: b'...' with \xNN for non-printable bytes. */
void mlflow_pyrepr_bytes(struct core_buf *b, const void *data, size_t n);
/* Appends repr() of the Python value json.loads gives for v: {'k': 1}, ['a'], True,
 * None, 1.5, 'text'. */
void mlflow_pyrepr_json(struct core_buf *b, const json_t *v);
#endif
