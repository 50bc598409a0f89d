/* The process metrics every Prometheus client library exposes (the names and units of
 * the Go and Python clients, so stock dashboards and alerts work unchanged):
 *
 *   process_cpu_seconds_total      counter  user + system CPU time
 *   process_resident_memory_bytes  gauge    resident set size
 *   process_open_fds               gauge    open file descriptors
 *   process_start_time_seconds     gauge    start time, seconds since the Unix epoch
 *
 * They are read from /proc/self when the registry is rendered (render.c calls
 * metrics_int_process_refresh before writing), so a scrape never shows a value older
 * than itself and nothing runs between scrapes. A /proc file that cannot be read
 * leaves the previous value: metrics never fail a scrape. Linux only, like Lathe. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics_int.h"

struct metrics_int_process {
	struct metrics_family *cpu, *rss, *fds, *start;
	double page_size, ticks_per_second;
};

/* Sets a family's only series to v, whatever its type: the CPU counter is a total the
 * kernel keeps, copied rather than added to. */
static void set_solo(struct metrics_family *f, double v)
{
	pthread_mutex_lock(&f->lock);
	f->solo->value = v;
	pthread_mutex_unlock(&f->lock);
}

/* Seconds since the epoch at which the machine booted (/proc/stat btime), or -1. */
static double boot_time(void)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[256];
	double btime = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "btime ", 6) == 0) {
			btime = strtod(line + 6, NULL);
			break;
		}
	fclose(f);
	return btime;
}

static void refresh_stat(struct metrics_int_process *p)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;

	if (!f)
		return;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name (field 2) is in parentheses and may hold spaces or ')': the
	 * fields after it start at the last ')'. */
	char *s = strrchr(buf, ')');
	if (!s)
		return;
	unsigned long utime, stime;
	unsigned long long starttime;
	long rss;
	/* fields 3 .. 24: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice num_threads itrealvalue
	 * starttime vsize rss */
	if (sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu %*u %ld",
		   &utime, &stime, &starttime, &rss) != 4)
		return;
	set_solo(p->cpu, ((double)utime + (double)stime) / p->ticks_per_second);
	set_solo(p->rss, (double)rss * p->page_size);
	double btime = boot_time();
	if (btime >= 0)
		set_solo(p->start, btime + (double)starttime / p->ticks_per_second);
}

static void refresh_fds(struct metrics_int_process *p)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	set_solo(p->fds, (double)(n - 1)); /* not counting the directory's own descriptor */
}

void metrics_int_process_refresh(struct metrics_int_process *p)
{
	if (!p)
		return;
	refresh_stat(p);
	refresh_fds(p);
}

int metrics_process_register(struct metrics_registry *reg)
{
	struct metrics_int_process *p;

	if (!reg)
		return -1;
	pthread_mutex_lock(&reg->lock);
	p = reg->process;
	pthread_mutex_unlock(&reg->lock);
	if (p)
		return -1;
	p = metrics_int_xcalloc(1, sizeof *p);
	p->page_size = (double)sysconf(_SC_PAGESIZE);
	p->ticks_per_second = (double)sysconf(_SC_CLK_TCK);
	if (p->ticks_per_second <= 0)
		p->ticks_per_second = 100;
	p->cpu = metrics_counter_new(reg, "process_cpu_seconds_total",
				     "Total user and system CPU time spent in seconds.", NULL);
	p->rss = metrics_gauge_new(reg, "process_resident_memory_bytes", "Resident memory size in bytes.", NULL);
	p->fds = metrics_gauge_new(reg, "process_open_fds", "Number of open file descriptors.", NULL);
	p->start = metrics_gauge_new(reg, "process_start_time_seconds",
				     "Start time of the process since unix epoch in seconds.", NULL);
	if (!p->cpu || !p->rss || !p->fds || !p->start) {
		free(p); /* families made so far stay (at 0); their names are taken */
		return -1;
	}
	pthread_mutex_lock(&reg->lock);
	reg->process = p;
	pthread_mutex_unlock(&reg->lock);
	return 0;
}
