/* Splits of a version (face: dr.h, dr-split's section; routes in routes_splits.c):
 *   POST .../versions/{ref}/splits        {"name","fractions":{part: f},"stratify"?,"seed"?}
 *   GET  .../versions/{ref}/splits        {"splits":[S...]}
 *   GET  .../splits/{split}               {"split":S}
 *   GET  .../splits/{split}/items         the items list, streamed from the blob store
 * A create runs in three steps so that no connection is held while blobs are read:
 * a read transaction (the version, an existing split of that name, the nearest
 * ancestor's split of that name, the manifest), the build (split_build.c: items read,
 * assigned, the list stored), and a write transaction that inserts the row (a
 * concurrent create of the same name wins or loses cleanly: the loser answers the
 * winner's split when the arguments are equal, 409 otherwise). The same name with the
 * same arguments answers 200 and the stored split; other arguments 409.
 * The arguments' canonical text (parts sorted bytewise, seed, stratify) is what
 * "same arguments" compares, and what lets a later version inherit an ancestor's
 * assignment: its old items keep their parts (split.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/time.h"
#include "dr.h"

#define ORIGINAL      "original"
#define ORIGINAL_ARGS "original"

/* S from a split row (SPLIT_COLS of q_splits.c). */
static json_t *split_json(const PGresult *res, int row)
{
	int64_t seed = 0, created = 0;
	db_get_int64(res, row, 4, &seed, NULL);
	db_get_int64(res, row, 9, &created, NULL);
	json_t *s = json_object();
	json_object_set_new(s, "name", json_string(db_get_text(res, row, 0)));
	json_object_set_new(s, "fractions", json_loads(db_get_text(res, row, 2), 0, NULL));
	json_object_set_new(s, "stratify", json_boolean(strcmp(db_get_text(res, row, 3), "t") == 0));
	json_object_set_new(s, "seed", json_integer(seed));
	json_object_set_new(s, "counts", json_loads(db_get_text(res, row, 5), 0, NULL));
	json_object_set_new(s, "class_counts", json_loads(db_get_text(res, row, 6), 0, NULL));
	json_object_set_new(s, "created_at", json_integer(created));
	return s;
}

/* --- arguments ------------------------------------------------------------------------ */

struct args {
	struct dr_split_spec spec;
	char *names[DR_SPLIT_MAX]; /* owned, sorted */
	char *canon;               /* canonical text, owned */
	json_t *fractions;         /* {part: f} in sorted order, owned */
};

