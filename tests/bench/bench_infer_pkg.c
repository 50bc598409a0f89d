/* Writes the inference benchmark's model package (tests/bench/bench_infer.sh publishes
 * it): an MLP 784-256(relu)-10 classifier over 28x28 grey images with Fashion-MNIST's
 * ten class names, through ml_package_write, so model.json and weights.safetensors are
 * exactly what the trainer would write. Its preprocessing is what the data registry's
 * tensor export writes for Fashion-MNIST's IDX upload (services/data-registry/
 * tensors.c): clients send raw pixels 0..255 and the server divides by 255. The weights
 * are ml_net_init's from SEED (He-normal, biases 0): the throughput does not depend on
 * them, and two seeds give two versions whose answers differ (the hot swap shows which
 * one answers). Not a benchmark itself: tools/run-bench.sh skips it.
 *
 *   build/release/tests/bench/bench_infer_pkg DIR [SEED]   (SEED default 1) */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include "ml/package.h"

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s DIR [SEED]\n", argv[0]);
		return 2;
	}
	static const char *const classes[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
					      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
	const struct ml_layer_spec layers[] = {
		{.kind = ML_FLATTEN},
		{.kind = ML_DENSE, .units = 256},
		{.kind = ML_RELU},
		{.kind = ML_DENSE, .units = 10},
	};
	struct core_error err = {0};
	struct ml_package p = {.net = NULL};
	snprintf(p.task, sizeof p.task, "%s", "classification");
	if (ml_net_new(layers, sizeof layers / sizeof *layers, (struct ml_shape){1, 28, 28}, &p.net, &err) != CORE_OK) {
		fprintf(stderr, "bench_infer_pkg: %s\n", err.message);
		return 1;
	}
	ml_net_init(p.net, argc == 3 ? strtoull(argv[2], NULL, 10) : 1);
	p.preprocessing = json_pack("{s:[i,i],s:i,s:s,s:s,s:s}", "size", 28, 28, "channels", 1, "normalize", "unit",
				    "resize", "bilinear (antialiased, as PIL's Image.BILINEAR)", "layout", "NCHW");
	p.class_names = json_array();
	for (size_t i = 0; i < sizeof classes / sizeof *classes; i++)
		json_array_append_new(p.class_names, json_string(classes[i]));
	p.dataset = NULL;
	int rc = 0;
	if (ml_package_write(&p, argv[1], &err) != CORE_OK) {
		fprintf(stderr, "bench_infer_pkg: %s\n", err.message);
		rc = 1;
	}
	ml_package_free(&p);
	return rc;
}
