/* core: what every Lathe library and daemon stands on. This header gathers the faces:
 *   status.h   status codes and error messages
 *   alloc.h    allocation policy (x* abort on failure: control-plane sizes only)
 *   log.h      JSON-lines logging to stderr
 *   settings.h settings from environment variables, declared as a table
 *   buf.h      bounded growable buffers
 *   fmt.h      doubles in their shortest exact text
 *   id.h       random ids (uuid4 as 32 hex characters)
 *   time.h     wall-clock and monotonic time
 *   sha256.h   SHA-256 through OpenSSL's libcrypto
 *   file.h     mkdir -p, atomic write, bounded read
 *   shutdown.h SIGTERM/SIGINT handling
 *   csv.h      a streaming RFC 4180 reader over libcsv (link -lcsv)
 *   embed.h    files embedded at build time (migrations)
 *   version.h  the version and git commit of the build */
#ifndef CORE_CORE_H
#define CORE_CORE_H
#include "core/status.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/settings.h"
#include "core/buf.h"
#include "core/fmt.h"
#include "core/id.h"
#include "core/time.h"
#include "core/sha256.h"
#include "core/file.h"
#include "core/shutdown.h"
#include "core/csv.h"
#include "core/embed.h"
#include "core/version.h"
#endif
