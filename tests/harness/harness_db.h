/* A test's look behind a daemon at its database (prefix th_): one SQL statement on the
 * daemon's own database, for a row a later part of a service will write, or a count that
 * shows a refused request wrote nothing. Built on harness.h. */
#ifndef LATHE_TEST_DB_H
#define LATHE_TEST_DB_H
#include "harness.h"

/* Runs one SQL statement on d's database with search_path schema; fails the test when
 * it fails. Returns the first column of the first row, or "" when there is none
 * (malloc'd: the caller frees). */
char *th_sql(struct th_daemon *d, const char *schema, const char *text);
#endif
