/* Handlers for runs (face: tracking.h): runs/create, get, update, delete, restore,
 * log-parameter, set-tag, delete-tag. Each parses with a jspec table, validates the
 * whole request, then runs one transaction (or one read). Writes lock the run row
 * first (et_q_runs_lock) so a deleted run is refused (400) and concurrent writers to
 * one run serialise. Run JSON comes from et_runs_load (tracking_routes.c); runs/create
 * writes in one statement (et_q_runs_create) that hands back the rows of the new Run. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tracking.h"

static void reply_missing(struct http_request *req, const char *field)
{
	http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
			 "Missing value for required parameter '%s'. See the "
			 "API docs for more information about request parameters.",
			 field);
}

/* Replies {"run": <Run>} for run_id loaded on c; 404 when it is gone. */
static void reply_run(struct http_request *req, struct db_conn *c, const char *run_id)
{
	struct core_error err = {{0}};
	json_t *runs = json_array();
	const char *ids[1] = {run_id};
	int rc = et_runs_load(c, ids, 1, runs, &err);
	if (rc < 0)
		svc_reply_db_error(req, rc, &err);
	else if (rc == 0)
		et_reply_outcome(req, ET_RUN_NOT_FOUND, run_id, NULL);
	else
		http_reply_json(req, 200, json_pack("{s:O}", "run", json_array_get(runs, 0)));
	json_decref(runs);
}

/* --- runs/create ---------------------------------------------------------------------- */

static const char *const adjectives[] = {
	"abundant",  "agreeable", "amazing",    "auspicious", "bedecked",   "bemused",    "bold",        "brawny",
	"bright",    "bustling",  "capable",    "carefree",   "casual",     "clean",      "clumsy",      "colorful",
	"crawling",  "dapper",    "debonair",   "delicate",   "efficient",  "enchanting", "fearless",    "gaudy",
	"gentle",    "gifted",    "glamorous",  "grandiose",  "handsome",   "honorable",  "illustrious", "indecisive",
	"judicious", "kindly",    "learned",    "legendary",  "likeable",   "loud",       "luminous",    "marvelous",
	"masked",    "melodic",   "merciful",   "mysterious", "nebulous",   "omniscient", "orderly",     "overjoyed",
	"peaceful",  "painted",   "persistent", "placid",     "polite",     "popular",    "puzzled",     "rambunctious",
	"receptive", "redolent",  "resilient",  "righteous",  "rogue",      "rumbling",   "sassy",       "secretive",
	"selective", "sedate",    "serious",    "shivering",  "silent",     "skillful",   "smiling",     "spiffy",
	"stately",   "suave",     "stylish",    "tasteful",   "thoughtful", "thundering", "traveling",   "treasured",
	"trusting",  "unequaled", "upbeat",     "unique",     "valuable",   "vaunted",    "victorious",  "welcoming",
	"whimsical", "wise",      "worried",    "youthful",
};
static const char *const animals[] = {
	"ant",   "ape",   "asp",    "auk",   "bass",   "bat",     "bear",     "bee",   "bird",  "boar",    "bug",
	"calf",  "carp",  "cat",    "chimp", "cod",    "colt",    "conch",    "cow",   "crab",  "crane",   "croc",
	"crow",  "cub",   "deer",   "doe",   "dog",    "dolphin", "donkey",   "dove",  "duck",  "eel",     "elk",
	"fawn",  "finch", "fish",   "flea",  "fly",    "foal",    "fowl",     "fox",   "frog",  "gnat",    "gnu",
	"goat",  "goose", "grouse", "grub",  "gull",   "hare",    "hawk",     "hen",   "hog",   "horse",   "hound",
	"jay",   "kit",   "kite",   "koi",   "lamb",   "lark",    "loon",     "lynx",  "mare",  "midge",   "mink",
	"mole",  "moose", "moth",   "mouse", "mule",   "newt",    "owl",      "ox",    "panda", "penguin", "perch",
	"pig",   "pug",   "quail",  "ram",   "rat",    "ray",     "robin",    "roo",   "rook",  "seal",    "shad",
	"shark", "sheep", "shoat",  "shrew", "shrike", "shrimp",  "skink",    "skunk", "sloth", "slug",    "smelt",
	"snail", "snake", "snipe",  "sow",   "sponge", "squid",   "squirrel", "stag",  "steed", "stoat",   "stork",
	"swan",  "tern",  "toad",   "trout", "turtle", "vole",    "wasp",     "whale", "wolf",  "worm",    "wren",
	"yak",   "zebra",
};

