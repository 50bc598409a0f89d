/* Batch samples named as data-registry versions (face: dm.h, dataset.c section):
 * {"dataset": "name@ref"} becomes CSV text for batch.c. The registry is a peer reached
 * through httpc_peer_call (libs/http), as the trainer reaches it: blocking calls made by
 * the handler (no transaction is open), each bounded by DATA_REGISTRY_TIMEOUT_MS, and
 * one sorting of the outcomes (no answer or a 5xx: 503, the client may retry). Per
 * sample:
 *   1. GET /v1/datasets/{name}/versions/{ref}: the registry resolves ref (number, id,
 *      id prefix, latest); its 404 is ours, its other refusals a 400 quoting it; the
 *      version's format (csv), status (not FAILED) and size (DATASET_MAX_BYTES) are
 *      checked before any file is read;
 *   2. GET .../versions/{id}/manifest, by the id step 1 answered, so a version that
 *      lands meanwhile cannot swap "latest" under the sample;
 *   3. each file as GET /v1/blobs/{sha256}: a hash needs no escaping, a path would.
 * One file is the sample as it came. Several are joined under the first's header: each
 * is read with the shared CSV reader (core/csv.h), its header compared with the first's
 * and its rows written again (core_csv_append_row), so a later file's header never
 * becomes a data row and a file's broken row is named with its file and line. The
 * joined text is never longer than the files (quoting is only kept where needed, line
 * ends become \n), so DATASET_MAX_BYTES bounds it too. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/csv.h"
#include "http/client.h"
#include "dm.h"

#define NAME_LEN_MAX 128 /* the registry's dataset names: [A-Za-z0-9][A-Za-z0-9._-]{0,127} */
#define NAME_CHARS   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
#define REF_CHARS    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define VERSION_MAX  ((size_t)1 << 20)  /* the answer of step 1 */
#define MANIFEST_MAX ((size_t)16 << 20) /* the answer of step 2: ~100,000 files */

enum core_status dm_dataset_ref_check(const char *text, const char *field, struct core_error *err)
{
	const char *at = strchr(text, '@');
	size_t n = at ? (size_t)(at - text) : strlen(text);
	const char *ref = at ? at + 1 : "latest";
	size_t r = strlen(ref);
	if (n == 0 || n > NAME_LEN_MAX || !isalnum((unsigned char)text[0]) || strspn(text, NAME_CHARS) < n)
		return core_fail(err, CORE_EINVAL,
				 "%s: '%.200s' is not \"<name>@<version>\" (a dataset name of letters, digits, '.', "
				 "'_' and '-', at most %d, then @ and a version)",
				 field, text, NAME_LEN_MAX);
	if (r == 0 || r > DM_DATASET_REF_MAX || strspn(ref, REF_CHARS) != r)
		return core_fail(err, CORE_EINVAL,
				 "%s: '%.80s' is not a version of the data registry (a number, an id, an id prefix of "
				 "at least 8 hex digits, or latest)",
				 field, ref);
	return CORE_OK;
}

/* One sample being fetched. */
struct fetch {
	const struct dm_settings *s;
	const char *request_id;
	char field[32];   /* "reference.dataset" */
	const char *text; /* "name@ref" as given */
	char name[NAME_LEN_MAX + 1], ref[DM_DATASET_REF_MAX + 1];
	char id[65];         /* the version's, from step 1 */
	long long number;    /* the version's number, for messages */
	struct core_buf out; /* the joined text (several files) */
	char **header;       /* the first file's header (several files), copies */
	size_t n_header;
};

/* GETs path from the registry into *resp (freed by the caller). CORE_OK for an answer
 * below 500 (408 and 429 excepted); CORE_EIO when none came (503); CORE_ELIMIT over max. */
static enum core_status get(struct fetch *f, const char *path, size_t max, struct httpc_response *resp,
			    struct core_error *err)
{
	const struct httpc_peer peer = {.name = "the data registry",
					.base_url = f->s->data_registry_url,
					.token = f->s->data_registry_token,
					.timeout_ms = f->s->data_registry_timeout_ms,
					.max_response = max};
	struct core_error why = {{0}};
	enum core_status rc = httpc_peer_call(&peer, "GET", path, NULL, NULL, 0, f->request_id, resp, &why);
	if (rc == CORE_EIO)
		return core_fail(err, rc, "%s: '%.200s' cannot be read now: %s; try again later", f->field, f->text,
				 why.message);
	if (rc == CORE_ELIMIT)
		return core_fail(err, rc,
				 "%s: '%.200s' is too large for batch drift (an answer of the data "
				 "registry passed %zu bytes)",
				 f->field, f->text, max);
	if (rc != CORE_OK)
		return core_fail(err, rc, "%s: '%.200s': %s", f->field, f->text, why.message);
	return CORE_OK;
}

/* The registry's refusal (a 4xx) as ours: 404 stays a 404; 401 and 403 refuse the
 * drift monitor's own credentials (DATA_REGISTRY_TOKEN), not the client: 503, as a peer
 * that cannot be used; the rest are the client's mistakes (a malformed or ambiguous
 * ref). Quotes the registry's message. */
