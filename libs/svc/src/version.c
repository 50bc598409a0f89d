/* What a daemon says about the build it runs and the process it is: --version, the
 * lathe_build_info gauge and the standard process_* metrics on /metrics, and the
 * version and commit on the first log line. The values come from core/version.h,
 * fixed at build time, so every replica's /metrics tells which build it runs. */
#include <stdio.h>
#include "svc_int.h"

void svc_int_print_version(const struct svc_def *def)
{
	printf("lathe-%s %s (commit %s)\n", def->name, core_version, core_commit);
}

void svc_int_build_metrics(struct metrics_registry *reg)
{
	static const char *const labels[] = {"version", "commit", NULL};
	struct metrics_family *info = metrics_gauge_new(
		reg, "lathe_build_info", "Always 1; the labels say which build of Lathe this process runs", labels);
	const char *values[] = {core_version, core_commit};
	metrics_gauge_set(info, values, 1);
	if (metrics_process_register(reg) != 0)
		core_warn("process metrics unavailable: process_* names taken");
}

void svc_int_log_version(void)
{
	struct core_log_field f[] = {CORE_LF_STR("version", core_version), CORE_LF_STR("commit", core_commit)};
	core_log_with(CORE_LOG_INFO, f, 2, "starting");
}