static void random_run_name(char out[64])
{
	uint32_t r[3];
	core_id_random_bytes(r, sizeof r);
	snprintf(out, 64, "%s-%s-%u", adjectives[r[0] % (sizeof adjectives / sizeof adjectives[0])],
		 animals[r[1] % (sizeof animals / sizeof animals[0])], (unsigned)(r[2] % 1000));
}

struct create_tx {
	const char *exp_id, *run_name, *user_id, *tag_keys, *tag_values;
	int64_t start_time;
	char run_id[CORE_ID_HEX_LEN + 1];
	enum et_outcome outcome;
	json_t *run; /* out: the Run */
};

static int create_tx_fn(struct db_conn *c, void *cls)
{
	struct create_tx *t = cls;
	char stage[16];
	PGresult *res = NULL;
	struct core_error err;
	t->outcome = ET_OK;
	json_decref(t->run);
	t->run = NULL;
	int rc = et_q_runs_create(c, t->run_id, t->exp_id, t->run_name, t->user_id, t->start_time, t->tag_keys,
				  t->tag_values, &res);
	if (rc > 0) {
		json_t *runs = json_array();
		rc = et_runs_from_rows(res, runs, &err);
		if (rc == 1)
			t->run = json_incref(json_array_get(runs, 0));
		json_decref(runs);
	} else if (rc == 0) {
		/* nothing inserted: say why. An experiment active again by now was restored
		 * between the two statements: try the whole transaction again. */
		rc = et_q_experiments_lock(c, t->exp_id, stage, NULL);
		if (rc == 0)
			t->outcome = ET_EXP_NOT_FOUND;
		else if (rc > 0 && strcmp(stage, "active") != 0)
			t->outcome = ET_EXP_NOT_ACTIVE;
		else if (rc > 0)
			rc = DB_SOFT_ERROR;
	}
	PQclear(res);
	if (rc < 0)
		return rc;
	if (t->outcome != ET_OK)
		return DB_ROLLBACK;
	return t->run ? 0 : DB_HARD_ERROR;
}

void et_h_runs_create(struct http_request *req, void *app)
{
	const char *exp_id = "0", *user_id = "", *run_name = NULL;
	int64_t start_time = 0;
	bool has_start = false, not_found;
	json_t *tags = NULL, *item;
	struct core_error err = {{0}};
	struct et_kv *kv = NULL;
	struct db_arr tk, tv;
	char random_name[64];
	size_t i, n_tags;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("experiment_id", &exp_id, NULL),
		HTTP_JS_OPT_STRING("user_id", &user_id, NULL),
		HTTP_JS_OPT_STRING("run_name", &run_name, NULL),
		HTTP_JS_OPT_INT64("start_time", &start_time, &has_start),
		HTTP_JS_OPT_ARRAY("tags", &tags, NULL),
		HTTP_JS_END,
	};
	db_arr_init(&tk);
	db_arr_init(&tv);
	struct create_tx t = {0};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		goto out;
	if (!et_validate_experiment_id(exp_id, &not_found, &err)) {
		if (not_found)
			et_reply_outcome(req, ET_EXP_NOT_FOUND, exp_id, NULL);
		else
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
		goto out;
	}
	n_tags = tags ? json_array_size(tags) : 0;
	kv = core_xcalloc(n_tags + 1, sizeof *kv);
	const char *tag_name = NULL;
	json_array_foreach(tags, i, item)
	{
		char where[48];
		snprintf(where, sizeof where, "tags[%zu]", i);
		kv[i].value = "";
		const struct http_jspec tspec[] = {
			HTTP_JS_REQ_STRING("key", &kv[i].key),
			HTTP_JS_OPT_STRING("value", &kv[i].value, NULL),
			HTTP_JS_END,
		};
		if (http_jspec_parse_at(item, tspec, where, &err) != CORE_OK ||
		    et_validate_key("tag", kv[i].key, &err) != CORE_OK) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
			goto out;
		}
		kv[i].value_len = et_utf8_prefix(kv[i].value, ET_MAX_TAG_VALUE_LEN);
		if (strcmp(kv[i].key, ET_RUN_NAME_TAG) == 0)
			tag_name = kv[i].value;
	}
	if (run_name && tag_name && strcmp(run_name, tag_name) != 0) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Both 'run_name' argument and 'mlflow.runName' "
				 "tag are specified, but with different values (run_name='%s', mlflow.runName='%s').",
				 run_name, tag_name);
		goto out;
	}
	if (!run_name)
		run_name = tag_name;
	if (!run_name) {
		random_run_name(random_name);
		run_name = random_name;
	}
	for (i = 0; i < n_tags; i++) {
		db_arr_add_str(&tk, kv[i].key, strlen(kv[i].key));
		db_arr_add_str(&tv, kv[i].value, kv[i].value_len);
	}
	if (!tag_name) {
		db_arr_add_str(&tk, ET_RUN_NAME_TAG, strlen(ET_RUN_NAME_TAG));
		db_arr_add_str(&tv, run_name, strlen(run_name));
	}
	t.exp_id = exp_id;
	t.run_name = run_name;
	t.user_id = user_id;
	t.start_time = has_start ? start_time : core_now_ms();
	t.tag_keys = db_arr_end(&tk);
	t.tag_values = db_arr_end(&tv);
	if (!t.tag_keys || !t.tag_values) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "tags too large");
		goto out;
	}
	core_id_uuid_hex(t.run_id);
	int rc = db_run_tx(svc_db(app), "create_run", DB_READ_COMMITTED, create_tx_fn, &t, &err);
	if (rc >= 0)
		http_reply_json(req, 200, json_pack("{s:O}", "run", t.run));
	else if (t.outcome != ET_OK)
		et_reply_outcome(req, t.outcome, exp_id, NULL);
	else
		svc_reply_db_error(req, rc, &err);
