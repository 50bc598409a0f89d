/* The IDX format of MNIST and Fashion-MNIST (face: data.h), read a record at a time
 * through zlib's gz* functions, which read a gzipped file and a plain one alike and
 * check the gzip trailer (CRC-32 and length) at the end of the stream. The layout:
 * bytes 0 0, a type byte (only 0x08, unsigned byte, is taken: the images and labels
 * the registry serves), the number of dimensions, then each dimension as a big-endian
 * u32, then the data, row-major. A file whose data is longer or shorter than its
 * dimensions say is refused, so counts can be trusted once a file has been read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "core/alloc.h"
#include "data.h"

/* The largest record taken, in bytes (an image of 8192 x 8192). */
#define RECORD_MAX (64u * 1024 * 1024)

struct dr_idx {
	gzFile gz;
	char *name;
	struct dr_idx_header h;
	uint64_t next; /* records read */
	uint8_t *rec;
};

/* Reads exactly n bytes (n <= RECORD_MAX): returns the count read (< n at the end), or
 * -1 with err filled on a corrupt stream. */
static long read_full(struct dr_idx *r, uint8_t *buf, size_t n, struct core_error *err)
{
	size_t got = 0;
	while (got < n) {
		int k = gzread(r->gz, buf + got, (unsigned)(n - got));
		if (k < 0) {
			int code;
			const char *msg = gzerror(r->gz, &code);
			core_fail(err, CORE_EINVAL, "%.300s: corrupt gzip data (%s)", r->name,
				  code == Z_ERRNO ? strerror(errno) : msg);
			return -1;
		}
		if (k == 0) { /* the end, or a gzip stream cut short (zlib says so only here) */
			int code;
			const char *msg = gzerror(r->gz, &code);
			if (code != Z_OK) {
				core_fail(err, CORE_EINVAL, "%.300s: truncated or corrupt gzip data (%s)", r->name,
					  msg);
				return -1;
			}
			break;
		}
		got += (size_t)k;
	}
	return (long)got;
}

enum core_status dr_idx_open(int fd, const char *name, struct dr_idx **out, struct core_error *err)
{
	*out = NULL;
	int own = dup(fd);
	if (own < 0)
		return core_fail(err, CORE_EIO, "%.300s: %s", name, strerror(errno));
	gzFile gz = gzdopen(own, "rb");
	if (!gz) {
		close(own);
		return core_fail(err, CORE_ENOMEM, "%.300s: zlib cannot open it", name);
	}
	gzbuffer(gz, 64 * 1024);
	struct dr_idx *r = core_xcalloc(1, sizeof *r);
	r->gz = gz;
	r->name = core_xstrdup(name);
	enum core_status st;
	uint8_t magic[4];
	long got = read_full(r, magic, 4, err);
	if (got < 0) {
		st = CORE_EINVAL;
		goto fail;
	}
	if (got < 4 || magic[0] != 0 || magic[1] != 0) {
		st = core_fail(err, CORE_EINVAL, "%.300s: not an IDX file (no 00 00 magic)", name);
		goto fail;
	}
	if (magic[2] != 0x08) {
		st = core_fail(err, CORE_EINVAL,
			       "%.300s: IDX data type 0x%02x is not supported (only 0x08, unsigned byte)", name,
			       magic[2]);
		goto fail;
	}
	if (magic[3] == 0 || magic[3] > DR_IDX_MAX_DIMS) {
		st = core_fail(err, CORE_EINVAL, "%.300s: %u IDX dimensions (1 to %d are taken)", name, magic[3],
			       DR_IDX_MAX_DIMS);
		goto fail;
	}
	r->h.ndims = magic[3];
	uint8_t d[4 * DR_IDX_MAX_DIMS];
	got = read_full(r, d, 4 * r->h.ndims, err);
	if (got < 0) {
		st = CORE_EINVAL;
		goto fail;
	}
	if ((size_t)got < 4 * r->h.ndims) {
		st = core_fail(err, CORE_EINVAL, "%.300s: the IDX header is truncated", name);
		goto fail;
	}
	r->h.record_size = 1;
	for (unsigned i = 0; i < r->h.ndims; i++) {
		r->h.dims[i] = (uint32_t)d[4 * i] << 24 | (uint32_t)d[4 * i + 1] << 16 | (uint32_t)d[4 * i + 2] << 8 |
			       d[4 * i + 3];
		if (i > 0) {
			r->h.record_size *= r->h.dims[i];
			if (r->h.record_size > RECORD_MAX || r->h.dims[i] == 0) {
				st = core_fail(err, CORE_EINVAL,
					       "%.300s: IDX records of dimension %u are empty or larger than %u bytes",
					       name, i, RECORD_MAX);
				goto fail;
			}
		}
	}
	r->h.count = r->h.dims[0];
	r->rec = core_xmalloc(r->h.record_size);
	*out = r;
	return CORE_OK;
fail:
	dr_idx_close(r);
	return st;
}

const struct dr_idx_header *dr_idx_header(const struct dr_idx *r)
{
	return &r->h;
}

enum core_status dr_idx_next(struct dr_idx *r, const uint8_t **record, struct core_error *err)
{
	if (r->next == r->h.count) {
		uint8_t extra[4096];
		long got = read_full(r, extra, sizeof extra, err);
		if (got < 0)
			return CORE_EINVAL;
		if (got > 0)
			return core_fail(err, CORE_EINVAL,
					 "%.300s: more data than the header's %llu records of %llu bytes", r->name,
					 (unsigned long long)r->h.count, (unsigned long long)r->h.record_size);
		return CORE_ENOENT;
	}
	long got = read_full(r, r->rec, r->h.record_size, err);
	if (got < 0)
		return CORE_EINVAL;
	if ((uint64_t)got < r->h.record_size)
		return core_fail(
			err, CORE_EINVAL,
			"%.300s: has %llu bytes of data, the header promises %llu (%llu records of %llu bytes)",
			r->name, (unsigned long long)(r->next * r->h.record_size + (uint64_t)got),
			(unsigned long long)(r->h.count * r->h.record_size), (unsigned long long)r->h.count,
			(unsigned long long)r->h.record_size);
	r->next++;
	*record = r->rec;
	return CORE_OK;
}

void dr_idx_close(struct dr_idx *r)
{
	if (!r)
		return;
	if (r->gz)
		gzclose_r(r->gz);
	free(r->rec);
	free(r->name);
	free(r);
}

char *dr_idx_labels_name(const char *images_path)
{
	const char *slash = strrchr(images_path, '/');
	const char *base = slash ? slash + 1 : images_path;
	const char *at = NULL;
	for (const char *p = base; (p = strstr(p, "images-idx3")); p++)
		at = p;
	if (!at)
		return NULL;
	size_t pre = (size_t)(at - images_path);
	return core_xasprintf("%.*slabels-idx1%s", (int)pre, images_path, at + strlen("images-idx3"));
}
