/* mlflow/source.h: where a model version's source points, as an MLflow client reads
 * it, for the services that fetch packages through the tracker's artifact API (the
 * registry's servability check, the inference API's loader):
 *   mlflow-artifacts:/<p>, mlflow-artifacts://host:port/<p>   the artifact path <p>
 *   runs:/<run_id>/<p>                                        <p> inside the run's
 *       artifacts: the run's artifact_uri (runs/get) must be mlflow-artifacts:, and
 *       the path is <its path>/<p>
 * Pure: nothing here does I/O; the caller asks the tracker for the run. */
#ifndef MLFLOW_SOURCE_H
#define MLFLOW_SOURCE_H
#include <stdbool.h>

#define MLFLOW_ARTIFACTS_SCHEME "mlflow-artifacts:"
#define MLFLOW_RUNS_SCHEME      "runs:/"

enum mlflow_source_kind {
	MLFLOW_SOURCE_OTHER = 0, /* neither: the tracker does not serve it */
	MLFLOW_SOURCE_ARTIFACTS, /* path is the artifact path */
	MLFLOW_SOURCE_RUN,       /* run_id, and path inside the run's artifacts ("" for all) */
};

struct mlflow_source {
	enum mlflow_source_kind kind;
	char *run_id; /* MLFLOW_SOURCE_RUN; malloc'd */
	char *path;   /* malloc'd ("" possible); NULL for MLFLOW_SOURCE_OTHER */
};

/* Parses source into *out (free with mlflow_source_free) and returns its kind. */
enum mlflow_source_kind mlflow_source_parse(const char *source, struct mlflow_source *out);
void mlflow_source_free(struct mlflow_source *s);

/* The artifact path of an mlflow-artifacts: URI (borrowed from uri, leading slashes
 * skipped, "" for the root), or NULL when uri is not one. */
const char *mlflow_artifacts_path(const char *uri);

/* The artifact path of sub inside a run whose artifact_uri is given (malloc'd), or
 * NULL when that URI is not an mlflow-artifacts: one. */
char *mlflow_run_artifact_path(const char *artifact_uri, const char *sub);

/* s percent-encoded for a URL's query value or path ([A-Za-z0-9-_.~/] kept; slash
 * kept when keep_slash), malloc'd. */
char *mlflow_url_escape(const char *s, bool keep_slash);
#endif