out:
	json_decref(t.run);
	free(kv);
	db_arr_free(&tk);
	db_arr_free(&tv);
}

/* --- runs/get ------------------------------------------------------------------------ */

void et_h_runs_get(struct http_request *req, void *app)
{
	const char *run_id = NULL, *run_uuid = NULL;
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	const char *rid = et_pick_run_id(run_id, run_uuid);
	if (!rid) {
		reply_missing(req, "run_id");
		return;
	}
	struct db_conn *c = db_acquire(svc_db(app), &err);
	if (!c) {
		svc_reply_db_error(req, DB_UNAVAILABLE, &err);
		return;
	}
	reply_run(req, c, rid);
	db_release(c);
}

/* --- runs/update ---------------------------------------------------------------------- */

struct update_tx {
	const char *run_id, *status, *end_time, *run_name;
	const char *name_key, *name_value; /* mlflow.runName as one-element arrays */
	enum et_outcome outcome;
	char *info; /* out: RunInfo JSON text */
};

static int update_tx_fn(struct db_conn *c, void *cls)
{
	struct update_tx *t = cls;
	char stage[16];
	PGresult *res = NULL;
	t->outcome = ET_OK;
	free(t->info);
	t->info = NULL;
	int rc = et_q_runs_lock(c, t->run_id, stage, NULL);
	if (rc == 0)
		t->outcome = ET_RUN_NOT_FOUND;
	else if (rc > 0 && strcmp(stage, "active") != 0)
		t->outcome = ET_RUN_NOT_ACTIVE;
	if (rc < 0 || t->outcome != ET_OK)
		return rc < 0 ? rc : DB_ROLLBACK;
	if (t->run_name && (rc = et_q_tags_upsert(c, t->run_id, t->name_key, t->name_value)) < 0)
		return rc;
	rc = et_q_runs_update(c, t->run_id, t->status, t->end_time, &res);
	if (rc == 1)
		t->info = core_xstrdup(db_get_text(res, 0, 0));
	PQclear(res);
	return rc < 0 ? rc : 0;
}

void et_h_runs_update(struct http_request *req, void *app)
{
	const char *run_id = NULL, *run_uuid = NULL, *run_name = NULL;
	json_t *status = NULL;
	int64_t end_time = 0;
	bool has_end = false;
	struct core_error err = {{0}};
	char end_text[24];
	struct db_arr nk, nv;
	struct update_tx t = {0};
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),     HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_OPT_ANY("status", &status, NULL),        HTTP_JS_OPT_INT64("end_time", &end_time, &has_end),
		HTTP_JS_OPT_STRING("run_name", &run_name, NULL), HTTP_JS_END,
	};
	db_arr_init(&nk);
	db_arr_init(&nv);
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		goto out;
	t.run_id = et_pick_run_id(run_id, run_uuid);
	if (!t.run_id) {
		reply_missing(req, "run_id");
		goto out;
	}
	if (status && !(t.status = et_run_status_name(status))) {
		char *dump = json_dumps(status, JSON_ENCODE_ANY);
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Invalid value %s for parameter 'status' "
				 "supplied. It must be one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED.",
				 dump ? dump : "?");
		free(dump);
		goto out;
	}
	if (has_end) {
		snprintf(end_text, sizeof end_text, "%" PRId64, end_time);
		t.end_time = end_text;
	}
	if (run_name) {
		t.run_name = run_name;
		db_arr_add_str(&nk, ET_RUN_NAME_TAG, strlen(ET_RUN_NAME_TAG));
		db_arr_add_str(&nv, run_name, et_utf8_prefix(run_name, ET_MAX_TAG_VALUE_LEN));
		t.name_key = db_arr_end(&nk);
		t.name_value = db_arr_end(&nv);
	}
	int rc = db_run_tx(svc_db(app), "update_run", DB_READ_COMMITTED, update_tx_fn, &t, &err);
	if (rc >= 0 && t.info) {
		json_t *info = json_loads(t.info, 0, NULL);
		http_reply_json(req, 200, json_pack("{s:o}", "run_info", info ? info : json_object()));
	} else if (t.outcome != ET_OK) {
		et_reply_outcome(req, t.outcome, t.run_id, NULL);
	} else {
		svc_reply_db_error(req, rc < 0 ? rc : DB_HARD_ERROR, &err);
	}
