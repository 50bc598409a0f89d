/* Handlers of MLflow's proxied artifact API (/api/2.0/mlflow-artifacts/artifacts...)
 * and of the tracking-side artifacts/list (face: artifacts.h; routes in
 * routes.c).
 *
 * Upload streams: the route's upload function gets each body chunk and feeds a
 * blob_writer (hashing on the way, bounded memory whatever the size); the handler,
 * called once the body has ended, commits the blob and only then writes the metadata
 * row, in one SERIALIZABLE transaction with the implied parent directories. A request
 * that fails or is aborted before that leaves nothing: its writer hangs on the request
 * state and is aborted when the request completes.
 *
 *   first chunk  upload_begin_or_reply: path checked, writer opened, state set
 *   each chunk   blob_writer_write
 *   body ended   et_h_artifact_upload: (empty body: upload_begin_or_reply) commit
 *                -> put_tx (dirs, file row) -> {}
 *   completion   upload_state_free: aborts a writer not committed
 *
 * Download streams the blob's file descriptor through http_reply_stream (pread per
 * block). Reads, listings and deletes are one indexed query each (q_artifacts.c), each
in its own transaction (db_run_tx retries one that met a stale pooled connection). Paths are
 * checked and made canonical by artifact_path.c; they never touch the filesystem. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "artifacts.h"
#include "core/alloc.h"
#include "core/time.h"
#include "et.h"
#include "http/jspec.h"

/* The proxy's path of an artifact, with room for a parent joined in front. */
#define PATH_BUF (2 * ET_ARTIFACT_PATH_MAX + 2)

static void reply_invalid_path(struct http_request *req)
{
	http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Invalid path");
}

/* Reads the {path*} parameter of the request into out (canonical, non-empty).
 * Returns true, or false after having replied 400 "Invalid path". */
static bool path_param_or_reply(struct http_request *req, char *out, size_t size)
{
	const char *p = http_request_param(req, "path");
	if (!p || !et_artifact_raw_path_ok(http_request_path(req)) || !et_artifact_path_normalize(p, out, size) ||
	    out[0] == '\0') {
		reply_invalid_path(req);
		return false;
	}
	return true;
}

/* Reads the optional query parameter "path" into out ("" when absent: the root).
 * Returns true, or false after having replied 400. */
static bool path_query_or_reply(struct http_request *req, char *out, size_t size)
{
	const char *p = http_request_query(req, "path");
	if (!p) {
		out[0] = '\0';
		return true;
	}
	if (!et_artifact_path_normalize(p, out, size)) {
		reply_invalid_path(req);
		return false;
	}
	return true;
}

/* --- upload --------------------------------------------------------------------- */

struct upload_state {
	struct blob_writer *writer; /* owned until committed */
	char path[ET_ARTIFACT_PATH_MAX + 1];
};

static void upload_state_free(void *p)
{
	struct upload_state *st = p;
	if (!st)
		return;
	blob_writer_abort(st->writer);
	free(st);
}

/* Checks the path and opens the blob writer; hangs both on the request. Returns the
 * state, or NULL after having replied. */
static struct upload_state *upload_begin_or_reply(struct http_request *req, void *app)
{
	struct upload_state *st = core_xcalloc(1, sizeof *st);
	struct core_error err = {{0}};
	if (!path_param_or_reply(req, st->path, sizeof st->path))
		goto fail;
	if (blob_writer_new(et_app(app)->blobs, &st->writer, &err) != CORE_OK) {
		http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "artifact storage error");
		goto fail;
	}
	http_request_set_state(req, st, upload_state_free);
	return st;
fail:
	upload_state_free(st);
	return NULL;
}

int et_artifact_upload_chunk(struct http_request *req, void *app, const char *data, size_t len)
{
	struct upload_state *st = http_request_state(req);
	struct core_error err = {{0}};
	if (!st && !(st = upload_begin_or_reply(req, app)))
		return -1;
	if (blob_writer_write(st->writer, data, len, &err) != CORE_OK) {
		http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "artifact storage error");
		return -1; /* the writer is aborted when the request completes */
	}
	return 0;
}

struct put_tx {
	const char *path, *parent, *name, *key;
	uint64_t size;
	int64_t now_ms;
	bool conflict; /* out: a directory where the file goes, or a file where a directory must be */
	struct core_error err;
};

