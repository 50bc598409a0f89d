/* Unit tests of libs/img against PIL (Pillow), the reference the data registry's
 * users train with: gen_images.py (run with Debian's /usr/bin/python3, PIL and numpy)
 * writes PNGs of every colour type and bit depth, JPEGs (gray, colour, progressive),
 * raw pixels, bad files, and PIL's answers for each, listed in cases.txt; these tests
 * run img on the same inputs and compare. Without that python the tests fail (they
 * cannot pass without their reference). The mutation test feeds thousands of damaged
 * files to the decoders: it passes when nothing crashes, which ASan and valgrind
 * (make test-valgrind) turn into a memory-safety check. The PNG fast path (png_fast.c)
 * is also run alone, beside libpng alone (img_int.h): on the files it must take it
 * must give libpng's bytes, it must decline the files meant for libpng, and on damaged
 * files (CRCs made right again, so the damage reaches the inflater and the filters) it
 * may only take what libpng takes, with libpng's bytes. */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "img/img.h"
/* white-box: png_fast.c and libpng's path one at a time */
#include "../../../libs/img/src/img_int.h"

static char dir[PATH_MAX];
static int gen_ok;
static char gen_msg[PATH_MAX * 3];
static int dir_made;

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	ck_assert_msg(*s && *end == '\0', "not a number in cases.txt: '%s'", s);
	return v;
}

static void *slurp(const char *name, size_t *len)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", p);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	void *buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Calls fn on each line of cases.txt whose first word is kind; returns the count. */
static int each_case(const char *kind, void (*fn)(char **f, int n))
{
	ck_assert_msg(gen_ok, "the reference images were not generated: %s", gen_msg);
	size_t len;
	char *text = slurp("cases.txt", &len);
	text[len] = '\0';
	int count = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[16];
		int n = 0;
		char *s2 = NULL;
		for (char *w = strtok_r(line, " ", &s2); w && n < 16; w = strtok_r(NULL, " ", &s2))
			f[n++] = w;
		if (n > 0 && strcmp(f[0], kind) == 0) {
			fn(f, n);
			count++;
		}
	}
	free(text);
	return count;
}

static int max_diff(const uint8_t *a, const uint8_t *b, size_t n, size_t *at)
{
	int m = 0;
	for (size_t i = 0; i < n; i++) {
		int d = abs((int)a[i] - (int)b[i]);
		if (d > m) {
			m = d;
			*at = i;
		}
	}
	return m;
}

static enum core_status status_named(const char *s)
{
	if (strcmp(s, "ELIMIT") == 0)
		return CORE_ELIMIT;
	ck_assert_str_eq(s, "EINVAL");
	return CORE_EINVAL;
}

START_TEST(reference_images_generated)
{
	ck_assert_msg(gen_ok, "the reference images were not generated: %s", gen_msg);
}
END_TEST

static void check_decode(char **f, int n)
{
	ck_assert_int_eq(n, 8);
	size_t len, rlen;
	uint8_t *data = slurp(f[2], &len), *ref = slurp(f[3], &rlen);
	unsigned w = (unsigned)num(f[4]), h = (unsigned)num(f[5]), c = (unsigned)num(f[6]);
	int tol = (int)num(f[7]);
	struct img_image im;
	struct core_error err = {{0}};
	enum core_status rc = img_decode(data, len, NULL, &im, &err);
	ck_assert_msg(rc == CORE_OK, "%s: %s", f[1], err.message);
	ck_assert_msg(im.width == w && im.height == h && im.channels == c, "%s: %ux%ux%u, PIL %ux%ux%u", f[1], im.width,
		      im.height, im.channels, w, h, c);
	ck_assert_uint_eq(rlen, (size_t)w * h * c);
	size_t at = 0;
	int d = max_diff(im.pixels, ref, rlen, &at);
	ck_assert_msg(d <= tol, "%s: byte %zu differs from PIL's by %d (tolerance %d)", f[1], at, d, tol);
	img_image_free(&im);
	ck_assert_ptr_null(im.pixels);
	free(data);
	free(ref);
}

START_TEST(decode_equals_pil)
{
	ck_assert_int_ge(each_case("decode", check_decode), 25);
}
END_TEST

