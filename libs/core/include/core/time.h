/* Time: wall-clock milliseconds for timestamps (MLflow uses Unix ms), monotonic
 * nanoseconds for durations, and ISO 8601 UTC text for logs and events. */
#ifndef CORE_TIME_H
#define CORE_TIME_H
#include <stdint.h>
#include <time.h>

int64_t core_now_ms(void);
uint64_t core_monotonic_ns(void);
/* Writes "2026-11-22T16:20:01.123Z" (24 characters and a NUL) for Unix ms. */
void core_time_iso8601(int64_t unix_ms, char out[32]);
/* Unix ms of a UTC time as core_time_iso8601 writes it (the fraction may have any number
 * of digits, or none; what follows it is not read), or -1 when t does not start with
 * one. */
int64_t core_time_parse_iso8601(const char *t);
/* The CLOCK_MONOTONIC time us microseconds from now (negative: now), for
 * pthread_cond_timedwait on a condition variable set to that clock. */
struct timespec core_deadline_us(int64_t us);
/* Sleeps for ms milliseconds (resuming after signals). */
void core_sleep_ms(int64_t ms);
#endif
