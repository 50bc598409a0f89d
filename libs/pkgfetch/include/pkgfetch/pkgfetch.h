/* pkgfetch: a registered model version's package (model.json + weights.safetensors,
 * ml/package.h) brought from the tracker's artifact API into a local directory, for the
 * services that read packages (the inference API's loader, the trainer's champion /
 * challenger evaluation). The version's source is asked of the model registry
 * (model-versions/get) and resolved to a tracker artifact path (mlflow/source.h's rules:
 * a runs:/ source asks the tracker for the run's artifact_uri); each file is written
 * atomically. Blocking HTTP: never inside a transaction. */
#ifndef PKGFETCH_PKGFETCH_H
#define PKGFETCH_PKGFETCH_H
#include "core/status.h"
#include "http/client.h"

/* Downloads version of model name into dir (created with its parents). registry and
 * tracker: the peers (the tracker's max_response bounds a file). CORE_OK; CORE_ENOENT
 * when the registry does not know the version; CORE_EIO when a peer did not answer or
 * the registry answered another error; CORE_EINVAL for a package that cannot be
 * fetched (no source, a source the tracker does not serve, a file missing or too
 * large). rid is sent as X-Request-Id (may be NULL). */
enum core_status pkgfetch_version(const struct httpc_peer *registry, const struct httpc_peer *tracker, const char *name,
				  const char *version, const char *dir, const char *rid, struct core_error *err);

/* Removes the package files from dir, dir itself, and its parent when empty. */
void pkgfetch_forget(const char *dir);

/* name as one safe directory name ([A-Za-z0-9_-.~] kept, the rest %XX, a leading '.'
 * escaped), malloc'd. */
char *pkgfetch_dir_name(const char *name);
#endif
