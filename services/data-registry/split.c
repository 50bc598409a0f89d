/* Split assignment (face: split.h), pure. The order that decides everything is u =
 * sha256(seed, group, key): a function of the item's content, its class and the seed
 * alone. Items are sorted by (group, u); each group is walked once in u order and every
 * item not already placed by a previous version goes to the split with the largest
 * deficit against the group's largest-remainder quotas. Previous placements are counted
 * first, so a version that adds items keeps every old item where it was and only
 * places the new ones; a fresh assignment is the same walk with nothing counted. */
#include "split.h"
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Per-item scratch: the index of the item, its group and u. */
struct ord {
	size_t i;
	const char *group;
	uint8_t u[32];
};

static int name_ok(const char *s)
{
	size_t len = s ? strlen(s) : 0;
	if (len == 0 || len > DR_SPLIT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

enum core_status dr_split_check_spec(const struct dr_split_spec *s, struct core_error *err)
{
	if (s->n == 0 || s->n > DR_SPLIT_MAX)
		return core_fail(err, CORE_EINVAL, "fractions must name 1 to %d splits", DR_SPLIT_MAX);
	double sum = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!name_ok(s->names[i]))
			return core_fail(err, CORE_EINVAL, "split name '%s' must match [A-Za-z0-9._-]{1,%d}",
					 s->names[i] ? s->names[i] : "", DR_SPLIT_NAME_MAX);
		for (size_t k = 0; k < i; k++)
			if (strcmp(s->names[k], s->names[i]) == 0)
				return core_fail(err, CORE_EINVAL, "split '%s' is named twice", s->names[i]);
		if (!(s->fractions[i] > 0 && s->fractions[i] <= 1))
			return core_fail(err, CORE_EINVAL, "fraction of '%s' must be in (0, 1]", s->names[i]);
		sum += s->fractions[i];
	}
	if (fabs(sum - 1) > 1e-6)
		return core_fail(err, CORE_EINVAL, "fractions must sum to 1 (they sum to %.9g)", sum);
	return CORE_OK;
}

void dr_split_quotas(const struct dr_split_spec *s, uint64_t n, uint64_t *q)
{
	double sum = 0, rem[DR_SPLIT_MAX];
	for (size_t i = 0; i < s->n; i++)
		sum += s->fractions[i];
	uint64_t given = 0;
	for (size_t i = 0; i < s->n; i++) {
		double share = s->fractions[i] / sum * (double)n;
		double fl = floor(share);
		q[i] = (uint64_t)fl;
		rem[i] = share - fl;
		given += q[i];
	}
	/* The rest, one each, to the largest remainders (ties: the earlier split). Rounding
	 * may make floor sum past n in theory; take back from the smallest remainders. */
	while (given < n) {
		size_t best = 0;
		for (size_t i = 1; i < s->n; i++)
			if (rem[i] > rem[best])
				best = i;
		q[best]++;
		rem[best] = -1;
		given++;
	}
	while (given > n) {
		size_t worst = SIZE_MAX;
		for (size_t i = 0; i < s->n; i++)
			if (q[i] > 0 && (worst == SIZE_MAX || rem[i] < rem[worst]))
				worst = i;
		q[worst]--;
		rem[worst] = 2;
		given--;
	}
}

