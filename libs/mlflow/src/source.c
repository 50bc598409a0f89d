/* A model version's source as the tracker's artifact API sees it (mlflow/source.h):
 * the parsing both the registry's servability check and the inference API's loader
 * need, kept in one place so the two never disagree on what a source names. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "mlflow/source.h"

const char *mlflow_artifacts_path(const char *uri)
{
	size_t n = strlen(MLFLOW_ARTIFACTS_SCHEME);
	if (!uri || strncmp(uri, MLFLOW_ARTIFACTS_SCHEME, n) != 0)
		return NULL;
	const char *p = uri + n;
	if (strncmp(p, "//", 2) == 0) { /* mlflow-artifacts://host:port/path */
		p = strchr(p + 2, '/');
		if (!p)
			return "";
	}
	while (*p == '/')
		p++;
	return p;
}

enum mlflow_source_kind mlflow_source_parse(const char *source, struct mlflow_source *out)
{
	*out = (struct mlflow_source){0};
	const char *path = mlflow_artifacts_path(source);
	if (path) {
		out->kind = MLFLOW_SOURCE_ARTIFACTS;
		out->path = core_xstrdup(path);
	} else if (source && strncmp(source, MLFLOW_RUNS_SCHEME, strlen(MLFLOW_RUNS_SCHEME)) == 0) {
		const char *p = source + strlen(MLFLOW_RUNS_SCHEME);
		while (*p == '/')
			p++;
		const char *slash = strchr(p, '/');
		out->kind = MLFLOW_SOURCE_RUN;
		out->run_id = slash ? core_xstrndup(p, (size_t)(slash - p)) : core_xstrdup(p);
		out->path = core_xstrdup(slash ? slash + 1 : "");
	}
	return out->kind;
}

void mlflow_source_free(struct mlflow_source *s)
{
	if (!s)
		return;
	free(s->run_id);
	free(s->path);
	*s = (struct mlflow_source){0};
}

char *mlflow_run_artifact_path(const char *artifact_uri, const char *sub)
{
	const char *root = mlflow_artifacts_path(artifact_uri);
	if (!root)
		return NULL;
	return core_xasprintf("%s%s%s", root, *root && *sub ? "/" : "", sub);
}

char *mlflow_url_escape(const char *s, bool keep_slash)
{
	struct core_buf b;
	core_buf_init(&b, (size_t)1 << 20);
	core_buf_append_str(&b, "");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/'))
			core_buf_append(&b, p, 1);
		else
			core_buf_printf(&b, "%%%02X", *p);
	}
	return core_buf_steal(&b, NULL);
}
