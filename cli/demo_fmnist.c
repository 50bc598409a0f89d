/* Fashion-MNIST for `lathe demo` (face: demo.h): the Debian package's four gzip'd IDX
 * files read into memory with zlib (magic numbers, counts and the 28x28 size checked),
 * written back as plain IDX files holding the first records (the dataset the registry
 * reads as IDX), and as an image folder <class>/<prefix><n>.png encoded by libs/img's
 * img_encode_png (the cats-vs-dogs layout the registry reads as image-folder). */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "core/alloc.h"
#include "core/file.h"
#include "demo.h"
#include "img/img.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads dir/name (gzip) whole: header of hdr bytes checked for magic, then count
 * records of rec bytes into *out (malloc'd); *n the count. */
static enum core_status read_gz(const char *dir, const char *name, uint32_t magic, size_t hdr, size_t rec,
				uint8_t **out, size_t *n, struct core_error *err)
{
	char *path = core_xasprintf("%s/%s", dir, name);
	enum core_status rc = CORE_OK;
	uint8_t h[16];
	*out = NULL;
	gzFile f = gzopen(path, "rb");
	if (!f) {
		rc = core_fail(err, CORE_EIO, "cannot open %s: %s (Debian's dataset-fashion-mnist; --fmnist DIR)", path,
			       strerror(errno));
		goto out;
	}
	if (gzread(f, h, (unsigned)hdr) != (int)hdr || be32(h) != magic ||
	    (hdr == 16 && (be32(h + 8) != DEMO_SIDE || be32(h + 12) != DEMO_SIDE))) {
		rc = core_fail(err, CORE_EINVAL, "%s is not a Fashion-MNIST IDX file (its header)", path);
		goto out;
	}
	*n = be32(h + 4);
	size_t bytes = *n * rec;
	*out = core_xmalloc(bytes ? bytes : 1);
	for (size_t got = 0; got < bytes;) {
		size_t want = bytes - got > (1u << 30) ? (1u << 30) : bytes - got;
		int r = gzread(f, *out + got, (unsigned)want);
		if (r <= 0) {
			rc = core_fail(err, CORE_EINVAL, "%s ends after %zu of %zu bytes", path, got, bytes);
			goto out;
		}
		got += (size_t)r;
	}
out:
	if (rc != CORE_OK) {
		free(*out);
		*out = NULL;
	}
	if (f)
		gzclose(f);
	free(path);
	return rc;
}

enum core_status cli_demo_fmnist_read(const char *dir, struct cli_demo_fmnist *fm, struct core_error *err)
{
	size_t ny = 0, nty = 0;
	enum core_status rc;
	memset(fm, 0, sizeof *fm);
	if ((rc = read_gz(dir, "train-images-idx3-ubyte.gz", 2051, 16, DEMO_PIXELS, &fm->train_x, &fm->n_train, err)) !=
		    CORE_OK ||
	    (rc = read_gz(dir, "train-labels-idx1-ubyte.gz", 2049, 8, 1, &fm->train_y, &ny, err)) != CORE_OK ||
	    (rc = read_gz(dir, "t10k-images-idx3-ubyte.gz", 2051, 16, DEMO_PIXELS, &fm->test_x, &fm->n_test, err)) !=
		    CORE_OK ||
	    (rc = read_gz(dir, "t10k-labels-idx1-ubyte.gz", 2049, 8, 1, &fm->test_y, &nty, err)) != CORE_OK)
		goto out;
	if (ny != fm->n_train || nty != fm->n_test) {
		rc = core_fail(err, CORE_EINVAL, "Fashion-MNIST in %s: images and labels differ in count", dir);
		goto out;
	}
	for (size_t i = 0; i < ny; i++)
		if (fm->train_y[i] >= DEMO_CLASSES) {
			rc = core_fail(err, CORE_EINVAL, "Fashion-MNIST in %s: a label above 9", dir);
			goto out;
		}
	for (size_t i = 0; i < nty; i++)
		if (fm->test_y[i] >= DEMO_CLASSES) {
			rc = core_fail(err, CORE_EINVAL, "Fashion-MNIST in %s: a label above 9", dir);
			goto out;
		}
out:
	if (rc != CORE_OK)
		cli_demo_fmnist_free(fm);
	return rc;
}

void cli_demo_fmnist_free(struct cli_demo_fmnist *fm)
{
	free(fm->train_x);
	free(fm->train_y);
	free(fm->test_x);
	free(fm->test_y);
	memset(fm, 0, sizeof *fm);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* One IDX file: the header for n records (3 dimensions for images, 1 for labels). */
static enum core_status write_idx(const char *dir, const char *name, const uint8_t *data, size_t n, bool images,
				  struct core_error *err)
{
	size_t hdr = images ? 16 : 8, rec = images ? DEMO_PIXELS : 1;
	uint8_t *buf = core_xmalloc(hdr + n * rec);
	put32(buf, images ? 2051 : 2049);
	put32(buf + 4, (uint32_t)n);
	if (images) {
		put32(buf + 8, DEMO_SIDE);
		put32(buf + 12, DEMO_SIDE);
	}
	memcpy(buf + hdr, data, n * rec);
	char *path = core_xasprintf("%s/%s", dir, name);
	enum core_status rc = core_write_file_atomic(path, buf, hdr + n * rec, err);
	free(path);
	free(buf);
	return rc;
}

enum core_status cli_demo_write_idx(const struct cli_demo_fmnist *fm, size_t n_train, size_t n_test, const char *dir,
				    struct core_error *err)
{
	enum core_status rc;
	if ((rc = core_mkdir_p(dir, 0755, err)) != CORE_OK ||
	    (rc = write_idx(dir, "train-images-idx3-ubyte", fm->train_x, n_train, true, err)) != CORE_OK ||
	    (rc = write_idx(dir, "train-labels-idx1-ubyte", fm->train_y, n_train, false, err)) != CORE_OK ||
	    (rc = write_idx(dir, "t10k-images-idx3-ubyte", fm->test_x, n_test, true, err)) != CORE_OK)
		return rc;
	return write_idx(dir, "t10k-labels-idx1-ubyte", fm->test_y, n_test, false, err);
}

void cli_demo_image(const uint8_t *x, size_t i, bool invert, uint8_t *out)
{
	const uint8_t *p = x + i * DEMO_PIXELS;
	for (size_t k = 0; k < DEMO_PIXELS; k++)
		out[k] = invert ? (uint8_t)(255 - p[k]) : p[k];
}

enum core_status cli_demo_write_pngs(const uint8_t *x, const uint8_t *y, size_t n, bool invert, const char *prefix,
				     const char *dir, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	uint8_t px[DEMO_PIXELS];
	struct img_image im = {.width = DEMO_SIDE, .height = DEMO_SIDE, .channels = 1, .pixels = px};
	struct core_buf png;
	core_buf_init(&png, 1 << 20);
	for (int c = 0; c < DEMO_CLASSES && rc == CORE_OK; c++) {
		char *sub = core_xasprintf("%s/%s", dir, cli_demo_class_names[c]);
		rc = core_mkdir_p(sub, 0755, err);
		free(sub);
	}
	for (size_t i = 0; i < n && rc == CORE_OK; i++) {
		cli_demo_image(x, i, invert, px);
		core_buf_reset(&png);
		if ((rc = img_encode_png(&im, &png, err)) != CORE_OK)
			break;
		char *path = core_xasprintf("%s/%s/%s%zu.png", dir, cli_demo_class_names[y[i]], prefix, i);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(png.data, 1, png.len, f) != png.len)
			rc = core_fail(err, CORE_EIO, "cannot write %s: %s", path, strerror(errno));
		if (f && fclose(f) != 0 && rc == CORE_OK)
			rc = core_fail(err, CORE_EIO, "cannot write %s: %s", path, strerror(errno));
		free(path);
	}
	core_buf_free(&png);
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

void cli_demo_rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
