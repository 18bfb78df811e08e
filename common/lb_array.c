#include "lb_array.h"

#include "lb_err.h"

#include <stdint.h>
#include <stdlib.h>

int lb_array_grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 8;
	void *nv;

	if (need <= *cap)
		return 0;
	while (c < need) {
		if (c > SIZE_MAX / 2 / size)
			return LB_ERR_NOMEM;
		c *= 2;
	}
	if (!(nv = realloc(*v, c * size)))
		return LB_ERR_NOMEM;
	*v = nv;
	*cap = c;
	return 0;
}
