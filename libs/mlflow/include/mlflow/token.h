/* mlflow/token.h: paging as MLflow does it: the page size a search may ask for, and
 * MLflow's page tokens (SearchUtils.create_page_token and
 * parse_start_offset_from_page_token, mlflow/utils/search_utils.py, 2.12.2): base64 of
 * the JSON {"offset": N}, where N rows of the ordered result were already handed out.
 * Clients treat tokens as opaque; keeping MLflow's form means a token from either of
 * Lathe's servers, or from MLflow, reads the same everywhere. */
#ifndef MLFLOW_TOKEN_H
#define MLFLOW_TOKEN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

/* Writes the NUL-terminated token for offset into out (64 bytes always suffice),
 * byte for byte what MLflow makes: base64('{"offset": N}'). */
void mlflow_page_token_encode(int64_t offset, char out[64]);

/* Reads a token as MLflow does. NULL or "" gives offset 0. Otherwise the token must
 * decode (base64; characters outside the alphabet are skipped, as Python's
 * b64decode does) to a JSON object whose "offset" is truthy and int()-able: an
 * integer, a float (truncated) or a string holding an integer (" 12 "). Returns
 * CORE_OK with *offset >= 0 (MLflow's int("0") is 0), or CORE_EINVAL with MLflow's
 * message in err:
 *   "Invalid page token, could not base64-decode"
 *   "Invalid page token, decoded value=b'...'"        (not JSON)
 *   "Invalid page token, parsed value={'offset': 0}"  (offset missing, 0, "", null)
 *   "Invalid page token, not stringable abc"           (int() fails)
 * A negative offset, which MLflow lets through to its database, is refused here with
 * the "parsed value" message, so that it is a 400 and not a failed query. */
enum core_status mlflow_page_token_decode(const char *token, int64_t *offset, struct core_error *err);

/* A search page filling up to a row count (max_results) and a byte budget
 * (SEARCH_PAGE_MAX_BYTES): a reply of 50 rows of 900 kB each would otherwise cost tens
 * of MB per request. Rows are offered in result order; the page takes one while it
 * holds fewer than limit rows and the row still fits in max_bytes; the first row is
 * always taken, however big, so paging always moves on. A page that stops early
 * answers next_page_token = offset + n (mlflow_page_token_encode): the client goes on
 * exactly where it stopped, no row lost or repeated (the order is total). */
struct mlflow_page {
	int64_t limit;    /* rows at most (max_results) */
	size_t max_bytes; /* budget; 0: none */
	size_t bytes;     /* of the rows taken */
	int64_t n;        /* rows taken */
	bool cut;         /* a row was refused for the budget: the page stopped early */
};

/* Starts a page. */
void mlflow_page_init(struct mlflow_page *p, int64_t limit, size_t max_bytes);

/* Offers the next row (row_bytes: its size in the reply, roughly). Returns true when the
 * page takes it (n and bytes grow), false when it is full: by count (then the row
 * offered is the first of the next page: more exist) or by budget (cut is set). */
bool mlflow_page_take(struct mlflow_page *p, size_t row_bytes);

/* How many rows to fetch next so the page can fill without fetching far past the
 * budget: a few at first, then as many as the average row so far says still fit (at
 * least 1, at most 256), never more than limit - n + 1 (the +1 tells whether more
 * exist). */
int mlflow_page_chunk(const struct mlflow_page *p);

/* A search's max_results, checked as MLflow's stores check it: CORE_OK when
 * 1 <= value <= max, else CORE_EINVAL with
 *   "Invalid value for max_results. It must be a positive integer, but got 0"
 *   "Invalid value for request parameter max_results. It must be at most 1000, but got
 *    value 1001" */
enum core_status mlflow_check_max_results(int64_t value, int64_t max, struct core_error *err);
#endif
