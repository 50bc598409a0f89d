/* A model version's package fetched through the registry and the tracker (pkgfetch.h).
 * Moved here from the inference API's loader so that the trainer's evaluation reads
 * packages the same way serving does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/file.h"
#include "ml/package.h"
#include "mlflow/source.h"
#include "pkgfetch/pkgfetch.h"

#define REGISTRY_API "/api/2.0/mlflow/"
#define ARTIFACTS    "/api/2.0/mlflow-artifacts/artifacts/"

char *pkgfetch_dir_name(const char *name)
{
	char *e = mlflow_url_escape(name, false);
	if (e[0] == '.') { /* "." and ".." stay names */
		char *d = core_xasprintf("%%2E%s", e + 1);
		free(e);
		e = d;
	}
	return e;
}

/* The artifact path the version's source names (malloc'd), asking the tracker for a
 * run's artifact_uri. CORE_EINVAL for a source the tracker does not serve. */
static enum core_status source_path(const struct httpc_peer *tracker, const char *source, const char *rid, char **out,
				    struct core_error *err)
{
	struct mlflow_source src;
	enum core_status rc = CORE_OK;
	*out = NULL;
	switch (mlflow_source_parse(source, &src)) {
	case MLFLOW_SOURCE_ARTIFACTS:
		*out = core_xstrdup(src.path);
		break;
	case MLFLOW_SOURCE_RUN: {
		char *q = mlflow_url_escape(src.run_id, false);
		char *path = core_xasprintf(REGISTRY_API "runs/get?run_id=%s", q);
		json_t *doc = NULL;
		long status = 0;
		rc = httpc_peer_json(tracker, "GET", path, NULL, rid, &status, &doc, err);
		const char *uri = json_string_value(
			json_object_get(json_object_get(json_object_get(doc, "run"), "info"), "artifact_uri"));
		if (rc == CORE_OK && status != 200)
			rc = core_fail(err, CORE_EINVAL, "source %s: the tracker answered %ld for its run", source,
				       status);
		else if (rc == CORE_OK && !uri)
			rc = core_fail(err, CORE_EINVAL, "source %s: the run has no artifact_uri", source);
		else if (rc == CORE_OK && !(*out = mlflow_run_artifact_path(uri, src.path)))
			rc = core_fail(err, CORE_EINVAL, "source %s: run artifacts at %s are not served by the tracker",
				       source, uri);
		json_decref(doc);
		free(path);
		free(q);
		break;
	}
	default:
		rc = core_fail(err, CORE_EINVAL, "source %s is not an mlflow-artifacts: or runs:/ URI", source);
	}
	mlflow_source_free(&src);
	return rc;
}

/* Downloads <path>/<file> into <dir>/<file>. A missing file is CORE_EINVAL (a refused
 * package); no answer is CORE_EIO. */
static enum core_status download(const struct httpc_peer *tracker, const char *path, const char *file, const char *dir,
				 const char *rid, struct core_error *err)
{
	struct httpc_response resp = {0};
	char *q = mlflow_url_escape(path, true);
	char *url = core_xasprintf(ARTIFACTS "%s%s%s", q, *q ? "/" : "", file);
	char *dest = core_xasprintf("%s/%s", dir, file);
	enum core_status rc = httpc_peer_call(tracker, "GET", url, NULL, NULL, 0, rid, &resp, err);
	if (rc == CORE_ELIMIT)
		rc = core_fail(err, CORE_EINVAL, "%s/%s is larger than %zu bytes", path, file, tracker->max_response);
	else if (rc == CORE_OK && resp.status != 200)
		rc = core_fail(err, CORE_EINVAL, "%s/%s: the tracker answered %ld (no Lathe model package there?)",
			       path, file, resp.status);
	else if (rc == CORE_OK)
		rc = core_write_file_atomic(dest, resp.body, resp.body_len, err);
	httpc_response_free(&resp);
	free(dest);
	free(url);
	free(q);
	return rc;
}

enum core_status pkgfetch_version(const struct httpc_peer *registry, const struct httpc_peer *tracker, const char *name,
				  const char *version, const char *dir, const char *rid, struct core_error *err)
{
	char *qn = mlflow_url_escape(name, false), *qv = mlflow_url_escape(version, false);
	char *path = core_xasprintf(REGISTRY_API "model-versions/get?name=%s&version=%s", qn, qv);
	char *apath = NULL;
	json_t *doc = NULL;
	long status = 0;
	enum core_status rc = httpc_peer_json(registry, "GET", path, NULL, rid, &status, &doc, err);
	const char *source = json_string_value(json_object_get(json_object_get(doc, "model_version"), "source"));
	if (rc == CORE_OK && status != 200)
		rc = core_fail(err, status == 404 ? CORE_ENOENT : CORE_EIO, "the registry answered %ld for version %s",
			       status, version);
	else if (rc == CORE_OK && !source)
		rc = core_fail(err, CORE_EINVAL, "version %s has no source", version);
	if (rc == CORE_OK)
		rc = source_path(tracker, source, rid, &apath, err);
	if (rc == CORE_OK)
		rc = core_mkdir_p(dir, 0755, err);
	if (rc == CORE_OK)
		rc = download(tracker, apath, ML_PACKAGE_MODEL_JSON, dir, rid, err);
	if (rc == CORE_OK)
		rc = download(tracker, apath, ML_PACKAGE_WEIGHTS, dir, rid, err);
	json_decref(doc);
	free(apath);
	free(path);
	free(qv);
	free(qn);
	return rc;
}

void pkgfetch_forget(const char *dir)
{
	char *f = core_xasprintf("%s/%s", dir, ML_PACKAGE_MODEL_JSON);
	unlink(f);
	free(f);
	f = core_xasprintf("%s/%s", dir, ML_PACKAGE_WEIGHTS);
	unlink(f);
	free(f);
	rmdir(dir);
	char *parent = core_xstrdup(dir);
	char *slash = strrchr(parent, '/');
	if (slash) {
		*slash = '\0';
		rmdir(parent); /* ENOTEMPTY while another version loads: left */
	}
	free(parent);
}
