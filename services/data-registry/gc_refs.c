/* The blob references that parts other than the frame own, for the collector
 * (h_admin.c): the frame marks manifest files and profiles (dr_q_blobs_referenced);
 * each part that stores blobs of its own (split items, tensors: dr-split) adds its
 * reference query here, so a collection never removes a blob some row still names. */
#include "dr.h"

int dr_gc_refs_extra(struct db_conn *c, const char *const *keys, size_t n, bool *referenced, struct core_error *err)
{
	/* dr-split: split items lists and tensor exports */
	return dr_q_split_blobs_referenced(c, keys, n, referenced, err);
}
