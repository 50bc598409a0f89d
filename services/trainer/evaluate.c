/* One champion / challenger evaluation, from the queued row to the decision (tr.h,
 * tr-promotion). Both packages run on the held-out test split of the dataset version
 * the challenger was trained on (eval_measure.c), and again on the champion's own test
 * split when the champion was trained here; the model's policy judges the first
 * (policy.c). What it leaves, each write repeatable so that a re-run after a crash
 * leaves the same: an MLflow run in experiment lathe-promotion (found again by its
 * lathe.job_id tag, eval-<id>), tags on the challenger version (lathe.eval.*), and for
 * a promotion under mode auto: alias previous -> the old champion, champion -> the
 * challenger, challenger deleted. The row and the event are the worker's
 * (promo_worker.c), in one transaction after this returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include "ml/metrics.h"
#include "ml/package.h"
#include "tr.h"

struct side {
	struct ml_class_report rep;
	double ms;
	bool ok;
};

struct policy_ctx {
	const char *model;
	struct tr_policy p;
	struct core_error err;
};

static int policy_tx(struct db_conn *c, void *cls)
{
	struct policy_ctx *x = cls;
	PGresult *res = NULL;
	int rc = tr_q_policy_get(c, x->model, &res, &x->err);
	if (rc >= 0)
		tr_policy_from_row(res, &x->p);
	PQclear(res);
	return rc < 0 ? rc : 1;
}

static struct tr_eval_scores scores_of(const struct side *s)
{
	return (struct tr_eval_scores){.accuracy = s->rep.accuracy,
				       .macro_f1 = s->rep.macro_f1,
				       .log_loss = s->rep.log_loss,
				       .recall = s->rep.recall,
				       .k = s->rep.k,
				       .batch_ms = s->ms};
}

static void set_num(json_t *m, const char *prefix, const char *who, const char *name, double v)
{
	char key[128];
	snprintf(key, sizeof key, "%s%s_%s", prefix, who, name);
	json_object_set_new(m, key, json_real(v));
}

/* prefix "" (the challenger's split) or "own_" (the champion's). */
static void put_metrics(json_t *m, const char *prefix, const struct side *champ, const struct side *chal)
{
	static const char *const names[] = {"accuracy", "macro_f1", "log_loss", "batch_ms"};
	struct tr_eval_scores b = scores_of(chal), a = champ ? scores_of(champ) : b;
	double va[4] = {a.accuracy, a.macro_f1, a.log_loss, a.batch_ms};
	double vb[4] = {b.accuracy, b.macro_f1, b.log_loss, b.batch_ms};
	for (int i = 0; i < 4; i++) {
		set_num(m, prefix, "challenger", names[i], vb[i]);
		if (champ) {
			set_num(m, prefix, "champion", names[i], va[i]);
			set_num(m, prefix, "delta", names[i], vb[i] - va[i]);
		}
	}
	for (size_t i = 0; i < b.k; i++) {
		char name[48];
		snprintf(name, sizeof name, "recall_%zu", i);
		set_num(m, prefix, "challenger", name, b.recall[i]);
		if (champ && i < a.k)
			set_num(m, prefix, "champion", name, a.recall[i]);
	}
}

/* Both packages on one test split (champ may be NULL). */
static enum core_status measure(struct ml_package *chal_pkg, struct ml_package *champ_pkg, const struct tr_data *d,
				struct side *chal, struct side *champ, struct core_error *err)
{
	enum core_status rc = tr_score(chal_pkg, d, &chal->rep, &chal->ms, err);
	chal->ok = rc == CORE_OK;
	if (rc == CORE_OK && champ_pkg) {
		rc = tr_score(champ_pkg, d, &champ->rep, &champ->ms, err);
		champ->ok = rc == CORE_OK;
	}
	return rc;
}

