/* A finished training's artifacts (face: the tr-mlflow section of tr.h), put where an
 * MLflow client would put them for the run: under the run's artifact_uri
 * (mlflow-artifacts:/<exp>/<run>/artifacts), through the tracker's artifact API
 * (PUT /api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/<path>):
 *   model/model.json, model/weights.safetensors   the model package (ml/package.h):
 *                                                  what the registry's servability
 *                                                  check and the inference API read
 *   charts/loss.png                                loss and val_loss per epoch
 *   charts/accuracy.png                            accuracy and val_accuracy (classification)
 *   charts/confusion_matrix.png                    the test split's, with class names
 *   classification_report.json                     sklearn's output_dict shape
 *   reference.json                                 the drift monitor's reference (reference.c)
 * The package is written by ml_package_write into a private temporary directory (the
 * bytes the inference API will read back), then each of its files is uploaded; the rest
 * is made in memory. A PUT overwrites, so a retry after a lost answer leaves the same
 * files. Blocking HTTP; never inside a transaction. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/file.h"
#include "img/chart.h"
#include "ml/metrics.h"
#include "ml/package.h"
#include "tr.h"

#define PNG_MAX     ((size_t)16 << 20)
#define PACKAGE_MAX ((size_t)1 << 30) /* one package file; the upload holds it in memory */

/* Removes dir and the files directly in it (what ml_package_write made). */
static void remove_flat_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *p = core_xasprintf("%s/%s", dir, e->d_name);
		unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Writes the package and uploads every file of it under model/. */
static enum core_status log_package(const struct tr_settings *s, const char *request_id, const char *root,
				    const struct ml_package *pkg, struct core_error *err)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = core_xasprintf("%s/lathe-package-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	enum core_status rc = CORE_OK;
	DIR *d = NULL;
	if (!mkdtemp(dir)) {
		rc = core_fail(err, CORE_EIO, "cannot make a temporary directory for the model package: %s",
			       strerror(errno));
		free(dir);
		return rc;
	}
	rc = ml_package_write(pkg, dir, err);
	if (rc == CORE_OK && !(d = opendir(dir)))
		rc = core_fail(err, CORE_EIO, "cannot read the model package written: %s", strerror(errno));
	struct dirent *e;
	while (rc == CORE_OK && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *path = core_xasprintf("%s/%s", dir, e->d_name), *name = core_xasprintf("model/%s", e->d_name);
		char *data = NULL;
		size_t len = 0;
		rc = core_read_file(path, PACKAGE_MAX, &data, &len, err);
		if (rc == CORE_OK)
			rc = tr_mlflow_put_artifact(s, request_id, root, name, data, len, err);
		free(data);
		free(name);
		free(path);
	}
	if (d)
		closedir(d);
	remove_flat_dir(dir);
	free(dir);
	return rc;
}

/* A line chart of up to two per-epoch curves (b may be NULL) as path. */
static enum core_status log_curves(const struct tr_settings *s, const char *request_id, const char *root,
				   const char *path, const char *title, const char *a_name, const double *a,
				   const char *b_name, const double *b, size_t epochs, struct core_error *err)
{
	struct img_series series[2] = {{.name = a_name, .y = a, .n = epochs}, {.name = b_name, .y = b, .n = epochs}};
	struct core_buf png;
	core_buf_init(&png, PNG_MAX);
	enum core_status rc = img_chart_lines(title, "epoch", series, b ? 2 : 1, &png, err);
	if (rc == CORE_OK)
		rc = tr_mlflow_put_artifact(s, request_id, root, path, png.data, png.len, err);
	core_buf_free(&png);
	return rc;
}

static enum core_status log_json(const struct tr_settings *s, const char *request_id, const char *root,
				 const char *path, json_t *doc, struct core_error *err)
{
	if (!doc)
		return core_fail(err, CORE_EINVAL, "%s could not be made", path);
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
	enum core_status rc = text ? tr_mlflow_put_artifact(s, request_id, root, path, text, strlen(text), err)
				   : core_fail(err, CORE_ENOMEM, "%s could not be encoded", path);
	free(text);
	return rc;
}

enum core_status tr_artifacts_log(const struct tr_settings *s, const char *request_id, const char *run_id,
				  const struct tr_result *res, struct core_error *err)
{
	char *root = NULL;
	const struct ml_class_report *rep = res->report;
	if (!res->package)
		return core_fail(err, CORE_EINVAL, "a training result without a model package");
	enum core_status rc = tr_mlflow_artifact_root(s, request_id, run_id, &root, err);
	if (rc == CORE_OK)
		rc = log_package(s, request_id, root, res->package, err);
	if (rc == CORE_OK && res->loss && res->epochs > 0)
		rc = log_curves(s, request_id, root, "charts/loss.png", "Loss", "loss", res->loss, "val_loss",
				res->val_loss, res->epochs, err);
	if (rc == CORE_OK && (res->acc || res->val_acc) && res->epochs > 0)
		rc = log_curves(s, request_id, root, "charts/accuracy.png", "Accuracy",
				res->acc ? "accuracy" : "val_accuracy", res->acc ? res->acc : res->val_acc,
				"val_accuracy", res->acc ? res->val_acc : NULL, res->epochs, err);
	if (rc == CORE_OK && rep && rep->confusion) {
		struct core_buf png;
		core_buf_init(&png, PNG_MAX);
		rc = img_chart_confusion(rep->confusion, rep->k, res->class_names, &png, err);
		if (rc == CORE_OK)
			rc = tr_mlflow_put_artifact(s, request_id, root, "charts/confusion_matrix.png", png.data,
						    png.len, err);
		core_buf_free(&png);
	}
	if (rc == CORE_OK && rep) {
		json_t *doc = ml_class_report_json(rep, res->class_names);
		rc = log_json(s, request_id, root, "classification_report.json", doc, err);
		json_decref(doc);
	}
	if (rc == CORE_OK && res->val && res->val_probs && res->k > 0) {
		json_t *doc = tr_reference_build(res->val, res->val_probs, res->k, res->class_names,
						 res->package->preprocessing);
		rc = log_json(s, request_id, root, "reference.json", doc, err);
		json_decref(doc);
	}
	free(root);
	return rc;
}
