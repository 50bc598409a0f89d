/* Shutdown signals (face: core/shutdown.h). Blocking SIGTERM/SIGINT before threads
 * start and collecting them with sigtimedwait keeps signal handling synchronous.
 *
 * Not every thread inherits that mask: a library may start threads from its
 * constructor before main runs (OpenBLAS starts its pool that way), and with the
 * default disposition a SIGTERM the kernel hands to such a thread ends the process on
 * the spot. So the signals also get a handler, which does nothing but pass the signal
 * on to the thread that waits for it; there it stays pending until
 * core_shutdown_wait collects it. */
#include <errno.h>
#include <pthread.h>
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

/* Written once in core_shutdown_init, before the handler that reads it is installed. */
static pthread_t shutdown_waiter;

static void shutdown_forward(int sig)
{
	int saved = errno;
	pthread_kill(shutdown_waiter, sig);
	errno = saved;
}

enum core_status core_shutdown_init(struct core_error *err)
{
	sigset_t set;
	shutdown_set(&set);
	int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (rc != 0)
		return core_fail(err, CORE_EIO, "pthread_sigmask: %s", strerror(rc));
	shutdown_waiter = pthread_self();
	struct sigaction fwd;
	memset(&fwd, 0, sizeof fwd);
	fwd.sa_handler = shutdown_forward;
	fwd.sa_flags = SA_RESTART;
	sigfillset(&fwd.sa_mask);
	if (sigaction(SIGTERM, &fwd, NULL) != 0 || sigaction(SIGINT, &fwd, NULL) != 0)
		return core_fail(err, CORE_EIO, "sigaction(SIGTERM): %s", strerror(errno));
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
