/* Parameter text for prepared statements: int64 as decimal text, and PostgreSQL array
 * literals ({"a","b",NULL}) built from C values, so a bulk write passes whole columns as
 * one parameter and unnests them server-side (a 1000-metric batch is one statement, not
 * 1000). Elements are always double-quoted with '"' and '\\' escaped, which is the whole
 * of the array-literal quoting rule. A builder that failed (the ceiling was reached or
 * memory ran out) stays failed: db_arr_end then returns NULL.
 * Doubles go as float8[] in the binary format (db_barr, which writes bigint[] too; the
 * format is array_recv's): a 20-byte header (one dimension, no NULLs, the element type's
 * OID, the length, lower bound 1), then each element as a 4-byte length and 8 big-endian
 * bytes.
 * Printing a double exactly costs glibc a bignum division, and the server a strtod to
 * read it back: ~15% of the daemon's CPU in a 1000-metric batch. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "db/db.h"

const char *db_i64(struct db_i64 *t, int64_t v)
{
	snprintf(t->text, sizeof t->text, "%" PRId64, v);
	return t->text;
}

#define ARR_MAX ((size_t)256 << 20)

void db_arr_init(struct db_arr *a)
{
	core_buf_init(&a->b, ARR_MAX);
	a->n = 0;
	a->failed = core_buf_append(&a->b, "{", 1) != CORE_OK;
}

static void sep(struct db_arr *a)
{
	if (a->n++ && core_buf_append(&a->b, ",", 1) != CORE_OK)
		a->failed = true;
}

void db_arr_add_str(struct db_arr *a, const char *s, size_t len)
{
	if (a->failed)
		return;
	sep(a);
	if (!s) {
		a->failed |= core_buf_append(&a->b, "NULL", 4) != CORE_OK;
		return;
	}
	a->failed |= core_buf_append(&a->b, "\"", 1) != CORE_OK;
	size_t start = 0;
	for (size_t i = 0; i < len && !a->failed; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		a->failed |= core_buf_append(&a->b, s + start, i - start) != CORE_OK;
		a->failed |= core_buf_append(&a->b, "\\", 1) != CORE_OK;
		start = i;
	}
	if (!a->failed)
		a->failed |= core_buf_append(&a->b, s + start, len - start) != CORE_OK;
	a->failed |= core_buf_append(&a->b, "\"", 1) != CORE_OK;
}

/* Numbers are formatted on the stack and appended: a 1000-metric log-batch formats
 * three thousand of them, and the general printf path was a quarter of the batch's
 * daemon CPU. */
void db_arr_add_i64(struct db_arr *a, int64_t v)
{
	char tmp[24], *p = tmp + sizeof tmp;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	if (a->failed)
		return;
	sep(a);
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	a->failed |= core_buf_append(&a->b, p, (size_t)(tmp + sizeof tmp - p)) != CORE_OK;
}

const char *db_arr_end(struct db_arr *a)
{
	if (!a->failed)
		a->failed = core_buf_append(&a->b, "}", 1) != CORE_OK;
	return a->failed ? NULL : a->b.data;
}

void db_arr_free(struct db_arr *a)
{
	core_buf_free(&a->b);
}

/* --- binary arrays ------------------------------------------------------------------- */

#define BARR_HEADER 20
#define OID_FLOAT8  701u
#define OID_INT8    20u

static void put_u32(unsigned char *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

void db_barr_init(struct db_barr *a, enum db_barr_type type)
{
	static const unsigned char zero[BARR_HEADER];
	core_buf_init(&a->b, ARR_MAX);
	a->n = 0;
	a->type = type;
	a->failed = core_buf_append(&a->b, zero, sizeof zero) != CORE_OK; /* filled by db_barr_end */
}

static void add_u64(struct db_barr *a, uint64_t v)
{
	unsigned char e[12];
	put_u32(e, 8);
	put_u32(e + 4, (uint32_t)(v >> 32));
	put_u32(e + 8, (uint32_t)v);
	a->failed |= core_buf_append(&a->b, e, sizeof e) != CORE_OK;
	a->n++;
}

void db_barr_add_f64(struct db_barr *a, double v)
{
	uint64_t u;
	if (a->type != DB_BARR_F64)
		a->failed = true;
	if (a->failed)
		return;
	memcpy(&u, &v, sizeof u);
	add_u64(a, u);
}

void db_barr_add_i64(struct db_barr *a, int64_t v)
{
	if (a->type != DB_BARR_I64)
		a->failed = true;
	if (a->failed)
		return;
	add_u64(a, (uint64_t)v);
}

const char *db_barr_end(struct db_barr *a, int *len)
{
	unsigned char *h = (unsigned char *)a->b.data;
	*len = 0;
	if (a->failed || a->b.len > INT32_MAX || a->n > INT32_MAX)
		return NULL;
	/* an empty array has no dimension: its 12-byte header is followed by nothing, so
	 * the dimension's 8 bytes are dropped */
	put_u32(h, a->n ? 1 : 0);
	put_u32(h + 4, 0); /* no NULLs */
	put_u32(h + 8, a->type == DB_BARR_F64 ? OID_FLOAT8 : OID_INT8);
	put_u32(h + 12, (uint32_t)a->n);
	put_u32(h + 16, 1);
	*len = a->n ? (int)a->b.len : 12;
	return a->b.data;
}

void db_barr_free(struct db_barr *a)
{
	core_buf_free(&a->b);
	a->n = 0;
	a->failed = true;
}
