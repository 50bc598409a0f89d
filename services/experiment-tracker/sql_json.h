/* Kept only for filter_sql.c (and its unit test), which the libs/mlflow move takes out
 * of this service: the entity SQL (ET_SQL_EXPERIMENT, ET_SQL_RUN_INFO) lives in et.h.
 * New code includes et.h. */
#ifndef ET_SQL_JSON_H
#define ET_SQL_JSON_H
#include "et.h"
#endif