static int put_tx_fn(struct db_conn *c, void *cls)
{
	struct put_tx *tx = cls;
	tx->conflict = false;
	int rc = et_q_artifacts_insert_dirs(c, tx->path, tx->now_ms, &tx->err);
	if (rc < 0)
		return rc;
	if (rc > 0)
		goto conflict;
	rc = et_q_artifacts_upsert_file(c, tx->parent, tx->name, tx->key, tx->size, tx->now_ms, &tx->err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		goto conflict;
	return 1;
conflict:
	tx->conflict = true;
	return DB_CONSTRAINT; /* roll back the directories already added */
}

void et_h_artifact_upload(struct http_request *req, void *app)
{
	struct upload_state *st = http_request_state(req);
	struct core_error err = {{0}};
	char key[BLOB_KEY_LEN + 1];
	char parent[ET_ARTIFACT_PATH_MAX + 1];

	if (!st && !(st = upload_begin_or_reply(req, app))) /* an empty body: no chunk came */
		return;
	uint64_t size = blob_writer_size(st->writer);
	struct blob_writer *w = st->writer;
	st->writer = NULL; /* commit frees it, whatever the outcome */
	if (blob_writer_commit(w, key, &err) != CORE_OK) {
		http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "artifact storage error");
		return;
	}
	struct put_tx tx = {.path = st->path, .key = key, .size = size, .now_ms = core_now_ms()};
	tx.name = et_artifact_path_split(st->path, parent);
	tx.parent = parent;
	int rc = db_run_tx(svc_db(app), "artifact_put", DB_SERIALIZABLE, put_tx_fn, &tx, &err);
	if (tx.conflict) {
		http_reply_error(req, HTTP_EC_RESOURCE_CONFLICT,
				 "Cannot store '%s': it or one of its parents is a directory where a file is needed, "
				 "or a file where a directory is needed",
				 st->path);
		return;
	}
	if (rc < 0) {
		svc_reply_db_error(req, rc, &err);
		return;
	}
	http_reply_json(req, 200, json_object());
}

/* --- download ------------------------------------------------------------------- */

struct download {
	int fd;
};

static ssize_t download_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct download *d = cls;
	ssize_t n;
	do
		n = pread(d->fd, buf, max, (off_t)pos);
	while (n < 0 && errno == EINTR);
	return n;
}

static void download_free(void *cls)
{
	struct download *d = cls;
	close(d->fd);
	free(d);
}

/* One read of an entry: res is left for the handler. */
struct get_tx {
	const char *parent, *name;
	PGresult *res; /* out */
	struct core_error err;
};

static int get_tx_fn(struct db_conn *c, void *cls)
{
	struct get_tx *tx = cls;
	PQclear(tx->res);
	tx->res = NULL;
	return et_q_artifacts_get(c, tx->parent, tx->name, &tx->res, &tx->err);
}

void et_h_artifact_download(struct http_request *req, void *app)
{
	char path[ET_ARTIFACT_PATH_MAX + 1], parent[ET_ARTIFACT_PATH_MAX + 1];
	char disposition[3 * ET_ARTIFACT_PATH_MAX + 64];
	struct core_error err = {{0}};
	struct get_tx tx = {.parent = parent};
	int fd = -1;
	uint64_t size = 0;

	if (!path_param_or_reply(req, path, sizeof path))
		goto out;
	const char *name = tx.name = et_artifact_path_split(path, parent);
	int rc = db_run_tx(svc_db(app), "artifact_get", DB_READ_COMMITTED, get_tx_fn, &tx, &err);
	PGresult *res = tx.res;
	if (rc < 0) {
		svc_reply_db_error(req, rc, &err);
		goto out;
	}
	if (rc == 0) {
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Artifact '%s' does not exist", path);
		goto out;
	}
	const char *is_dir = db_get_text(res, 0, 0), *key = db_get_text(res, 0, 1);
	if (is_dir && is_dir[0] == 't') {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Artifact '%s' is a directory, not a file",
				 path);
		goto out;
	}
	if (!key || blob_open(et_app(app)->blobs, key, &fd, &size, &err) != CORE_OK) {
		http_reply_error_detail(req, HTTP_EC_DATA_LOSS, key ? err.message : "no blob key",
					"The bytes of artifact '%s' are missing", path);
		goto out;
	}
	if (!et_artifact_content_disposition(name, disposition, sizeof disposition)) {
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "Content-Disposition of '%s' too long", path);
		goto out;
	}
	http_reply_header(req, "Content-Disposition", disposition);
	http_reply_header(req, "X-Content-Type-Options", "nosniff");
	struct download *d = core_xmalloc(sizeof *d);
	d->fd = fd;
	fd = -1; /* the stream owns it now */
	http_reply_stream(req, 200, et_artifact_mime_type(name), (int64_t)size, download_read, d, download_free);
out:
	if (fd >= 0)
		close(fd);
	PQclear(tx.res);
}

/* --- listing -------------------------------------------------------------------- */

/* A listing of one directory, in one transaction; for artifacts/list the run's
 * artifact root is read first, in the same snapshot. */
struct list_tx {
	const char *run_id; /* artifacts/list: the run whose root to list under */
	const char *dir;    /* the directory; with run_id, relative to the run's root */
	char *uri;          /* out: the run's artifact_uri (malloc'd) */
	PGresult *res;      /* out: et_q_artifacts_list's rows */
	struct svc_fail f;
	struct core_error err;
};

