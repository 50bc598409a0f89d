/* Running one claimed job: the data, the net, the epochs, the tracker run, the model
 * package and the registration. worker.c calls tr_run_job on the runner's thread after
 * the claim; sweep.c runs its trials through tr_train_one.
 *
 * Order of one training (tr_train_one), and what a crash at any point leaves:
 *   1. the tracker run: found by its tag lathe.job_id (so a takeover continues the
 *      same run) or created; its id goes into the job row;
 *   2. the net from the spec (spec.c's layer list), a trainer, and, when the job row
 *      names a checkpoint, its state from the blob store (weights, optimiser, epochs
 *      and steps: the rest of the run is bit-identical to an unbroken one);
 *   3. each epoch: train (the batch callback renews the lease and reads
 *      cancel_requested at most every HEARTBEAT_MS, and stops at the next batch on a
 *      cancel, a lost lease or shutdown), validation metrics, log-batch to the run,
 *      then the checkpoint blob and, in one transaction, the job's progress (epoch,
 *      metrics with their history, checkpoint key), its `epoch` event and log line;
 *   4. early stopping on the spec's metric; a non-finite loss ends the job FAILED;
 *   5. test-split metrics, the package (net, preprocessing, classes, dataset, test
 *      metrics) uploaded with the charts and reports by tr_artifacts_log, the test
 *      metrics logged, the run ended FINISHED.
 * tr_run_job then registers (tr_mlflow_register finds the version of this run before
 * creating one, so a retry or a takeover never registers twice) and ends the job in
 * one transaction with its event. Calls to the tracker and registry that fail for want
 * of an answer are retried with backoff (250 ms doubling to 5 s) for as long as the
 * lease holds; a 4xx fails the job. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/log.h"
#include "core/time.h"
#include "ml/early_stop.h"
#include "ml/metrics.h"
#include "ml/nn.h"
#include "ml/package.h"
#include "tr.h"

#define HEARTBEAT_MS   200
#define BACKOFF_MS     250
#define BACKOFF_MAX    5000
#define CHECKPOINT_MAX ((size_t)1 << 31)

/* --- the job's context: lease, cancel, log lines --------------------------------- */

struct hb_ctx {
	const char *id, *worker;
	long lease_ms;
	bool cancel;
	struct core_error err;
};

static int heartbeat_tx(struct db_conn *c, void *cls)
{
	struct hb_ctx *x = cls;
	x->cancel = false;
	return tr_q_job_heartbeat(c, x->id, x->worker, core_now_ms(), x->lease_ms, &x->cancel, &x->err);
}

/* Renews the lease now; sets j->lost or j->cancel. A database that does not answer
 * changes nothing (the lease may still run out: then the job is taken over). */
static void heartbeat(struct tr_jctx *j)
{
	struct hb_ctx x = {.id = j->job->id, .worker = j->worker, .lease_ms = j->app->settings->lease_ms};
	int rc = db_run_tx(svc_db(j->svc), "tr_worker_heartbeat", DB_READ_COMMITTED, heartbeat_tx, &x, &x.err);
	j->last_beat = core_now_ms();
	if (rc == 0)
		j->lost = true;
	else if (rc > 0 && x.cancel)
		j->cancel = true;
}

/* Any thread of a sweep may call it: the one that moves last_beat on does the
 * heartbeat, so parallel trials do not renew the lease once each. */
bool tr_job_should_stop(struct tr_jctx *j)
{
	int64_t now = core_now_ms(), last = atomic_load(&j->last_beat);
	if (now - last >= HEARTBEAT_MS && atomic_compare_exchange_strong(&j->last_beat, &last, now))
		heartbeat(j);
	return j->lost || j->cancel || svc_stopping(j->svc);
}

struct line_ctx {
	const char *id, *level, *line;
	struct core_error err;
};

static int line_tx(struct db_conn *c, void *cls)
{
	struct line_ctx *x = cls;
	return tr_q_job_event_append(c, x->id, x->level, x->line, core_now_ms(), &x->err);
}

void tr_job_log(struct tr_jctx *j, const char *level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	struct line_ctx x = {.id = j->job->id, .level = level, .line = line};
	if (db_run_tx(svc_db(j->svc), "tr_worker_log", DB_READ_COMMITTED, line_tx, &x, &x.err) < 0)
		core_warn("job %s: log line lost: %s", j->job->id, x.err.message);
	struct core_log_field f[] = {CORE_LF_STR("job_id", j->job->id)};
	core_log_with(strcmp(level, "warn") == 0 ? CORE_LOG_WARN : CORE_LOG_INFO, f, 1, "%s", line);
}

/* Waits before the next attempt of a call that got no answer; false when the job
 * must stop instead (lease lost, cancel is not a reason here: ending needs the calls). */
static bool backoff(struct tr_jctx *j, long *delay)
{
	if (svc_sleep(j->svc, *delay))
		return false;
	*delay = *delay * 2 > BACKOFF_MAX ? BACKOFF_MAX : *delay * 2;
	heartbeat(j);
	return !j->lost;
}

/* --- calls to the tracker and registry, retried while they do not answer --------- */