/* The champion's own split: both models again; a champion not trained here is noted. */
static enum core_status own_split(struct svc *svc, const struct tr_eval_row *e, struct ml_package *chal_pkg,
				  struct ml_package *champ_pkg, json_t *metrics, char *note, size_t cap,
				  struct core_error *err)
{
	const struct tr_settings *s = tr_app(svc)->settings;
	struct tr_lineage l;
	struct tr_data d = {0};
	struct side a = {0}, b = {0};
	enum core_status rc = tr_lineage_get(s, e->model, e->champion, &l, err);
	if (rc == CORE_OK) {
		rc = tr_lineage_test_split(svc, &l, &d, err);
		tr_lineage_free(&l);
	}
	if (rc == CORE_OK) {
		rc = measure(chal_pkg, champ_pkg, &d, &b, &a, err);
		tr_data_free(&d);
	}
	if (rc == CORE_OK)
		put_metrics(metrics, "own_", &a, &b);
	else if (rc != CORE_EIO)
		snprintf(note, cap, "; not measured on the champion's own split: %.200s", err->message);
	ml_class_report_free(&a.rep);
	ml_class_report_free(&b.rep);
	return rc == CORE_EIO ? rc : CORE_OK;
}

/* The MLflow run of the comparison, ended FINISHED. */
static enum core_status log_run(const struct tr_settings *s, const struct tr_eval_row *e, const struct tr_data *d,
				struct tr_eval_out *out, struct core_error *err)
{
	char key[64], name[160];
	snprintf(key, sizeof key, "eval-%s", e->id);
	snprintf(name, sizeof name, "%s v%s vs v%s", e->model, e->challenger, e->champion ? e->champion : "-");
	json_t *params =
		json_pack("{s:s, s:s, s:s, s:s}", "model", e->model, "champion_version", e->champion ? e->champion : "",
			  "challenger_version", e->challenger, "dataset", out->dataset);
	enum core_status rc = tr_mlflow_start_run(s, NULL, key, TR_PROMO_EXPERIMENT, name, NULL, params, d->dataset,
						  d->version_id, out->run_id, err);
	json_decref(params);
	if (rc == CORE_OK)
		rc = tr_mlflow_log_metrics(s, NULL, out->run_id, 0, out->metrics, err);
	if (rc == CORE_OK)
		rc = tr_mlflow_set_tag(s, NULL, out->run_id, "lathe.eval.decision", out->decision, err);
	if (rc == CORE_OK)
		rc = tr_mlflow_set_tag(s, NULL, out->run_id, "lathe.eval.reason", out->reason, err);
	if (rc == CORE_OK)
		rc = tr_mlflow_end_run(s, NULL, out->run_id, "FINISHED", err);
	return rc;
}

static enum core_status tag_version(const struct tr_settings *s, const struct tr_eval_row *e,
				    const struct tr_eval_out *out, struct core_error *err)
{
	enum core_status rc =
		tr_peer_version_tag(s, NULL, e->model, e->challenger, "lathe.eval.run_id", out->run_id, err);
	if (rc == CORE_OK)
		rc = tr_peer_version_tag(s, NULL, e->model, e->challenger, "lathe.eval.decision", out->decision, err);
	if (rc == CORE_OK)
		rc = tr_peer_version_tag(s, NULL, e->model, e->challenger, "lathe.eval.reason", out->reason, err);
	static const char *const names[] = {"accuracy", "macro_f1", "log_loss"};
	for (int i = 0; i < 3 && rc == CORE_OK && e->champion; i++) {
		char k[64], v[32];
		snprintf(k, sizeof k, "delta_%s", names[i]);
		snprintf(v, sizeof v, "%.17g", json_real_value(json_object_get(out->metrics, k)));
		snprintf(k, sizeof k, "lathe.eval.delta_%s", names[i]);
		rc = tr_peer_version_tag(s, NULL, e->model, e->challenger, k, v, err);
	}
	return rc;
}

static enum core_status promote(const struct tr_settings *s, const struct tr_eval_row *e, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	if (e->champion)
		rc = tr_peer_set_alias(s, NULL, e->model, "previous", e->champion, err);
	if (rc == CORE_OK)
		rc = tr_peer_set_alias(s, NULL, e->model, "champion", e->challenger, err);
	if (rc == CORE_OK)
		rc = tr_peer_delete_alias(s, NULL, e->model, "challenger", err);
	return rc == CORE_ENOENT ? CORE_OK : rc; /* no challenger alias left to delete */
}

/* The champion of now must still be the one the evaluation was queued against (or the
 * challenger itself: a re-run after this evaluation promoted it). */
