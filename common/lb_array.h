/* lb_array.h - growing an array in place, the one way the project does it.
 *
 *   if (lb_array_grow((void **)&v, &cap, n + 1, sizeof(*v)) != 0)
 *           return LB_ERR_NOMEM;
 *   v[n++] = x;
 */
#ifndef LB_ARRAY_H
#define LB_ARRAY_H

#include <stddef.h>

/* Makes *v hold at least `need` elements of `size` bytes, doubling from 8,
 * and updates *cap.  Returns 0, or LB_ERR_NOMEM with *v and *cap unchanged
 * (the elements stay where they were). */
int lb_array_grow(void **v, size_t *cap, size_t need, size_t size);

#endif