static void args_free(struct args *a)
{
	for (size_t i = 0; i < a->spec.n; i++)
		free(a->names[i]);
	free(a->canon);
	json_decref(a->fractions);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum core_status args_parse(json_t *fractions, bool stratify, int64_t seed, struct args *a,
				   struct core_error *err)
{
	memset(a, 0, sizeof *a);
	size_t n = json_object_size(fractions);
	if (n == 0 || n > DR_SPLIT_MAX)
		return core_fail(err, CORE_EINVAL, "'fractions' must name 1 to %d parts", DR_SPLIT_MAX);
	const char *k;
	json_t *v;
	json_object_foreach(fractions, k, v)
	{
		a->names[a->spec.n++] = core_xstrdup(k);
		if (!json_is_number(v))
			return core_fail(err, CORE_EINVAL, "fraction of '%s' must be a number", k);
	}
	qsort(a->names, a->spec.n, sizeof a->names[0], cmp_str);
	a->fractions = json_object();
	for (size_t i = 0; i < a->spec.n; i++) {
		a->spec.names[i] = a->names[i];
		a->spec.fractions[i] = json_number_value(json_object_get(fractions, a->names[i]));
		json_object_set_new(a->fractions, a->names[i], json_real(a->spec.fractions[i]));
	}
	a->spec.stratify = stratify;
	a->spec.seed = seed;
	enum core_status rc = dr_split_check_spec(&a->spec, err);
	if (rc != CORE_OK)
		return rc;
	json_t *c = json_object();
	json_object_set(c, "fractions", a->fractions);
	json_object_set_new(c, "seed", json_integer(seed));
	json_object_set_new(c, "stratify", json_boolean(stratify));
	a->canon = http_json_text(c, JSON_COMPACT, NULL);
	json_decref(c);
	return a->canon ? CORE_OK : core_fail(err, CORE_ENOMEM, "out of memory");
}

static bool split_name_ok(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > DR_SPLIT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* --- create ------------------------------------------------------------------------- */

struct create_ctx {
	const char *dataset, *ref, *name;
	const struct args *args; /* NULL: the original split (dr_split_original) */
	int64_t version_pk;      /* dr_split_original: the version */
	struct dr_version_row row;
	struct dr_manifest_file *files;
	size_t n_files;
	char prev[65];    /* "" or the ancestor's items list */
	json_t *existing; /* the stored split when there is one */
	bool same_args;
	const struct dr_split_row *insert; /* the write step's row */
	bool inserted;
	struct svc_fail fail;
	struct core_error err;
};

static void ctx_reset(struct create_ctx *x)
{
	dr_manifest_free(x->files, x->n_files);
	x->files = NULL;
	x->n_files = 0;
	json_decref(x->existing);
	x->existing = NULL;
	x->prev[0] = '\0';
	x->same_args = false;
}

/* Looks up the split name of version x->row: x->existing and x->same_args. */
static int existing_split(struct db_conn *c, struct create_ctx *x)
{
	PGresult *res = NULL;
	int rc = dr_q_split_by_name(c, x->row.pk, x->name, &res, &x->err);
	if (rc == 1) {
		x->existing = split_json(res, 0);
		const char *args = db_get_text(res, 0, 1);
		x->same_args = strcmp(args, x->args ? x->args->canon : ORIGINAL_ARGS) == 0;
	}
	PQclear(res);
	return rc;
}

static int prepare_tx(struct db_conn *c, void *cls)
{
	struct create_ctx *x = cls;
	ctx_reset(x);
	int rc;
	if (x->args) {
		rc = dr_resolve_version(c, x->dataset, x->ref, &x->row, &x->fail, &x->err);
	} else {
		PGresult *res = NULL;
		rc = dr_q_version_by_pk(c, x->version_pk, &res, &x->err);
		if (rc == 1)
			dr_version_row_fill(res, 0, &x->row);
		PQclear(res);
		if (rc == 0 || (rc == 1 && x->row.format != DR_FORMAT_IDX))
			return 0; /* nothing to do */
	}
	if (rc <= 0)
		return rc;
	if ((rc = existing_split(c, x)) != 0)
		return rc < 0 ? rc : 1;
	if (x->args && strcmp(x->row.status, "FAILED") == 0)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_CONFLICT, "Version %lld of '%s' failed: it has no items",
				(long long)x->row.number, x->dataset);
	if (x->args) {
		PGresult *res = NULL;
		rc = dr_q_ancestor_split(c, x->row.pk, x->row.dataset_id, x->name, &res, &x->err);
		if (rc == 1 && strcmp(db_get_text(res, 0, 0), x->args->canon) == 0)
			snprintf(x->prev, sizeof x->prev, "%s", db_get_text(res, 0, 1));
		PQclear(res);
		if (rc < 0)
			return rc;
	}
	if ((rc = dr_q_version_files(c, x->row.pk, &x->files, &x->n_files, &x->err)) < 0)
		return rc;
	return 1;
}

static int insert_tx(struct db_conn *c, void *cls)
{
	struct create_ctx *x = cls;
	json_decref(x->existing);
	x->existing = NULL;
	x->inserted = false;
	int rc = dr_q_insert_split(c, x->insert, &x->err);
	if (rc < 0)
		return rc;
	x->inserted = rc == 1;
	rc = existing_split(c, x);
	if (rc == 0)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_CONFLICT, "Split '%s' was removed meanwhile", x->name);
	return rc;
}

/* Builds and stores the split the prepared ctx describes. */
static enum core_status build(struct svc *svc, struct create_ctx *x, struct dr_split_result *res,
			      struct core_error *err)
{
	struct dr_split_job job = {
		.format = x->row.format,
		.files = x->files,
		.n_files = x->n_files,
		.label_column = x->row.has_label_column ? x->row.label_column : NULL,
		.original = !x->args,
	};
	if (x->args) {
		job.spec = x->args->spec;
	} else {
		job.spec.n = 2;
		job.spec.names[0] = "train";
		job.spec.names[1] = "test";
		job.spec.fractions[0] = job.spec.fractions[1] = 0.5;
	}
	snprintf(job.previous_items, sizeof job.previous_items, "%s", x->prev);
	return dr_split_build(dr_blobs(svc), &job, res, err);
}

