/* multipart/form-data request bodies (face: struct http_route.multipart,
 * http_request_parts and http_request_part in http/http.h): what a browser form or
 * `curl -F file=@x.png` sends. server.c hands a multipart route's body here instead of
 * buffering it; libmicrohttpd's post processor (MHD_create_post_processor) finds the
 * boundaries and part headers, and its iterator gives us each part's bytes in pieces,
 * which we collect per part. The handler runs after the closing boundary, with every
 * part whole.
 *
 * Why collect rather than stream to the handler: the parts a service takes (an image
 * to predict on, a few fields) are small and wanted whole, and a part's bytes are never
 * more than the body's, so the route's body_limit (checked by server.c on the raw body)
 * bounds the memory as it does for a buffered body.
 *
 * Telling parts apart. The iterator is called with (key, filename, ..., data, off,
 * size), where off is the offset of data within the current part; the first call of a
 * part has off 0 and may have size 0 (MHD always calls once per part), later calls of
 * the same part never have size 0. So a call with off 0 starts a new part, except one
 * with data that follows a part whose only call so far was the empty first one and
 * has the same name: that is the same part continuing. (The one case this reads wrong
 * is an empty part followed by a part of the same field name: they become one part.)
 *
 * Errors, in the route's shape: no boundary in the Content-Type, a body the post
 * processor rejects, or one that ends before its closing boundary or holds no part →
 * 400 BAD_REQUEST; more than HTTP_MULTIPART_PARTS_MAX parts → 413. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "http_int.h"

struct http_multipart {
	struct MHD_PostProcessor *pp; /* NULL once the body ended */
	struct http_part *parts;      /* names/filenames/types malloc'd; data set at the end */
	struct core_buf *data;        /* the bytes of parts[i] */
	size_t n, cap;
	bool opened_empty; /* the last part's first call had no data, and none came since */
	bool ready;        /* the body ended well: parts[].data is set */
};

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void add_part(struct http_request *req, struct http_multipart *mp, const char *key, const char *filename,
		     const char *content_type)
{
	if (mp->n == mp->cap) {
		mp->cap = mp->cap ? mp->cap * 2 : 4;
		mp->parts = core_xrealloc(mp->parts, mp->cap * sizeof *mp->parts);
		mp->data = core_xrealloc(mp->data, mp->cap * sizeof *mp->data);
	}
	struct http_part *p = &mp->parts[mp->n];
	memset(p, 0, sizeof *p);
	p->name = core_xstrdup(key ? key : "");
	p->filename = filename ? core_xstrdup(filename) : NULL;
	p->content_type = content_type ? core_xstrdup(content_type) : NULL;
	core_buf_init(&mp->data[mp->n], req->body_limit);
	mp->n++;
}

static enum MHD_Result on_part_data(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
				    const char *content_type, const char *transfer_encoding, const char *data,
				    uint64_t off, size_t size)
{
	struct http_request *req = cls;
	struct http_multipart *mp = req->multipart;
	(void)kind;
	(void)transfer_encoding;
	const struct http_part *cur = mp->n ? &mp->parts[mp->n - 1] : NULL;
	bool continues = cur && (off > 0 || (size > 0 && mp->opened_empty && strcmp(cur->name, key ? key : "") == 0 &&
					     same_str(cur->filename, filename)));
	if (!continues) {
		if (mp->n >= HTTP_MULTIPART_PARTS_MAX) {
			http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE,
					 "multipart/form-data body has more than %d parts", HTTP_MULTIPART_PARTS_MAX);
			return MHD_NO;
		}
		add_part(req, mp, key, filename, content_type);
		mp->opened_empty = size == 0;
	} else if (size > 0) {
		mp->opened_empty = false;
	}
	if (size > 0 && core_buf_append(&mp->data[mp->n - 1], data, size) != CORE_OK) {
		/* the parts never hold more than the body, which is under the limit: memory */
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE,
				 "multipart part of %llu bytes could not be stored", (unsigned long long)(off + size));
		return MHD_NO;
	}
	return MHD_YES;
}

void http_multipart_begin(struct http_request *req)
{
	struct http_multipart *mp = core_xcalloc(1, sizeof *mp);
	req->multipart = mp;
	mp->pp = MHD_create_post_processor(req->conn, HTTP_MULTIPART_BUFFER, on_part_data, req);
	if (!mp->pp)
		http_reply_error(req, HTTP_EC_BAD_REQUEST, "multipart/form-data body without a usable boundary");
}

void http_multipart_feed(struct http_request *req, const char *data, size_t n)
{
	struct http_multipart *mp = req->multipart;
	if (!mp || !mp->pp)
		return;
	if (MHD_post_process(mp->pp, data, n) != MHD_YES && !http_reply_made(req))
		http_reply_error(req, HTTP_EC_BAD_REQUEST, "Malformed multipart/form-data body");
}

void http_multipart_end(struct http_request *req)
{
	struct http_multipart *mp = req->multipart;
	if (!mp)
		return; /* a request without a body: no parts */
	enum MHD_Result whole = mp->pp ? MHD_destroy_post_processor(mp->pp) : MHD_NO;
	mp->pp = NULL;
	if (whole != MHD_YES) {
		http_reply_error(req, HTTP_EC_BAD_REQUEST,
				 "Malformed multipart/form-data body: it ends before its closing boundary");
		return;
	}
	if (mp->n == 0) {
		http_reply_error(req, HTTP_EC_BAD_REQUEST, "Malformed multipart/form-data body: no part in it");
		return;
	}
	for (size_t i = 0; i < mp->n; i++) {
		mp->parts[i].data = mp->data[i].data ? mp->data[i].data : "";
		mp->parts[i].len = mp->data[i].len;
	}
	mp->ready = true;
}

void http_multipart_free(struct http_multipart *mp)
{
	if (!mp)
		return;
	if (mp->pp)
		MHD_destroy_post_processor(mp->pp);
	for (size_t i = 0; i < mp->n; i++) {
		free((char *)mp->parts[i].name);
		free((char *)mp->parts[i].filename);
		free((char *)mp->parts[i].content_type);
		core_buf_free(&mp->data[i]);
	}
	free(mp->parts);
	free(mp->data);
	free(mp);
}

const struct http_part *http_request_parts(const struct http_request *req, size_t *n)
{
	const struct http_multipart *mp = req->multipart;
	bool ready = mp && mp->ready;
	if (n)
		*n = ready ? mp->n : 0;
	return ready ? mp->parts : NULL;
}

const struct http_part *http_request_part(const struct http_request *req, const char *name)
{
	size_t n;
	const struct http_part *parts = http_request_parts(req, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(parts[i].name, name) == 0)
			return &parts[i];
	return NULL;
}
