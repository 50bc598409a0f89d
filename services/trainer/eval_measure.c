/* The measuring half of an evaluation (tr.h, tr-promotion): where a version came from
 * (its run's lathe.job_id and lathe.dataset tags), the held-out test split of the
 * dataset version it was trained on (the job's spec through data.c, pinned to the
 * dataset version the run names, so a spec on "latest" reads what was trained on), its
 * package (libs/pkgfetch, the inference API's way) and its scores on a split
 * (libs/ml's metrics: sklearn's definitions). Blocking HTTP: no transaction is open
 * across any of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/time.h"
#include "http/client.h"
#include "ml/metrics.h"
#include "ml/package.h"
#include "mlflow/run_tags.h"
#include "pkgfetch/pkgfetch.h"
#include "tr.h"

#define PACKAGE_MAX ((size_t)1 << 30)

void tr_lineage_free(struct tr_lineage *l)
{
	free(l->job_id);
	free(l->dataset);
	memset(l, 0, sizeof *l);
}

enum core_status tr_lineage_get(const struct tr_settings *s, const char *model, const char *version,
				struct tr_lineage *out, struct core_error *err)
{
	json_t *tags = NULL;
	memset(out, 0, sizeof *out);
	enum core_status rc = tr_peer_version_run(s, NULL, model, version, out->run_id, err);
	if (rc == CORE_OK && !out->run_id[0])
		rc = core_fail(err, CORE_EINVAL, "version %s of %s has no run", version, model);
	if (rc == CORE_OK)
		rc = tr_peer_run_tags(s, NULL, out->run_id, &tags, err);
	/* a sweep's trial run is of the sweep's job, whose spec (split fractions and seed)
	 * every trial shared */
	if (rc == CORE_OK) {
		const char *ds = json_string_value(json_object_get(tags, "lathe.dataset"));
		out->job_id = mlflow_run_job(json_string_value(json_object_get(tags, MLFLOW_TAG_JOB_ID)),
					     json_string_value(json_object_get(tags, MLFLOW_TAG_SWEEP_JOB_ID)),
					     json_string_value(json_object_get(tags, MLFLOW_TAG_SWEEP_TRIAL)), NULL);
		out->dataset = ds ? core_xstrdup(ds) : NULL;
	}
	if (rc == CORE_OK && !out->job_id)
		rc = core_fail(err, CORE_EINVAL,
			       "version %s of %s was not trained by the trainer (its run has no "
			       "lathe.job_id tag)",
			       version, model);
	if (rc != CORE_OK)
		tr_lineage_free(out);
	json_decref(tags);
	return rc;
}

struct spec_ctx {
	const char *job_id;
	json_t *spec;
	struct core_error err;
};

static int spec_tx(struct db_conn *c, void *cls)
{
	struct spec_ctx *x = cls;
	PGresult *res = NULL;
	json_decref(x->spec);
	x->spec = NULL;
	int rc = tr_q_job_get(c, x->job_id, &res, &x->err);
	if (rc > 0)
		x->spec = json_loads(db_get_text(res, 0, 2), 0, NULL);
	PQclear(res);
	return rc;
}

enum core_status tr_lineage_test_split(struct svc *svc, const struct tr_lineage *l, struct tr_data *out,
				       struct core_error *err)
{
	struct spec_ctx x = {.job_id = l->job_id};
	struct tr_spec spec;
	int n = db_run_tx(svc_db(svc), "tr_lineage_spec", DB_READ_COMMITTED, spec_tx, &x, &x.err);
	enum core_status rc = CORE_OK;
	if (n < 0) {
		*err = x.err;
		rc = CORE_EIO;
	} else if (n == 0 || !x.spec) {
		rc = core_fail(err, CORE_EINVAL, "job %s of run %s is not in this trainer's database", l->job_id,
			       l->run_id);
	}
	if (rc == CORE_OK && l->dataset) /* name@version id: the version it was trained on */
		json_object_set_new(x.spec, "dataset", json_string(l->dataset));
	if (rc == CORE_OK && tr_spec_parse(x.spec, &spec, err) != CORE_OK)
		rc = CORE_EINVAL;
	if (rc == CORE_OK && tr_spec_is_regression(&spec))
		rc = core_fail(err, CORE_EINVAL, "job %s trains a regression: only classifiers are evaluated",
			       l->job_id);
	if (rc == CORE_OK)
		rc = tr_data_fetch(tr_app(svc)->settings, NULL, &spec, out, err);
	if (rc == CORE_OK && out->test.d.n == 0) {
		tr_data_free(out);
		rc = core_fail(err, CORE_EINVAL, "the test split of %s is empty", spec.dataset);
	}
	json_decref(x.spec);
	return rc;
}

enum core_status tr_version_package(const struct tr_settings *s, const char *eval_id, const char *model,
				    const char *version, struct ml_package *out, struct core_error *err)
{
	struct httpc_peer reg = {.name = "the model registry",
				 .base_url = s->registry_url,
				 .token = s->registry_token,
				 .timeout_ms = s->registry_timeout_ms,
				 .max_response = (size_t)16 << 20};
	struct httpc_peer trk = {.name = "the experiment tracker",
				 .base_url = s->tracker_url,
				 .token = s->tracker_token,
				 .timeout_ms = s->tracker_timeout_ms,
				 .max_response = PACKAGE_MAX};
	char *dv = pkgfetch_dir_name(version);
	char *dir = core_xasprintf("%s/evaluations/%s/%s", s->blob_dir, eval_id, dv);
	memset(out, 0, sizeof *out);
	enum core_status rc = pkgfetch_version(&reg, &trk, model, version, dir, NULL, err);
	if (rc == CORE_OK)
		rc = ml_package_read(dir, out, err);
	if (rc == CORE_OK && strcmp(out->task, "classification") != 0) {
		rc = core_fail(err, CORE_EINVAL, "version %s of %s is a %s model: only classifiers are evaluated",
			       version, model, out->task);
		ml_package_free(out);
	}
	pkgfetch_forget(dir);
	free(dir);
	free(dv);
	return rc;
}

enum core_status tr_score(struct ml_package *pkg, const struct tr_data *d, struct ml_class_report *rep,
			  double *batch_ms, struct core_error *err)
{
	const struct ml_data *t = &d->test.d;
	size_t k = ml_net_n_outputs(pkg->net);
	memset(rep, 0, sizeof *rep);
	if (k != d->k)
		return core_fail(err, CORE_EINVAL, "the model has %zu outputs, the dataset %zu classes", k, d->k);
	float *probs = core_xcalloc(t->n * k, sizeof *probs);
	uint64_t t0 = core_monotonic_ns();
	enum core_status rc = ml_net_predict(pkg->net, t->x, t->n, probs, err);
	*batch_ms = (double)(core_monotonic_ns() - t0) / 1e6;
	if (rc == CORE_OK)
		rc = ml_eval_classification(probs, t->y, t->n, k, rep, err);
	free(probs);
	return rc;
}