/* Stores the row of a built split. Returns what the write transaction returned. */
static int store(struct svc *svc, struct create_ctx *x, struct dr_split_result *res, struct http_request *req)
{
	char *fractions = NULL, *counts = http_json_text(res->counts, JSON_COMPACT, NULL),
	     *class_counts = http_json_text(res->class_counts, JSON_COMPACT, NULL);
	if (x->args) {
		fractions = http_json_text(x->args->fractions, JSON_COMPACT, NULL);
	} else {
		json_t *f = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(res->counts, k, v)
		{
			double share = res->item_count ? (double)json_integer_value(v) / (double)res->item_count : 0;
			json_object_set_new(f, k, json_real(share));
		}
		fractions = http_json_text(f, JSON_COMPACT, NULL);
		json_decref(f);
	}
	struct dr_split_row row = {
		.version_pk = x->row.pk,
		.name = x->name,
		.args = x->args ? x->args->canon : ORIGINAL_ARGS,
		.fractions = fractions,
		.counts = counts,
		.class_counts = class_counts,
		.items_sha = res->items_sha,
		.stratify = x->args ? x->args->spec.stratify : false,
		.seed = x->args ? x->args->spec.seed : 0,
		.item_count = res->item_count,
		.created_at = core_now_ms(),
	};
	x->insert = &row;
	int rc;
	if (req) {
		rc = svc_run_tx_or_reply(req, svc, "dr_split_insert", DB_READ_COMMITTED, insert_tx, x, &x->fail);
	} else {
		memset(&x->fail, 0, sizeof x->fail);
		rc = db_run_tx(svc_db(svc), "dr_split_original", DB_READ_COMMITTED, insert_tx, x, &x->err);
	}
	x->insert = NULL;
	free(fractions);
	free(counts);
	free(class_counts);
	return rc;
}

void dr_h_split_create(struct http_request *req, void *app)
{
	const char *name = NULL;
	json_t *fractions = NULL;
	bool stratify = true, stratify_given = false;
	int64_t seed = 0;
	const struct http_jspec spec[] = {
		HTTP_JS_REQ_STRING("name", &name),
		HTTP_JS_REQ_OBJECT("fractions", &fractions),
		HTTP_JS_OPT_BOOL("stratify", &stratify, &stratify_given),
		HTTP_JS_OPT_INT64("seed", &seed, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	struct core_error err = {{0}};
	if (!split_name_ok(name)) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Split name '%s' must match [A-Za-z0-9._-]{1,%d}", name, DR_SPLIT_NAME_MAX);
		return;
	}
	struct create_ctx x = {
		.dataset = http_request_param(req, "name"), .ref = http_request_param(req, "ref"), .name = name};
	struct args a;
	struct dr_split_result res = {0};
	/* The default of stratify needs the version: parse with true, fix below. */
	if (args_parse(fractions, stratify, seed, &a, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		args_free(&a);
		return;
	}
	x.args = &a;
	int rc = svc_run_tx_or_reply(req, app, "dr_split_prepare", DB_READ_COMMITTED, prepare_tx, &x, &x.fail);
	if (rc < 0)
		goto out;
	if (!stratify_given) {
		/* true when the version has classes */
		bool has_classes = x.row.format != DR_FORMAT_CSV || x.row.has_label_column;
		if (has_classes != stratify) {
			args_free(&a);
			args_parse(fractions, has_classes, seed, &a, &err);
			rc = svc_run_tx_or_reply(req, app, "dr_split_prepare", DB_READ_COMMITTED, prepare_tx, &x,
						 &x.fail);
			if (rc < 0)
				goto out;
		}
	}
	if (strcmp(name, ORIGINAL) == 0 && !x.existing) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Split name 'original' is reserved for an IDX version's own train/test division");
		goto out;
	}
	if (x.existing) {
		if (x.same_args) {
			http_reply_json(req, 200, json_pack("{s:O}", "split", x.existing));
		} else {
			http_reply_error(req, HTTP_EC_RESOURCE_CONFLICT,
					 "Split '%s' of version %lld of '%s' exists with other arguments", name,
					 (long long)x.row.number, x.dataset);
		}
		goto out;
	}
	enum core_status st = build(app, &x, &res, &err);
	if (st == CORE_EINVAL) {
		http_reply_invalid(req, &err);
		goto out;
	}
	if (st != CORE_OK) {
		http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "Could not build the split");
		goto out;
	}
	rc = store(app, &x, &res, req);
	if (rc < 0)
		goto out;
	if (x.same_args)
		http_reply_json(req, x.inserted ? 201 : 200, json_pack("{s:O}", "split", x.existing));
	else
		http_reply_error(req, HTTP_EC_RESOURCE_CONFLICT,
				 "Split '%s' of version %lld of '%s' exists with other arguments", name,
				 (long long)x.row.number, x.dataset);
out:
	json_decref(res.counts);
	json_decref(res.class_counts);
	ctx_reset(&x);
	args_free(&a);
}

