/* The models.events consumer (group trainer-promotion; tr.h, tr-promotion) and the one
 * way an evaluation is queued. When the `challenger` alias is set on or moved to a
 * version, the registry is asked for the champion of now (blocking HTTP, before any
 * transaction) and the evaluation row (model, challenger, champion) is inserted with ON
 * CONFLICT DO NOTHING: a redelivered event, or a POST for the same pair, finds the row
 * that is there and queues nothing. The handler returns once the row is committed, so
 * the work is durable; promo_worker.c runs it. A registry or database that does not
 * answer hands the event back (BUS_RETRY). */
#include <stdio.h>
#include <string.h>
#include "core/log.h"
#include "tr.h"

struct queue_ctx {
	const char *id, *model, *version, *champion;
	bool created;
	char found[TR_JOB_ID_LEN + 1];
	struct core_error err;
};

static int queue_tx(struct db_conn *c, void *cls)
{
	struct queue_ctx *x = cls;
	int rc = tr_q_eval_insert(c, x->id, x->model, x->version, x->champion, core_now_ms(), &x->err);
	x->created = rc > 0;
	if (rc >= 0) {
		PGresult *res = NULL;
		rc = tr_q_eval_find(c, x->model, x->version, x->champion, &res, &x->err);
		if (rc > 0)
			snprintf(x->found, sizeof x->found, "%s", db_get_text(res, 0, 0));
		PQclear(res);
	}
	return rc;
}

enum core_status tr_promo_queue(struct svc *svc, const char *rid, const char *model, const char *version, bool *created,
				char id[TR_JOB_ID_LEN + 1], struct core_error *err)
{
	struct tr_aliases al;
	char run[64];
	const struct tr_settings *s = tr_app(svc)->settings;
	enum core_status rc = tr_peer_version_run(s, rid, model, version, run, err);
	if (rc == CORE_OK)
		rc = tr_peer_aliases(s, rid, model, &al, err);
	if (rc != CORE_OK)
		return rc;
	char fresh[TR_JOB_ID_LEN + 1];
	core_id_uuid_hex(fresh);
	struct queue_ctx x = {
		.id = fresh, .model = model, .version = version, .champion = al.champion[0] ? al.champion : NULL};
	if (strcmp(al.champion, version) == 0)
		return core_fail(err, CORE_EINVAL, "version %s of model %s is the champion already", version, model);
	if (db_run_tx(svc_db(svc), "tr_promo_queue", DB_READ_COMMITTED, queue_tx, &x, &x.err) <= 0) {
		*err = x.err;
		return CORE_EIO;
	}
	*created = x.created;
	snprintf(id, TR_JOB_ID_LEN + 1, "%s", x.found);
	if (x.created) {
		struct core_log_field f[] = {CORE_LF_STR("model", model), CORE_LF_STR("challenger", version),
					     CORE_LF_STR("champion", x.champion ? x.champion : ""),
					     CORE_LF_STR("evaluation", x.found)};
		core_log_with(CORE_LOG_INFO, f, 4, "evaluation of %s version %s queued", model, version);
	}
	return CORE_OK;
}

enum bus_handled tr_models_in_handle(struct svc *svc, void *app, const struct bus_message *m)
{
	(void)app;
	json_t *ev = json_loadb(m->payload, m->len, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *data = json_object_get(ev, "data");
	const char *model = json_string_value(json_object_get(data, "name"));
	const char *alias = json_string_value(json_object_get(data, "alias"));
	const char *version = json_string_value(json_object_get(data, "version"));
	enum bus_handled out = BUS_HANDLED;
	if (type && model && alias && version &&
	    (strcmp(type, "lathe.model.alias.set") == 0 || strcmp(type, "lathe.model.alias.moved") == 0) &&
	    strcmp(alias, "challenger") == 0) {
		struct core_error err = {{0}};
		bool created = false;
		char id[TR_JOB_ID_LEN + 1];
		enum core_status rc = tr_promo_queue(svc, NULL, model, version, &created, id, &err);
		if (rc == CORE_EIO && !svc_stopping(svc)) {
			core_warn("models.events: evaluation of %s version %s not queued, retrying: %s", model, version,
				  err.message);
			out = BUS_RETRY;
		} else if (rc != CORE_OK) {
			core_warn("models.events: no evaluation of %s version %s: %s", model, version, err.message);
			out = rc == CORE_EIO ? BUS_RETRY : BUS_HANDLED;
		}
	}
	json_decref(ev);
	return out;
}

const char *tr_promo_group(const void *app)
{
	const struct tr_app *a = app;
	return a->settings->promotion_group;
}