out:
	free(t.info);
	db_arr_free(&nk);
	db_arr_free(&nv);
}

/* --- runs/delete, runs/restore -------------------------------------------------------- */

static void set_stage(struct http_request *req, void *app, bool deleted)
{
	const char *run_id = NULL, *run_uuid = NULL;
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	const char *rid = et_pick_run_id(run_id, run_uuid);
	if (!rid) {
		reply_missing(req, "run_id");
		return;
	}
	struct db_conn *c = db_acquire(svc_db(app), &err);
	if (!c) {
		svc_reply_db_error(req, DB_UNAVAILABLE, &err);
		return;
	}
	int rc = et_q_runs_set_stage(c, rid, deleted, core_now_ms());
	if (rc < 0)
		svc_reply_db_error(req, rc, &err);
	else if (rc == 0)
		et_reply_outcome(req, ET_RUN_NOT_FOUND, rid, NULL);
	else
		http_reply_json(req, 200, json_object());
	db_release(c);
}

void et_h_runs_delete(struct http_request *req, void *app)
{
	set_stage(req, app, true);
}
void et_h_runs_restore(struct http_request *req, void *app)
{
	set_stage(req, app, false);
}

/* --- runs/log-parameter, runs/set-tag: batches of one ---------------------------------- */

static void log_one(struct http_request *req, void *app, bool param)
{
	const char *run_id = NULL, *run_uuid = NULL;
	struct et_kv kv = {.value = ""};
	struct core_error err;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_REQ_STRING("key", &kv.key),
		HTTP_JS_OPT_STRING("value", &kv.value, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	kv.value_len = strlen(kv.value);
	struct et_batch b = {.run_id = et_pick_run_id(run_id, run_uuid)};
	if (param)
		b.params = &kv, b.n_params = 1;
	else
		b.tags = &kv, b.n_tags = 1;
	if (!b.run_id) {
		reply_missing(req, "run_id");
		return;
	}
	if (et_batch_validate(&b, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
		return;
	}
	et_batch_write_and_reply(req, app, &b);
}

void et_h_runs_log_parameter(struct http_request *req, void *app)
{
	log_one(req, app, true);
}
void et_h_runs_set_tag(struct http_request *req, void *app)
{
	log_one(req, app, false);
}

/* --- runs/delete-tag ------------------------------------------------------------------- */

struct delete_tag_tx {
	const char *run_id, *key;
	enum et_outcome outcome;
};

static int delete_tag_tx_fn(struct db_conn *c, void *cls)
{
	struct delete_tag_tx *t = cls;
	char stage[16];
	t->outcome = ET_OK;
	int rc = et_q_runs_lock(c, t->run_id, stage, NULL);
	if (rc == 0)
		t->outcome = ET_RUN_NOT_FOUND;
	else if (rc > 0 && strcmp(stage, "active") != 0)
		t->outcome = ET_RUN_NOT_ACTIVE;
	else if (rc > 0 && (rc = et_q_tags_delete(c, t->run_id, t->key)) == 0)
		t->outcome = ET_TAG_NOT_FOUND;
	if (rc < 0)
		return rc;
	return t->outcome == ET_OK ? 0 : DB_ROLLBACK;
}

void et_h_runs_delete_tag(struct http_request *req, void *app)
{
	const char *run_id = NULL, *run_uuid = NULL;
	struct core_error err = {{0}};
	struct delete_tag_tx t = {0};
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_REQ_STRING("key", &t.key),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	t.run_id = et_pick_run_id(run_id, run_uuid);
	if (!t.run_id) {
		reply_missing(req, "run_id");
		return;
	}
	int rc = db_run_tx(svc_db(app), "delete_tag", DB_READ_COMMITTED, delete_tag_tx_fn, &t, &err);
	if (rc >= 0)
		http_reply_json(req, 200, json_object());
	else if (t.outcome != ET_OK)
		et_reply_outcome(req, t.outcome, t.run_id, t.key);
	else
		svc_reply_db_error(req, rc, &err);
}
