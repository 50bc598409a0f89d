/* Random identifiers (face: core/id.h), from getrandom(2): no seeding, safe from any
 * thread. The only state is each thread's pool of bytes for UUIDs (below). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "core/id.h"
#include "core/log.h"

void core_id_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			/* Only EINTR is possible for small requests; anything else means the
			 * kernel cannot give randomness and ids would collide. */
			core_log(CORE_LOG_ERROR, "getrandom failed");
			abort();
		}
		p += got;
		n -= (size_t)got;
	}
}

/* UUIDs are made per request and per event, and a getrandom(2) per id was a system
 * call each time: each thread draws 512 bytes at once and hands them out 16 at a time.
 * A fork empties the forking thread's pool in the child (the only thread there), so
 * parent and child never hand out the same bytes. core_id_random_bytes (tokens, keys)
 * never takes from a pool. */
#define POOL_BYTES 512
static _Thread_local unsigned char pool[POOL_BYTES];
static _Thread_local size_t pool_left;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_forget(void)
{
	pool_left = 0;
}

static void pool_once_init(void)
{
	pthread_atfork(NULL, NULL, pool_forget);
}

static void uuid4_bytes(unsigned char b[16])
{
	pthread_once(&pool_once, pool_once_init);
	if (pool_left < 16) {
		core_id_random_bytes(pool, POOL_BYTES);
		pool_left = POOL_BYTES;
	}
	pool_left -= 16;
	memcpy(b, pool + pool_left, 16);
	memset(pool + pool_left, 0, 16);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
}

void core_id_uuid_hex(char out[CORE_ID_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	uuid4_bytes(b);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[CORE_ID_HEX_LEN] = '\0';
}

void core_id_uuid(char out[37])
{
	char h[CORE_ID_HEX_LEN + 1];
	core_id_uuid_hex(h);
	size_t o = 0;
	for (int i = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = h[i];
	}
	out[o] = '\0';
}
