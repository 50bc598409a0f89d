/* Step 1 of `lathe demo` (face: demo.h): Fashion-MNIST into the data registry twice, as
 * the IDX files (the first --images training and a sixth as many test records) and as a
 * PNG folder of the --images training images (the dataset the model trains on), each
 * pushed as `lathe data push` does (cli_data_push) and waited for until READY; then the
 * stratified 80/10/10 split of the PNG version through the registry's splits API, under
 * the name the trainer gives those fractions (so the job finds it made). Step 4's new
 * version (the same images plus inverted ones, the drift to come) is pushed here too. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "demo.h"

enum core_status cli_demo_wait_ready(struct demo *d, const char *name, long long number, struct core_error *err)
{
	char num[32];
	snprintf(num, sizeof num, "%lld", number);
	char *p1 = cli_demo_path("/v1/datasets/", name, "/versions/");
	char *path = core_xasprintf("%s%s", p1, num);
	free(p1);
	enum core_status rc = CORE_OK;
	double until = cli_now() + d->o.wait_s;
	for (;;) {
		json_t *v = NULL;
		if ((rc = cli_demo_call(&d->data, "GET", path, NULL, &v, err)) != CORE_OK)
			break;
		const char *st = json_string_value(json_object_get(json_object_get(v, "version"), "status"));
		bool ready = st && strcmp(st, "READY") == 0, bad = st && strcmp(st, "FAILED") == 0;
		if (bad)
			rc = core_fail(err, CORE_EINVAL, "%s@%s is FAILED: %s", name, num,
				       json_string_value(json_object_get(json_object_get(v, "version"), "failure"))
					       ?: "(no reason given)");
		json_decref(v);
		if (ready || bad)
			break;
		if (cli_now() > until) {
			rc = core_fail(err, CORE_EIO, "%s@%s is not READY after %d s", name, num, d->o.wait_s);
			break;
		}
		usleep(200000);
	}
	free(path);
	return rc;
}

/* Pushes dir as dataset, waits for READY, notes it in the summary under key. */
static enum core_status push(struct demo *d, const char *dir, const char *dataset, const char *format, const char *key,
			     struct cli_push_result *r, struct core_error *err)
{
	struct cli_push_opts o = {.format = format, .quiet = true, .no_cache = true, .message = "lathe demo"};
	enum core_status rc = cli_data_push(&d->data, dir, dataset, &o, r, err);
	if (rc == CORE_OK)
		rc = cli_demo_wait_ready(d, dataset, r->number, err);
	if (rc != CORE_OK)
		return rc;
	char size[32];
	cli_demo_say(d, "data", "pushed %s@%lld: %zu files, %s uploaded in %.1f s, READY", dataset, r->number, r->files,
		     cli_fmt_bytes(r->uploaded_bytes, size, sizeof size), r->upload_s + r->hash_s + r->commit_s);
	json_object_set_new(cli_demo_step(d, "data"), key,
			    json_pack("{s:s, s:I, s:s, s:I}", "dataset", dataset, "version", (json_int_t)r->number,
				      "id", r->id, "files", (json_int_t)r->files));
	return CORE_OK;
}

/* The split's counts per part into the summary and the timeline. */
static enum core_status make_split(struct demo *d, struct core_error *err)
{
	char *base = cli_demo_path("/v1/datasets/", d->png_ds, "/versions/1/splits");
	json_t *body = json_pack("{s:s, s:{s:f, s:f, s:f}, s:i}", "name", DEMO_SPLIT, "fractions", "train", 0.8, "val",
				 0.1, "test", 0.1, "seed", 7);
	json_t *got = NULL;
	enum core_status rc = cli_demo_call(&d->data, "POST", base, body, &got, err);
	json_decref(body);
	free(base);
	if (rc != CORE_OK)
		return rc;
	json_t *counts = json_object_get(json_object_get(got, "split"), "counts");
	long long tr = json_integer_value(json_object_get(counts, "train")),
		  va = json_integer_value(json_object_get(counts, "val")),
		  te = json_integer_value(json_object_get(counts, "test"));
	if (tr <= 0 || va <= 0 || te <= 0) {
		json_decref(got);
		return core_fail(err, CORE_EINVAL, "the split's answer has no train/val/test counts");
	}
	cli_demo_say(d, "data", "split %s of %s@1 (stratified, seed 7): train %lld, val %lld, test %lld", DEMO_SPLIT,
		     d->png_ds, tr, va, te);
	json_object_set_new(cli_demo_step(d, "data"), "split",
			    json_pack("{s:s, s:I, s:I, s:I}", "name", DEMO_SPLIT, "train", (json_int_t)tr, "val",
				      (json_int_t)va, "test", (json_int_t)te));
	json_decref(got);
	return CORE_OK;
}

enum core_status cli_demo_step_data(struct demo *d, struct core_error *err)
{
	size_t n = d->o.images < d->fm.n_train ? d->o.images : d->fm.n_train;
	size_t n_test = n / 6 < d->fm.n_test ? n / 6 : d->fm.n_test;
	if (d->o.test > d->fm.n_test)
		return core_fail(err, CORE_EINVAL, "--test %zu: Fashion-MNIST has %zu test images", d->o.test,
				 d->fm.n_test);
	char *idx = core_xasprintf("%s/idx", d->tmp), *png = core_xasprintf("%s/png", d->tmp);
	struct cli_push_result r;
	enum core_status rc;
	cli_demo_say(d, "data", "Fashion-MNIST: %zu of %zu training images used (and %zu test images in the IDX set)",
		     n, d->fm.n_train, n_test);
	if ((rc = cli_demo_write_idx(&d->fm, n, n_test, idx, err)) != CORE_OK ||
	    (rc = push(d, idx, d->idx_ds, "idx", "idx", &r, err)) != CORE_OK)
		goto out;
	double t = cli_now();
	if ((rc = cli_demo_write_pngs(d->fm.train_x, d->fm.train_y, n, false, "", png, err)) != CORE_OK)
		goto out;
	cli_demo_say(d, "data", "wrote %zu PNGs as <class>/<n>.png in %.1f s (libs/img's encoder)", n, cli_now() - t);
	if ((rc = push(d, png, d->png_ds, "image-folder", "png", &r, err)) != CORE_OK)
		goto out;
	d->png_versions = r.number;
	json_object_set_new(cli_demo_step(d, "data"), "images", json_integer((json_int_t)n));
	rc = make_split(d, err);
out:
	free(idx);
	free(png);
	return rc;
}

enum core_status cli_demo_push_drifted(struct demo *d, struct core_error *err)
{
	/* the same folder plus a third as many inverted images: the new kind of input */
	size_t n = d->o.images < d->fm.n_train ? d->o.images : d->fm.n_train, inv = n / 3;
	char *png = core_xasprintf("%s/png", d->tmp);
	struct cli_push_result r;
	enum core_status rc = cli_demo_write_pngs(d->fm.train_x, d->fm.train_y, inv, true, "inv-", png, err);
	if (rc == CORE_OK)
		rc = push(d, png, d->png_ds, "image-folder", "png_drifted", &r, err);
	if (rc == CORE_OK) {
		d->png_versions = r.number;
		json_object_set_new(json_object_get(cli_demo_step(d, "data"), "png_drifted"), "inverted",
				    json_integer((json_int_t)inv));
		cli_demo_say(d, "data", "%s@%lld holds the %zu images and %zu inverted ones: the retrain learns them",
			     d->png_ds, r.number, n, inv);
	}
	free(png);
	return rc;
}
