/* File helpers: directory trees, atomic replacement (write a temporary file, fsync,
 * rename, fsync the directory: readers see the old or the new file, never a torn one),
 * and reads bounded by a ceiling. */
#ifndef CORE_FILE_H
#define CORE_FILE_H
#include <stddef.h>
#include <sys/types.h>
#include "core/status.h"

/* Creates path and its missing parents with mode. Existing directories are fine. */
enum core_status core_mkdir_p(const char *path, mode_t mode, struct core_error *err);

/* Replaces path with the n bytes at data, atomically. */
enum core_status core_write_file_atomic(const char *path, const void *data, size_t n, struct core_error *err);

/* Reads the whole file into a malloc'd, NUL-terminated buffer (*out, caller frees).
 * CORE_ELIMIT when the file holds more than max bytes; CORE_ENOENT when it is absent. */
enum core_status core_read_file(const char *path, size_t max, char **out, size_t *len_out, struct core_error *err);
#endif
