/* Shutdown signals. A daemon calls core_shutdown_init() first thing in main, before
 * any thread exists: SIGTERM and SIGINT are then blocked in every thread (threads
 * inherit the mask) and delivered only to core_shutdown_wait, so no handler runs in a
 * random thread and no flag is global. SIGPIPE is ignored (writes to closed sockets
 * return EPIPE instead of killing the process). */
#ifndef CORE_SHUTDOWN_H
#define CORE_SHUTDOWN_H
#include "core/status.h"

enum core_status core_shutdown_init(struct core_error *err);

/* Waits up to timeout_ms (negative: forever) for SIGTERM or SIGINT. Returns the
 * signal number, or 0 when the time ran out. */
int core_shutdown_wait(int timeout_ms);
#endif
