/* The models.events consumer: every event names a model (subject; a rename names both
 * old_name and new_name in its data), and the answer to any of them is the same: ask
 * the registry what that model should serve now and load it (loader.c), or unload it
 * when the registry no longer knows it. So the handler is idempotent and events may
 * come twice or out of order. Each replica reads in a group of its own (main.c), so
 * every replica sees every event; a new group starts at the topic's beginning, and
 * events older than the process (with a few seconds' slack for clocks) are skipped,
 * since the start-up load read the registry after them. A registry that does not
 * answer hands the event back (BUS_RETRY); a refused package is logged by the loader
 * and the event is done. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/log.h"
#include "ia.h"

#define CLOCK_SLACK_MS 5000

/* Re-resolves one model; false when the registry or tracker must be asked again. */
static bool resolve(struct ia_app *a, const char *name, const char *type)
{
	struct core_error err = {{0}};
	bool gone = false;
	enum core_status rc = ia_loader_sync_model(a, name, false, NULL, &gone, &err);
	struct core_log_field f[] = {CORE_LF_STR("model", name), CORE_LF_STR("type", type)};
	if (gone)
		core_log_with(CORE_LOG_DEBUG, f, 2, "model %s is not registered (any version of it unloaded)", name);
	else if (rc == CORE_EIO)
		core_log_with(CORE_LOG_WARN, f, 2, "models.events: %s", err.message);
	return rc != CORE_EIO;
}

enum bus_handled ia_ev_models_handle(struct svc *svc, void *app, const struct bus_message *m)
{
	struct ia_app *a = app;
	json_t *ev = json_loadb(m->payload, m->len, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *subject = json_string_value(json_object_get(ev, "subject"));
	json_t *data = json_object_get(ev, "data");
	int64_t at = core_time_parse_iso8601(json_string_value(json_object_get(ev, "time")));
	bool done = true;
	if (!type || !subject) {
		core_warn("models.events: a message that is not a model event (offset %lld) skipped",
			  (long long)m->offset);
	} else if (at < 0 || at >= a->started_ms - CLOCK_SLACK_MS) {
		if (strcmp(type, "lathe.model.renamed") == 0) {
			const char *old_name = json_string_value(json_object_get(data, "old_name"));
			const char *new_name = json_string_value(json_object_get(data, "new_name"));
			done = resolve(a, old_name ? old_name : subject, type);
			if (done && new_name)
				done = resolve(a, new_name, type);
		} else {
			done = resolve(a, subject, type);
		}
	}
	json_decref(ev);
	return done || svc_stopping(svc) ? BUS_HANDLED : BUS_RETRY;
}
