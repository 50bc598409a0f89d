/* The data wing of the data registry (prefix dr_): what a dataset's files are and how
 * their items are read, shared by the service frame (uploads), the profiler, splits and
 * tensors. Files:
 *   ingest.c     one-request uploads: a CSV, a gzip, a tar (gzipped or not) or a zip
 *                body unpacked with libarchive, every regular file streamed into the
 *                blob store; the path rules of every manifest (dr_path_check)
 *   detect.c     a version's format from its paths (csv, idx, image-folder), or a
 *                given format checked against them
 *   (CSV rows: core/csv.h, the reader libs/core shares with the drift monitor)
 *   idx.c        the IDX (MNIST) format, gzipped or not: header, records, pairing
 *   image_header.c PNG/JPEG dimensions from the header alone (img_probe)
 *   items.c      a version's items (image file, IDX record, CSV row) one at a time,
 *                and the content checks of one-request uploads (dr_check_content)
 * Nothing here touches the database: files come as manifest entries, bytes from the
 * blob store. Errors are the client's (CORE_EINVAL: a 400 naming the file) unless the
 * store itself failed (CORE_EIO). */
#ifndef DR_DATA_H
#define DR_DATA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "blob/blob.h"
#include "core/status.h"
#include "img/img.h"

/* --- manifests ------------------------------------------------------------------- */

/* The longest file path in a version, in bytes. */
#define DR_PATH_MAX 1024
/* The most files in one version. */
#define DR_MAX_FILES 1000000

/* One file of a version: path (malloc'd), blob key, size in bytes. */
struct dr_manifest_file {
	char *path;
	char sha256[65];
	uint64_t size;
};

/* Frees the paths and the array. NULL is fine. */
void dr_manifest_free(struct dr_manifest_file *files, size_t n);

/* Sorts files by path (bytewise, as the manifest id needs) and refuses duplicates:
 * CORE_EINVAL "duplicate path '<p>'". */
enum core_status dr_manifest_sort(struct dr_manifest_file *files, size_t n, struct core_error *err);
/* The failure dr_manifest_sort gives for a path named twice: CORE_EINVAL. */
enum core_status dr_path_duplicate(const char *path, struct core_error *err);

/* --- formats (detect.c) ----------------------------------------------------------- */

enum dr_format { DR_FORMAT_CSV = 1, DR_FORMAT_IDX, DR_FORMAT_IMAGE_FOLDER };

/* "csv", "idx", "image-folder"; NULL for anything else. */
const char *dr_format_name(enum dr_format f);
/* The inverse; CORE_EINVAL naming the accepted values for anything else. */
enum core_status dr_format_parse(const char *s, enum dr_format *out, struct core_error *err);

/* The format of a version from its paths alone:
 *   csv           every file ends in ".csv" (any case)
 *   idx           every file is named *-idx<digit>-ubyte or *-idx<digit>-ubyte.gz
 *   image-folder  every file is <class>/<name>.{jpg,jpeg,png} (any case; one folder,
 *                 the class)
 * else CORE_EINVAL saying so and naming a file that fits none. n = 0 is refused. */
enum core_status dr_detect_format(const struct dr_manifest_file *files, size_t n, enum dr_format *out,
				  struct core_error *err);
/* For a manifest checked in parts: that every file of a later part fits fmt, the
 * format dr_detect_format found from the first part, whose first path was first;
 * CORE_EINVAL with dr_detect_format's message otherwise. */
enum core_status dr_detect_format_more(enum dr_format fmt, const char *first, const struct dr_manifest_file *files,
				       size_t n, struct core_error *err);
/* Checks that every file fits the given format (the rules above); CORE_EINVAL naming
 * the first one that does not. */
enum core_status dr_format_check(enum dr_format fmt, const struct dr_manifest_file *files, size_t n,
				 struct core_error *err);
/* Whether path is an IDX file name (the rule above). */
bool dr_idx_name(const char *path);
/* Whether path has an image extension (.jpg, .jpeg, .png in any case). */
bool dr_image_name(const char *path);

/* --- one-request uploads (ingest.c) ----------------------------------------------- */

