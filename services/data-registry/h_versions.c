/* POST /v1/datasets/{name}/versions (face: dr.h; route in routes.c): committing a
 * version, from a JSON manifest naming stored blobs, or from one request carrying the
 * data itself (CSV, gzip, tar, zip), which is unpacked into the blob store first.
 *
 * The body streams to dr_version_create_chunk, chosen by Content-Type on the first
 * chunk: a JSON manifest is gathered in memory up to DR_JSON_MANIFEST_MAX (256 MiB,
 * a million files); an upload goes to a temporary file in BLOB_DIR/tmp up to
 * UPLOAD_MAX_BYTES (removed when the request completes; a crash's leftover is swept
 * like a partial blob). Either way the handler then builds the file list, checks every
 * path, sorts it and computes the id, and dr_commit_and_reply records it. A JSON body is
 * read in one pass without a parse tree (manifest_scan.c: the files become records
 * inside the body, 4 bytes of index each), and every later step takes the files
 * DR_FILES_CHUNK at a time, so a commit's memory is its body plus a fixed amount:
 *
 *   0. the same files as a version of the dataset already: 200 with it, nothing else
 *      looked at (a second push's commit is one indexed read);
 *   1. every file's blob is touched (blob_touch: blob.h's gc rule, so a collection
 *      running now keeps it for a grace period) and its size checked; the first path
 *      whose blob is missing is named in a 400;
 *   2. one transaction: the dataset is created when missing (INSERT ... ON CONFLICT DO
 *      NOTHING) and row-locked; a version with the same id answers 200 with it;
 *      otherwise the number is the newest + 1 (dense: concurrent commits queue on the
 *      row lock), the parent the newest's id, the files go in DR_FILES_CHUNK rows per
 *      statement, and the events are written to the outbox;
 *   3. 201 with the new version (PENDING until the profiler has read it).
 * A commit killed at any point leaves no version (one transaction); its blobs, if they
 * were new, are unreferenced and go with the next collection after the grace period. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/time.h"
#include "dr.h"

/* --- the body --------------------------------------------------------------------- */

enum body_kind { BODY_JSON = 1, BODY_UPLOAD };

struct create_state {
	enum body_kind kind;
	const char *name;
	char content_type[64]; /* the media type, lower-cased, without parameters */
	struct core_buf json;  /* BODY_JSON */
	int fd;                /* BODY_UPLOAD: the temporary file, -1 when none */
	char *tmp_path;        /* owned; unlinked at completion */
	uint64_t size;
};

static void create_state_free(void *p)
{
	struct create_state *st = p;
	if (!st)
		return;
	core_buf_free(&st->json);
	if (st->fd >= 0)
		close(st->fd);
	if (st->tmp_path) {
		unlink(st->tmp_path);
		free(st->tmp_path);
	}
	free(st);
}

static struct create_state *create_begin_or_reply(struct http_request *req, void *app)
{
	struct core_error err = {{0}};
	const char *name = http_request_param(req, "name");
	if (dr_check_dataset_name(name, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return NULL;
	}
	struct create_state *st = core_xcalloc(1, sizeof *st);
	st->fd = -1;
	st->name = name;
	const char *ct = http_request_header(req, "Content-Type");
	size_t n = ct ? strcspn(ct, "; \t") : 0;
	if (n >= sizeof st->content_type)
		n = sizeof st->content_type - 1;
	for (size_t i = 0; i < n; i++)
		st->content_type[i] = (char)((ct[i] >= 'A' && ct[i] <= 'Z') ? ct[i] + 32 : ct[i]);
	if (strcmp(st->content_type, "application/json") == 0) {
		st->kind = BODY_JSON;
		core_buf_init(&st->json, DR_JSON_MANIFEST_MAX);
	} else {
		if (ct && dr_unpack_media_ok(ct))
			st->kind = BODY_UPLOAD;
		if (!st->kind) {
			http_reply_error(req, HTTP_EC_UNSUPPORTED_MEDIA_TYPE,
					 "Content-Type must be one of ['application/json', 'text/csv', "
					 "'application/gzip', 'application/x-tar', 'application/x-gtar', "
					 "'application/zip'] (got '%.64s')",
					 ct ? ct : "");
			goto fail;
		}
		st->tmp_path = core_xasprintf("%s/tmp/upload-XXXXXX", dr_app(app)->settings->blob_dir);
		st->fd = mkstemp(st->tmp_path);
		if (st->fd < 0) {
			http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, strerror(errno),
						"could not store the upload");
			free(st->tmp_path);
			st->tmp_path = NULL;
			goto fail;
		}
	}
	http_request_set_state(req, st, create_state_free);
	return st;
fail:
	create_state_free(st);
	return NULL;
}

