/* Internals shared by the blob library's files. */
#ifndef BLOB_INT_H
#define BLOB_INT_H
#include "blob/blob.h"

struct blob_store {
	char *dir;
	char *lock_path;    /* DIR/lock: commits shared, the collector's removals exclusive */
	char *gc_lock_path; /* DIR/gc.lock: one collection at a time */
};

/* Returns DIR/objects/ab/<key> (malloc'd); key must be valid. */
char *blob_object_path(const struct blob_store *store, const char *key);

/* Opens path (creating it) and takes its flock, how being LOCK_SH or LOCK_EX; waits for
 * it. Each call has its own open file description, so threads of one process exclude
 * each other as processes do. Returns the descriptor (closing it releases the lock) or
 * -1 with errno set. */
int blob_lock(const char *path, int how);
#endif
