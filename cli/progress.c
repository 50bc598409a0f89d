/* Progress of a long phase (face: cli.h). On a terminal: one line redrawn at most ten
 * times a second ("uploading  [#####.....]  1200/70000 files  12.3 MB  3.1 s"). Else
 * (a log, a pipe, CI): one plain line at each tenth of the work once the phase has
 * run a second, and a last line at its end, so logs stay short.
 * Workers count in from many threads; drawing happens under the same lock. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_start(struct cli_progress *p, const char *what, uint64_t total_n, uint64_t total_bytes, bool quiet)
{
	memset(p, 0, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	p->what = what;
	p->total_n = total_n;
	p->total_bytes = total_bytes;
	p->tty = isatty(STDERR_FILENO) == 1;
	p->quiet = quiet;
	p->start = cli_now();
	p->last_tenth = 0;
}

/* Writes the current state; the caller holds the lock. */
static void draw(struct cli_progress *p, bool final)
{
	char done[32], total[32];
	double secs = cli_now() - p->start;
	cli_fmt_bytes(p->bytes, done, sizeof done);
	cli_fmt_bytes(p->total_bytes, total, sizeof total);
	if (p->tty) {
		char bar[31];
		unsigned fill = p->total_n ? (unsigned)(30 * p->n / p->total_n) : 30;
		for (unsigned i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = '\0';
		fprintf(stderr, "\r%-10s [%s] %llu/%llu files  %s/%s  %.1f s\033[K%s", p->what, bar,
			(unsigned long long)p->n, (unsigned long long)p->total_n, done, total, secs, final ? "\n" : "");
	} else {
		fprintf(stderr, "%s: %llu/%llu files, %s/%s, %.1f s\n", p->what, (unsigned long long)p->n,
			(unsigned long long)p->total_n, done, total, secs);
	}
	fflush(stderr);
}

void cli_progress_add(struct cli_progress *p, uint64_t n, uint64_t bytes)
{
	pthread_mutex_lock(&p->mu);
	p->n += n;
	p->bytes += bytes;
	if (!p->quiet) {
		if (p->tty) {
			double now = cli_now();
			if (now - p->last_draw >= 0.1) {
				p->last_draw = now;
				draw(p, false);
			}
		} else if (p->total_n) {
			/* a phase shorter than a second gets its final line alone */
			int tenth = (int)(10 * p->n / p->total_n);
			if (tenth > p->last_tenth && tenth < 10 && cli_now() - p->start >= 1.0) {
				p->last_tenth = tenth;
				draw(p, false);
			}
		}
	}
	pthread_mutex_unlock(&p->mu);
}

double cli_progress_end(struct cli_progress *p)
{
	pthread_mutex_lock(&p->mu);
	if (!p->quiet)
		draw(p, true);
	double secs = cli_now() - p->start;
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_destroy(&p->mu);
	return secs;
}
