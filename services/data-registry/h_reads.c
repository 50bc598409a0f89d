/* Version reads (face: dr.h; routes in routes.c): the version list (newest first,
 * paged by number), one version by reference (number, id, id prefix of >= 8 hex
 * digits, latest = newest READY), its manifest, one of its files, and its profile.
 *
 * The manifest of a million files is streamed: the reply's reader fetches
 * MANIFEST_PAGE rows at a time, in path order after the last path sent, each page in a
 * short transaction of its own, so neither memory nor a pooled connection is held for
 * the length of a slow download (a version's rows never change; a version deleted
 * mid-download cuts the stream short, which the client sees as a broken body). Files
 * stream from the blob store with ETag "<sha256>" and honour If-None-Match (304). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "dr.h"

#define MANIFEST_PAGE 2000

static bool name_ok_or_reply(struct http_request *req)
{
	struct core_error err = {{0}};
	if (dr_check_dataset_name(http_request_param(req, "name"), &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return false;
	}
	return true;
}

/* --- one version ------------------------------------------------------------------ */

struct resolve_ctx {
	const char *name, *ref, *path;
	struct dr_version_row row;
	json_t *out;   /* the version JSON (get) */
	PGresult *res; /* the file row (files) */
	struct svc_fail fail;
	struct core_error err;
};

static int get_tx(struct db_conn *c, void *cls)
{
	struct resolve_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	PGresult *res = NULL;
	int rc = dr_resolve_version_res(c, x->name, x->ref, &x->row, &res, &x->fail, &x->err);
	if (rc > 0)
		x->out = dr_version_json(res, 0);
	PQclear(res);
	return rc;
}

static int resolve_tx(struct db_conn *c, void *cls)
{
	struct resolve_ctx *x = cls;
	PQclear(x->res);
	x->res = NULL;
	int rc = dr_resolve_version(c, x->name, x->ref, &x->row, &x->fail, &x->err);
	if (rc <= 0 || !x->path)
		return rc;
	rc = dr_q_file(c, x->row.pk, x->path, &x->res, &x->err);
	if (rc == 0)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_DOES_NOT_EXIST,
				"File '%s' not found in version %lld of '%s'", x->path, (long long)x->row.number,
				x->name);
	return rc;
}

void dr_h_version_get(struct http_request *req, void *app)
{
	struct resolve_ctx x = {.name = http_request_param(req, "name"), .ref = http_request_param(req, "ref")};
	if (!name_ok_or_reply(req))
		return;
	int rc = svc_run_tx_or_reply(req, app, "dr_h_version_get", DB_READ_COMMITTED, get_tx, &x, &x.fail);
	if (rc >= 0)
		dr_reply_entity(req, 200, "version", rc, x.out, &x.fail, &x.err);
	else
		json_decref(x.out);
}

/* --- list ------------------------------------------------------------------------- */

struct list_ctx {
	const char *name;
	int64_t before;
	long limit;
	json_t *items;
	int64_t last; /* out: the last number answered when more remain, else 0 */
	struct svc_fail fail;
	struct core_error err;
};