static void check_probe(char **f, int n)
{
	ck_assert_int_eq(n, 7);
	size_t len;
	uint8_t *data = slurp(f[2], &len);
	struct img_info info;
	struct core_error err = {{0}};
	enum core_status rc = img_probe(data, len, &info, &err);
	ck_assert_msg(rc == CORE_OK, "%s: %s", f[1], err.message);
	ck_assert_uint_eq(info.width, (unsigned)num(f[3]));
	ck_assert_uint_eq(info.height, (unsigned)num(f[4]));
	ck_assert_uint_eq(info.channels, (unsigned)num(f[5]));
	ck_assert_str_eq(info.format, f[6]);
	rc = img_limits_check(&info, NULL, &err);
	if ((uint64_t)info.width * info.height > IMG_MAX_PIXELS_DEFAULT)
		ck_assert_msg(rc == CORE_ELIMIT && strstr(err.message, "over the limit"), "%s: %s", f[1], err.message);
	else
		ck_assert_int_eq(rc, CORE_OK);
	free(data);
}

START_TEST(probe_reads_the_header)
{
	ck_assert_int_ge(each_case("probe", check_probe), 7);
}
END_TEST

static void check_bad(char **f, int n)
{
	ck_assert_int_eq(n, 4);
	size_t len;
	uint8_t *data = slurp(f[2], &len);
	struct img_image im = {.width = 7};
	struct core_error err = {{0}};
	enum core_status want = status_named(f[3]);
	enum core_status rc = img_decode(data, len, NULL, &im, &err);
	ck_assert_msg(rc == want, "%s: %s, want %s (%s)", f[1], core_strerror(rc), f[3], err.message);
	ck_assert_msg(strlen(err.message) > 6, "%s: no message", f[1]);
	ck_assert_ptr_null(im.pixels);
	ck_assert_uint_eq(im.width, 0);
	float out[16];
	struct img_prep p = {.width = 2, .height = 2, .channels = 1};
	ck_assert_int_eq(img_preprocess(data, len, NULL, &p, out, &err), want);
	free(data);
}

