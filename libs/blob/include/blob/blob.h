/* blob: content-addressed storage on a directory. A blob's key is the SHA-256 of its
 * bytes (64 lower-case hex characters), so equal content is stored once and a key
 * always names the same bytes. Writes stream through a temporary file that is hashed
 * on the way, fsynced and renamed into place, so a reader never sees a partial blob
 * and memory stays bounded whatever the size.
 *
 *   DIR/objects/ab/abcdef…   (fan-out on the first two hex characters)
 *   DIR/tmp/                 (writes in progress; leftovers from a crash are junk)
 *
 * Thread-safe: a store has no mutable state after opening; concurrent writers of the
 * same content both succeed (the rename is atomic and the bytes are equal).
 * Deleting blobs is not offered: references live in the services' databases, so
 * garbage collection belongs to them. */
#ifndef BLOB_BLOB_H
#define BLOB_BLOB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/sha256.h"
#include "core/status.h"

#define BLOB_KEY_LEN CORE_SHA256_HEX_LEN

struct blob_store;
struct blob_writer;

/* Opens (creating when missing) the store under dir, which is copied. */
enum core_status blob_store_open(const char *dir, struct blob_store **out, struct core_error *err);
/* NULL is fine. Writers must be finished first. */
void blob_store_close(struct blob_store *store);

/* Whether key is a well-formed key (64 lower-case hex characters): check before using
 * a key that came from outside. */
bool blob_key_valid(const char *key);

/* Starts a streamed write. */
enum core_status blob_writer_new(struct blob_store *store, struct blob_writer **out, struct core_error *err);
/* Appends n bytes. On failure the writer is still to be aborted. */
enum core_status blob_writer_write(struct blob_writer *w, const void *data, size_t n, struct core_error *err);
/* Bytes written so far. */
uint64_t blob_writer_size(const struct blob_writer *w);
/* Makes the blob durable and visible under its key (written to key_out) and frees the
 * writer, whether it succeeds or not. */
enum core_status blob_writer_commit(struct blob_writer *w, char key_out[BLOB_KEY_LEN + 1], struct core_error *err);
/* Throws the write away and frees the writer. NULL is fine. */
void blob_writer_abort(struct blob_writer *w);

/* Stores n bytes at once (a writer, written and committed). */
enum core_status blob_put(struct blob_store *store, const void *data, size_t n, char key_out[BLOB_KEY_LEN + 1],
			  struct core_error *err);

/* Opens a blob for reading: *fd_out (the caller closes it) and its size.
 * CORE_ENOENT when the store has no such blob, CORE_EINVAL for a malformed key. */
enum core_status blob_open(struct blob_store *store, const char *key, int *fd_out, uint64_t *size_out,
			   struct core_error *err);

/* Whether the store holds key. */
bool blob_exists(struct blob_store *store, const char *key);
#endif