static int list_tx(struct db_conn *c, void *cls)
{
	struct list_ctx *x = cls;
	json_array_clear(x->items);
	x->last = 0;
	int64_t ds = 0;
	int rc = dr_q_dataset_id(c, x->name, &ds, &x->err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return dr_fail_no_dataset(&x->fail, x->name);
	PGresult *res = NULL;
	rc = dr_q_list_versions(c, ds, x->before, x->limit + 1, &res, &x->err);
	for (int i = 0; i < rc && i < x->limit; i++)
		json_array_append_new(x->items, dr_version_json(res, i));
	if (rc > x->limit)
		db_get_int64(res, (int)x->limit - 1, 1, &x->last, NULL);
	PQclear(res);
	return rc < 0 ? rc : 0;
}

void dr_h_version_list(struct http_request *req, void *app)
{
	struct list_ctx x = {.name = http_request_param(req, "name")};
	struct core_error err = {{0}};
	const char *token = http_request_query(req, "page_token");
	if (!name_ok_or_reply(req))
		return;
	if (dr_check_max_results(http_request_query(req, "max_results"), 100, 1000, &x.limit, &err) != CORE_OK ||
	    (token && *token && dr_token_to_number(token, &x.before, &err) != CORE_OK)) {
		http_reply_invalid(req, &err);
		return;
	}
	x.items = json_array();
	if (svc_run_tx_or_reply(req, app, "dr_h_version_list", DB_READ_COMMITTED, list_tx, &x, &x.fail) >= 0) {
		json_t *body = json_pack("{s:O}", "versions", x.items);
		if (x.last > 0) {
			char t[24];
			snprintf(t, sizeof t, "%lld", (long long)x.last);
			json_object_set_new(body, "next_page_token", json_string(t));
		}
		http_reply_json(req, 200, body);
	}
	json_decref(x.items);
}

/* --- manifest --------------------------------------------------------------------- */

struct manifest_stream {
	struct svc *svc;
	int64_t pk;
	char *after;         /* the last path sent (owned) */
	struct core_buf out; /* text not yet handed to the client */
	size_t sent;         /* bytes of out already handed over */
	bool started, ended;
};

struct page_ctx {
	int64_t pk;
	const char *after;
	PGresult *res;
	struct core_error err;
};

static int page_tx(struct db_conn *c, void *cls)
{
	struct page_ctx *x = cls;
	PQclear(x->res);
	x->res = NULL;
	return dr_q_files_page(c, x->pk, x->after, MANIFEST_PAGE, &x->res, &x->err);
}

/* Refills ms->out with the next page. Returns false on a failure. */
static bool manifest_refill(struct manifest_stream *ms)
{
	core_buf_reset(&ms->out);
	ms->sent = 0;
	if (!ms->started) {
		ms->started = true;
		core_buf_append_str(&ms->out, "{\"files\":[");
	}
	struct page_ctx x = {.pk = ms->pk, .after = ms->after};
	int rc = db_run_tx(svc_db(ms->svc), "dr_manifest_page", DB_READ_COMMITTED, page_tx, &x, &x.err);
	if (rc < 0) {
		core_warn("manifest stream of version %lld cut short: %s", (long long)ms->pk, x.err.message);
		PQclear(x.res);
		return false;
	}
	for (int i = 0; i < rc; i++) {
		const char *path = db_get_text(x.res, i, 0);
		if (ms->after || i > 0)
			core_buf_append_str(&ms->out, ",");
		core_buf_append_str(&ms->out, "{\"path\":\"");
		core_buf_append_json_escaped(&ms->out, path);
		core_buf_printf(&ms->out, "\",\"sha256\":\"%s\",\"size\":%s}", db_get_text(x.res, i, 1),
				db_get_text(x.res, i, 2));
	}
	if (rc > 0) {
		free(ms->after);
		ms->after = core_xstrdup(db_get_text(x.res, rc - 1, 0));
	}
	if (rc < MANIFEST_PAGE) {
		core_buf_append_str(&ms->out, "]}");
		ms->ended = true;
	}
	PQclear(x.res);
	return true;
}

static ssize_t manifest_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos; /* sequential: MHD asks for the bytes in order */
	struct manifest_stream *ms = cls;
	while (ms->sent == ms->out.len) {
		if (ms->ended)
			return 0;
		if (!manifest_refill(ms))
			return -1;
	}
	size_t n = ms->out.len - ms->sent;
	if (n > max)
		n = max;
	memcpy(buf, ms->out.data + ms->sent, n);
	ms->sent += n;
	return (ssize_t)n;
}

static void manifest_free(void *cls)
{
	struct manifest_stream *ms = cls;
	core_buf_free(&ms->out);
	free(ms->after);
	free(ms);
}

void dr_h_version_manifest(struct http_request *req, void *app)
{
	struct resolve_ctx x = {.name = http_request_param(req, "name"), .ref = http_request_param(req, "ref")};
	if (!name_ok_or_reply(req) ||
	    svc_run_tx_or_reply(req, app, "dr_h_version_manifest", DB_READ_COMMITTED, resolve_tx, &x, &x.fail) < 0)
		return;
	struct manifest_stream *ms = core_xcalloc(1, sizeof *ms);
	ms->svc = app;
	ms->pk = x.row.pk;
	core_buf_init(&ms->out, 64 << 20);
	char etag[70];
	snprintf(etag, sizeof etag, "\"%s\"", x.row.id);
	http_reply_header(req, "ETag", etag);
	http_reply_stream(req, 200, "application/json", -1, manifest_read, ms, manifest_free);
}

