/* The 64-bit value hash behind stats_distinct and stats_counts: FNV-1a over the bytes,
 * then the murmur3 64-bit finaliser so that every output bit depends on every input bit
 * (HyperLogLog reads the top bits for the register and the rest for the rank, and raw
 * FNV-1a is weak in its high bits for short keys). Pure functions, no state. */
#include <string.h>

#include "stats/stats.h"

static uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

uint64_t stats_hash64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return fmix64(h ^ (uint64_t)len);
}

uint64_t stats_hash_double(double x)
{
	uint64_t bits;

	if (x == 0)
		x = 0; /* -0.0 == 0.0 as values */
	memcpy(&bits, &x, sizeof bits);
	return fmix64(bits ^ 0x9e3779b97f4a7c15ULL);
}