int dr_version_create_chunk(struct http_request *req, void *app, const char *data, size_t len)
{
	struct create_state *st = http_request_state(req);
	if (!st && !(st = create_begin_or_reply(req, app)))
		return -1;
	st->size += len;
	if (st->kind == BODY_JSON) {
		if (core_buf_append(&st->json, data, len) != CORE_OK) {
			http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE,
					 "A JSON manifest is limited to %zu bytes: commit fewer files at once",
					 DR_JSON_MANIFEST_MAX);
			return -1;
		}
		return 0;
	}
	long max = dr_app(app)->settings->upload_max_bytes;
	if (st->size > (uint64_t)max) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE,
				 "Upload is over the limit of %ld bytes (UPLOAD_MAX_BYTES): PUT the files as blobs and "
				 "commit a manifest",
				 max);
		return -1;
	}
	while (len > 0) {
		ssize_t w = write(st->fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, strerror(errno),
						"could not store the upload");
			return -1;
		}
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

/* --- the commit ------------------------------------------------------------------- */

/* Files [at, at + DR_FILES_CHUNK) of cm, sorted by path, into *out: a window of
 * cm->files, or for a scanned body the records copied into scratch. Returns how many. */
static size_t commit_batch(const struct dr_commit *cm, size_t at, struct dr_manifest_file *scratch,
			   const struct dr_manifest_file **out)
{
	if (cm->files) {
		*out = cm->files + at;
		return cm->n - at < DR_FILES_CHUNK ? cm->n - at : DR_FILES_CHUNK;
	}
	*out = scratch;
	return dr_scan_batch(cm->scan, at, scratch, DR_FILES_CHUNK);
}

struct commit_ctx {
	struct dr_commit *cm;
	struct dr_manifest_file *scratch; /* DR_FILES_CHUNK entries for a scanned body */
	int64_t now_ms;
	bool existed; /* out: the same files were already a version */
	json_t *out;  /* out: the version */
	struct svc_fail fail;
	struct core_error err;
};