START_TEST(bad_input_is_refused_with_a_message)
{
	ck_assert_int_ge(each_case("bad", check_bad), 15);
	struct core_error err;
	struct img_image im;
	struct img_info info;
	ck_assert_int_eq(img_decode(NULL, 0, NULL, &im, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "empty image data");
	ck_assert_int_eq(img_probe("", 0, &info, &err), CORE_EINVAL);
	ck_assert_int_eq(img_probe("GIF89a", 6, &info, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "not a PNG or JPEG"));
}
END_TEST

START_TEST(messages_name_the_problem)
{
	ck_assert_msg(gen_ok, "%s", gen_msg);
	struct {
		const char *file, *want;
	} cases[] = {
		{"bad_png_huge.png", "100000x100000"},
		{"bad_jpg_huge.jpg", "65000x65000"},
		{"bad_jpg_trunc.jpg", "jpeg: "},
		{"bad_png_trunc.png", "png: "},
		{"j_cmyk.jpg", "CMYK"},
		{"bad_png_crc.png", "CRC"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		uint8_t *data = slurp(cases[i].file, &len);
		struct img_image im;
		struct core_error err = {{0}};
		ck_assert_int_ne(img_decode(data, len, NULL, &im, &err), CORE_OK);
		ck_assert_msg(strstr(err.message, cases[i].want), "%s: '%s' lacks '%s'", cases[i].file, err.message,
			      cases[i].want);
		free(data);
	}
}
END_TEST

static int fast_taken, fast_declined;

/* Decodes with png_fast.c and with libpng alone. When the fast path takes the file,
 * libpng must accept it too and give the same pixels; img_decode must always give
 * libpng's verdict (the same status, and the same pixels when it succeeds). Returns
 * whether the fast path took it. */
static int fast_vs_libpng(const char *name, const uint8_t *data, size_t len)
{
	struct img_image a = {0}, b = {0}, c = {0};
	struct core_error eb = {{0}}, ec = {{0}};
	int took = img_png_fast_decode(data, len, IMG_MAX_PIXELS_DEFAULT, &a);
	enum core_status rb = img_png_decode_libpng(data, len, IMG_MAX_PIXELS_DEFAULT, &b, &eb);
	enum core_status rc = img_decode(data, len, NULL, &c, &ec);
	ck_assert_msg(rc == rb, "%s: img_decode %s (%s), libpng %s (%s)", name, core_strerror(rc), ec.message,
		      core_strerror(rb), eb.message);
	if (took) {
		ck_assert_msg(rb == CORE_OK, "%s: the fast path took a file libpng refuses: %s", name, eb.message);
		ck_assert_msg(a.width == b.width && a.height == b.height && a.channels == b.channels,
			      "%s: %ux%ux%u, libpng %ux%ux%u", name, a.width, a.height, a.channels, b.width, b.height,
			      b.channels);
		ck_assert_msg(memcmp(a.pixels, b.pixels, (size_t)a.width * a.height * a.channels) == 0,
			      "%s: pixels differ from libpng's", name);
	} else {
		ck_assert_ptr_null(a.pixels);
	}
	if (rb == CORE_OK)
		ck_assert_msg(c.width == b.width && c.height == b.height &&
				      memcmp(c.pixels, b.pixels, (size_t)b.width * b.height * b.channels) == 0,
			      "%s: img_decode's pixels differ from libpng's", name);
	img_image_free(&a);
	img_image_free(&b);
	img_image_free(&c);
	return took;
}

static void check_fast(char **f, int n)
{
	ck_assert_int_eq(n, 4);
	size_t len;
	uint8_t *data = slurp(f[2], &len);
	int want = strcmp(f[3], "fast") == 0;
	ck_assert_msg(want || strcmp(f[3], "libpng") == 0, "%s: '%s'", f[1], f[3]);
	int took = fast_vs_libpng(f[1], data, len);
	ck_assert_msg(took == want, "%s: the fast path %s it", f[1], took ? "took" : "declined");
	fast_taken += took;
	fast_declined += !took;
	free(data);
}

START_TEST(png_fast_path_takes_its_files_and_equals_libpng)
{
	ck_assert_int_ge(each_case("fast", check_fast), 50);
	ck_assert_int_ge(fast_taken, 30);    /* every colour type x filter type, multi-IDAT, ancillary */
	ck_assert_int_ge(fast_declined, 15); /* tRNS, PLTE, 16-bit, small window, damage, limits */
}
END_TEST

/* Offsets of the chunks of a PNG (as far as they are whole), for the damage below. */
static size_t png_chunks(const uint8_t *d, size_t len, size_t *at, size_t max)
{
	size_t n = 0;
	for (size_t pos = 8; pos + 12 <= len && n < max;) {
		size_t clen = (size_t)d[pos] << 24 | (size_t)d[pos + 1] << 16 | (size_t)d[pos + 2] << 8 | d[pos + 3];
		if (clen > len - pos - 12)
			break;
		at[n++] = pos;
		pos += 12 + clen;
	}
	return n;
}

/* Writes the right CRC for the chunk at pos. */
static void png_fix_crc(uint8_t *d, size_t pos)
{
	size_t clen = (size_t)d[pos] << 24 | (size_t)d[pos + 1] << 16 | (size_t)d[pos + 2] << 8 | d[pos + 3];
	uLong crc = crc32(0L, d + pos + 4, (uInt)(clen + 4));
	uint8_t *p = d + pos + 8 + clen;
	p[0] = (uint8_t)(crc >> 24), p[1] = (uint8_t)(crc >> 16), p[2] = (uint8_t)(crc >> 8), p[3] = (uint8_t)crc;
}

/* Damage to files the fast path takes: bytes changed inside one chunk (IHDR, IDAT,
 * ancillary) with its CRC made right again, so the damage gets past the CRC check into
 * the header checks, the inflater and the filters; plain flips; cuts. The fast path may
 * only take what libpng takes, with the same pixels (fast_vs_libpng); ASan and valgrind
 * watch the memory. */
START_TEST(png_fast_path_under_damage_agrees_with_libpng)
{
	ck_assert_msg(gen_ok, "%s", gen_msg);
	const char *files[] = {"fp_c0_f4.png",     "fp_c4_f2.png",      "fp_c2_f3.png", "fp_c6_f1.png",
			       "fp_ancillary.png", "fp_multi_idat.png", "pil_g.png",    "pil_rgba.png"};
	unsigned seed = 977;
	int took = 0, total = 0;
	for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
		size_t len;
		uint8_t *good = slurp(files[fi], &len);
		uint8_t *bad = malloc(len);
		size_t at[16];
		size_t nc = png_chunks(good, len, at, 16);
		ck_assert_uint_ge(nc, 3);
		for (int iter = 0; iter < 250; iter++) {
			memcpy(bad, good, len);
			size_t blen = len;
			int kind = rand_r(&seed) % 4;
			if (kind <= 1) {                                         /* inside one chunk, CRC made right */
				size_t c = at[(size_t)rand_r(&seed) % (nc - 1)]; /* not IEND */
				size_t clen = (size_t)bad[c] << 24 | (size_t)bad[c + 1] << 16 |
					      (size_t)bad[c + 2] << 8 | bad[c + 3];
				int changes = 1 + rand_r(&seed) % (kind == 0 ? 1 : 6);
				for (int k = 0; k < changes && clen > 0; k++) {
					size_t p = c + 8 + (size_t)rand_r(&seed) % clen;
					if (rand_r(&seed) % 2)
						bad[p] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
					else
						bad[p] = (uint8_t)rand_r(&seed);
				}
				png_fix_crc(bad, c);
			} else if (kind == 2) {
				bad[8 + (size_t)rand_r(&seed) % (len - 8)] ^= (uint8_t)(1 + rand_r(&seed) % 255);
			} else {
				blen = 8 + (size_t)rand_r(&seed) % (len - 8);
			}
			took += fast_vs_libpng(files[fi], bad, blen);
			total++;
		}
		free(bad);
		free(good);
	}
	/* most damage sends the file to libpng; what the fast path still takes (changed
	 * bytes in an ancillary chunk, say) it decoded as libpng does */
	ck_assert_int_lt(took, total / 2);
}
END_TEST

START_TEST(limit_is_applied_before_decoding)
{
	ck_assert_msg(gen_ok, "%s", gen_msg);
	size_t len;
	uint8_t *png = slurp("pil_rgb.png", &len); /* 100 x 37 */
	struct img_image im;
	struct core_error err;
	struct img_limits lim = {.max_pixels = 3699};
	ck_assert_int_eq(img_decode(png, len, &lim, &im, &err), CORE_ELIMIT);
	lim.max_pixels = 3700;
	ck_assert_int_eq(img_decode(png, len, &lim, &im, &err), CORE_OK);
	img_image_free(&im);
	free(png);
	uint8_t *jpg = slurp("j_rgb.jpg", &len); /* 83 x 61 */
	lim.max_pixels = 83 * 61 - 1;
	ck_assert_int_eq(img_decode(jpg, len, &lim, &im, &err), CORE_ELIMIT);
	free(jpg);
	img_image_free(NULL);
}
END_TEST

static enum img_filter filter_named(const char *s)
{
	if (strcmp(s, "box") == 0)
		return IMG_FILTER_BOX;
	ck_assert_str_eq(s, "bilinear");
	return IMG_FILTER_BILINEAR;
}

static int resize_exact, resize_total;

static void check_resize(char **f, int n)
{
	ck_assert_int_eq(n, 10);
	size_t slen, rlen;
	uint8_t *src = slurp(f[2], &slen), *ref = slurp(f[6], &rlen);
	struct img_image in = {.width = (unsigned)num(f[3]),
			       .height = (unsigned)num(f[4]),
			       .channels = (unsigned)num(f[5]),
			       .pixels = src};
	unsigned ow = (unsigned)num(f[7]), oh = (unsigned)num(f[8]);
	ck_assert_uint_eq(slen, (size_t)in.width * in.height * in.channels);
	ck_assert_uint_eq(rlen, (size_t)ow * oh * in.channels);
	struct img_image out;
	struct core_error err = {{0}};
	ck_assert_msg(img_resize_filter(&in, ow, oh, filter_named(f[9]), &out, &err) == CORE_OK, "%s: %s", f[1],
		      err.message);
	ck_assert(out.width == ow && out.height == oh && out.channels == in.channels);
	size_t at = 0;
	int d = max_diff(out.pixels, ref, rlen, &at);
	ck_assert_msg(d <= 1, "%s: byte %zu differs from PIL's by %d", f[1], at, d);
	resize_exact += d == 0;
	resize_total++;
	img_image_free(&out);
	free(src);
	free(ref);
}

START_TEST(resize_equals_pil)
{
	ck_assert_int_ge(each_case("resize", check_resize), 50);
	/* the arithmetic is Pillow's, so in practice every pixel is equal */
	ck_assert_int_eq(resize_exact, resize_total);
}
END_TEST

/* Upscales take resize2.c's two-tap vertical pass (the pixels are checked against PIL
 * by resize_equals_pil, which has upscales of each kind); downscales do not. */
START_TEST(upscales_take_the_two_tap_path)
{
	uint8_t px[28 * 28];
	for (size_t i = 0; i < sizeof px; i++)
		px[i] = (uint8_t)(i * 7);
	struct img_image in = {.width = 28, .height = 28, .channels = 1, .pixels = px}, out;
	struct core_error err;
	struct img_resizer *r = img_resizer_new();
	const struct {
		unsigned w, h;
		enum img_filter f;
		int two_tap;
	} cases[] = {{64, 64, IMG_FILTER_BILINEAR, 1},
		     {28, 56, IMG_FILTER_BOX, 1},
		     {40, 29, IMG_FILTER_BILINEAR, 1},
		     {64, 14, IMG_FILTER_BILINEAR, 0},
		     {10, 10, IMG_FILTER_BOX, 0}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(img_resizer_run(r, &in, cases[i].w, cases[i].h, cases[i].f, &out, &err), CORE_OK);
		ck_assert_msg((r->v.t2 != NULL) == cases[i].two_tap, "28x28 -> %ux%u", cases[i].w, cases[i].h);
		img_image_free(&out);
	}
	img_resizer_free(r);
}
END_TEST

START_TEST(resizer_reuse_gives_the_same_pixels)
{
	uint8_t px[40 * 30 * 3];
	for (size_t i = 0; i < sizeof px; i++)
		px[i] = (uint8_t)(i * 37 + (i >> 5));
	struct img_image in = {.width = 40, .height = 30, .channels = 3, .pixels = px};
	struct img_image g = {.width = 40, .height = 30, .channels = 1, .pixels = px};
	struct img_resizer *r = img_resizer_new();
	ck_assert_ptr_nonnull(r);
	struct core_error err;
	const unsigned sz[][2] = {{10, 10}, {10, 10}, {80, 7}, {10, 10}, {40, 9}, {3, 30}, {10, 10}};
	for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
		for (int k = 0; k < 2; k++) {
			const struct img_image *src = k ? &g : &in;
			struct img_image a, b;
			ck_assert_int_eq(
				img_resizer_run(r, src, sz[i][0], sz[i][1], (enum img_filter)(i % 2), &a, &err),
				CORE_OK);
			ck_assert_int_eq(img_resize_filter(src, sz[i][0], sz[i][1], (enum img_filter)(i % 2), &b, &err),
					 CORE_OK);
			ck_assert_mem_eq(a.pixels, b.pixels, (size_t)sz[i][0] * sz[i][1] * src->channels);
			img_image_free(&a);
			img_image_free(&b);
		}
	}
	img_resizer_free(r);
	img_resizer_free(NULL);
}
END_TEST

