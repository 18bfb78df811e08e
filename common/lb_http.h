/* lb_http.h - what every civetweb server of the project shares: how it is
 * started (keep-alive on, enough threads, the hooks), stopped, and what it
 * knows of the current request's connection (kept alive or closed after
 * the answer, bytes sent).  Answers are made with lb_http_send.h. */
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

/* The answer about to be sent is the connection's last (say, an error that
 * leaves the request body unread): it says "Connection: close", and civetweb
 * closes after it.  The mark lasts for the current request only. */
void lb_http_close_after(struct mg_connection *c);

/* Bytes that lb_http_send*() wrote for the current request (access log);
 * lb_http_note_sent() adds to them. */
size_t lb_http_sent(void);
void lb_http_note_sent(size_t n);

#endif
