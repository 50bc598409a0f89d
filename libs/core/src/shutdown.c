/* Shutdown signals (face: core/shutdown.h). Blocking SIGTERM/SIGINT before threads
 * start and collecting them with sigtimedwait keeps signal handling synchronous: no
 * async handler, no global flag. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include "core/shutdown.h"

static void shutdown_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

enum core_status core_shutdown_init(struct core_error *err)
{
	sigset_t set;
	shutdown_set(&set);
	int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (rc != 0)
		return core_fail(err, CORE_EIO, "pthread_sigmask: %s", strerror(rc));
	struct sigaction ign;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &ign, NULL) != 0)
		return core_fail(err, CORE_EIO, "sigaction(SIGPIPE): %s", strerror(errno));
	return CORE_OK;
}

int core_shutdown_wait(int timeout_ms)
{
	sigset_t set;
	shutdown_set(&set);
	for (;;) {
		int sig;
		if (timeout_ms < 0) {
			sig = sigwaitinfo(&set, NULL);
		} else {
			struct timespec ts = {.tv_sec = timeout_ms / 1000,
					      .tv_nsec = (long)(timeout_ms % 1000) * 1000000};
			sig = sigtimedwait(&set, NULL, &ts);
		}
		if (sig > 0)
			return sig;
		if (errno == EAGAIN)
			return 0;
		/* EINTR: another signal interrupted the wait; wait again */
	}
}
