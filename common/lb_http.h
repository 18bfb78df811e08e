/* lb_http.h - what every civetweb server of the project shares: how it is
 * started (keep-alive on, enough threads) and how it answers.
 *
 * Every answer made here carries Content-Length: civetweb sends an answer
 * without one as is, and a keep-alive client then waits for a close that
 * comes only with the timeout.
 */
#ifndef LB_HTTP_H
#define LB_HTTP_H

#include "lb_cidr.h"
#include "lb_prom.h"

#include <civetweb.h>
#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stddef.h>

/* How a server is started.  Borrowed for the server's whole life: its
 * hooks are found through it. */
struct lb_http_server_cfg {
	const char *host;  /* "0.0.0.0", "127.0.0.1", ... */
	long long port;    /* 0 lets the kernel choose (see lb_http_port()) */
	long long threads; /* workers: one per open connection */
	long long keepalive_ms;       /* idle wait for a connection's next
	                                 request */
	long long request_timeout_ms; /* reading a connection's first request
	                                 head; also the longest stall of a
	                                 read or write later */
	long long listen_backlog;     /* the kernel's accept queue; 0:
	                                 civetweb's (200) */
	long long queue; /* accepted connections waiting for a worker; 0:
	                    civetweb's (20) */
	/* HTTPS: with ssl_ctx (an OpenSSL SSL_CTX, borrowed, set up by the
	 * caller) the server also listens with TLS on tls_port, and with
	 * tls_only on that port alone.  civetweb does the handshakes on its
	 * workers and uses the context as it is. */
	void *ssl_ctx;
	long long tls_port;
	bool tls_only;
	/* Optional hooks, each called on the connection's worker thread with
	 * `user`:
	 * - begin_request sees every request first, WebSocket upgrades
	 *   included, before civetweb's own routing; it returns the status it
	 *   answered, or 0 to let civetweb route the request;
	 * - conn_open runs when a worker takes a new connection (before any
	 *   byte is read: the request info is not there yet; over TLS, after
	 *   the handshake), conn_close when a connection conn_open saw ends. */
	int (*begin_request)(struct mg_connection *c, void *user);
	/* When set, requests from addresses outside it, or naming a Host
	 * that is no address nor localhost (DNS rebinding), are answered
	 * 403 before begin_request sees them (a plane's own pages). */
	const struct lb_cidrs *allow;
	void (*conn_open)(struct mg_connection *c, void *user);
	void (*conn_close)(const struct mg_connection *c, void *user);
	void *user;
};

/* Initialises civetweb; call once in main() before threads start. */
void lb_http_global_init(void);

/* Starts a server with no handlers yet.  cfg is borrowed until the server
 * stops.  Returns 0 and *out (stop with lb_http_stop_or_exit()), or
 * LB_ERR_SYS with the reason in err. */
int lb_http_start(const struct lb_http_server_cfg *cfg, struct mg_context **out,
                  char *err, size_t errlen);

/* Starts a server of a plane's own pages (metrics, dashboard) on `listen`,
 * "host:port", the value of the setting `setting` (named in the error):
 * keep-alive 10 s, 5 s to send a head.  cfg brings the hooks, user and
 * threads, and is borrowed for the server's life as above. */
int lb_http_start_pages(const char *setting, const char *listen,
                        struct lb_http_server_cfg *cfg, struct mg_context **out,
                        char *err, size_t errlen);

/* Stops ctx, giving requests in flight up to grace_ms.  civetweb 1.15's
 * mg_stop() can wait ~2 s for idle keep-alive connections;
 * past the grace the process ends with _exit(0), so call this last, from a
 * program with nothing left to save. */
void lb_http_stop_or_exit(struct mg_context *ctx, int grace_ms);

/* The port the server listens on (useful after port 0). */
int lb_http_port(struct mg_context *ctx);

/* True when civetweb keeps the client's connection after this answer, so
 * that the head can say the same: not after lb_http_close_after(); with a
 * Connection field, only when it names keep-alive; without one, for
 * HTTP/1.1. */
bool lb_http_keep_alive(const struct mg_connection *c);

/* When a token is set ("" for none) and the request does not carry it
 * ("Authorization: Bearer <token>", or, with query_ok, for pages that a
 * browser opens, "?token=<token>"; compared in constant time), answers 401
 * and returns true. */
bool lb_http_token_refused(struct mg_connection *c, const char *token,
                           bool query_ok);

/* Answers the Prometheus text in b (500 when it could not be made), frees
 * b, and returns the status. */
int lb_http_send_prom(struct mg_connection *c, struct lb_prom *b);

/* True when c may stand in a token (RFC 9110 5.6.2): a field name, a
 * header's or cookie's name. */
bool lb_http_tchar(unsigned char c);

/* True when the comma-separated token list (say, a Connection value)
 * names name[0..nlen), case-insensitively. */
bool lb_http_token_listed(const char *list, size_t len, const char *name,
                          size_t nlen);

/* The answer about to be sent is the connection's last (say, an error that
 * leaves the request body unread): it says "Connection: close", and civetweb
 * closes after it.  The mark lasts for the current request only. */
void lb_http_close_after(struct mg_connection *c);

/* Bytes that lb_http_send*() wrote for the current request (access log). */
size_t lb_http_sent(void);

/* Sends a whole answer.  extra is NULL or "Name: value\r\n" lines.
 * Returns 0 or LB_ERR_IO. */
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

/* Reads the request body, at most max bytes, NUL-terminated.  Returns 0 and
 * *out owned (free()) -- NULL with *len 0 when there is no body --, or
 * LB_ERR_TOOBIG, LB_ERR_IO, LB_ERR_NOMEM. */
int lb_http_read_body(struct mg_connection *c, size_t max, char **out,
                      size_t *len);

/* The reason phrase of an HTTP status ("Not Found"). */
const char *lb_http_reason(int status);

#endif