static void check_convert(char **f, int n)
{
	ck_assert_int_eq(n, 6);
	size_t slen, rlen;
	uint8_t *src = slurp(f[2], &slen), *ref = slurp(f[5], &rlen);
	struct img_image in = {
		.width = (unsigned)num(f[3]), .height = (unsigned)num(f[4]), .channels = 3, .pixels = src};
	struct img_image g, back;
	struct core_error err;
	ck_assert_int_eq(img_convert(&in, 1, &g, &err), CORE_OK);
	ck_assert_uint_eq(rlen, (size_t)in.width * in.height);
	ck_assert_mem_eq(g.pixels, ref, rlen);
	ck_assert_int_eq(img_convert(&g, 3, &back, &err), CORE_OK);
	for (size_t i = 0; i < rlen; i++)
		ck_assert(back.pixels[i * 3] == ref[i] && back.pixels[i * 3 + 1] == ref[i] &&
			  back.pixels[i * 3 + 2] == ref[i]);
	img_image_free(&g);
	img_image_free(&back);
	free(src);
	free(ref);
}

START_TEST(convert_equals_pil)
{
	ck_assert_int_ge(each_case("convert", check_convert), 4);
	uint8_t px[3] = {1, 2, 3};
	struct img_image in = {.width = 1, .height = 1, .channels = 3, .pixels = px}, out;
	struct core_error err;
	ck_assert_int_eq(img_convert(&in, 2, &out, &err), CORE_EINVAL);
	ck_assert_int_eq(img_convert(&in, 3, &out, &err), CORE_OK);
	ck_assert_mem_eq(out.pixels, px, 3);
	img_image_free(&out);
}
END_TEST