static int commit_tx(struct db_conn *c, void *cls)
{
	struct commit_ctx *x = cls;
	struct dr_commit *cm = x->cm;
	json_decref(x->out);
	x->out = NULL;
	x->existed = false;
	int64_t ds = 0, number = 0, pk = 0;
	char parent[65] = "";
	PGresult *res = NULL;
	int created = dr_q_ensure_dataset(c, cm->dataset, x->now_ms, &x->err);
	if (created < 0)
		return created;
	int rc = dr_q_lock_dataset(c, cm->dataset, &ds, &x->err);
	if (rc <= 0)
		return rc < 0 ? rc : DB_SOFT_ERROR; /* deleted between the two: start over */
	if (created > 0 && (rc = dr_ev_write(c, "lathe.dataset.created", cm->dataset,
					     json_pack("{s:s}", "name", cm->dataset), &x->err)) < 0)
		return rc;
	if ((rc = dr_q_version_by_id(c, ds, cm->id, &res, &x->err)) != 0) {
		if (rc > 0) {
			x->existed = true;
			x->out = dr_version_json(res, 0);
		}
		PQclear(res);
		return rc;
	}
	PQclear(res); /* the empty result */
	res = NULL;
	if ((rc = dr_q_newest_version(c, ds, &number, parent, &x->err)) < 0)
		return rc;
	const struct dr_version_new v = {
		.dataset_id = ds,
		.number = number + 1,
		.file_count = (int64_t)cm->n,
		.bytes = cm->bytes,
		.id = cm->id,
		.parent = rc > 0 ? parent : NULL,
		.message = cm->message,
		.format = dr_format_name(cm->format),
		.label_column = cm->label_column,
		.now_ms = x->now_ms,
	};
	if ((rc = dr_q_insert_version(c, &v, &pk, &x->err)) < 0)
		return rc;
	/* DR_FILES_CHUNK rows a statement, all in this transaction: a failure or a kill
	 * leaves none of them */
	const struct dr_manifest_file *batch;
	for (size_t at = 0, m; at < cm->n; at += m) {
		m = commit_batch(cm, at, x->scratch, &batch);
		if ((rc = dr_q_insert_files(c, pk, batch, m, &x->err)) < 0)
			return rc;
	}
	if ((rc = dr_q_touch_dataset(c, ds, x->now_ms, &x->err)) < 0)
		return rc;
	json_t *data = json_pack("{s:s, s:I, s:s, s:s, s:I, s:I}", "dataset", cm->dataset, "number",
				 (json_int_t)v.number, "id", cm->id, "format", v.format, "file_count",
				 (json_int_t)cm->n, "bytes", (json_int_t)cm->bytes);
	if (v.parent) /* absent for the first version */
		json_object_set_new(data, "parent", json_string(v.parent));
	if ((rc = dr_ev_write(c, "lathe.dataset.version.created", cm->dataset, data, &x->err)) < 0)
		return rc;
	if ((rc = dr_q_version_by_pk(c, pk, &res, &x->err)) > 0)
		x->out = dr_version_json(res, 0);
	PQclear(res);
	return rc;
}

/* Reads the version of cm's dataset whose id is cm's, when there is one: committing
 * exactly the files of an existing version answers it, and then neither the blobs
 * (a version's are never collected) nor the rows need to be looked at again. */
static int existing_tx(struct db_conn *c, void *cls)
{
	struct commit_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	int64_t ds = 0;
	PGresult *res = NULL;
	int rc = dr_q_dataset_id(c, x->cm->dataset, &ds, &x->err);
	if (rc <= 0)
		return rc;
	if ((rc = dr_q_version_by_id(c, ds, x->cm->id, &res, &x->err)) > 0)
		x->out = dr_version_json(res, 0);
	PQclear(res);
	return rc;
}

/* Step 1: every blob of files[0..n) touched and its size checked (prev: the file
 * before files[0], or NULL). Returns true, or false after having replied. */
static bool blobs_or_reply(struct http_request *req, struct svc *svc, const struct dr_manifest_file *files, size_t n,
			   const struct dr_manifest_file *prev)
{
	struct core_error err = {{0}};
	for (size_t i = 0; i < n; i++) {
		const struct dr_manifest_file *f = &files[i];
		if (prev && strcmp(f->sha256, prev->sha256) == 0 && f->size == prev->size)
			continue;
		prev = f;
		enum core_status rc = blob_touch(dr_blobs(svc), f->sha256, &err);
		int fd = -1;
		uint64_t size = 0;
		if (rc == CORE_OK)
			rc = blob_open(dr_blobs(svc), f->sha256, &fd, &size, &err);
		if (fd >= 0)
			close(fd);
		if (rc == CORE_ENOENT) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "The blob of '%s' (%s) is not stored: PUT /v1/blobs/%s first", f->path,
					 f->sha256, f->sha256);
			return false;
		}
		if (rc != CORE_OK) {
			http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "blob storage error");
			return false;
		}
		if (size != f->size) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "The size of '%s' is %llu, not %llu: its blob %s has %llu bytes", f->path,
					 (unsigned long long)f->size, (unsigned long long)size, f->sha256,
					 (unsigned long long)size);
			return false;
		}
	}
	return true;
}

