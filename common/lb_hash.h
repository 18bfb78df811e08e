/* lb_hash.h - the hash function pairs (H for requests, Phi for virtual
 * servers) that a preset can name.
 *
 * Both planes link this file: the control plane places virtual servers with
 * Phi, the data plane maps request keys with H, and the snapshot names the
 * pair, so the two can never disagree.
 */
#ifndef LB_HASH_H
#define LB_HASH_H

#include <stdint.h>

enum lb_hash_kind {
	/* The assignment's: H(i) = i^2 + 2i + 17, Phi(i, j) = i^2 + j^2 + 2j
	   + 25. */
	LB_HASH_QUADRATIC,
	/* A strong 64-bit integer mix (splitmix64's finaliser) of the same
	 * inputs: every output bit depends on every input bit. */
	LB_HASH_MIX,
};

/* H: the hash of a request key. */
uint64_t lb_hash_request(enum lb_hash_kind kind, uint64_t key);

/* Phi: the hash of virtual server j of the replica with id server_id. */
uint64_t lb_hash_vnode(enum lb_hash_kind kind, uint64_t server_id, uint64_t j);

/* The 64-bit mixer behind LB_HASH_MIX; also seeds Maglev's permutations. */
uint64_t lb_hash_mix64(uint64_t x);

/* Names used in configuration and on the wire, by kind ("quadratic",
 * "mix"), NULL-terminated: the one table of them (LB_HASH's choices). */
extern const char *const lb_hash_names[];
const char *lb_hash_name(enum lb_hash_kind kind);
/* Returns 0 or LB_ERR_INVAL. */
int lb_hash_parse(const char *name, enum lb_hash_kind *out);

#endif
