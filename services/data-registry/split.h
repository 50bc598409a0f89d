/* Split assignment of the data registry (split.c, pure: no database, no I/O).
 *
 * Deterministic, stratified, stable:
 *   - every item gets u = sha256(seed as 8 bytes little-endian || group || 0x00 || key),
 *     where key is the sha256 of the item's content and group its class when the split
 *     is stratified ("" otherwise, and for items without a class);
 *   - within each group the quota of split s is f_s * n_group rounded by largest
 *     remainder (floor for all, then +1 to the largest fractional parts, ties to the
 *     earlier split), so each split's share of a class is within one item of the whole's;
 *   - the group's items are taken in u order, each into the split most below its quota
 *     (ties to the earlier split); items a previous version already placed keep their
 *     split and count against its quota first.
 * Nothing but the content hashes, the classes, the seed and the fractions enters, and
 * doubles are only multiplied and compared, so every machine computes the same
 * assignment. Identical content is one item (the caller merges duplicates with
 * dr_split_dedup), so one content can never be in two splits. */
#ifndef DR_SPLIT_H
#define DR_SPLIT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

#define DR_SPLIT_MAX      16 /* splits in one assignment */
#define DR_SPLIT_NAME_MAX 64 /* bytes of a split's name */

struct dr_split_spec {
	size_t n;                        /* 1..DR_SPLIT_MAX */
	const char *names[DR_SPLIT_MAX]; /* borrowed; distinct [A-Za-z0-9._-]{1,64} */
	double fractions[DR_SPLIT_MAX];  /* each in (0, 1], summing to 1 within 1e-6 */
	bool stratify;
	int64_t seed;
};

struct dr_split_item {
	uint8_t key[32]; /* sha256 of the item's content */
	const char *cls; /* class name (borrowed) or NULL */
	uint64_t seq;    /* position in the version's item order (dr_split_dedup keeps the first) */
	/* in: the split (index into spec->names) a previous version gave this key, or -1;
	 * out: the split */
	int split;
};

/* Checks a spec (the rules above). CORE_OK or CORE_EINVAL with a message for a 400. */
enum core_status dr_split_check_spec(const struct dr_split_spec *s, struct core_error *err);

/* Largest-remainder quotas of n items for the spec's fractions into q[0..s->n). */
void dr_split_quotas(const struct dr_split_spec *s, uint64_t n, uint64_t *q);

/* Sorts items by key and keeps one per key (the lowest seq: the first occurrence,
 * whose class wins); *n is updated. Then sorts them back by seq. */
void dr_split_dedup(struct dr_split_item *items, size_t *n);

/* Assigns every item a split (items[i].split), keeping previous assignments (split >=
 * 0 on input; an index past the spec's splits is CORE_EINVAL). Keys must be distinct
 * (dr_split_dedup). The items' order is kept. CORE_OK, CORE_EINVAL for a bad spec or a
 * duplicate key, CORE_ENOMEM. */
enum core_status dr_split_assign(const struct dr_split_spec *s, struct dr_split_item *items, size_t n,
				 struct core_error *err);
#endif