enum call_kind { CALL_START, CALL_METRICS, CALL_END, CALL_ARTIFACTS, CALL_REGISTER, CALL_TAG };

struct call {
	enum call_kind kind;
	const char *run_id, *experiment, *run_name, *parent, *key, *value, *status, *model, *alias;
	const char *run_key, *dataset, *version_id;
	json_t *obj; /* params or metrics */
	long step;
	const struct tr_result *res;
	char *out; /* run id [64] or version [32] */
	const char *what;
};

static enum core_status call_once(const struct tr_settings *s, const char *rid, const struct call *c,
				  struct core_error *err)
{
	switch (c->kind) {
	case CALL_START:
		return tr_mlflow_start_run(s, rid, c->run_key, c->experiment, c->run_name, c->parent, c->obj,
					   c->dataset, c->version_id, c->out, err);
	case CALL_METRICS:
		return tr_mlflow_log_metrics(s, rid, c->run_id, c->step, c->obj, err);
	case CALL_END:
		return tr_mlflow_end_run(s, rid, c->run_id, c->status, err);
	case CALL_ARTIFACTS:
		return tr_artifacts_log(s, rid, c->run_id, c->res, err);
	case CALL_REGISTER:
		return tr_mlflow_register(s, rid, c->run_id, c->model, c->alias, c->out, err);
	case CALL_TAG:
		return tr_mlflow_set_tag(s, rid, c->run_id, c->key, c->value, err);
	}
	return core_fail(err, CORE_EINVAL, "unknown call");
}

/* CORE_OK; CORE_EINVAL (the peer refused: the job fails with err); CORE_EIO when the
 * job must stop before the peer answered (lease lost, shutdown). */
static enum core_status do_call(struct tr_jctx *j, const struct call *c, struct core_error *err)
{
	long delay = BACKOFF_MS;
	int warned = 0;
	for (;;) {
		enum core_status rc = call_once(j->app->settings, j->job->id, c, err);
		if (rc != CORE_EIO)
			return rc == CORE_OK ? CORE_OK : core_fail(err, CORE_EINVAL, "%s: %s", c->what, err->message);
		if (warned++ == 0)
			tr_job_log(j, "warn", "%s: no answer (%s); retrying with backoff", c->what, err->message);
		if (!backoff(j, &delay))
			return core_fail(err, CORE_EIO, "%s: stopped while waiting for an answer", c->what);
	}
}

enum core_status tr_job_start_run(struct tr_jctx *j, const struct tr_call_start *st, char run_id[64],
				  struct core_error *err)
{
	struct call c = {.kind = CALL_START,
			 .run_key = st->run_key,
			 .experiment = st->experiment,
			 .run_name = st->run_name,
			 .parent = st->parent_run_id,
			 .obj = st->params,
			 .dataset = st->dataset,
			 .version_id = st->version_id,
			 .out = run_id,
			 .what = "starting the tracker run"};
	return do_call(j, &c, err);
}

enum core_status tr_job_log_metrics(struct tr_jctx *j, const char *run_id, long step, json_t *metrics,
				    struct core_error *err)
{
	struct call c = {
		.kind = CALL_METRICS, .run_id = run_id, .obj = metrics, .step = step, .what = "logging metrics"};
	return do_call(j, &c, err);
}

enum core_status tr_job_set_tag(struct tr_jctx *j, const char *run_id, const char *key, const char *value,
				struct core_error *err)
{
	struct call c = {.kind = CALL_TAG, .run_id = run_id, .key = key, .value = value, .what = "setting a run tag"};
	return do_call(j, &c, err);
}

enum core_status tr_job_end_run(struct tr_jctx *j, const char *run_id, const char *status)
{
	struct core_error err = {{0}};
	struct call c = {.kind = CALL_END, .run_id = run_id, .status = status, .what = "ending the run"};
	enum core_status rc = do_call(j, &c, &err);
	if (rc != CORE_OK)
		core_warn("job %s: run %s not ended %s: %s", j->job->id, run_id, status, err.message);
	return rc;
}

/* --- parameters ---------------------------------------------------------------- */

static void flatten(json_t *v, const char *prefix, json_t *out)
{
	if (json_is_object(v)) {
		const char *k;
		json_t *m;
		json_object_foreach(v, k, m)
		{
			char *p = *prefix ? core_xasprintf("%s.%s", prefix, k) : core_xstrdup(k);
			flatten(m, p, out);
			free(p);
		}
		return;
	}
	if (json_is_string(v)) {
		json_object_set_new(out, prefix, json_string(json_string_value(v)));
		return;
	}
	char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	json_object_set_new(out, prefix, json_string(t ? t : "null"));
	free(t);
}

/* Every hyper-parameter as a flat object of strings ("optimizer.lr": "0.001"), the
 * spec's defaults included; not the sweep, the registration or the run's naming. */
