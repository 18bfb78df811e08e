/* lb_http_body.h - a small request body read whole (admin requests). */
#ifndef LB_HTTP_BODY_H
#define LB_HTTP_BODY_H

#include <civetweb.h>

#include <stddef.h>

/* Reads the request body, at most max bytes, NUL-terminated.  Returns 0 and
 * *out owned (free()) -- NULL with *len 0 when there is no body --, or
 * LB_ERR_TOOBIG, LB_ERR_IO, LB_ERR_NOMEM. */
int lb_http_body_read(struct mg_connection *c, size_t max, char **out,
                      size_t *len);

#endif
