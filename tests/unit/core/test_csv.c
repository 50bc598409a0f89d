/* Unit tests of the streaming CSV reader (libs/core csv.c, through core/csv.h), over a
 * file and over memory: RFC 4180 quoting (commas, quotes and newlines inside fields,
 * CRLF line ends, spaces kept) read as /usr/bin/python3's csv module reads the same
 * bytes; a ragged row, broken quoting or a repeated header name refused naming file
 * and line; and the canonical row text an item's key hashes, which the row writer
 * writes and the reader reads back. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/buf.h"
#include "core/sha256.h"
#include "core/csv.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/lathe-csv-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int fixture(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* The rows of an open reader joined for comparison: fields separated by '|', rows by
 * '\n'; *end the status that ended them. Closes r. */
static char *collect(struct core_csv *r, struct core_error *err, enum core_status *end)
{
	static char out[1 << 16];
	size_t w = 0;
	size_t n;
	const char *const *h = core_csv_header(r, &n);
	for (size_t i = 0; i < n; i++)
		w += (size_t)snprintf(out + w, sizeof out - w, "%s%s", i ? "|" : "", h[i]);
	const char *const *f;
	uint64_t row;
	while ((*end = core_csv_next(r, &f, &row, err)) == CORE_OK) {
		w += (size_t)snprintf(out + w, sizeof out - w, "\n");
		for (size_t i = 0; i < n; i++)
			w += (size_t)snprintf(out + w, sizeof out - w, "%s%s", i ? "|" : "", f[i]);
	}
	core_csv_close(r);
	return out;
}

/* The file as rows joined for comparison (collect). */
static char *read_rows(int fd, const char *name, struct core_error *err, enum core_status *end)
{
	struct core_csv *r;
	*end = core_csv_open(fd, name, &r, err);
	return *end == CORE_OK ? collect(r, err, end) : NULL;
}

/* The same text read from memory (core_csv_open_mem). */
static char *read_mem(const char *text, const char *name, struct core_error *err, enum core_status *end)
{
	struct core_csv *r;
	*end = core_csv_open_mem(text, strlen(text), name, &r, err);
	return *end == CORE_OK ? collect(r, err, end) : NULL;
}

/* python's csv.reader on the same file, joined the same way. */
static char *python_rows(const char *name)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c \"import csv, sys\n"
		 "rows = list(csv.reader(open('%s/%s', newline='', encoding='utf-8-sig')))\n"
		 "sys.stdout.write(chr(10).join('|'.join(r) for r in rows if r))\"",
		 dir, name);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	static char out[1 << 16];
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	return out;
}

START_TEST(quoted_fields_read_as_python_reads_them)
{
	const char *text = "\xef\xbb\xbf"
			   "id,text,label\r\n"
			   "1,\"hello, world\",a\r\n"
			   "2,\"she said \"\"hi\"\"\",b\r\n"
			   "3,\"two\nlines\r\nhere\",a\r\n"
			   "\r\n"
			   "4, spaced ,\"\"\n"
			   "5,,c";
	struct core_error err = {{0}};
	enum core_status end;
	char *got = read_rows(fixture("q.csv", text), "q.csv", &err, &end);
	ck_assert_msg(end == CORE_ENOENT, "%s", err.message);
	ck_assert_str_eq(got, python_rows("q.csv"));
	ck_assert_ptr_nonnull(strstr(got, "two\nlines\r\nhere"));
}
END_TEST

/* The drift monitor's inline CSV: the same rows from memory as from a file, longer than
 * one read chunk, and the same refusals. */
START_TEST(memory_reads_as_a_file)
{
	const char *text = "\xef\xbb\xbf"
			   "id,text\r\n1,\"hello, world\"\r\n2,\"two\nlines\"\r\n\r\n3,\n";
	struct core_error err = {{0}};
	enum core_status end;
	char *got = read_rows(fixture("m.csv", text), "m.csv", &err, &end);
	ck_assert_msg(got != NULL, "%s", err.message);
	char *want = strdup(got);
	ck_assert_str_eq(read_mem(text, "m", &err, &end), want);
	ck_assert_int_eq(end, CORE_ENOENT);
	free(want);
	size_t big = 8000; /* ~23 KiB: more than one 16 KiB read, less than collect's 64 KiB */
	size_t cap = big * 4 + 8;
	char *t = malloc(cap);
	size_t n = (size_t)snprintf(t, cap, "a\n");
	for (size_t i = 0; i < big; i++)
		n += (size_t)snprintf(t + n, cap - n, "%zu\n", i % 100);
	want = strdup(read_rows(fixture("b.csv", t), "b.csv", &err, &end));
	ck_assert_str_eq(read_mem(t, "b", &err, &end), want);
	free(want);
	free(t);
	ck_assert_ptr_null(read_mem("", "reference", &err, &end));
	ck_assert_int_eq(end, CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "reference: no header row"));
	read_mem("a,b\n1,2\n3\n", "current", &err, &end);
	ck_assert_int_eq(end, CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "current: line 3 (row 2) has 1 field, the header 2"));
}
END_TEST

START_TEST(ragged_rows_name_file_and_line)
{
	struct core_error err = {{0}};
	enum core_status end;
	read_rows(fixture("r.csv", "a,b,c\n1,2,3\n\"x\ny\",2,3\n4,5\n"), "data/r.csv", &err, &end);
	ck_assert_int_eq(end, CORE_EINVAL);
	ck_assert_str_eq(err.message, "data/r.csv: line 5 (row 3) has 2 fields, the header 3");
	read_rows(fixture("w.csv", "a,b\n1,2,3\n"), "w.csv", &err, &end);
	ck_assert_int_eq(end, CORE_EINVAL);
	ck_assert_str_eq(err.message, "w.csv: line 2 (row 1) has 3 fields, the header 2");
}
END_TEST