json_t *tr_job_params(json_t *spec_json, const struct tr_spec *s)
{
	json_t *out = json_object(), *copy = json_deep_copy(spec_json);
	static const char *const skip[] = {"sweep", "register", "experiment", "run_name"};
	for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
		json_object_del(copy, skip[i]);
	flatten(copy, "", out);
	json_decref(copy);
	char b[64];
#define DEF(key, fmt, val)                                                                                             \
	do {                                                                                                           \
		if (!json_object_get(out, key)) {                                                                      \
			snprintf(b, sizeof b, fmt, val);                                                               \
			json_object_set_new(out, key, json_string(b));                                                 \
		}                                                                                                      \
	} while (0)
	DEF("optimizer.type", "%s", s->optimizer ? s->optimizer : "adam");
	DEF("optimizer.lr", "%g", s->lr);
	DEF("epochs", "%d", s->epochs);
	DEF("batch_size", "%d", s->batch_size);
	DEF("seed", "%llu", (unsigned long long)s->seed);
	if (s->family == TR_MLP) {
		DEF("model.activation", "%s", s->activation ? s->activation : "relu");
		DEF("model.dropout", "%g", s->dropout);
	}
	if (s->optimizer && strcmp(s->optimizer, "sgd") == 0)
		DEF("optimizer.momentum", "%g", s->momentum);
	DEF("optimizer.weight_decay", "%g", s->weight_decay);
#undef DEF
	return out;
}

/* --- evaluation ------------------------------------------------------------------ */

/* Softmax of n rows of k logits, in place. */
static void softmax_rows(float *p, size_t n, size_t k)
{
	for (size_t i = 0; i < n; i++) {
		float *r = p + i * k, m = r[0];
		for (size_t j = 1; j < k; j++)
			m = r[j] > m ? r[j] : m;
		double sum = 0;
		for (size_t j = 0; j < k; j++) {
			r[j] = expf(r[j] - m);
			sum += r[j];
		}
		for (size_t j = 0; j < k; j++)
			r[j] = (float)(r[j] / sum);
	}
}

/* Predictions on d: probabilities (classification) or values, [n, k]; malloc'd. */
static float *predict(struct ml_net *net, const struct ml_data *d, size_t k, bool regression, struct core_error *err)
{
	float *p = core_xmalloc((d->n * k + 1) * sizeof(float));
	if (d->n && ml_net_predict(net, d->x, d->n, p, err) != CORE_OK) {
		free(p);
		return NULL;
	}
	if (!regression)
		softmax_rows(p, d->n, k);
	return p;
}

/* Accuracy (or, for a regression, RMSE) on d into *out. */
static enum core_status score_on(struct ml_net *net, const struct ml_data *d, size_t k, bool regression,
				 json_t *metrics, const char *prefix, struct core_error *err)
{
	if (d->n == 0)
		return CORE_OK;
	float *p = predict(net, d, k, regression, err);
	if (!p)
		return CORE_EINVAL;
	char key[64];
	enum core_status rc = CORE_OK;
	if (regression) {
		struct ml_reg_report r;
		if ((rc = ml_eval_regression(p, d->yr, d->n, k, &r, err)) == CORE_OK) {
			snprintf(key, sizeof key, "%srmse", prefix);
			json_object_set_new(metrics, key, json_real(r.rmse));
			snprintf(key, sizeof key, "%smae", prefix);
			json_object_set_new(metrics, key, json_real(r.mae));
			snprintf(key, sizeof key, "%sr2", prefix);
			json_object_set_new(metrics, key, json_real(r.r2));
		}
	} else {
		size_t ok = 0;
		for (size_t i = 0; i < d->n; i++) {
			const float *r = p + i * k;
			size_t best = 0;
			for (size_t j = 1; j < k; j++)
				if (r[j] > r[best])
					best = j;
			ok += (int64_t)best == d->y[i];
		}
		snprintf(key, sizeof key, "%saccuracy", prefix);
		json_object_set_new(metrics, key, json_real((double)ok / (double)d->n));
	}
	free(p);
	return rc;
}

/* --- checkpoints ----------------------------------------------------------------- */

static enum core_status load_checkpoint(struct tr_jctx *j, struct ml_trainer *t, const char *key,
					struct core_error *err)
{
	int fd = -1;
	uint64_t size = 0;
	enum core_status rc = blob_open(j->app->blobs, key, &fd, &size, err);
	if (rc != CORE_OK)
		return rc;
	char *buf = NULL;
	if (size > CHECKPOINT_MAX) {
		rc = core_fail(err, CORE_EINVAL, "checkpoint %s: %llu bytes is too large", key,
			       (unsigned long long)size);
		goto out;
	}
	buf = core_xmalloc(size ? size : 1);
	for (uint64_t got = 0; got < size;) {
		ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
		if (n <= 0) {
			rc = core_fail(err, CORE_EIO, "checkpoint %s: short read", key);
			goto out;
		}
		got += (uint64_t)n;
	}
	rc = ml_trainer_load(t, buf, size, err);
out:
	free(buf);
	close(fd);
	return rc;
}

struct progress_ctx {
	const struct tr_jctx *j;
	int epoch;
	int64_t step;
	double loss;
	json_t *metrics;
	const char *checkpoint;
	json_t *event; /* epoch event data (borrowed; a new reference per attempt) */
	const char *line;
	struct core_error err;
};