/* The manifest path rules: relative, '/'-separated, no empty, "." or ".." segment,
 * no leading or trailing '/', no backslash, no NUL or other control character (and no
 * DEL), valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), at
 * most DR_PATH_MAX bytes. Returns CORE_OK or CORE_EINVAL with a message naming the
 * path (escaped: control bytes shown as \xNN) and the rule it breaks. */
enum core_status dr_path_check(const char *path, struct core_error *err);

/* Whether dr_unpack takes this Content-Type (parameters and case ignored): text/csv,
 * application/gzip (also application/x-gzip), application/x-tar, application/x-gtar
 * (also application/x-compressed-tar, application/tar+gzip), application/zip. */
bool dr_unpack_media_ok(const char *content_type);

struct dr_unpack_opts {
	const char *content_type; /* as dr_unpack_media_ok takes it */
	/* The stored name of a text/csv body (default "data.csv") or of a single gzipped
	 * file (default: the name in the gzip header, else "data"); ignored for archives.
	 * NULL for the default. Checked by dr_path_check. */
	const char *filename;
	uint64_t max_bytes; /* the most bytes unpacked in all; 0: no limit */
	size_t max_files;   /* the most files; 0: DR_MAX_FILES */
};

/* Unpacks the request body held in the file body_path into the blob store:
 *   text/csv          the body is one file
 *   application/gzip  one gzipped file, stored decompressed; a gzipped tar sent as
 *                     application/gzip is unpacked as the tar it is
 *   x-tar, x-gtar     a tar, plain or gzipped (ustar, pax, GNU)
 *   zip               a zip (stored or deflated entries)
 * Every regular file is streamed into the store (bounded memory: one 64 KiB buffer).
 * Paths are kept exactly as in the archive except a leading "./"; directory entries
 * are skipped (their paths are checked too). Refused with CORE_EINVAL (a 400) and a
 * message naming the entry: a path that breaks dr_path_check, a duplicate path, a
 * symlink, hard link, device, FIFO or socket, an empty body, an archive without files,
 * a corrupt or truncated archive, an unsupported Content-Type; CORE_ELIMIT (413) past
 * max_bytes or max_files; CORE_EIO when the body or the store cannot be read or
 * written. On failure *out is NULL and nothing needs cleaning: blobs already stored
 * are unreferenced and left to the collector.
 *   out, n  [out] the files, sorted by path (free with dr_manifest_free) */
enum core_status dr_unpack(struct blob_store *store, const char *body_path, const struct dr_unpack_opts *opts,
			   struct dr_manifest_file **out, size_t *n, struct core_error *err);

/* --- IDX (idx.c) ------------------------------------------------------------------- */

/* Reads IDX files (the MNIST layout): magic 0 0 <dtype> <ndims>, big-endian u32 dims,
 * then the data; gzipped (detected by its magic) or not. Only dtype 0x08 (unsigned
 * byte) is taken. Records are the slices along the first dimension. */
#define DR_IDX_MAX_DIMS 4
struct dr_idx;
struct dr_idx_header {
	unsigned ndims;
	uint32_t dims[DR_IDX_MAX_DIMS];
	uint64_t count;       /* dims[0] */
	uint64_t record_size; /* product of the other dims (1 for a labels file) */
};

/* Opens a reader over fd (borrowed) and reads the header; name for messages. CORE_EINVAL
 * for a bad magic, dtype other than 0x08, 0 or more than DR_IDX_MAX_DIMS dims, or a
 * record larger than 64 MiB. */
enum core_status dr_idx_open(int fd, const char *name, struct dr_idx **out, struct core_error *err);
const struct dr_idx_header *dr_idx_header(const struct dr_idx *r);
/* The next record (record_size bytes, valid until the next call): CORE_OK, CORE_ENOENT
 * after the last (when the data ends exactly there: trailing bytes or a short file are
 * CORE_EINVAL "has N bytes of data, the header promises M"), CORE_EINVAL for a corrupt
 * gzip stream. */
