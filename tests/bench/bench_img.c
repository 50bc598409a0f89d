/* Benchmark of img's small-image path (run by hand, never by `make test`): every file
 * named in a list (one path a line, e.g. Fashion-MNIST written as 28x28 gray PNGs) is
 * read into memory first, then img_preprocess_r turns each into float32 (x / 255) at
 * 28x28 and at 64x64, through one resizer, on one core. Prints "bench: ..." lines with
 * images/s and microseconds per image (process CPU time and wall time), plus a checksum
 * of the outputs so runs can be compared. tests/bench/bench_img_pil.py is the peer:
 * PIL + numpy over the same files.
 *
 *   build/release/tests/bench/bench_img LIST [ROUNDS]   (ROUNDS: best of, default 3) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "img/img.h"

struct bi_file {
	unsigned char *data;
	size_t len;
};

static double bi_now(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bi_load(const char *list, struct bi_file **out, size_t *n)
{
	FILE *lf = fopen(list, "r");
	if (!lf)
		return -1;
	char path[4096];
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	while (fgets(path, sizeof path, lf)) {
		path[strcspn(path, "\n")] = '\0';
		if (!path[0])
			continue;
		FILE *f = fopen(path, "rb");
		if (!f)
			break;
		fseek(f, 0, SEEK_END);
		long len = ftell(f);
		fseek(f, 0, SEEK_SET);
		unsigned char *d = malloc(len > 0 ? (size_t)len : 1);
		size_t got = d ? fread(d, 1, (size_t)len, f) : 0;
		fclose(f);
		if (got != (size_t)len) {
			free(d);
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			*out = realloc(*out, cap * sizeof **out);
		}
		(*out)[(*n)++] = (struct bi_file){d, (size_t)len};
	}
	fclose(lf);
	return *n ? 0 : -1;
}

static int bi_run(struct img_resizer *r, const struct bi_file *files, size_t n, unsigned side, int rounds)
{
	struct img_prep p = {.width = side, .height = side, .channels = 1, .norm = IMG_NORM_UNIT};
	float *out = malloc(sizeof(float) * side * side);
	double best_cpu = 1e30, best_wall = 1e30, sum = 0;
	for (int round = 0; round < rounds; round++) {
		double c0 = bi_now(CLOCK_PROCESS_CPUTIME_ID), w0 = bi_now(CLOCK_MONOTONIC);
		sum = 0;
		for (size_t i = 0; i < n; i++) {
			struct core_error err = {0};
			if (img_preprocess_r(r, files[i].data, files[i].len, NULL, &p, out, &err) != CORE_OK) {
				fprintf(stderr, "bench: item %zu: %s\n", i, err.message);
				free(out);
				return -1;
			}
			sum += out[side * side / 2];
		}
		double cpu = bi_now(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = bi_now(CLOCK_MONOTONIC) - w0;
		if (cpu < best_cpu)
			best_cpu = cpu;
		if (wall < best_wall)
			best_wall = wall;
	}
	printf("bench: img %ux%u float32: %zu images, best of %d: %.0f images/s cpu (%.2f us/image), "
	       "%.0f images/s wall (%.2f us/image), checksum %.4f\n",
	       side, side, n, rounds, (double)n / best_cpu, best_cpu * 1e6 / (double)n, (double)n / best_wall,
	       best_wall * 1e6 / (double)n, sum);
	free(out);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s LIST [ROUNDS]\n", argv[0]);
		return 2;
	}
	int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;
	if (rounds < 1)
		rounds = 1;
	struct bi_file *files;
	size_t n;
	if (bi_load(argv[1], &files, &n) != 0) {
		fprintf(stderr, "bench: cannot read the files listed in %s\n", argv[1]);
		return 2;
	}
	struct img_resizer *r = img_resizer_new();
	int rc = r && bi_run(r, files, n, 28, rounds) == 0 && bi_run(r, files, n, 64, rounds) == 0 ? 0 : 1;
	img_resizer_free(r);
	for (size_t i = 0; i < n; i++)
		free(files[i].data);
	free(files);
	return rc;
}