static int progress_tx(struct db_conn *c, void *cls)
{
	struct progress_ctx *x = cls;
	int64_t now = core_now_ms();
	int rc = tr_q_job_progress(c, x->j->job->id, x->j->worker, x->epoch, x->step, x->loss, x->metrics,
				   x->checkpoint, now, x->j->app->settings->lease_ms, &x->err);
	if (rc <= 0)
		return rc;
	if ((rc = tr_ev_job(c, x->j->job->id, "epoch", json_incref(x->event), &x->err)) < 0)
		return rc;
	if ((rc = tr_q_job_event_append(c, x->j->job->id, "info", x->line, now, &x->err)) < 0)
		return rc;
	return 1;
}

/* --- one training ---------------------------------------------------------------- */

static void history_add(json_t *hist, json_t *metrics)
{
	const char *k;
	json_t *v;
	json_object_foreach(metrics, k, v)
	{
		json_t *a = json_object_get(hist, k);
		if (!a) {
			a = json_array();
			json_object_set_new(hist, k, a);
		}
		json_array_append(a, v);
	}
}

/* The curve named name of hist as doubles (n of them), or NULL. */
static double *curve(json_t *hist, const char *name, size_t n)
{
	json_t *a = json_object_get(hist, name);
	if (!json_is_array(a) || json_array_size(a) < n || n == 0)
		return NULL;
	double *out = core_xmalloc(n * sizeof *out);
	for (size_t i = 0; i < n; i++)
		out[i] = json_number_value(json_array_get(a, i));
	return out;
}

static bool metric_maximize(const char *name)
{
	return name && (strstr(name, "accuracy") || strstr(name, "f1") || strstr(name, "r2") ||
			strstr(name, "precision") || strstr(name, "recall"));
}

enum tr_outcome tr_train_one(struct tr_jctx *j, struct tr_trial *tr, struct core_error *err)
{
	const struct tr_spec *s = tr->spec;
	const struct tr_data *d = tr->data;
	bool regression = tr_spec_is_regression(s);
	size_t k = d->k;
	struct ml_layer_spec layers[TR_MAX_LAYERS];
	size_t n_layers = 0;
	struct ml_net *net = NULL;
	struct ml_trainer *t = NULL;
	json_t *params = tr_job_params(tr->spec_json, s), *hist = json_object(), *final = json_object();
	enum tr_outcome out = TR_FAILED;
	double *loss_c = NULL, *vloss_c = NULL, *acc_c = NULL, *vacc_c = NULL;
	float *val_probs = NULL, *test_p = NULL;
	struct ml_class_report rep = {0};
	const char *const *names = NULL;
	const char **name_v = NULL;
	tr->run_id[0] = '\0';
	tr->score = NAN;

	/* 1. the run */
	struct tr_call_start st = {.run_key = tr->run_key,
				   .experiment = s->experiment ? s->experiment : "Default",
				   .run_name = tr->run_name,
				   .parent_run_id = tr->parent_run_id,
				   .params = params,
				   .dataset = d->dataset,
				   .version_id = d->version_id};
	struct call c;
	enum core_status rc = tr_job_start_run(j, &st, tr->run_id, err);
	if (rc != CORE_OK)
		goto stop_or_fail;
	if (tr->on_run && !tr->on_run(j, tr)) {
		out = TR_LOST;
		goto done;
	}

	/* 2. net, trainer, checkpoint */
	if ((rc = tr_spec_layers(s, (int)k, layers, TR_MAX_LAYERS, &n_layers, err)) != CORE_OK ||
	    (rc = ml_net_new(layers, n_layers, d->shape, &net, err)) != CORE_OK)
		goto fail;
	ml_net_init(net, s->seed);
	struct ml_train_cfg cfg = {
		.loss = regression ? ML_LOSS_MSE : ML_LOSS_SOFTMAX_CE,
		.optim = {.kind = s->optimizer && strcmp(s->optimizer, "sgd") == 0 ? ML_OPT_SGD : ML_OPT_ADAM,
			  .lr = (float)s->lr,
			  .momentum = (float)s->momentum,
			  .beta1 = (float)s->beta1,
			  .beta2 = (float)s->beta2,
			  .eps = (float)s->eps,
			  .weight_decay = (float)s->weight_decay},
		.batch_size = s->batch_size,
		.seed = s->seed,
	};
	if ((rc = ml_trainer_new(net, &cfg, &t, err)) != CORE_OK)
		goto fail;
	if (tr->checkpoints && j->job->checkpoint) {
		if ((rc = load_checkpoint(j, t, j->job->checkpoint, err)) != CORE_OK) {
			tr_job_log(j, "warn", "checkpoint %s unusable (%s): training from the start",
				   j->job->checkpoint, err->message);
			ml_trainer_free(t);
			t = NULL;
			ml_net_init(net, s->seed);
			if ((rc = ml_trainer_new(net, &cfg, &t, err)) != CORE_OK)
				goto fail;
		} else {
			json_t *h = json_object_get(j->job->metrics, "history");
			int done = ml_trainer_epoch_done(t);
			const char *key;
			json_t *a;
			json_object_foreach(h, key, a)
			{
				json_t *cut = json_array();
				for (int i = 0; i < done && i < (int)json_array_size(a); i++)
					json_array_append(cut, json_array_get(a, i));
				json_object_set_new(hist, key, cut);
			}
			tr_job_log(j, "info", "resumed at epoch %d from checkpoint %.12s", done, j->job->checkpoint);
		}
	}