/* --- files ------------------------------------------------------------------------ */

static const char *guess_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {{".csv", "text/csv"},
		     {".png", "image/png"},
		     {".jpg", "image/jpeg"},
		     {".jpeg", "image/jpeg"},
		     {".gz", "application/gzip"},
		     {".json", "application/json"},
		     {NULL, NULL}};
	size_t n = strlen(path);
	for (size_t i = 0; types[i].ext; i++) {
		size_t m = strlen(types[i].ext);
		if (n >= m && strcasecmp(path + n - m, types[i].ext) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

/* Whether an If-None-Match header value names etag (a list, or "*"). */
static bool etag_matches(const char *header, const char *etag)
{
	if (!header)
		return false;
	if (strcmp(header, "*") == 0)
		return true;
	size_t m = strlen(etag);
	for (const char *p = header; (p = strstr(p, etag)); p += m)
		return true;
	return false;
}

void dr_h_version_file(struct http_request *req, void *app)
{
	struct resolve_ctx x = {.name = http_request_param(req, "name"),
				.ref = http_request_param(req, "ref"),
				.path = http_request_param(req, "path")};
	if (!name_ok_or_reply(req) ||
	    svc_run_tx_or_reply(req, app, "dr_h_version_file", DB_READ_COMMITTED, resolve_tx, &x, &x.fail) < 0)
		goto out;
	const char *sha = db_get_text(x.res, 0, 0);
	char etag[70];
	snprintf(etag, sizeof etag, "\"%s\"", sha);
	if (etag_matches(http_request_header(req, "If-None-Match"), etag)) {
		http_reply_header(req, "ETag", etag);
		http_reply_raw(req, 304, NULL, "", 0);
		goto out;
	}
	char *what = core_xasprintf("file '%s' of version %lld of '%s'", x.path, (long long)x.row.number, x.name);
	dr_reply_blob(req, app, sha, guess_type(x.path), what);
	free(what);
out:
	PQclear(x.res);
}

/* --- profile ---------------------------------------------------------------------- */

struct profile_ctx {
	const char *name, *ref;
	struct dr_version_row row;
	char failure[1024];
	struct svc_fail fail;
	struct core_error err;
};

static int profile_tx(struct db_conn *c, void *cls)
{
	struct profile_ctx *x = cls;
	PGresult *res = NULL;
	int rc = dr_resolve_version_res(c, x->name, x->ref, &x->row, &res, &x->fail, &x->err);
	if (rc > 0) {
		const char *f = db_get_text(res, 0, 7);
		snprintf(x->failure, sizeof x->failure, "%s", f ? f : "unknown failure");
	}
	PQclear(res);
	if (rc <= 0)
		return rc;
	if (strcmp(x->row.status, "PENDING") == 0)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_CONFLICT,
				"Version %lld of '%s': profile not ready (the version is PENDING)",
				(long long)x->row.number, x->name);
	if (strcmp(x->row.status, "FAILED") == 0)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_CONFLICT, "Version %lld of '%s' FAILED: %s",
				(long long)x->row.number, x->name, x->failure);
	if (!x->row.profile_sha[0])
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_CONFLICT, "Version %lld of '%s' has no profile",
				(long long)x->row.number, x->name);
	return rc;
}

void dr_h_version_profile(struct http_request *req, void *app)
{
	struct profile_ctx x = {.name = http_request_param(req, "name"), .ref = http_request_param(req, "ref")};
	if (!name_ok_or_reply(req) ||
	    svc_run_tx_or_reply(req, app, "dr_h_version_profile", DB_READ_COMMITTED, profile_tx, &x, &x.fail) < 0)
		return;
	char what[300];
	snprintf(what, sizeof what, "the profile of version %lld of '%s'", (long long)x.row.number, x.name);
	dr_reply_blob(req, app, x.row.profile_sha, "application/json", what);
}
