/* The seeded generator behind initialisation, shuffling and dropout masks: splitmix64
 * turns (seed, stream) into the state of a xoshiro256** generator (Blackman and Vigna),
 * so every consumer (a layer's weights, an epoch's order, an epoch's masks) draws from a
 * stream of its own that depends on nothing else: resuming at epoch e redraws exactly
 * what an unbroken run drew. Normals by Box-Muller in double precision. */
#include <math.h>
#include "nn_internal.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void ml_nn_rng_seed(struct ml_nn_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
	splitmix64(&x);
	x ^= stream;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t ml_nn_rng_next(struct ml_nn_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

float ml_nn_rng_uniform(struct ml_nn_rng *r)
{
	return (float)(ml_nn_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

double ml_nn_rng_normal(struct ml_nn_rng *r)
{
	/* u1 in (0, 1]: log never sees 0 */
	double u1 = ((double)(ml_nn_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
	double u2 = (double)(ml_nn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t ml_nn_rng_below(struct ml_nn_rng *r, uint64_t n)
{
	unsigned __int128 m = (unsigned __int128)ml_nn_rng_next(r) * n;
	uint64_t lo = (uint64_t)m;
	if (lo < n) {
		uint64_t t = -n % n;
		while (lo < t) {
			m = (unsigned __int128)ml_nn_rng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}