	/* 3. epochs */
	const char *es_metric = s->es_metric ? s->es_metric : "val_loss";
	struct ml_early_stop es;
	ml_early_stop_init(&es, metric_maximize(es_metric), s->es_min_delta, s->es_patience);
	for (size_t i = 0; i < json_array_size(json_object_get(hist, es_metric)); i++)
		ml_early_stop_update(&es, (int)i,
				     json_number_value(json_array_get(json_object_get(hist, es_metric), i)));
	int epoch = ml_trainer_epoch_done(t);
	while (epoch < s->epochs) {
		double loss = NAN, vloss = NAN;
		bool stopped = false;
		rc = ml_trainer_epoch(t, &d->train.d, tr_batch_cb, j, &loss, &stopped, err);
		if (rc != CORE_OK)
			goto fail; /* a non-finite loss among them: "loss is not finite at ..." */
		if (stopped)
			goto stop_or_fail;
		if (!isfinite(loss)) {
			rc = core_fail(err, CORE_EINVAL, "loss is not finite at epoch %d", epoch + 1);
			goto fail;
		}
		json_t *m = json_object();
		json_object_set_new(m, "loss", json_real(loss));
		if ((rc = ml_trainer_eval_loss(t, &d->val.d, &vloss, err)) != CORE_OK) {
			json_decref(m);
			goto fail;
		}
		if (!isfinite(vloss)) {
			json_decref(m);
			rc = core_fail(err, CORE_EINVAL, "validation loss is not finite at epoch %d", epoch + 1);
			goto fail;
		}
		json_object_set_new(m, "val_loss", json_real(vloss));
		if ((rc = score_on(net, &d->train.d, k, regression, m, "", err)) != CORE_OK ||
		    (rc = score_on(net, &d->val.d, k, regression, m, "val_", err)) != CORE_OK) {
			json_decref(m);
			goto fail;
		}
		if (regression)
			json_object_del(m, "rmse"), json_object_del(m, "mae"), json_object_del(m, "r2");
		history_add(hist, m);
		c = (struct call){.kind = CALL_METRICS,
				  .run_id = tr->run_id,
				  .obj = m,
				  .step = epoch,
				  .what = "logging the epoch's metrics"};
		if ((rc = do_call(j, &c, err)) != CORE_OK) {
			json_decref(m);
			goto stop_or_fail;
		}
		epoch++;
		/* the checkpoint, then the progress that names it */
		struct core_buf ck;
		core_buf_init(&ck, CHECKPOINT_MAX);
		char key[BLOB_KEY_LEN + 1] = "";
		if (tr->checkpoints) {
			if ((rc = ml_trainer_save(t, &ck, err)) != CORE_OK ||
			    (rc = blob_put(j->app->blobs, ck.data, ck.len, key, err)) != CORE_OK) {
				core_buf_free(&ck);
				json_decref(m);
				goto fail;
			}
		}
		core_buf_free(&ck);
		json_t *pm = json_deep_copy(m);
		json_object_set(pm, "history", hist);
		if (tr->trial >= 0)
			json_object_set_new(pm, "trial", json_integer(tr->trial));
		json_t *ev = json_pack("{s:i, s:O}", "epoch", epoch, "metrics", m);
		if (tr->trial >= 0)
			json_object_set_new(ev, "trial", json_integer(tr->trial));
		char line[512];
		int ln = snprintf(line, sizeof line, "%sepoch %d/%d: loss %.4f, val_loss %.4f", tr->log_prefix, epoch,
				  s->epochs, loss, vloss);
		json_t *acc = json_object_get(m, regression ? "val_rmse" : "val_accuracy");
		if (acc && ln > 0 && (size_t)ln < sizeof line)
			snprintf(line + ln, sizeof line - (size_t)ln, ", %s %.4f",
				 regression ? "val_rmse" : "val_accuracy", json_number_value(acc));
		struct progress_ctx px = {.j = j,
					  .epoch = epoch,
					  .step = ml_trainer_step(t),
					  .loss = loss,
					  .metrics = pm,
					  .checkpoint = tr->checkpoints ? key : NULL,
					  .event = ev,
					  .line = line};
		/* a sweep's row: its trials' progress, written under the sweep's lock */
		if (tr->sweep)
			tr_sweep_progress_begin(tr->sweep, tr->trial, px.step, pm, &px.epoch, &px.step);
		int prc = db_run_tx(svc_db(j->svc), "tr_worker_progress", DB_READ_COMMITTED, progress_tx, &px, &px.err);
		if (tr->sweep)
			tr_sweep_progress_end(tr->sweep);
		json_decref(pm);
		json_decref(ev);
		double es_value = json_number_value(json_object_get(m, es_metric));
		bool has_es = json_object_get(m, es_metric) != NULL;
		json_decref(m);
		if (prc == 0) {
			j->lost = true;
			goto stop_or_fail;
		}
		if (prc < 0)
			core_warn("job %s: progress not recorded: %s", j->job->id, px.err.message);
		if (s->early_stopping && has_es && ml_early_stop_update(&es, epoch - 1, es_value)) {
			tr_job_log(j, "info", "%searly stopping after epoch %d: %s has not improved since epoch %d",
				   tr->log_prefix, epoch, es_metric, es.best_epoch + 1);
			break;
		}
	}
	if (svc_stopping(j->svc) || j->lost)
		goto stop_or_fail;

