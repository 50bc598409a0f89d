/* ml/safetensors: the safetensors file format (Hugging Face's layout), written as a
 * stream and read back with its header checked.
 *
 *   8 bytes    N, the header length, little-endian u64
 *   N bytes    JSON: {"__metadata__":{"k":"v",...}, "<tensor>":{"dtype","shape",
 *              "data_offsets":[begin,end]}, ...}, padded with spaces to a multiple of 8
 *   the data   each tensor's bytes, little-endian, row-major, at [begin, end) counted
 *              from the end of the header; tensors are contiguous and cover the data
 *
 * The writer knows every shape up front, so it writes the header first and then takes
 * the tensors' bytes in order, through a callback, in chunks of any size: a 60,000 x 1 x
 * 64 x 64 float tensor never has to sit in memory. The reader parses and validates a
 * header (length bound, JSON shape, dtypes, offsets contiguous and within the file) so
 * that a consumer can then read each tensor's range directly. */
#ifndef ML_SAFETENSORS_H
#define ML_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

enum ml_dtype {
	ML_DTYPE_BOOL = 1,
	ML_DTYPE_U8,
	ML_DTYPE_I8,
	ML_DTYPE_U16,
	ML_DTYPE_I16,
	ML_DTYPE_F16,
	ML_DTYPE_BF16,
	ML_DTYPE_U32,
	ML_DTYPE_I32,
	ML_DTYPE_F32,
	ML_DTYPE_U64,
	ML_DTYPE_I64,
	ML_DTYPE_F64,
};

/* Bytes per element (0 for a value outside the enum). */
size_t ml_dtype_size(enum ml_dtype d);
/* The format's name ("F32"), or NULL for a value outside the enum. */
const char *ml_dtype_name(enum ml_dtype d);
/* The dtype named name; CORE_EINVAL for an unknown name. */
enum core_status ml_dtype_parse(const char *name, enum ml_dtype *out, struct core_error *err);

/* Headers longer than this are refused (the reference implementation's bound, 100 MB). */
#define ML_ST_MAX_HEADER ((uint64_t)100000000)
#define ML_ST_MAX_DIMS   8

/* One tensor of a file. */
struct ml_st_tensor {
	char *name; /* owned by whoever made the struct (the writer copies; the reader allocates) */
	enum ml_dtype dtype;
	size_t ndim; /* 0 is a scalar */
	uint64_t shape[ML_ST_MAX_DIMS];
	uint64_t begin, end; /* data offsets (filled by the writer / read from the file) */
};

/* A metadata entry: both strings. */
struct ml_st_meta {
	char *key;
	char *value;
};

/* --- writing ----------------------------------------------------------------------- */

/* Where the writer's bytes go: n bytes to append. Returns CORE_OK or a failure (err
 * filled), which the writer passes back to its caller. */
typedef enum core_status (*ml_st_write_fn)(void *cls, const void *data, size_t n, struct core_error *err);

struct ml_st_writer;

/* Starts a file: checks the tensors (names non-empty, distinct, not "__metadata__";
 * dtypes known; sizes within 2^63), lays them out in the order given, and writes the
 * length and the header through write.
 *   tensors  n of them; names and shapes copied (begin/end ignored)
 *   meta     n_meta key/value pairs (keys distinct), copied; may be NULL when n_meta is 0
 *   out      [out] the writer, to be given the data with ml_st_writer_write and closed
 *            with ml_st_writer_finish (or ml_st_writer_free to give up)
 * Returns CORE_OK; CORE_EINVAL for bad tensors or metadata; the callback's failure. On
 * failure nothing needs freeing (some bytes may have been written). */
enum core_status ml_st_writer_begin(const struct ml_st_tensor *tensors, size_t n, const struct ml_st_meta *meta,
				    size_t n_meta, ml_st_write_fn write, void *cls, struct ml_st_writer **out,
				    struct core_error *err);
/* Total bytes of the file the writer is writing (header included). */
uint64_t ml_st_writer_file_size(const struct ml_st_writer *w);
/* The header length N (without the 8 length bytes). */
uint64_t ml_st_writer_header_len(const struct ml_st_writer *w);
/* Appends n bytes of data: the tensors' bytes in the order they were given, which the
 * chunks may split anywhere. CORE_EINVAL when the bytes would pass the declared total;
 * the callback's failure otherwise. The writer stays to be finished or freed. */
enum core_status ml_st_writer_write(struct ml_st_writer *w, const void *data, size_t n, struct core_error *err);
/* Checks that every declared byte has been written (CORE_EINVAL naming the tensor
 * being written when not) and frees the writer in any case. */
enum core_status ml_st_writer_finish(struct ml_st_writer *w, struct core_error *err);
/* Frees the writer without checks. NULL is fine. */
void ml_st_writer_free(struct ml_st_writer *w);

/* --- reading ----------------------------------------------------------------------- */

struct ml_st_header {
	uint64_t header_len; /* N */
	uint64_t data_start; /* 8 + N: where offsets count from */
	size_t n_tensors;
	struct ml_st_tensor *tensors; /* in the order of their data (by begin) */
	size_t n_meta;
	struct ml_st_meta *meta; /* in the file's order */
};

/* Parses a header whose JSON text is json[0..len) (the N bytes after the length),
 * for a file of file_size bytes. Checks: a JSON object (no duplicate keys) with an
 * optional "__metadata__" object of string values, every other member an object with
 * exactly "dtype" (a known name), "shape" (at most ML_ST_MAX_DIMS non-negative
 * integers) and "data_offsets" ([begin, end], end - begin = elements x dtype size);
 * the tensors, ordered by begin, cover [0, file_size - 8 - len) without gap or
 * overlap. out [out] filled (free with ml_st_header_free). CORE_EINVAL naming what is
 * wrong; nothing to free then. */
enum core_status ml_st_parse_header(const char *json, size_t len, uint64_t file_size, struct ml_st_header *out,
				    struct core_error *err);
/* Reads and parses the header of the file open on fd (from offset 0; pread, so the
 * fd's position is untouched): the length (CORE_EINVAL when it is above
 * ML_ST_MAX_HEADER or past the file's end), the JSON, the checks above. */
enum core_status ml_st_read_header(int fd, struct ml_st_header *out, struct core_error *err);
/* The tensor named name, or NULL. */
const struct ml_st_tensor *ml_st_header_tensor(const struct ml_st_header *h, const char *name);
/* The metadata value of key, or NULL. */
const char *ml_st_header_meta(const struct ml_st_header *h, const char *key);
void ml_st_header_free(struct ml_st_header *h);
#endif
