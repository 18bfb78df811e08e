/* lb_http_auth.h - the admin token on a request: a bearer token, or for
 * pages a browser opens, a query parameter. */
#ifndef LB_HTTP_AUTH_H
#define LB_HTTP_AUTH_H

#include <civetweb.h>

#include <stdbool.h>

/* When a token is set ("" for none) and the request does not carry it
 * ("Authorization: Bearer <token>", or, with query_ok, for pages that a
 * browser opens, "?token=<token>"; compared in constant time), answers 401
 * and returns true. */
bool lb_http_auth_refused(struct mg_connection *c, const char *token,
                          bool query_ok);

#endif