	/* 5. test metrics, package, artifacts, end */
	size_t n_ep = json_array_size(json_object_get(hist, "loss"));
	const struct ml_data *te = &d->test.d;
	if (!regression) {
		name_v = core_xcalloc(k, sizeof *name_v);
		for (size_t i = 0; i < k; i++)
			name_v[i] = json_string_value(json_array_get(d->classes, i));
		names = name_v;
		if (!(test_p = predict(net, te, k, false, err)) ||
		    (rc = ml_eval_classification(test_p, te->y, te->n, k, &rep, err)) != CORE_OK) {
			rc = CORE_EINVAL;
			goto fail;
		}
		json_object_set_new(final, "test_accuracy", json_real(rep.accuracy));
		json_object_set_new(final, "test_log_loss", json_real(rep.log_loss));
		json_object_set_new(final, "test_f1_macro", json_real(rep.macro_f1));
		json_object_set_new(final, "test_precision_macro", json_real(rep.macro_precision));
		json_object_set_new(final, "test_recall_macro", json_real(rep.macro_recall));
		json_object_set_new(final, "test_f1_weighted", json_real(rep.weighted_f1));
		if (!(val_probs = predict(net, &d->val.d, k, false, err))) {
			rc = CORE_EINVAL;
			goto fail;
		}
	} else if ((rc = score_on(net, te, k, true, final, "test_", err)) != CORE_OK) {
		goto fail;
	}
	json_t *last = json_object();
	const char *mk;
	json_t *mv;
	json_object_foreach(hist, mk, mv)
	{
		json_object_set(last, mk, json_array_get(mv, json_array_size(mv) - 1));
	}
	tr->score = json_number_value(json_object_get(last, tr->score_metric ? tr->score_metric : "val_loss"));
	json_object_update(final, last);
	json_decref(last);

	char dataset[256];
	snprintf(dataset, sizeof dataset, "%s@%s", d->dataset, d->version_id);
	json_t *test_metrics = json_object();
	json_object_foreach(final, mk, mv)
	{
		if (strncmp(mk, "test_", 5) == 0)
			json_object_set(test_metrics, mk, mv);
	}
	struct ml_package pkg = {
		.net = net,
		.preprocessing = d->preprocessing,
		.class_names = regression ? NULL : d->classes,
		.dataset = dataset,
		.metrics = test_metrics,
	};
	snprintf(pkg.task, sizeof pkg.task, "%s", regression ? "regression" : "classification");
	loss_c = curve(hist, "loss", n_ep);
	vloss_c = curve(hist, "val_loss", n_ep);
	acc_c = regression ? NULL : curve(hist, "accuracy", n_ep);
	vacc_c = regression ? NULL : curve(hist, "val_accuracy", n_ep);
	struct tr_result res = {
		.package = &pkg,
		.report = regression ? NULL : &rep,
		.class_names = names,
		.loss = loss_c,
		.val_loss = vloss_c,
		.acc = acc_c,
		.val_acc = vacc_c,
		.epochs = n_ep,
		.val = &d->val.d,
		.val_probs = val_probs,
		.k = k,
	};
	c = (struct call){.kind = CALL_ARTIFACTS, .run_id = tr->run_id, .res = &res, .what = "logging the artifacts"};
	rc = do_call(j, &c, err);
	json_decref(test_metrics);
	if (rc != CORE_OK)
		goto stop_or_fail;
	json_t *tm = json_object();
	json_object_foreach(final, mk, mv)
	{
		if (strncmp(mk, "test_", 5) == 0)
			json_object_set(tm, mk, mv);
	}
	c = (struct call){.kind = CALL_METRICS,
			  .run_id = tr->run_id,
			  .obj = tm,
			  .step = n_ep ? (long)n_ep - 1 : 0,
			  .what = "logging the test metrics"};
	rc = do_call(j, &c, err);
	json_decref(tm);
	if (rc != CORE_OK)
		goto stop_or_fail;
	c = (struct call){.kind = CALL_END, .run_id = tr->run_id, .status = "FINISHED", .what = "ending the run"};
	if ((rc = do_call(j, &c, err)) != CORE_OK)
		goto stop_or_fail;
	tr->final_metrics = json_incref(final);
	out = TR_DONE;
	goto done;

stop_or_fail:
	if (j->lost || svc_stopping(j->svc) || (rc == CORE_EIO && !j->cancel)) {
		out = TR_LOST; /* another worker has it, or shutdown: write nothing more */
		goto done;
	}
	if (j->cancel) {
		out = TR_CANCELLED;
		goto end_run;
	}
fail:
	out = TR_FAILED;
	if (!err->message[0])
		core_fail(err, rc == CORE_OK ? CORE_EINVAL : rc, "training failed");
end_run:
	if (tr->run_id[0])
		tr_job_end_run(j, tr->run_id, out == TR_CANCELLED ? "KILLED" : "FAILED");
done:
	ml_class_report_free(&rep);
	free(test_p);
	free(val_probs);
	free(loss_c);
	free(vloss_c);
	free(acc_c);
	free(vacc_c);
	free(name_v);
	ml_trainer_free(t);
	ml_net_free(net);
	json_decref(params);
	json_decref(hist);
	json_decref(final);
	return out;
}