static void check_prep(char **f, int n)
{
	ck_assert_int_eq(n, 14);
	size_t len, rlen;
	uint8_t *data = slurp(f[2], &len);
	float *ref = slurp(f[3], &rlen);
	struct img_prep p = {.width = (unsigned)num(f[4]),
			     .height = (unsigned)num(f[5]),
			     .channels = (unsigned)num(f[6]),
			     .norm = (enum img_norm)num(f[7])};
	for (int i = 0; i < 3; i++) {
		p.mean[i] = strtof(f[8 + i], NULL);
		p.std[i] = strtof(f[11 + i], NULL);
	}
	size_t count = (size_t)p.width * p.height * p.channels;
	ck_assert_uint_eq(rlen, count * sizeof(float));
	float *out = malloc(rlen), *out2 = malloc(rlen);
	struct core_error err = {{0}};
	ck_assert_msg(img_preprocess(data, len, NULL, &p, out, &err) == CORE_OK, "%s: %s", f[1], err.message);
	for (size_t i = 0; i < count; i++)
		ck_assert_msg(fabsf(out[i] - ref[i]) <= 1e-6f * (1 + fabsf(ref[i])),
			      "%s: value %zu is %.9g, numpy %.9g", f[1], i, out[i], ref[i]);
	/* the same through pixels already decoded, and through a reused resizer */
	struct img_image im;
	ck_assert_int_eq(img_decode(data, len, NULL, &im, &err), CORE_OK);
	uint8_t *copy = malloc((size_t)im.width * im.height * im.channels);
	memcpy(copy, im.pixels, (size_t)im.width * im.height * im.channels);
	struct img_resizer *r = img_resizer_new();
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(img_preprocess_pixels_r(r, &im, &p, out2, &err), CORE_OK);
		ck_assert_mem_eq(out, out2, rlen);
		ck_assert_int_eq(img_preprocess_r(r, data, len, NULL, &p, out2, &err), CORE_OK);
		ck_assert_mem_eq(out, out2, rlen);
	}
	ck_assert_int_eq(img_preprocess_pixels(&im, &p, out2, &err), CORE_OK);
	ck_assert_mem_eq(out, out2, rlen);
	ck_assert_mem_eq(copy, im.pixels, (size_t)im.width * im.height * im.channels); /* input untouched */
	img_resizer_free(r);
	img_image_free(&im);
	free(copy);
	free(out);
	free(out2);
	free(data);
	free(ref);
}

