/* The one way a handler runs a transaction and answers for it (face: svc/svc.h).
 *
 * A transaction body that finds the client's request wrong part-way (an unknown id, a
 * run that is not active) records why in a struct svc_fail and returns DB_ROLLBACK;
 * the handler then answers that client error. Any other failure is the database's, and
 * svc_reply_db_error answers 503 or 500. This is where HTTP and the database meet, so
 * that db knows nothing of HTTP and http nothing of the database. */
#include <stdarg.h>
#include <stdio.h>
#include "svc_int.h"

int svc_fail(struct svc_fail *f, enum http_error_code code, const char *fmt, ...)
{
	va_list ap;
	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof f->message, fmt, ap);
	va_end(ap);
	return DB_ROLLBACK;
}

int svc_reply_tx(struct http_request *req, int rc, const struct svc_fail *f, const struct core_error *err)
{
	if (f && f->code != HTTP_EC_NONE)
		return http_reply_error(req, f->code, "%s", f->message);
	return svc_reply_db_error(req, rc < 0 ? rc : DB_HARD_ERROR, err);
}

int svc_run_tx_or_reply(struct http_request *req, struct svc *svc, const char *name, enum db_isolation iso, db_tx_fn fn,
			void *cls, struct svc_fail *f)
{
	struct core_error err = {0};
	f->code = HTTP_EC_NONE;
	f->message[0] = '\0';
	int rc = db_run_tx(svc_db(svc), name, iso, fn, cls, &err);
	if (rc < 0)
		svc_reply_tx(req, rc, f, &err);
	return rc;
}
