/* SHA-256 (face: core/sha256.h) through OpenSSL's EVP interface, the one libcrypto
 * keeps supported; the context is opaque so callers never include OpenSSL headers. */
#include <openssl/evp.h>
#include <stdlib.h>
#include "core/sha256.h"

struct core_sha256 {
	EVP_MD_CTX *md;
};

struct core_sha256 *core_sha256_new(void)
{
	struct core_sha256 *ctx = malloc(sizeof *ctx);
	if (!ctx)
		return NULL;
	ctx->md = EVP_MD_CTX_new();
	if (!ctx->md || EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx->md);
		free(ctx);
		return NULL;
	}
	return ctx;
}

void core_sha256_update(struct core_sha256 *ctx, const void *data, size_t n)
{
	EVP_DigestUpdate(ctx->md, data, n);
}

static void to_hex(const unsigned char *d, unsigned n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void core_sha256_finish_hex(struct core_sha256 *ctx, char out[CORE_SHA256_HEX_LEN + 1])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_DigestFinal_ex(ctx->md, digest, &n);
	to_hex(digest, n, out);
	core_sha256_free(ctx);
}

void core_sha256_free(struct core_sha256 *ctx)
{
	if (!ctx)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

enum core_status core_sha256_hex(const void *data, size_t n, char out[CORE_SHA256_HEX_LEN + 1])
{
	struct core_sha256 *ctx = core_sha256_new();
	if (!ctx)
		return CORE_EIO;
	core_sha256_update(ctx, data, n);
	core_sha256_finish_hex(ctx, out);
	return CORE_OK;
}
