/* blob: content-addressed storage on a directory. A blob's key is the SHA-256 of its
 * bytes (64 lower-case hex characters), so equal content is stored once and a key
 * always names the same bytes. Writes stream through a temporary file that is hashed
 * on the way, fsynced and renamed into place, so a reader never sees a partial blob
 * and memory stays bounded whatever the size.
 *
 *   DIR/objects/ab/abcdef…   (fan-out on the first two hex characters)
 *   DIR/tmp/                 (writes in progress; leftovers from a crash are junk)
 *   DIR/lock                 (flock: writers' commits shared, the collector's removals
 *                             exclusive)
 *   DIR/gc.lock              (flock: one collection at a time, across processes)
 *
 * Thread-safe: a store has no mutable state after opening; concurrent writers of the
 * same content both succeed (the rename is atomic and the bytes are equal).
 *
 * Garbage collection (blob_gc): references live in the owning service's database, so
 * the service answers, batch by batch, which keys it still references; blob_gc removes
 * the others. Its guarantee, and the one rule a service must keep:
 *   - a commit (blob_writer_commit, blob_put) gives the blob a fresh mtime, also when
 *     the content was already stored (the new file replaces the old one), and so does
 *     blob_touch;
 *   - blob_gc considers only blobs whose mtime is older than its grace period, and
 *     removes one only after checking again, under the store lock that commits take
 *     shared, that its mtime is still that old: a commit landing during the scan
 *     saves its blob;
 *   => a service must record its reference to a key within the grace period after the
 *     commit (or blob_touch) that gave it the key. A service that references a key it
 *     did not just write (deduplication by key: "the store already has it") calls
 *     blob_touch first and records the reference within the grace period.
 * Emptied fan-out directories are left in place (at most 256 of them): removing one
 * would race with a writer that has just created it. */
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

/* Gives the blob key a fresh mtime, as a commit of its content would, so that a
 * collection running now keeps it for another grace period (see the guarantee above).
 * CORE_ENOENT when the store has no such blob (it may just have been collected: write
 * it again), CORE_EINVAL for a malformed key, CORE_EIO otherwise. */
enum core_status blob_touch(struct blob_store *store, const char *key, struct core_error *err);

/* --- garbage collection (gc.c) ------------------------------------------------------ */

/* The owning service's references, asked batch by batch: for each of the n keys
 * (valid, distinct, borrowed for the call), set referenced[i] to true when the service
 * still references keys[i] (referenced[] arrives all false). Returns CORE_OK, or a
 * failure (err filled), which ends the collection with nothing more removed. Called
 * from the thread running blob_gc, without any store lock held; it may write to the
 * store. */
typedef enum core_status (*blob_gc_refs_fn)(void *cls, const char *const *keys, size_t n, bool *referenced,
					    struct core_error *err);

/* Keys per blob_gc_refs_fn call when blob_gc_options.batch is 0: with 65 bytes a key,
 * the collection's memory stays small whatever the store's size. */
#define BLOB_GC_BATCH 1000

struct blob_gc_options {
	blob_gc_refs_fn refs; /* required */
	void *refs_cls;
	/* Only blobs whose mtime is at least grace_s seconds old are candidates; >= 0, but
	 * keep it well above the time between a commit and its reference being recorded
	 * (an hour is a fine default; tests use a second). */
	long grace_s;
	/* Files in DIR/tmp whose mtime is at least tmp_age_s seconds old are partial writes
	 * left by a crash (a write in progress refreshes its file's mtime with every
	 * chunk); < 0: do not sweep tmp. */
	long tmp_age_s;
	bool dry_run; /* count what would go; remove nothing */
	size_t batch; /* keys per refs call; 0: BLOB_GC_BATCH */
	/* Asked between batches; true stops the collection early (a daemon shutting
	 * down). May be NULL. */
	bool (*cancelled)(void *cls);
	void *cancelled_cls;
};

/* What a collection found and did. For a dry run, "removed" means "would remove". */
struct blob_gc_stats {
	uint64_t scanned;         /* blobs looked at */
	uint64_t kept_young;      /* within the grace period (or refreshed during the run) */
	uint64_t kept_referenced; /* old, but the service references them */
	uint64_t removed;         /* unreferenced old blobs removed */
	uint64_t removed_bytes;   /* their size */
	uint64_t tmp_removed;     /* stale partial writes removed from DIR/tmp */
	uint64_t tmp_bytes;       /* their size */
	bool cancelled;           /* stopped early by options.cancelled */
};

/* Collects the store's garbage: first the stale partial writes in DIR/tmp (as
 * blob_sweep_tmp), then every blob older than the grace period that refs does not
 * claim. Blobs are walked one fan-out directory at a time and asked about batch by
 * batch; each removal happens under the exclusive store lock, after the mtime is
 * checked again. Collections in several threads or processes on one store queue on
 * DIR/gc.lock. Concurrent reads, writes and commits go on meanwhile (a commit waits at
 * most for one unlink).
 *   stats  [out] zeroed, then filled (also on failure: what was done until then)
 * Returns CORE_OK (also when cancelled: see stats->cancelled); CORE_EINVAL for bad
 * options; the refs callback's failure; CORE_EIO when the store cannot be read or
 * locked. Blobs removed before a failure stay removed. */
enum core_status blob_gc(struct blob_store *store, const struct blob_gc_options *opts, struct blob_gc_stats *stats,
			 struct core_error *err);

/* Removes the files in DIR/tmp whose mtime is at least age_s seconds old: partial
 * writes a crash left behind (a writer in progress keeps its file's mtime fresh; one
 * idle for longer than age_s fails at commit). Run it at start-up; blob_gc runs it too.
 * dry_run: count only. removed, bytes: [out] may be NULL. Returns CORE_OK or
 * CORE_EIO (tmp cannot be read; files removed until then stay removed). */
enum core_status blob_sweep_tmp(struct blob_store *store, long age_s, bool dry_run, uint64_t *removed, uint64_t *bytes,
				struct core_error *err);
#endif