static enum core_status refused(struct fetch *f, const struct httpc_response *resp, struct core_error *err)
{
	json_t *doc = json_loadb(resp->body, resp->body_len, 0, NULL);
	const char *m = json_string_value(json_object_get(doc, "message"));
	enum core_status rc;
	if (resp->status == 404)
		rc = core_fail(err, CORE_ENOENT, "%s: '%.200s' is not in the data registry (%.300s)", f->field, f->text,
			       m ? m : "not found");
	else if (resp->status == 401 || resp->status == 403)
		rc = core_fail(err, CORE_EIO,
			       "%s: '%.200s' cannot be read now: the data registry refused the drift "
			       "monitor's credentials (%ld)",
			       f->field, f->text, resp->status);
	else
		rc = core_fail(err, CORE_EINVAL, "%s: '%.200s': the data registry refused it (%ld: %.300s)", f->field,
			       f->text, resp->status, m ? m : "no message");
	json_decref(doc);
	return rc;
}

/* Step 1: the version, its checks, its id. */
static enum core_status read_version(struct fetch *f, struct core_error *err)
{
	struct httpc_response resp = {0};
	json_t *doc = NULL;
	char path[300];
	snprintf(path, sizeof path, "/v1/datasets/%s/versions/%s", f->name, f->ref);
	enum core_status rc = get(f, path, VERSION_MAX, &resp, err);
	if (rc != CORE_OK)
		goto out;
	if (resp.status != 200) {
		rc = refused(f, &resp, err);
		goto out;
	}
	doc = json_loadb(resp.body, resp.body_len, 0, NULL);
	json_t *v = json_object_get(doc, "version"), *bytes = json_object_get(v, "bytes");
	const char *id = json_string_value(json_object_get(v, "id"));
	const char *format = json_string_value(json_object_get(v, "format"));
	const char *status = json_string_value(json_object_get(v, "status"));
	const char *failure = json_string_value(json_object_get(v, "failure"));
	f->number = (long long)json_integer_value(json_object_get(v, "number"));
	if (!id || strlen(id) != 64 || !format || !status || !json_is_integer(bytes)) {
		rc = core_fail(err, CORE_EIO,
			       "%s: '%.200s': the data registry answered a version without id, format, "
			       "status or size",
			       f->field, f->text);
		goto out;
	}
	snprintf(f->id, sizeof f->id, "%s", id);
	if (strcmp(format, "csv") != 0)
		rc = core_fail(err, CORE_EINVAL,
			       "%s: '%.200s' (version %lld) is %s data, not a CSV table: batch drift compares "
			       "tabular versions",
			       f->field, f->text, f->number, format);
	else if (strcmp(status, "FAILED") == 0)
		rc = core_fail(err, CORE_EINVAL, "%s: '%.200s' (version %lld) FAILED in the data registry: %.300s",
			       f->field, f->text, f->number, failure ? failure : "no reason given");
	else if (json_integer_value(bytes) > f->s->dataset_max_bytes)
		rc = core_fail(err, CORE_ELIMIT,
			       "%s: '%.200s' (version %lld) holds %lld bytes, over the %ld that batch drift reads "
			       "from a version",
			       f->field, f->text, f->number, (long long)json_integer_value(bytes),
			       f->s->dataset_max_bytes);
out:
	json_decref(doc);
	httpc_response_free(&resp);
	return rc;
}

/* Appends one of several files (text[0..len)) to f->out: the first gives the header,
 * every file must have the same one. */
static enum core_status join_file(struct fetch *f, const char *file, const char *text, size_t len,
				  struct core_error *err)
{
	struct core_csv *r = NULL;
	char *name = core_xasprintf("%s: '%.200s' file '%.300s'", f->field, f->text, file);
	enum core_status rc = core_csv_open_mem(text, len, name, &r, err);
	if (rc != CORE_OK)
		goto out;
	size_t n;
	const char *const *header = core_csv_header(r, &n);
	if (!f->header) {
		f->n_header = n;
		f->header = core_xcalloc(n, sizeof *f->header);
		for (size_t i = 0; i < n; i++)
			f->header[i] = core_xstrdup(header[i]);
		rc = core_csv_append_row(&f->out, (const char *const *)f->header, n);
	} else {
		bool same = n == f->n_header;
		for (size_t i = 0; same && i < n; i++)
			same = strcmp(header[i], f->header[i]) == 0;
		if (!same)
			rc = core_fail(err, CORE_EINVAL, "%s: its header differs from the version's first file's",
				       name);
	}
	const char *const *fields;
	uint64_t row;
	while (rc == CORE_OK && (rc = core_csv_next(r, &fields, &row, err)) == CORE_OK)
		rc = core_csv_append_row(&f->out, fields, n);
	if (rc == CORE_ENOENT)
		rc = CORE_OK;
	else if (rc == CORE_ELIMIT || rc == CORE_ENOMEM)
		rc = core_fail(err, rc, "%s: the joined files pass %ld bytes", name, f->s->dataset_max_bytes);
out:
	core_csv_close(r);
	free(name);
	return rc;
}

