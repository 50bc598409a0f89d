/* What the splits and tensors code reads and writes outside the database (dr-split):
 * split_build.c (a split's items list, built from the version's items) and tensors.c
 * (the safetensors export). Their callers are the handlers (h_splits.c, h_tensors.c).
 * Include dr.h or data.h first: both define struct dr_manifest_file and enum
 * dr_format, which this header uses; these files read items through data.h, the
 * handlers the database through dr.h. */
#ifndef DR_SPLIT_IO_H
#define DR_SPLIT_IO_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "blob/blob.h"
#include "img/img.h"
#include "split.h"

/* What dr_split_build is asked (split_build.c). */
struct dr_split_job {
	enum dr_format format;
	const struct dr_manifest_file *files; /* borrowed */
	size_t n_files;
	const char *label_column; /* csv; NULL: none */
	struct dr_split_spec spec;
	bool original;           /* IDX's own division: train-* -> part 0, t10k-* -> part 1 */
	char previous_items[65]; /* "" or the items list of an ancestor's split to keep */
};
struct dr_split_result {
	char items_sha[65];
	int64_t item_count;
	json_t *counts, *class_counts; /* owned by the caller */
};
/* Reads the version's items, assigns them and stores the items list (see
 * split_build.c). CORE_EINVAL naming the file for content the iterator refuses;
 * CORE_EIO when the store fails. */
enum core_status dr_split_build(struct blob_store *store, const struct dr_split_job *job, struct dr_split_result *res,
				struct core_error *err);

/* A reader over an items list blob, one item at a time. next: CORE_OK with key, class
 * (NULL: none) and part (valid until the next call), CORE_ENOENT at the end. */
struct dr_split_reader;
enum core_status dr_split_reader_open(struct blob_store *store, const char *sha, struct dr_split_reader **out,
				      struct core_error *err);
enum core_status dr_split_reader_next(struct dr_split_reader *r, uint8_t key[32], const char **cls, const char **part,
				      struct core_error *err);
void dr_split_reader_close(struct dr_split_reader *r);

/* What a tensor export is asked (tensors.c). Strings and arrays borrowed. */
struct dr_tensor_job {
	const char *dataset, *version_id;
	enum dr_format format;
	const struct dr_manifest_file *files;
	size_t n_files;
	const char *label_column; /* csv; NULL: none */
	const char *split_name;   /* NULL: every item of the version */
	const char *part;         /* the part exported; NULL with split_name */
	const char *items_sha;    /* the split's items list */
	const char *fit_part;     /* csv: the part the statistics come from; NULL: every item */
	uint64_t n_items;         /* items the export holds (the part's count) */
	const char **classes;     /* every class of the version, sorted (dr_tensor_sort_classes) */
	size_t n_classes;
	struct img_prep prep;        /* images: width/height 0: the first image's; channels 0: 1 (idx) / 3 */
	const char *const *features; /* csv: the feature columns; n_features 0: all but the label */
	size_t n_features;
	bool one_hot, standardize; /* csv */
};
/* Sorts class names as the export numbers them: numerically when both are decimal
 * integers, else bytewise. */
void dr_tensor_sort_classes(const char **classes, size_t n);
/* Writes the safetensors file of job into the store: sha_out, size_out. CORE_EINVAL
 * (a 400) for options the data cannot meet or content the iterator refuses, naming the
 * file; CORE_EIO for the store. */
enum core_status dr_tensor_export(struct blob_store *store, const struct dr_tensor_job *job, char sha_out[65],
				  uint64_t *size_out, struct core_error *err);

/* Counts the items of a version and gathers their classes into classes (an object
 * used as a set: class -> true), for an export of every item. CORE_EINVAL naming a
 * file the iterator refuses; CORE_EIO for the store. */
enum core_status dr_tensor_count(struct blob_store *store, enum dr_format format, const struct dr_manifest_file *files,
				 size_t n_files, const char *label_column, uint64_t *n_items, json_t *classes,
				 struct core_error *err);
#endif