bool tr_batch_cb(void *ctx, long step, float loss)
{
	(void)step;
	(void)loss;
	return !tr_job_should_stop(ctx);
}

/* --- the job --------------------------------------------------------------------- */

struct finish_ctx {
	const struct tr_jctx *j;
	const char *status, *failure, *version;
	json_t *metrics, *event;
	struct core_error err;
};

static int finish_tx(struct db_conn *c, void *cls)
{
	struct finish_ctx *x = cls;
	int64_t now = core_now_ms();
	int rc;
	if (x->version && (rc = tr_q_job_set_registered(c, x->j->job->id, x->j->worker, x->version, &x->err)) <= 0)
		return rc;
	if ((rc = tr_q_job_finish(c, x->j->job->id, x->j->worker, x->status, x->failure, x->metrics, now, &x->err)) <=
	    0)
		return rc;
	const char *kind = strcmp(x->status, "SUCCEEDED") == 0   ? "succeeded"
			   : strcmp(x->status, "CANCELLED") == 0 ? "cancelled"
								 : "failed";
	if ((rc = tr_ev_job(c, x->j->job->id, kind, json_incref(x->event), &x->err)) < 0)
		return rc;
	char line[1200];
	snprintf(line, sizeof line, "%s%s%s", x->status, x->failure ? ": " : "", x->failure ? x->failure : "");
	if ((rc = tr_q_job_event_append(c, x->j->job->id, strcmp(kind, "failed") == 0 ? "error" : "info", line, now,
					&x->err)) < 0)
		return rc;
	return 1;
}

static void finish(struct tr_jctx *j, const char *status, const char *failure, json_t *metrics, const char *version,
		   const char *run_id)
{
	json_t *ev = json_object();
	if (failure)
		json_object_set_new(ev, "failure", json_string(failure));
	if (run_id && *run_id)
		json_object_set_new(ev, "run_id", json_string(run_id));
	if (version)
		json_object_set_new(ev, "model_version", json_string(version));
	if (metrics)
		json_object_set(ev, "metrics", metrics);
	struct finish_ctx x = {
		.j = j, .status = status, .failure = failure, .version = version, .metrics = metrics, .event = ev};
	long delay = BACKOFF_MS;
	for (;;) {
		int rc = db_run_tx(svc_db(j->svc), "tr_worker_finish", DB_READ_COMMITTED, finish_tx, &x, &x.err);
		if (rc >= 0) {
			if (rc == 0)
				core_warn("job %s: not ended here: its lease was lost", j->job->id);
			break;
		}
		core_warn("job %s: ending it failed (%s); retrying", j->job->id, x.err.message);
		if (svc_sleep(j->svc, delay))
			break;
		delay = delay * 2 > BACKOFF_MAX ? BACKOFF_MAX : delay * 2;
	}
	json_decref(ev);
}

struct set_run_ctx {
	const struct tr_jctx *j;
	const char *run_id, *parent;
	struct core_error err;
};

static int set_run_tx(struct db_conn *c, void *cls)
{
	struct set_run_ctx *x = cls;
	return tr_q_job_set_run(c, x->j->job->id, x->j->worker, x->run_id, x->parent, &x->err);
}

/* Records the run in the job row (a single job's run, or a sweep's parent). */
bool tr_job_record_run(struct tr_jctx *j, const char *run_id, const char *parent)
{
	struct set_run_ctx x = {.j = j, .run_id = run_id, .parent = parent};
	int rc = db_run_tx(svc_db(j->svc), "tr_worker_set_run", DB_READ_COMMITTED, set_run_tx, &x, &x.err);
	if (rc == 0)
		j->lost = true;
	else if (rc < 0)
		core_warn("job %s: run id not recorded: %s", j->job->id, x.err.message);
	return rc != 0;
}

static bool single_on_run(struct tr_jctx *j, struct tr_trial *tr)
{
	return tr_job_record_run(j, tr->run_id, NULL);
}

