/* Shutdown signals. A daemon calls core_shutdown_init() first thing in main, before
 * it starts any thread, and core_shutdown_wait() from that same thread: SIGTERM and
 * SIGINT are blocked in every thread it starts (threads inherit the mask) and
 * collected only by core_shutdown_wait. A thread some library started before main
 * (with the signals unblocked) that receives one passes it on to the waiting thread
 * rather than dying of it. SIGPIPE is ignored (writes to closed sockets return EPIPE
 * instead of killing the process). */
#ifndef CORE_SHUTDOWN_H
#define CORE_SHUTDOWN_H
#include "core/status.h"

enum core_status core_shutdown_init(struct core_error *err);

/* Waits up to timeout_ms (negative: forever) for SIGTERM or SIGINT. Returns the
 * signal number, or 0 when the time ran out. */
int core_shutdown_wait(int timeout_ms);
#endif