START_TEST(preprocess_equals_pil_and_numpy)
{
	ck_assert_int_ge(each_case("prep", check_prep), 8);
}
END_TEST

START_TEST(preprocess_refuses_bad_parameters)
{
	uint8_t px[4] = {0, 64, 128, 255};
	struct img_image in = {.width = 2, .height = 2, .channels = 1, .pixels = px};
	float out[64];
	struct core_error err;
	struct img_prep p = {.width = 4, .height = 0};
	ck_assert_int_eq(img_preprocess_pixels(&in, &p, out, &err), CORE_EINVAL);
	p = (struct img_prep){.channels = 2};
	ck_assert_int_eq(img_preprocess_pixels(&in, &p, out, &err), CORE_EINVAL);
	p = (struct img_prep){.norm = IMG_NORM_MEANSTD, .std = {0, 1, 1}};
	ck_assert_int_eq(img_preprocess_pixels(&in, &p, out, &err), CORE_EINVAL);
	p = (struct img_prep){.norm = (enum img_norm)7};
	ck_assert_int_eq(img_preprocess_pixels(&in, &p, out, &err), CORE_EINVAL);
	p = (struct img_prep){.filter = (enum img_filter)9};
	ck_assert_int_eq(img_preprocess_pixels(&in, &p, out, &err), CORE_EINVAL);
	ck_assert_int_eq(img_preprocess(NULL, 0, NULL, NULL, out, &err), CORE_EINVAL);
	/* keep everything: the pixels as floats, in order */
	p = (struct img_prep){0};
	ck_assert_int_eq(img_preprocess_pixels(&in, &p, out, &err), CORE_OK);
	ck_assert(out[0] == 0.0f && out[1] == 64.0f && out[2] == 128.0f && out[3] == 255.0f);
	unsigned w, h, c;
	p = (struct img_prep){.width = 5, .height = 6, .channels = 3};
	img_prep_shape(&p, 2, 2, 1, &w, &h, &c);
	ck_assert(w == 5 && h == 6 && c == 3);
	struct img_image out_im;
	ck_assert_int_eq(img_resize(&in, 0, 3, &out_im, &err), CORE_EINVAL);
	in.channels = 4;
	ck_assert_int_eq(img_resize(&in, 3, 3, &out_im, &err), CORE_EINVAL);
}
END_TEST