static int list_tx_fn(struct db_conn *c, void *cls)
{
	struct list_tx *tx = cls;
	char root[ET_ARTIFACT_PATH_MAX + 1], dir[PATH_BUF];
	const char *list_dir = tx->dir;
	free(tx->uri), tx->uri = NULL;
	PQclear(tx->res), tx->res = NULL;
	if (tx->run_id) {
		int rc = et_q_artifacts_run_uri(c, tx->run_id, &tx->uri, &tx->err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return svc_fail(&tx->f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found",
					tx->run_id);
		const char *root_path = et_artifact_uri_path(tx->uri);
		if (!root_path || !et_artifact_path_normalize(root_path, root, sizeof root))
			return svc_fail(&tx->f, HTTP_EC_INVALID_PARAMETER_VALUE,
					"The artifacts of run %s are at '%s', which this server does not serve",
					tx->run_id, tx->uri);
		snprintf(dir, sizeof dir, "%s%s%s", root, root[0] && tx->dir[0] ? "/" : "", tx->dir);
		list_dir = dir;
	}
	return et_q_artifacts_list(c, list_dir, &tx->res, &tx->err);
}

/* Runs tx and answers: {"root_uri"?, "files"?} with each path prefix/name (the bare
 * name when prefix is ""). */
static void list_and_reply(struct http_request *req, void *app, struct list_tx *tx, const char *prefix)
{
	int rc = svc_run_tx_or_reply(req, app, "artifact_list", DB_READ_COMMITTED, list_tx_fn, tx, &tx->f);
	if (rc < 0)
		goto out;
	json_t *files = json_array();
	for (int i = 0; i < rc; i++) {
		const char *name = db_get_text(tx->res, i, 0), *is_dir = db_get_text(tx->res, i, 1);
		bool dir_entry = is_dir && is_dir[0] == 't';
		char *path = prefix[0] ? core_xasprintf("%s/%s", prefix, name) : core_xstrdup(name);
		json_t *info = json_pack("{s:s, s:b}", "path", path, "is_dir", dir_entry);
		free(path);
		int64_t size = 0;
		if (!info) {
			json_decref(files);
			http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "Artifact name not representable in JSON");
			goto out;
		}
		if (!dir_entry && db_get_int64(tx->res, i, 2, &size, NULL) == CORE_OK)
			json_object_set_new(info, "file_size", json_integer(size));
		json_array_append_new(files, info);
	}
	json_t *body = tx->run_id ? json_pack("{s:s}", "root_uri", tx->uri) : json_object();
	if (json_array_size(files) > 0)
		json_object_set(body, "files", files);
	json_decref(files);
	http_reply_json(req, 200, body);
out:
	free(tx->uri);
	PQclear(tx->res);
}

void et_h_artifact_list(struct http_request *req, void *app)
{
	char dir[ET_ARTIFACT_PATH_MAX + 1];
	struct list_tx tx = {.dir = dir};
	if (path_query_or_reply(req, dir, sizeof dir))
		list_and_reply(req, app, &tx, "");
}

void et_h_run_artifacts_list(struct http_request *req, void *app)
{
	char rel[ET_ARTIFACT_PATH_MAX + 1];
	struct core_error err;
	struct list_tx tx = {.dir = rel};

	tx.run_id = http_request_query(req, "run_id");
	if (!tx.run_id || !*tx.run_id)
		tx.run_id = http_request_query(req, "run_uuid");
	if (!tx.run_id || !*tx.run_id) {
		http_jspec_missing(&err, NULL, "run_id");
		http_reply_invalid(req, &err);
		return;
	}
	if (path_query_or_reply(req, rel, sizeof rel))
		list_and_reply(req, app, &tx, rel);
}

/* --- delete and the rest ---------------------------------------------------------- */

struct delete_tx {
	const char *path, *parent, *name;
	struct core_error err;
};

static int delete_tx_fn(struct db_conn *c, void *cls)
{
	struct delete_tx *tx = cls;
	return et_q_artifacts_delete_tree(c, tx->parent, tx->name, tx->path, &tx->err);
}

void et_h_artifact_delete(struct http_request *req, void *app)
{
	char path[ET_ARTIFACT_PATH_MAX + 1], parent[ET_ARTIFACT_PATH_MAX + 1];
	struct core_error err = {{0}};

	if (!path_param_or_reply(req, path, sizeof path))
		return;
	struct delete_tx tx = {.path = path, .parent = parent};
	tx.name = et_artifact_path_split(path, parent);
	int rc = db_run_tx(svc_db(app), "artifact_delete", DB_SERIALIZABLE, delete_tx_fn, &tx, &err);
	if (rc < 0) {
		svc_reply_db_error(req, rc, &err);
		return;
	}
	http_reply_json(req, 200, json_object());
}

void et_h_artifact_mpu(struct http_request *req, void *app)
{
	(void)app;
	/* What MLflow answers for a destination without multipart support; the client then
	 * falls back to one streamed PUT. */
	http_reply_error(req, HTTP_EC_NOT_IMPLEMENTED, "Multipart upload is not supported by this server");
}
