/* POST /v1/drift: batch drift of two CSV samples, answered synchronously (no database:
 * nothing is stored). Thin over batch.c, which parses, checks and computes, and
 * dataset.c, which fetches a sample named as a data-registry version; here only the
 * mapping of their outcomes to replies: a bad body or bad CSV is a 400 naming the
 * field, column or line; an unknown dataset or version a 404 naming it; a sample too
 * large (a version over DATASET_MAX_BYTES, or too large to copy) a 413; a data registry
 * that does not answer a 503, as the trainer answers for the same peer. */
#include "dm.h"

/* A failure of dataset.c or batch.c as its reply. */
static void reply_failure(struct http_request *req, enum core_status rc, const struct core_error *err)
{
	switch (rc) {
	case CORE_ENOENT:
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "%s", err->message);
		break;
	case CORE_ELIMIT:
	case CORE_ENOMEM:
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "%s", err->message);
		break;
	case CORE_EIO:
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "%s", err->message);
		break;
	default:
		http_reply_invalid(req, err);
	}
}

void dm_h_drift(struct http_request *req, void *app)
{
	struct core_error err = {{0}};
	struct dm_batch b;
	struct dm_dataset_texts texts = {{NULL, NULL}};
	json_t *body = NULL, *report = NULL;
	const struct http_jspec none[] = {HTTP_JS_END};
	if (http_parse_args_or_reply(req, none, &body) != HTTP_PARSE_OK)
		return;
	enum core_status rc = dm_batch_parse(body, &b, &err);
	if (rc != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	rc = dm_dataset_fetch(dm_app(app)->settings, http_request_id(req), &b, &texts, &err);
	if (rc == CORE_OK)
		rc = dm_batch_report(&b, &report, &err);
	dm_batch_clear(&b);
	dm_dataset_texts_free(&texts);
	if (rc == CORE_OK)
		http_reply_json(req, 200, report);
	else
		reply_failure(req, rc, &err);
}