/* Damaged copies of good files: flipped bytes, cut ends, spliced garbage. Each must
 * decode or fail with EINVAL/ELIMIT; ASan and valgrind judge the memory behaviour. */
START_TEST(damaged_files_never_crash)
{
	ck_assert_msg(gen_ok, "%s", gen_msg);
	const char *files[] = {"pil_rgb.png", "png_rgb8_adam7.png", "png_p4.png",
			       "j_rgb.jpg",   "j_prog.jpg",         "j_gray.jpg"};
	unsigned seed = 12345;
	int failed = 0, total = 0;
	for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
		size_t len;
		uint8_t *good = slurp(files[fi], &len);
		uint8_t *bad = malloc(len);
		for (int iter = 0; iter < 150; iter++) {
			memcpy(bad, good, len);
			size_t blen = len;
			int kind = rand_r(&seed) % 3;
			if (kind == 0) {
				int flips = 1 + rand_r(&seed) % 8;
				for (int k = 0; k < flips; k++)
					bad[8 + (size_t)rand_r(&seed) % (len - 8)] ^=
						(uint8_t)(1 + rand_r(&seed) % 255);
			} else if (kind == 1) {
				blen = (size_t)rand_r(&seed) % len;
			} else {
				size_t at = 8 + (size_t)rand_r(&seed) % (len - 8), n = 1 + (size_t)rand_r(&seed) % 64;
				for (size_t k = at; k < at + n && k < len; k++)
					bad[k] = (uint8_t)rand_r(&seed);
			}
			struct img_image im;
			struct img_info info;
			struct core_error err;
			enum core_status rc = img_decode(bad, blen, NULL, &im, &err);
			ck_assert_msg(rc == CORE_OK || rc == CORE_EINVAL || rc == CORE_ELIMIT, "%s: %s", files[fi],
				      core_strerror(rc));
			if (rc == CORE_OK) {
				ck_assert(im.width > 0 && im.height > 0 && im.pixels);
				img_image_free(&im);
			} else {
				failed++;
			}
			rc = img_probe(bad, blen, &info, &err);
			ck_assert(rc == CORE_OK || rc == CORE_EINVAL);
			total++;
		}
		free(bad);
		free(good);
	}
	ck_assert_int_gt(failed, total / 4); /* the damage was noticed, mostly */
}
END_TEST

static void generate(void)
{
	const char *tmp = getenv("LATHE_TEST_TMP");
	snprintf(dir, sizeof dir, "%s/img-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		snprintf(gen_msg, sizeof gen_msg, "mkdtemp %s failed", dir);
		return;
	}
	dir_made = 1;
	const char *root = getenv("LATHE_ROOT");
	char cmd[2 * PATH_MAX + 128];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/unit/img/gen_images.py '%s'", root && *root ? root : ".",
		 dir);
	int rc = system(cmd);
	if (rc != 0)
		snprintf(gen_msg, sizeof gen_msg, "'%s' exited with %d (Debian's python3 with PIL and numpy is needed)",
			 cmd, rc);
	else
		gen_ok = 1;
}

int main(void)
{
	generate();
	Suite *s = suite_create("img");
	TCase *tc = tcase_create("img");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, reference_images_generated);
	tcase_add_test(tc, decode_equals_pil);
	tcase_add_test(tc, probe_reads_the_header);
	tcase_add_test(tc, bad_input_is_refused_with_a_message);
	tcase_add_test(tc, messages_name_the_problem);
	tcase_add_test(tc, png_fast_path_takes_its_files_and_equals_libpng);
	tcase_add_test(tc, png_fast_path_under_damage_agrees_with_libpng);
	tcase_add_test(tc, limit_is_applied_before_decoding);
	tcase_add_test(tc, resize_equals_pil);
	tcase_add_test(tc, resizer_reuse_gives_the_same_pixels);
	tcase_add_test(tc, upscales_take_the_two_tap_path);
	tcase_add_test(tc, convert_equals_pil);
	tcase_add_test(tc, preprocess_equals_pil_and_numpy);
	tcase_add_test(tc, preprocess_refuses_bad_parameters);
	tcase_add_test(tc, damaged_files_never_crash);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (dir_made) {
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			failed++;
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