/* Steps 2 and 3: the manifest and the files, into *text (malloc'd) and *len. */
static enum core_status read_files(struct fetch *f, char **text, size_t *len, struct core_error *err)
{
	struct httpc_response resp = {0};
	json_t *doc = NULL;
	char path[300];
	snprintf(path, sizeof path, "/v1/datasets/%s/versions/%s/manifest", f->name, f->id);
	enum core_status rc = get(f, path, MANIFEST_MAX, &resp, err);
	if (rc == CORE_OK && resp.status != 200)
		rc = refused(f, &resp, err);
	if (rc != CORE_OK)
		goto out;
	doc = json_loadb(resp.body, resp.body_len, 0, NULL);
	httpc_response_free(&resp);
	json_t *files = json_object_get(doc, "files"), *file;
	size_t n = json_array_size(files), i;
	if (n == 0) {
		rc = core_fail(err, CORE_EIO, "%s: '%.200s': the data registry answered a manifest without files",
			       f->field, f->text);
		goto out;
	}
	core_buf_init(&f->out, (size_t)f->s->dataset_max_bytes + 1);
	long long total = 0;
	json_array_foreach(files, i, file)
	{
		const char *p = json_string_value(json_object_get(file, "path"));
		const char *sha = json_string_value(json_object_get(file, "sha256"));
		json_int_t size = json_integer_value(json_object_get(file, "size"));
		total += size;
		if (!p || !sha || strspn(sha, "0123456789abcdef") != 64 || sha[64] || size < 0) {
			rc = core_fail(err, CORE_EIO, "%s: '%.200s': the data registry answered a malformed manifest",
				       f->field, f->text);
			break;
		}
		if (total > f->s->dataset_max_bytes) {
			rc = core_fail(err, CORE_ELIMIT,
				       "%s: '%.200s' holds over %ld bytes, the most batch drift reads "
				       "from a version",
				       f->field, f->text, f->s->dataset_max_bytes);
			break;
		}
		snprintf(path, sizeof path, "/v1/blobs/%s", sha);
		rc = get(f, path, size > 0 ? (size_t)size : 1, &resp, err);
		if (rc == CORE_OK && resp.status != 200)
			rc = core_fail(err, resp.status == 404 ? CORE_ENOENT : CORE_EIO,
				       "%s: '%.200s': its file '%.300s' cannot be read from the data registry (%ld)",
				       f->field, f->text, p, resp.status);
		if (rc != CORE_OK)
			break;
		if (n == 1) { /* the text as it came */
			*text = resp.body;
			*len = resp.body_len;
			resp.body = NULL;
		} else {
			rc = join_file(f, p, resp.body, resp.body_len, err);
		}
		httpc_response_free(&resp);
		if (rc != CORE_OK)
			break;
	}
	if (rc == CORE_OK && n > 1)
		*text = core_buf_steal(&f->out, len);
out:
	httpc_response_free(&resp);
	json_decref(doc);
	return rc;
}

static enum core_status fetch_one(const struct dm_settings *s, const char *request_id, const char *sample,
				  const char *text, char **out, size_t *len, struct core_error *err)
{
	struct fetch f = {.s = s, .request_id = request_id, .text = text};
	snprintf(f.field, sizeof f.field, "%s.dataset", sample);
	enum core_status rc = dm_dataset_ref_check(text, f.field, err);
	if (rc != CORE_OK)
		return rc;
	const char *at = strchr(text, '@');
	size_t n = at ? (size_t)(at - text) : strlen(text);
	memcpy(f.name, text, n);
	f.name[n] = '\0';
	snprintf(f.ref, sizeof f.ref, "%s", at ? at + 1 : "latest");
	rc = read_version(&f, err);
	if (rc == CORE_OK)
		rc = read_files(&f, out, len, err);
	core_buf_free(&f.out);
	for (size_t i = 0; i < f.n_header; i++)
		free(f.header[i]);
	free(f.header);
	return rc;
}

enum core_status dm_dataset_fetch(const struct dm_settings *s, const char *request_id, struct dm_batch *b,
				  struct dm_dataset_texts *out, struct core_error *err)
{
	*out = (struct dm_dataset_texts){{NULL, NULL}};
	enum core_status rc = CORE_OK;
	if (b->ref_dataset)
		rc = fetch_one(s, request_id, "reference", b->ref_dataset, &out->text[0], &b->ref_len, err);
	if (rc == CORE_OK && b->cur_dataset)
		rc = fetch_one(s, request_id, "current", b->cur_dataset, &out->text[1], &b->cur_len, err);
	if (rc != CORE_OK)
		return rc;
	if (b->ref_dataset)
		b->ref_csv = out->text[0];
	if (b->cur_dataset)
		b->cur_csv = out->text[1];
	return CORE_OK;
}

void dm_dataset_texts_free(struct dm_dataset_texts *t)
{
	free(t->text[0]);
	free(t->text[1]);
	*t = (struct dm_dataset_texts){{NULL, NULL}};
}
