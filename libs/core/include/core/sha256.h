/* SHA-256 through OpenSSL's libcrypto (EVP), incremental or one-shot; digests are
 * handed out as 64 lower-case hex characters, the form blob keys and dataset digests use. */
#ifndef CORE_SHA256_H
#define CORE_SHA256_H
#include <stddef.h>
#include "core/status.h"

#define CORE_SHA256_HEX_LEN 64

struct core_sha256; /* opaque; owns an EVP_MD_CTX */

/* Returns a new context, or NULL when libcrypto cannot make one. */
struct core_sha256 *core_sha256_new(void);
void core_sha256_update(struct core_sha256 *ctx, const void *data, size_t n);
/* Writes the digest of everything updated so far and frees the context. */
void core_sha256_finish_hex(struct core_sha256 *ctx, char out[CORE_SHA256_HEX_LEN + 1]);
/* Frees a context without finishing it (cleanup paths). NULL is fine. */
void core_sha256_free(struct core_sha256 *ctx);

/* One-shot digest of n bytes. Returns CORE_EIO if libcrypto fails. */
enum core_status core_sha256_hex(const void *data, size_t n, char out[CORE_SHA256_HEX_LEN + 1]);
#endif
