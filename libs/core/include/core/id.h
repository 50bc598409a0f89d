/* Random identifiers from the kernel's CSPRNG (getrandom). */
#ifndef CORE_ID_H
#define CORE_ID_H
#include <stddef.h>

#define CORE_ID_HEX_LEN 32

/* Writes a version-4 UUID as 32 lower-case hex characters and a NUL into out
 * (MLflow's run id form). */
void core_id_uuid_hex(char out[CORE_ID_HEX_LEN + 1]);

/* Writes a version-4 UUID in its canonical 36-character dashed form and a NUL. */
void core_id_uuid(char out[37]);

/* Fills buf with n random bytes. */
void core_id_random_bytes(void *buf, size_t n);
#endif
