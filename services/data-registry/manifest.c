/* A version's canonical id, pure: the sha256 of "<sha256> <size> <path>\n" per file of
 * the manifest sorted bytewise by path (dr_manifest_sort, data.h), and nothing else, so
 * the same files give the same id whatever order they came in and whoever computes it
 * (the CLI computes it too). No I/O. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "core/sha256.h"
#include "dr.h"

void dr_manifest_id(const struct dr_manifest_file *files, size_t n, char id_out[65], uint64_t *bytes_out)
{
	struct core_sha256 *h = core_sha256_new();
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		char head[96];
		int hl = snprintf(head, sizeof head, "%s %" PRIu64 " ", files[i].sha256, files[i].size);
		core_sha256_update(h, head, (size_t)hl);
		core_sha256_update(h, files[i].path, strlen(files[i].path));
		core_sha256_update(h, "\n", 1);
		bytes += files[i].size;
	}
	core_sha256_finish_hex(h, id_out);
	if (bytes_out)
		*bytes_out = bytes;
}
