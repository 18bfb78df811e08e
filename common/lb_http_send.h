/* lb_http_send.h - whole answers of the project's own: a head and a body in
 * one write, JSON in the assignment's envelope, errors, Prometheus text.
 *
 * Every answer made here carries Content-Length: civetweb sends an answer
 * without one as is, and a keep-alive client then waits for a close that
 * comes only with the timeout. */
#ifndef LB_HTTP_SEND_H
#define LB_HTTP_SEND_H

#include "lb_prom.h"

#include <civetweb.h>
#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stddef.h>

/* Sends a whole answer.  extra is NULL or "Name: value\r\n" lines.
 * Returns 0, or LB_ERR_IO, LB_ERR_NOMEM, LB_ERR_TOOBIG. */
int lb_http_send(struct mg_connection *c, int status, const char *ctype,
                 const void *body, size_t len, const char *extra);

/* Sends a head with the given Content-Length text (for HEAD answers, whose
 * length describes a body that is not sent), then body[0..len). */
int lb_http_send_head(struct mg_connection *c, int status, const char *ctype,
                      const char *length, const char *extra, const void *body,
                      size_t len);

/* Sends {"message": message, "status": "successful"|"failure"} as
 * application/json.  Takes ownership of message (a cJSON string or object). */
int lb_http_send_json(struct mg_connection *c, int status, cJSON *message,
                      bool ok, const char *extra);

/* Sends a failure whose message is "<Error> " followed by the text. */
int lb_http_send_error(struct mg_connection *c, int status, const char *extra,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Answers the Prometheus text in b (500 when it could not be made), frees
 * b, and returns the status. */
int lb_http_send_prom(struct mg_connection *c, struct lb_prom *b);

/* The reason phrase of an HTTP status ("Not Found"). */
const char *lb_http_send_reason(int status);

#endif
