/* Internals shared by the blob library's files. */
#ifndef BLOB_INT_H
#define BLOB_INT_H
#include "blob/blob.h"

struct blob_store {
	char *dir;
};

/* Returns DIR/objects/ab/<key> (malloc'd); key must be valid. */
char *blob_object_path(const struct blob_store *store, const char *key);
#endif