enum core_status dr_idx_next(struct dr_idx *r, const uint8_t **record, struct core_error *err);
void dr_idx_close(struct dr_idx *r);
/* Whether name is an IDX labels file for images (the "-labels-idx1-" of MNIST's names),
 * and the name of the labels file that pairs with an images file: "images-idx3" is
 * replaced by "labels-idx1" (train-images-idx3-ubyte.gz -> train-labels-idx1-ubyte.gz).
 * Returns a malloc'd name or NULL when the name has no "images-idx3". */
char *dr_idx_labels_name(const char *images_path);

/* --- image headers (image_header.c) ------------------------------------------------- */

/* Reads a PNG's or JPEG's header from the start of fd (borrowed; read with pread, offset
 * untouched) with libs/img's img_probe: CORE_EINVAL "<name>: not a PNG or JPEG image",
 * "<name>: the JPEG header is truncated or unreadable (...)" (PNG alike), zero
 * dimensions, or more than IMG_MAX_PIXELS_DEFAULT pixels; nothing is decoded. */
enum core_status dr_image_probe(int fd, const char *name, struct img_info *out, struct core_error *err);

/* --- items (items.c) --------------------------------------------------------------- */

/* An item is one example: an image file (image-folder), one IDX record (idx), one CSV
 * row (csv). Its key is the sha256 of its content: the file's bytes; the record's
 * bytes; the row's fields joined as CSV (dr_csv_hash_row). Its class: the folder the
 * image is in; the IDX label in decimal ("0".."9") from the paired labels file; the
 * label column's value (csv; NULL without a label column). */
struct dr_item {
	uint8_t key[32];  /* sha256 of the item's content */
	const char *cls;  /* class name or NULL */
	const char *path; /* the file it comes from */
	uint64_t index;   /* record/row number within that file; 0 for image files */
	/* one of: */
	const uint8_t *bytes; /* image-folder: the encoded file */
	size_t len;
	const uint8_t *pixels; /* idx: h*w gray bytes */
	unsigned h, w;
	const char *const *fields; /* csv: the row's fields (header order) */
	size_t n_fields;
};

/* The largest image file the iterator reads into memory. */
#define DR_ITEM_MAX_FILE (256u * 1024 * 1024)

struct dr_items; /* iterator */

/* Opens an iterator over a version's items in a fixed order: manifest order (files as
 * given, which is by path), then record/row order. files are borrowed for the
 * iterator's life. For csv, label_column (NULL: none) must be a header column and
 * every file must have the same header (checked as each file is reached); for idx the
 * items are the records of the files with 3 dims (images), each paired with its labels
 * file (dr_idx_labels_name; a missing pair gives cls NULL), labels files give no items
 * of their own. CORE_EINVAL for a label_column with another format. */
enum core_status dr_items_open(struct blob_store *store, enum dr_format fmt, const struct dr_manifest_file *files,
			       size_t n, const char *label_column, struct dr_items **out, struct core_error *err);
/* CORE_OK with *item filled (valid until the next call), CORE_ENOENT at the end, or a
 * failure naming the file (corrupt gzip, ragged row, IDX count mismatch): CORE_EINVAL;
 * CORE_EIO when the store cannot be read (a missing blob included). */
enum core_status dr_items_next(struct dr_items *it, struct dr_item *item, struct core_error *err);
/* The CSV header (NULL, 0 for other formats or before the first item). */
const char *const *dr_items_columns(const struct dr_items *it, size_t *n);
void dr_items_close(struct dr_items *it);

/* The content checks a one-request upload makes before its commit: csv: every file
 * has a header holding label_column (when given), the same header as the first, and
 * rows all of its width; idx: every header valid, data length as the header says,
 * every images file (3 dims) has its labels file with the same count and a labels file
 * its images file; image-folder: every image's header readable, within
 * IMG_MAX_PIXELS_DEFAULT. CORE_EINVAL naming the file (a 400), CORE_EIO when the store
 * fails. Reads every file once, streaming. */
enum core_status dr_check_content(struct blob_store *store, enum dr_format fmt, const struct dr_manifest_file *files,
				  size_t n, const char *label_column, struct core_error *err);
#endif
