/* lb_http_token.h - the token grammar of HTTP (RFC 9110 5.6.2): which
 * bytes make a field name, and lists of tokens such as a Connection
 * value. */
#ifndef LB_HTTP_TOKEN_H
#define LB_HTTP_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/* True when c may stand in a token (RFC 9110 5.6.2): a field name, a
 * header's or cookie's name. */
bool lb_http_token_char(unsigned char c);

/* True when the comma-separated token list (say, a Connection value)
 * names name[0..nlen), case-insensitively. */
bool lb_http_token_listed(const char *list, size_t len, const char *name,
                          size_t nlen);

#endif
