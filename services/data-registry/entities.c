/* The data registry's entities as JSON: Dataset and Version objects from rows
 * (DR_DATASET_COLS, DR_VERSION_COLS in dr.h), the version row the other parts use
 * without JSON, the resolution of a version reference (number, id, id prefix, latest)
 * and the small helpers that turn a failed transaction into the error reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dr.h"

int dr_fail_no_dataset(struct svc_fail *f, const char *name)
{
	return svc_fail(f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Dataset '%s' not found", name);
}

void dr_reply_entity(struct http_request *req, unsigned status, const char *key, int rc, json_t *entity,
		     const struct svc_fail *f, const struct core_error *err)
{
	if (rc < 0 || !entity) {
		json_decref(entity);
		svc_reply_tx(req, rc < 0 ? rc : DB_HARD_ERROR, f, err);
	} else {
		http_reply_json(req, status, json_pack("{s:o}", key, entity));
	}
}

static json_t *col_int(const PGresult *res, int row, int col)
{
	int64_t v = 0;
	if (db_get_int64(res, row, col, &v, NULL) != CORE_OK)
		return json_null();
	return json_integer(v);
}

static json_t *col_str(const PGresult *res, int row, int col)
{
	const char *s = db_get_text(res, row, col);
	return s ? json_string(s) : json_null();
}

json_t *dr_dataset_json(const PGresult *res, int row)
{
	if (!res || row >= PQntuples(res) || PQnfields(res) < 8)
		return NULL;
	json_t *tags = json_loads(db_get_text(res, row, 3) ? db_get_text(res, row, 3) : "{}", 0, NULL);
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name", col_str(res, row, 1), "description",
			 col_str(res, row, 2), "tags", tags ? tags : json_object(), "created_at", col_int(res, row, 4),
			 "updated_at", col_int(res, row, 5), "version_count", col_int(res, row, 6), "latest_version",
			 col_int(res, row, 7));
}

json_t *dr_version_json(const PGresult *res, int row)
{
	if (!res || row >= PQntuples(res) || PQnfields(res) < 13)
		return NULL;
	json_t *v = json_object();
	json_object_set_new(v, "dataset", col_str(res, row, 0));
	json_object_set_new(v, "number", col_int(res, row, 1));
	json_object_set_new(v, "id", col_str(res, row, 2));
	json_object_set_new(v, "parent", col_str(res, row, 3));
	json_object_set_new(v, "message", col_str(res, row, 4));
	json_object_set_new(v, "format", col_str(res, row, 5));
	json_object_set_new(v, "status", col_str(res, row, 6));
	json_object_set_new(v, "failure", col_str(res, row, 7));
	json_object_set_new(v, "file_count", col_int(res, row, 8));
	json_object_set_new(v, "bytes", col_int(res, row, 9));
	json_object_set_new(v, "label_column", col_str(res, row, 10));
	json_object_set_new(v, "created_at", col_int(res, row, 11));
	json_object_set_new(v, "ready_at", col_int(res, row, 12));
	return v;
}

void dr_version_row_fill(const PGresult *res, int row, struct dr_version_row *out)
{
	memset(out, 0, sizeof *out);
	db_get_int64(res, row, 13, &out->pk, NULL);
	db_get_int64(res, row, 15, &out->dataset_id, NULL);
	db_get_int64(res, row, 1, &out->number, NULL);
	const char *s;
	snprintf(out->id, sizeof out->id, "%s", (s = db_get_text(res, row, 2)) ? s : "");
	const char *fmt = db_get_text(res, row, 5);
	if (!fmt || dr_format_parse(fmt, &out->format, NULL) != CORE_OK)
		out->format = 0;
	if ((s = db_get_text(res, row, 10))) {
		out->has_label_column = true;
		snprintf(out->label_column, sizeof out->label_column, "%s", s);
	}
	snprintf(out->status, sizeof out->status, "%s", (s = db_get_text(res, row, 6)) ? s : "");
	snprintf(out->profile_sha, sizeof out->profile_sha, "%s", (s = db_get_text(res, row, 14)) ? s : "");
}

int dr_resolve_version(struct db_conn *c, const char *dataset, const char *ref, struct dr_version_row *out,
		       struct svc_fail *f, struct core_error *err)
{
	return dr_resolve_version_res(c, dataset, ref, out, NULL, f, err);
}

int dr_resolve_version_res(struct db_conn *c, const char *dataset, const char *ref, struct dr_version_row *out,
			   PGresult **res_out, struct svc_fail *f, struct core_error *err)
{
	struct dr_ref r;
	struct core_error perr = {{0}};
	if (res_out)
		*res_out = NULL;
	if (dr_ref_parse(ref, &r, &perr) != CORE_OK)
		return svc_fail(f, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", perr.message);
	int64_t ds = 0;
	int rc = dr_q_dataset_id(c, dataset, &ds, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return dr_fail_no_dataset(f, dataset);
	PGresult *res = NULL;
	switch (r.kind) {
	case DR_REF_NUMBER:
		rc = dr_q_version_by_number(c, ds, r.number, &res, err);
		break;
	case DR_REF_ID:
		rc = dr_q_version_by_id(c, ds, r.hex, &res, err);
		break;
	case DR_REF_PREFIX:
		rc = dr_q_version_by_prefix(c, ds, r.hex, &res, err);
		if (rc == 0 && r.number > 0) { /* all digits: maybe a (large) number after all */
			PQclear(res);
			res = NULL;
			rc = dr_q_version_by_number(c, ds, r.number, &res, err);
		}
		break;
	case DR_REF_LATEST:
		rc = dr_q_version_latest(c, ds, &res, err);
		break;
	}
	if (rc < 0)
		return rc;
	if (rc > 1) {
		PQclear(res);
		return svc_fail(f, HTTP_EC_INVALID_PARAMETER_VALUE,
				"Version reference '%s' of dataset '%s' is ambiguous: give more digits", ref, dataset);
	}
	if (rc == 0) {
		PQclear(res);
		if (r.kind == DR_REF_LATEST)
			return svc_fail(f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Dataset '%s' has no READY version",
					dataset);
		return svc_fail(f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Version '%s' of dataset '%s' not found", ref,
				dataset);
	}
	dr_version_row_fill(res, 0, out);
	if (res_out)
		*res_out = res;
	else
		PQclear(res);
	return 1;
}