/* The format given, checked against every file, or detected from them; batch by
 * batch. CORE_OK or CORE_EINVAL with err. */
static enum core_status format_of(struct dr_commit *cm, struct dr_manifest_file *scratch, struct core_error *err)
{
	bool detect = cm->format == 0;
	const char *first = NULL;
	const struct dr_manifest_file *batch;
	for (size_t at = 0, m; at < cm->n; at += m) {
		m = commit_batch(cm, at, scratch, &batch);
		enum core_status rc = !detect ? dr_format_check(cm->format, batch, m, err)
				      : first ? dr_detect_format_more(cm->format, first, batch, m, err)
					      : dr_detect_format(batch, m, &cm->format, err);
		if (rc != CORE_OK)
			return rc;
		if (!first)
			first = batch[0].path; /* a record's or cm->files's: stays put */
	}
	return CORE_OK;
}

void dr_commit_and_reply(struct http_request *req, struct svc *svc, struct dr_commit *cm)
{
	struct core_error err = {{0}};
	if (cm->n == 0) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "A version needs at least one file");
		return;
	}
	struct commit_ctx x = {.cm = cm, .now_ms = core_now_ms()};
	if (!cm->files)
		x.scratch = core_xcalloc(DR_FILES_CHUNK, sizeof *x.scratch);
	enum core_status rc = format_of(cm, x.scratch, &err);
	if (rc != CORE_OK) {
		http_reply_invalid(req, &err);
		goto out;
	}
	if (cm->check_content && cm->files &&
	    (rc = dr_check_content(dr_blobs(svc), cm->format, cm->files, cm->n, cm->label_column, &err)) != CORE_OK) {
		if (rc == CORE_EINVAL)
			http_reply_invalid(req, &err);
		else
			http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "blob storage error");
		goto out;
	}
	int trc = svc_run_tx_or_reply(req, svc, "dr_commit_existing", DB_READ_COMMITTED, existing_tx, &x, &x.fail);
	if (trc < 0)
		goto out;
	if (trc > 0) {
		dr_reply_entity(req, 200, "version", trc, x.out, &x.fail, &x.err);
		x.out = NULL;
		goto out;
	}
	const struct dr_manifest_file *batch, *prev = NULL;
	for (size_t at = 0, m; at < cm->n; at += m) {
		m = commit_batch(cm, at, x.scratch, &batch);
		if (!blobs_or_reply(req, svc, batch, m, prev))
			goto out;
		prev = cm->files ? &batch[m - 1] : NULL; /* the scratch is refilled */
	}
	trc = svc_run_tx_or_reply(req, svc, "dr_commit", DB_READ_COMMITTED, commit_tx, &x, &x.fail);
	if (trc >= 0) {
		dr_reply_entity(req, x.existed ? 200 : 201, "version", trc, x.out, &x.fail, &x.err);
		x.out = NULL;
	}
out:
	json_decref(x.out);
	free(x.scratch);
}

/* --- JSON manifests --------------------------------------------------------------- */

/* Reads the optional string arguments message, format, label_column from a scanned
 * JSON body or (scan NULL: an upload) the query. Returns true, or false after having
 * replied. */
static bool options_or_reply(struct http_request *req, const struct dr_scan *scan, struct dr_commit *cm)
{
	static const char *const names[] = {"message", "format", "label_column"};
	const char *vals[3] = {NULL, NULL, NULL};
	for (size_t i = 0; i < 3; i++) {
		if (scan) {
			if (scan->opt_bad[i]) {
				http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
						 "Invalid value for parameter '%s': must be a string", names[i]);
				return false;
			}
			vals[i] = scan->opt[i];
		} else {
			vals[i] = http_request_query(req, names[i]);
		}
	}
	cm->message = vals[0];
	struct core_error err = {{0}};
	if (vals[1] && *vals[1] && dr_format_parse(vals[1], &cm->format, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return false;
	}
	if (vals[2] && (strlen(vals[2]) == 0 || strlen(vals[2]) > 255)) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Invalid label_column: 1 to 255 bytes naming a column");
		return false;
	}
	cm->label_column = vals[2];
	return true;
}

