#include "lb_http_body.h"

#include "lb_err.h"

#include <stdlib.h>

int lb_http_body_read(struct mg_connection *c, size_t max, char **out,
                      size_t *len)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	size_t cap, used = 0;
	char *buf;

	if (ri->content_length > (long long)max)
		return LB_ERR_TOOBIG;
	/* No length and no chunking: HTTP/1.1 says the body is empty (the
	 * common GET), so nothing needs reading or allocating. */
	if (ri->content_length <= 0 && !mg_get_header(c, "Transfer-Encoding")) {
		*out = NULL;
		*len = 0;
		return 0;
	}
	cap = ri->content_length > 0 ? (size_t)ri->content_length + 1 : 1024;
	if (!(buf = malloc(cap)))
		return LB_ERR_NOMEM;
	for (;;) {
		int n;
		if (used + 1 >= cap) {
			char *nb;
			if (cap > max + 1) {
				free(buf);
				return LB_ERR_TOOBIG;
			}
			cap *= 2;
			if (!(nb = realloc(buf, cap))) {
				free(buf);
				return LB_ERR_NOMEM;
			}
			buf = nb;
		}
		n = mg_read(c, buf + used, cap - used - 1);
		if (n < 0) {
			free(buf);
			return LB_ERR_IO;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			free(buf);
			return LB_ERR_TOOBIG;
		}
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return 0;
}