static int by_key_seq(const void *a, const void *b)
{
	const struct dr_split_item *x = a, *y = b;
	int c = memcmp(x->key, y->key, 32);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_seq(const void *a, const void *b)
{
	const struct dr_split_item *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void dr_split_dedup(struct dr_split_item *items, size_t *n)
{
	if (*n == 0)
		return;
	qsort(items, *n, sizeof *items, by_key_seq);
	size_t out = 1;
	for (size_t i = 1; i < *n; i++)
		if (memcmp(items[i].key, items[out - 1].key, 32) != 0)
			items[out++] = items[i];
	*n = out;
	qsort(items, *n, sizeof *items, by_seq);
}

static int by_group_u(const void *a, const void *b)
{
	const struct ord *x = a, *y = b;
	int c = strcmp(x->group, y->group);
	if (c)
		return c;
	return memcmp(x->u, y->u, 32);
}

static enum core_status compute_u(const struct dr_split_spec *s, struct ord *o, const uint8_t key[32],
				  struct core_error *err)
{
	size_t glen = strlen(o->group);
	uint8_t stack[512], *buf = stack;
	size_t len = 8 + glen + 1 + 32;
	if (len > sizeof stack && !(buf = malloc(len)))
		return core_fail(err, CORE_ENOMEM, "split: out of memory");
	uint64_t seed = (uint64_t)s->seed;
	for (int b = 0; b < 8; b++)
		buf[b] = (uint8_t)(seed >> (8 * b));
	memcpy(buf + 8, o->group, glen);
	buf[8 + glen] = 0;
	memcpy(buf + 9 + glen, key, 32);
	unsigned int mdlen = 0;
	int ok = EVP_Digest(buf, len, o->u, &mdlen, EVP_sha256(), NULL);
	if (buf != stack)
		free(buf);
	return ok && mdlen == 32 ? CORE_OK : core_fail(err, CORE_EIO, "split: sha256 failed");
}

/* Places the items of one group, ord[0..m) in u order. */
static void assign_group(const struct dr_split_spec *s, struct dr_split_item *items, const struct ord *ord, size_t m)
{
	uint64_t q[DR_SPLIT_MAX], c[DR_SPLIT_MAX] = {0};
	dr_split_quotas(s, m, q);
	for (size_t k = 0; k < m; k++)
		if (items[ord[k].i].split >= 0)
			c[items[ord[k].i].split]++;
	for (size_t k = 0; k < m; k++) {
		struct dr_split_item *it = &items[ord[k].i];
		if (it->split >= 0)
			continue;
		size_t best = 0;
		int64_t best_def = (int64_t)q[0] - (int64_t)c[0];
		for (size_t j = 1; j < s->n; j++) {
			int64_t def = (int64_t)q[j] - (int64_t)c[j];
			if (def > best_def) {
				best = j;
				best_def = def;
			}
		}
		it->split = (int)best;
		c[best]++;
	}
}

enum core_status dr_split_assign(const struct dr_split_spec *s, struct dr_split_item *items, size_t n,
				 struct core_error *err)
{
	enum core_status rc = dr_split_check_spec(s, err);
	if (rc != CORE_OK)
		return rc;
	if (n == 0)
		return CORE_OK;
	struct ord *ord = calloc(n, sizeof *ord);
	if (!ord)
		return core_fail(err, CORE_ENOMEM, "split: no memory for %zu items", n);
	for (size_t i = 0; i < n; i++) {
		if (items[i].split >= (int)s->n) {
			rc = core_fail(err, CORE_EINVAL, "split: item %zu has split %d of %zu", i, items[i].split,
				       s->n);
			goto out;
		}
		if (items[i].split < 0)
			items[i].split = -1;
		ord[i].i = i;
		ord[i].group = s->stratify && items[i].cls ? items[i].cls : "";
		if ((rc = compute_u(s, &ord[i], items[i].key, err)) != CORE_OK)
			goto out;
	}
	qsort(ord, n, sizeof *ord, by_group_u);
	for (size_t i = 1; i < n; i++)
		if (strcmp(ord[i].group, ord[i - 1].group) == 0 && memcmp(ord[i].u, ord[i - 1].u, 32) == 0) {
			rc = core_fail(err, CORE_EINVAL, "split: two items have the same content key");
			goto out;
		}
	for (size_t start = 0; start < n;) {
		size_t end = start + 1;
		while (end < n && strcmp(ord[end].group, ord[start].group) == 0)
			end++;
		assign_group(s, items, ord + start, end - start);
		start = end;
	}
out:
	free(ord);
	return rc;
}