/* Points cm at the scanned body's files, sorted, with the id. Returns true, or false
 * after replying. */
static bool files_or_reply(struct http_request *req, struct dr_scan *scan, struct dr_commit *cm)
{
	struct core_error err = {{0}};
	if (!scan->files_array) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Missing value for required parameter 'files' (an array of {path, sha256, size})");
		return false;
	}
	if (scan->count > DR_MAX_FILES) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Too many files: %zu (at most %d per version)",
				 scan->count, DR_MAX_FILES);
		return false;
	}
	if (scan->bad) {
		http_reply_invalid(req, &scan->bad_err);
		return false;
	}
	if (dr_scan_finish(scan, cm->id, &cm->bytes, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return false;
	}
	cm->scan = scan;
	cm->n = scan->n;
	return true;
}

/* A JSON manifest: read in one pass over the body as it arrived, no parse tree; the
 * body is the only thing that grows with the number of files (plus 4 bytes a file). */
static void commit_json(struct http_request *req, struct svc *svc, struct create_state *st)
{
	struct dr_commit cm = {.dataset = st->name};
	struct dr_scan scan = {0};
	struct core_error err = {{0}};
	char empty[] = "{}";
	char *body = st->json.len ? st->json.data : empty;
	if (dr_scan_body(body, st->json.len ? st->json.len : 2, &scan, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		goto out;
	}
	if (scan.not_object) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "The body must be a JSON object");
		goto out;
	}
	if (!options_or_reply(req, &scan, &cm) || !files_or_reply(req, &scan, &cm))
		goto out;
	dr_commit_and_reply(req, svc, &cm); /* message, label_column and paths live in the body */
out:
	dr_scan_free(&scan);
}

/* --- one-request uploads ---------------------------------------------------------- */

static void commit_upload(struct http_request *req, struct svc *svc, struct create_state *st)
{
	struct dr_commit cm = {.dataset = st->name, .check_content = true};
	struct core_error err = {{0}};
	if (!options_or_reply(req, NULL, &cm))
		return;
	if (st->size == 0) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Empty upload: the body holds no data");
		return;
	}
	/* the body is all in the file; close it before unpacking reads it */
	close(st->fd);
	st->fd = -1;
	const struct dr_unpack_opts o = {
		.content_type = http_request_header(req, "Content-Type"),
		.filename = http_request_query(req, "filename"),
		.max_bytes = (uint64_t)dr_app(svc)->settings->unpacked_max_bytes,
	};
	enum core_status rc = dr_unpack(dr_blobs(svc), st->tmp_path, &o, &cm.files, &cm.n, &err);
	if (rc == CORE_EINVAL)
		http_reply_invalid(req, &err);
	else if (rc == CORE_ELIMIT)
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "%s", err.message);
	else if (rc != CORE_OK)
		http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "could not unpack the upload");
	if (rc != CORE_OK)
		return;
	/* dr_unpack answers the files sorted and checked (paths, duplicates) */
	dr_manifest_id(cm.files, cm.n, cm.id, &cm.bytes);
	dr_commit_and_reply(req, svc, &cm);
	dr_manifest_free(cm.files, cm.n);
}

void dr_h_version_create(struct http_request *req, void *app)
{
	struct create_state *st = http_request_state(req);
	if (!st && !(st = create_begin_or_reply(req, app))) /* an empty body: no chunk came */
		return;
	if (st->kind == BODY_JSON)
		commit_json(req, app, st);
	else
		commit_upload(req, app, st);
}