START_TEST(broken_files_are_refused)
{
	struct core_error err = {{0}};
	enum core_status end;
	read_rows(fixture("u.csv", "a,b\n1,\"never closed\n2,3\n"), "u.csv", &err, &end);
	ck_assert_int_eq(end, CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "u.csv: line 4: a quoted field never ends"), "%s", err.message);
	read_rows(fixture("s.csv", "a,b\n1,x\"y\n"), "s.csv", &err, &end);
	ck_assert_int_eq(end, CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "s.csv: line 2:"), "%s", err.message);
	read_rows(fixture("e.csv", ""), "e.csv", &err, &end);
	ck_assert_int_eq(end, CORE_EINVAL);
	ck_assert_str_eq(err.message, "e.csv: no header row (the file is empty)");
	read_rows(fixture("d.csv", "a,b,a\n1,2,3\n"), "d.csv", &err, &end);
	ck_assert_int_eq(end, CORE_EINVAL);
	ck_assert_str_eq(err.message, "d.csv: the header names column 'a' twice");
}
END_TEST

/* Many rows through the 16 KiB buffer, a row straddling each boundary. */
START_TEST(long_files_stream)
{
	char path[128];
	snprintf(path, sizeof path, "%s/big.csv", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("n,sq,note\n", f);
	for (int i = 0; i < 50000; i++)
		fprintf(f, "%d,%lld,\"r%d,\n\"\"x\"\"\"\n", i, (long long)i * i, i);
	fclose(f);
	int fd = open(path, O_RDONLY);
	struct core_csv *r;
	struct core_error err = {{0}};
	ck_assert_int_eq(core_csv_open(fd, "big.csv", &r, &err), CORE_OK);
	const char *const *fl;
	uint64_t row, n = 0;
	enum core_status st;
	while ((st = core_csv_next(r, &fl, &row, &err)) == CORE_OK) {
		char want[64];
		snprintf(want, sizeof want, "r%llu,\n\"x\"", (unsigned long long)n);
		ck_assert_str_eq(fl[2], want);
		ck_assert_uint_eq(strtoull(fl[1], NULL, 10), n * n);
		ck_assert_uint_eq(row, ++n);
	}
	ck_assert_msg(st == CORE_ENOENT, "%s", err.message);
	ck_assert_uint_eq(n, 50000);
	core_csv_close(r);
	close(fd);
}
END_TEST

START_TEST(row_hash_is_the_rows_csv_text)
{
	const char *fields[] = {"plain", "a,b", "say \"hi\"", "x\ny", ""};
	struct core_sha256 *h = core_sha256_new();
	core_csv_hash_row(h, fields, 5);
	char got[65], want[65];
	core_sha256_finish_hex(h, got);
	const char *text = "plain,\"a,b\",\"say \"\"hi\"\"\",\"x\ny\",";
	ck_assert_int_eq(core_sha256_hex(text, strlen(text), want), CORE_OK);
	ck_assert_str_eq(got, want);
}
END_TEST

/* Rows written read back as the same fields, and the text is the hashed text; a row
 * that does not fit under the buffer's ceiling leaves the buffer as it was. */
START_TEST(rows_written_read_back)
{
	const char *header[] = {"plain", "comma", "quote", "newline", "empty"};
	const char *fields[] = {"plain", "a,b", "say \"hi\"", "x\r\ny", ""};
	struct core_buf b;
	core_buf_init(&b, 1 << 20);
	ck_assert_int_eq(core_csv_append_row(&b, header, 5), CORE_OK);
	ck_assert_str_eq(b.data, "plain,comma,quote,newline,empty\n");
	ck_assert_int_eq(core_csv_append_row(&b, fields, 5), CORE_OK);
	ck_assert_int_eq(core_csv_append_row(&b, fields, 5), CORE_OK);
	struct core_csv *r = NULL;
	struct core_error err = {{0}};
	ck_assert_int_eq(core_csv_open_mem(b.data, b.len, "written", &r, &err), CORE_OK);
	const char *const *fl;
	uint64_t row, rows = 0;
	enum core_status st;
	while ((st = core_csv_next(r, &fl, &row, &err)) == CORE_OK) {
		for (int i = 0; i < 5; i++)
			ck_assert_str_eq(fl[i], fields[i]);
		rows++;
	}
	ck_assert_msg(st == CORE_ENOENT, "%s", err.message);
	ck_assert_uint_eq(rows, 2);
	core_csv_close(r);

	size_t before = b.len;
	struct core_buf small;
	core_buf_init(&small, before + 10);
	ck_assert_int_eq(core_buf_append(&small, b.data, before), CORE_OK);
	ck_assert_int_eq(core_csv_append_row(&small, fields, 5), CORE_ELIMIT);
	ck_assert_uint_eq(small.len, before);
	ck_assert_str_eq(small.data, b.data);
	core_buf_free(&small);
	core_buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core csv");
	TCase *tc = tcase_create("csv");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, quoted_fields_read_as_python_reads_them);
	tcase_add_test(tc, memory_reads_as_a_file);
	tcase_add_test(tc, ragged_rows_name_file_and_line);
	tcase_add_test(tc, broken_files_are_refused);
	tcase_add_test(tc, long_files_stream);
	tcase_add_test(tc, row_hash_is_the_rows_csv_text);
	tcase_add_test(tc, rows_written_read_back);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
