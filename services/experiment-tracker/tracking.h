/* Kept only for validate.c, which the libs/mlflow move takes out of this service: the
 * tracker's one private header is et.h. New code includes et.h. */
#ifndef ET_TRACKING_H
#define ET_TRACKING_H
#include "et.h"
#endif