/* Registers run_id's model when the spec asks; version gets the number. */
enum core_status tr_job_register(struct tr_jctx *j, const struct tr_spec *s, const char *run_id, char version[32],
				 struct core_error *err)
{
	version[0] = '\0';
	if (!s->register_model)
		return CORE_OK;
	struct call c = {.kind = CALL_REGISTER,
			 .run_id = run_id,
			 .model = s->register_model,
			 .alias = s->register_alias,
			 .out = version,
			 .what = "registering the model"};
	enum core_status rc = do_call(j, &c, err);
	if (rc == CORE_OK)
		tr_job_log(j, "info", "registered %s version %s%s%s", s->register_model, version,
			   s->register_alias ? " as @" : "", s->register_alias ? s->register_alias : "");
	return rc;
}

struct release_ctx {
	const struct tr_jctx *j;
	struct core_error err;
};

static int release_tx(struct db_conn *c, void *cls)
{
	struct release_ctx *x = cls;
	const char *id = x->j->job->id;
	int rc = tr_q_job_release(c, id, x->j->worker, &x->err);
	if (rc <= 0)
		return rc;
	if ((rc = tr_q_job_event_append(c, id, "info",
					"its worker shut down: handed back, to resume from its last "
					"checkpoint",
					core_now_ms(), &x->err)) < 0)
		return rc;
	if ((rc = tr_ev_requested(c, id, &x->err)) < 0)
		return rc;
	return 1;
}

/* A worker that shuts down hands its job back in one transaction (QUEUED again and a
 * new training.requests event), so another worker resumes it from the last epoch's
 * checkpoint now rather than when the lease runs out. False when that failed (the
 * lease then decides, as after a crash). */
static bool release(const struct tr_jctx *j)
{
	struct release_ctx x = {.j = j};
	int rc = db_run_tx(svc_db(j->svc), "tr_worker_release", DB_READ_COMMITTED, release_tx, &x, &x.err);
	if (rc < 0)
		core_warn("job %s: not handed back (%s); it is taken over when its lease runs out", j->job->id,
			  x.err.message);
	else if (rc > 0)
		core_info("job %s: handed back at shutdown", j->job->id);
	return rc > 0;
}

void tr_job_end(struct tr_jctx *j, enum tr_outcome out, const struct core_error *err, json_t *metrics,
		const char *run_id, const char *version)
{
	switch (out) {
	case TR_DONE:
		finish(j, "SUCCEEDED", NULL, metrics, version && *version ? version : NULL, run_id);
		break;
	case TR_FAILED:
		finish(j, "FAILED", err->message[0] ? err->message : "training failed", NULL, NULL, run_id);
		break;
	case TR_CANCELLED:
		finish(j, "CANCELLED", NULL, NULL, NULL, run_id);
		break;
	case TR_LOST:
		if (!j->lost && svc_stopping(j->svc) && release(j))
			break;
		core_info("job %s: stopped here; it is taken over when its lease runs out", j->job->id);
		break;
	}
}

void tr_run_job(struct svc *svc, struct tr_app *app, const char *worker, const struct tr_job *job)
{
	struct tr_jctx j = {.svc = svc, .app = app, .worker = worker, .job = job, .last_beat = core_now_ms()};
	struct core_error err = {{0}};
	struct tr_spec spec;
	struct tr_data data = {0};
	bool have_data = false;
	enum tr_outcome out = TR_FAILED;
	if (tr_spec_parse(job->spec, &spec, &err) != CORE_OK)
		goto end;
	tr_job_log(&j, "info", "fetching %s from the data registry", spec.dataset);
	long delay = BACKOFF_MS;
	enum core_status rc;
	while ((rc = tr_data_fetch(app->settings, job->id, &spec, &data, &err)) == CORE_EIO) {
		tr_job_log(&j, "warn", "data registry: %s; retrying", err.message);
		if (!backoff(&j, &delay)) {
			out = TR_LOST;
			goto end;
		}
	}
	if (rc != CORE_OK)
		goto end;
	have_data = true;
	tr_job_log(&j, "info", "data: %s@%.12s, %zu train / %zu val / %zu test examples of %dx%dx%d, %zu %s",
		   data.dataset, data.version_id, data.train.d.n, data.val.d.n, data.test.d.n, data.shape.c,
		   data.shape.h, data.shape.w, data.k, tr_spec_is_regression(&spec) ? "targets" : "classes");
	if (spec.sweep) {
		tr_run_sweep(&j, job->spec, &spec, &data);
		goto free;
	}
	struct tr_trial tr = {.spec = &spec,
			      .spec_json = job->spec,
			      .data = &data,
			      .run_key = job->id,
			      .run_name = spec.run_name,
			      .checkpoints = true,
			      .trial = -1,
			      .log_prefix = "",
			      .on_run = single_on_run};
	out = tr_train_one(&j, &tr, &err);
	char version[32] = "";
	if (out == TR_DONE && (rc = tr_job_register(&j, &spec, tr.run_id, version, &err)) != CORE_OK)
		out = rc == CORE_EIO ? TR_LOST : TR_FAILED;
	tr_job_end(&j, out, &err, tr.final_metrics, tr.run_id, version);
	json_decref(tr.final_metrics);
	goto free;
end:
	tr_job_end(&j, out, &err, NULL, NULL, NULL);
free:
	if (have_data)
		tr_data_free(&data);
}