enum core_status dr_split_original(struct svc *svc, int64_t version_pk, struct core_error *err)
{
	struct create_ctx x = {.name = ORIGINAL, .version_pk = version_pk};
	struct dr_split_result res = {0};
	enum core_status st = CORE_OK;
	int rc = db_run_tx(svc_db(svc), "dr_split_original", DB_READ_COMMITTED, prepare_tx, &x, &x.err);
	if (rc < 0) {
		st = core_fail(err, CORE_EIO, "%s", x.err.message);
		goto out;
	}
	if (rc == 0 || x.existing)
		goto out;
	if ((st = build(svc, &x, &res, err)) != CORE_OK)
		goto out;
	if ((rc = store(svc, &x, &res, NULL)) < 0)
		st = core_fail(err, CORE_EIO, "%s", x.err.message);
out:
	json_decref(res.counts);
	json_decref(res.class_counts);
	ctx_reset(&x);
	return st;
}

/* --- reads ---------------------------------------------------------------------------- */

struct read_ctx {
	const char *dataset, *ref, *name; /* name NULL: list */
	struct dr_version_row row;
	json_t *out;
	char items_sha[65];
	struct svc_fail fail;
	struct core_error err;
};

static int read_tx(struct db_conn *c, void *cls)
{
	struct read_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	int rc = dr_resolve_version(c, x->dataset, x->ref, &x->row, &x->fail, &x->err);
	if (rc <= 0)
		return rc;
	PGresult *res = NULL;
	if (!x->name) {
		rc = dr_q_list_splits(c, x->row.pk, &res, &x->err);
		if (rc >= 0) {
			json_t *list = json_array();
			for (int r = 0; r < rc; r++)
				json_array_append_new(list, split_json(res, r));
			x->out = json_pack("{s:o}", "splits", list);
		}
		PQclear(res);
		return rc < 0 ? rc : 1;
	}
	rc = dr_q_split_by_name(c, x->row.pk, x->name, &res, &x->err);
	if (rc == 1) {
		x->out = json_pack("{s:o}", "split", split_json(res, 0));
		snprintf(x->items_sha, sizeof x->items_sha, "%s", db_get_text(res, 0, 7));
	}
	PQclear(res);
	return rc;
}

/* Reads one split; for an IDX version whose original split the profiler has not made
 * yet, makes it now. Returns >= 1 with x filled, 0 when replied, < 0 when replied. */
static int read_one(struct http_request *req, struct svc *svc, struct read_ctx *x)
{
	int rc = svc_run_tx_or_reply(req, svc, "dr_split_get", DB_READ_COMMITTED, read_tx, x, &x->fail);
	if (rc == 0 && strcmp(x->name, ORIGINAL) == 0 && x->row.format == DR_FORMAT_IDX) {
		struct core_error err = {{0}};
		enum core_status st = dr_split_original(svc, x->row.pk, &err);
		if (st == CORE_EINVAL) {
			http_reply_invalid(req, &err);
			return -1;
		}
		if (st != CORE_OK) {
			http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "Could not build the split");
			return -1;
		}
		rc = svc_run_tx_or_reply(req, svc, "dr_split_get", DB_READ_COMMITTED, read_tx, x, &x->fail);
	}
	if (rc == 0) {
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Split '%s' not found in version %lld of '%s'",
				 x->name, (long long)x->row.number, x->dataset);
		return -1;
	}
	return rc;
}

void dr_h_split_list(struct http_request *req, void *app)
{
	struct read_ctx x = {.dataset = http_request_param(req, "name"), .ref = http_request_param(req, "ref")};
	if (svc_run_tx_or_reply(req, app, "dr_split_list", DB_READ_COMMITTED, read_tx, &x, &x.fail) >= 0)
		http_reply_json(req, 200, x.out);
	else
		json_decref(x.out);
}

void dr_h_split_get(struct http_request *req, void *app)
{
	struct read_ctx x = {.dataset = http_request_param(req, "name"),
			     .ref = http_request_param(req, "ref"),
			     .name = http_request_param(req, "split")};
	if (read_one(req, app, &x) > 0) {
		http_reply_json(req, 200, x.out);
		x.out = NULL;
	}
	json_decref(x.out);
}

void dr_h_split_items(struct http_request *req, void *app)
{
	struct read_ctx x = {.dataset = http_request_param(req, "name"),
			     .ref = http_request_param(req, "ref"),
			     .name = http_request_param(req, "split")};
	if (read_one(req, app, &x) > 0)
		dr_reply_blob_range(req, app, x.items_sha, "application/json", false);
	json_decref(x.out);
}
