/* lb_preset.h - how requests are spread: slots, K, the (H, Phi) pair and
 * the placement rule, chosen by name at run time and tunable field by field.
 */
#ifndef LB_PRESET_H
#define LB_PRESET_H

#include "lb_hash.h"

#include <stddef.h>
#include <stdint.h>

enum lb_placement {
	/* Each of a replica's K virtual servers goes to Phi(i, j) mod slots,
	 * or to the next free slot clockwise when that one is taken. */
	LB_PLACE_LINEAR,
	/* Maglev (Eisenbud et al., NSDI 2016): every replica walks its own
	 * permutation of the table and the replicas take turns claiming
	 * slots, so each owns slots/N +- 1 of them.  K is not used. */
	LB_PLACE_MAGLEV,
};

#define LB_PRESET_NAME_MAX 32
#define LB_SLOTS_MAX       (1u << 20)
#define LB_VNODES_MAX      4096

struct lb_preset {
	char name[LB_PRESET_NAME_MAX];
	uint32_t slots;
	uint32_t vnodes;
	enum lb_hash_kind hash;
	enum lb_placement placement;
};

/* Copies the named built-in preset ("assignment", "mix", "maglev") to *out.
 * Returns 0 or LB_ERR_NOTFOUND. */
int lb_preset_lookup(const char *name, struct lb_preset *out);

/* Writes the built-in names, comma separated, for error messages. */
const char *lb_preset_names(void);

/* Checks that the fields make a usable table; on failure writes why to err
 * and returns LB_ERR_INVAL. */
int lb_preset_check(const struct lb_preset *p, char *err, size_t errlen);

/* How many replicas fit: slots / vnodes for linear placement, slots for
 * Maglev. */
uint32_t lb_preset_capacity(const struct lb_preset *p);

/* Names by placement ("linear", "maglev"), NULL-terminated: the one table
 * of them (LB_PLACEMENT's choices). */
extern const char *const lb_preset_placement_names[];
const char *lb_preset_placement_name(enum lb_placement pl);
/* Returns 0 or LB_ERR_INVAL. */
int lb_preset_placement_parse(const char *name, enum lb_placement *out);

#endif
