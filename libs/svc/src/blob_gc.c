/* Blob garbage collection for a service whose references live in its database (face:
 * svc/svc.h): the part the tracker's and the data registry's admin gc shared word for
 * word. libs/blob's blob_gc walks the store; this file answers its reference
 * questions one batch at a time, each batch in its own short transaction on the
 * service's pool, and cancels the walk when the daemon is stopping. What a service
 * references and how it answers the route stay in the service. */
#include <string.h>
#include "blob/blob.h"
#include "svc_int.h"

struct refs_call {
	struct svc *svc;
	const struct svc_gc *g;
	int db_rc; /* the last failed transaction's status, 0 when none failed */
};

struct refs_tx {
	svc_gc_refs_fn refs;
	const char *const *keys;
	size_t n;
	bool *referenced;
	struct core_error err;
};

static int refs_tx_fn(struct db_conn *c, void *cls)
{
	struct refs_tx *t = cls;
	memset(t->referenced, 0, t->n * sizeof *t->referenced); /* a retry starts over */
	int rc = t->refs(c, t->keys, t->n, t->referenced, &t->err);
	return rc < 0 ? rc : 0;
}

static enum core_status refs_fn(void *cls, const char *const *keys, size_t n, bool *referenced, struct core_error *err)
{
	struct refs_call *call = cls;
	struct refs_tx t = {.refs = call->g->refs, .keys = keys, .n = n, .referenced = referenced};
	int rc = db_run_tx(svc_db(call->svc), call->g->tx_name, DB_READ_COMMITTED, refs_tx_fn, &t, err);
	if (rc < 0) {
		call->db_rc = rc;
		return CORE_EIO;
	}
	return CORE_OK;
}

static bool stopping(void *cls)
{
	return svc_stopping(cls);
}

enum core_status svc_blob_gc(struct svc *svc, struct blob_store *store, const struct svc_gc *g,
			     struct blob_gc_stats *st, int *db_rc, struct core_error *err)
{
	struct refs_call call = {.svc = svc, .g = g};
	const struct blob_gc_options o = {
		.refs = refs_fn,
		.refs_cls = &call,
		.grace_s = g->grace_s,
		.tmp_age_s = g->tmp_age_s,
		.dry_run = g->dry_run,
		.cancelled = stopping,
		.cancelled_cls = svc,
	};
	enum core_status rc = blob_gc(store, &o, st, err);
	*db_rc = call.db_rc;
	return rc;
}
