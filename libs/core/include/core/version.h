/* The version and git commit this binary was built from, fixed at build time by
 * tools/gen-version.sh (from `git describe`, or LATHE_VERSION / LATHE_COMMIT where
 * there is no checkout; "unknown" when neither answers). Only characters
 * [A-Za-z0-9._+-], so they go into logs, JSON and metric labels as they are. */
#ifndef CORE_VERSION_H
#define CORE_VERSION_H
extern const char core_version[]; /* e.g. "v0.3.1-4-g1a2b3c4-dirty", or a short commit */
extern const char core_commit[];  /* the full commit id, "-dirty" when the tree had changes */
#endif