static enum core_status check_champion(const struct tr_settings *s, const struct tr_eval_row *e, struct core_error *err)
{
	struct tr_aliases al;
	enum core_status rc = tr_peer_aliases(s, NULL, e->model, &al, err);
	if (rc != CORE_OK)
		return rc;
	if (strcmp(al.champion, e->champion ? e->champion : "") != 0 && strcmp(al.champion, e->challenger) != 0)
		return core_fail(err, CORE_EINVAL, "the champion moved to version %s since the evaluation was queued",
				 al.champion[0] ? al.champion : "(none)");
	return CORE_OK;
}

enum core_status tr_evaluate(struct svc *svc, const struct tr_eval_row *e, struct tr_eval_out *out,
			     struct core_error *err)
{
	const struct tr_settings *s = tr_app(svc)->settings;
	struct policy_ctx px = {.model = e->model};
	struct tr_lineage l = {0};
	struct tr_data d = {0};
	struct ml_package chal_pkg = {0}, champ_pkg = {0};
	struct side chal = {0}, champ = {0};
	char note[300] = "";
	bool have_data = false;
	memset(out, 0, sizeof *out);
	out->metrics = json_object();
	if (db_run_tx(svc_db(svc), "tr_eval_policy", DB_READ_COMMITTED, policy_tx, &px, &px.err) < 0) {
		*err = px.err;
		return CORE_EIO;
	}
	enum core_status rc = check_champion(s, e, err);
	if (rc == CORE_OK)
		rc = tr_lineage_get(s, e->model, e->challenger, &l, err);
	if (rc == CORE_OK) {
		snprintf(out->job_id, sizeof out->job_id, "%s", l.job_id);
		snprintf(out->dataset, sizeof out->dataset, "%s", l.dataset ? l.dataset : "");
		rc = tr_lineage_test_split(svc, &l, &d, err);
		have_data = rc == CORE_OK;
	}
	if (rc == CORE_OK)
		rc = tr_version_package(s, e->id, e->model, e->challenger, &chal_pkg, err);
	if (rc == CORE_OK && e->champion)
		rc = tr_version_package(s, e->id, e->model, e->champion, &champ_pkg, err);
	if (rc == CORE_OK)
		rc = measure(&chal_pkg, e->champion ? &champ_pkg : NULL, &d, &chal, &champ, err);
	if (rc == CORE_OK) {
		put_metrics(out->metrics, "", e->champion ? &champ : NULL, &chal);
		if (!out->dataset[0])
			snprintf(out->dataset, sizeof out->dataset, "%s@%s", d.dataset, d.version_id);
	}
	if (rc == CORE_OK && e->champion)
		rc = own_split(svc, e, &chal_pkg, &champ_pkg, out->metrics, note, sizeof note, err);
	if (rc == CORE_OK) {
		struct tr_eval_scores a = scores_of(&champ), b = scores_of(&chal);
		bool passes = false;
		char why[500];
		tr_policy_judge(&px.p, e->champion ? &a : NULL, &b, &passes, why, sizeof why);
		bool manual = strcmp(px.p.mode, "manual") == 0;
		snprintf(out->decision, sizeof out->decision, "%s",
			 manual   ? "manual"
			 : passes ? "promoted"
				  : "rejected");
		snprintf(out->reason, sizeof out->reason, "%s%.400s%.190s",
			 manual ? (passes ? "passes: " : "fails: ") : "", why, note);
		rc = log_run(s, e, &d, out, err);
	}
	if (rc == CORE_OK)
		rc = tag_version(s, e, out, err);
	if (rc == CORE_OK && strcmp(out->decision, "promoted") == 0)
		rc = promote(s, e, err);
	if (rc == CORE_OK) {
		struct core_log_field f[] = {CORE_LF_STR("model", e->model), CORE_LF_STR("challenger", e->challenger),
					     CORE_LF_STR("decision", out->decision)};
		core_log_with(CORE_LOG_INFO, f, 3, "evaluation of %s version %s: %s (%s)", e->model, e->challenger,
			      out->decision, out->reason);
	}
	ml_class_report_free(&chal.rep);
	ml_class_report_free(&champ.rep);
	ml_package_free(&chal_pkg);
	ml_package_free(&champ_pkg);
	if (have_data)
		tr_data_free(&d);
	tr_lineage_free(&l);
	if (rc == CORE_ENOENT)
		rc = CORE_EINVAL; /* a version the registry does not know: the evaluation fails */
	return rc;
}
