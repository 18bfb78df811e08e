#include "lb_http.h"

#include "lb_buf.h"
#include "lb_err.h"
#include "lb_guard.h"
#include "lb_log.h"
#include "lb_name.h"
#include "lb_time.h"
#include "lb_http_token.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void lb_http_global_init(void)
{
	mg_init_library(0);
}

/* civetweb's own error lines go through our log, once, as one line. */
static int http_log_message(const struct mg_connection *c, const char *msg)
{
	(void)c;
	lb_log(LB_WARN, "http_error", "msg=\"%s\"", msg);
	return 1;
}

/* Every request is authorised here (admin has its own token check).  With
 * no handler installed civetweb looks for a "/.htpasswd" file on every
 * request: one path walk in the kernel per request, for nothing. */
static int http_authorize_all(struct mg_connection *c, void *data)
{
	(void)c;
	(void)data;
	return 1;
}

static const struct lb_http_server_cfg *http_cfg(const struct mg_connection *c)
{
	return mg_get_user_data(mg_get_context(c));
}

/* The mark of lb_http_close_after(): the request is served on one worker
 * thread from its head to its answer, so the mark lives there, and is
 * cleared as each request begins. */
static _Thread_local bool http_closing_mark;
static _Thread_local size_t http_sent;

static int http_begin_request(struct mg_connection *c)
{
	const struct lb_http_server_cfg *cfg = http_cfg(c);
	http_closing_mark = false;
	http_sent = 0;
	/* A plane's own pages: the operator's addresses, and a Host that no
	 * hostile DNS server can point here. */
	if (cfg->allow &&
	    (lb_guard_peer_refused(c, cfg->allow, "LB_ADMIN_ALLOW") ||
	     lb_guard_host_refused(c)))
		return 403;
	return cfg->begin_request ? cfg->begin_request(c, cfg->user) : 0;
}

/* civetweb calls connection_close for every connection it took, but
 * init_connection only for those whose TLS handshake succeeded: a mark in
 * the connection's user data pairs the two, so that a failed handshake is
 * not counted as a connection closing. */
static char http_opened_mark;

static int http_init_connection(const struct mg_connection *c, void **data)
{
	const struct lb_http_server_cfg *cfg = http_cfg(c);
	*data = &http_opened_mark;
	if (cfg->conn_open)
		cfg->conn_open((struct mg_connection *)c, cfg->user);
	return 0;
}

static void http_connection_close(const struct mg_connection *c)
{
	const struct lb_http_server_cfg *cfg = http_cfg(c);
	if (mg_get_user_connection_data(c) != &http_opened_mark)
		return;
	/* The worker's next connection starts unmarked (civetweb leaves
	 * clearing it to us). */
	mg_set_user_connection_data(c, NULL);
	if (cfg->conn_close)
		cfg->conn_close(c, cfg->user);
}

/* The caller's context, as it is: civetweb neither makes one nor frees
 * it (it calls this again when it stops, and 1 says "not yours"). */
static int http_external_ssl_ctx(void **ssl_ctx, void *user)
{
	const struct lb_http_server_cfg *cfg = user;
	*ssl_ctx = cfg->ssl_ctx;
	return 1;
}

/* civetweb's "listening_ports": "host:port", "host:port,host:tls_ports"
 * or "host:tls_ports" (the "s" marks TLS).  False when it does not fit. */
static bool http_listening_ports(const struct lb_http_server_cfg *cfg,
                                 char *out, size_t len)
{
	struct lb_buf b;

	lb_buf_init(&b, out, len);
	if (!cfg->ssl_ctx || !cfg->tls_only)
		lb_buf_printf(&b, "%s:%lld", cfg->host, cfg->port);
	if (cfg->ssl_ctx)
		lb_buf_printf(&b, "%s%s:%llds", b.len ? "," : "", cfg->host,
		              cfg->tls_port);
	return !b.cut;
}

int lb_http_start(const struct lb_http_server_cfg *cfg, struct mg_context **out,
                  char *err, size_t errlen)
{
	char ports[2 * LB_HOST_MAX + 32], threads[24], keepalive[24], reqto[24],
	    backlog[24], queue[24];
	struct mg_callbacks cb;
	struct mg_context *ctx;

	if (!http_listening_ports(cfg, ports, sizeof(ports))) {
		snprintf(err, errlen, "a listening address too long");
		return LB_ERR_INVAL;
	}
	snprintf(threads, sizeof(threads), "%lld", cfg->threads);
	snprintf(keepalive, sizeof(keepalive), "%lld", cfg->keepalive_ms);
	snprintf(reqto, sizeof(reqto), "%lld", cfg->request_timeout_ms);
	snprintf(backlog, sizeof(backlog), "%lld",
	         cfg->listen_backlog ? cfg->listen_backlog : 200);
	snprintf(queue, sizeof(queue), "%lld", cfg->queue ? cfg->queue : 20);
	/* Name/value pairs read best one pair a line. */
	// clang-format off
	const char *options[] = {
	    "listening_ports", ports,
	    "num_threads", threads,
	    "enable_keep_alive", "yes",
	    "keep_alive_timeout_ms", keepalive,
	    "request_timeout_ms", reqto,
	    "listen_backlog", backlog,
	    "connection_queue", queue,
	    "tcp_nodelay", "1",
	    /* The proxy forwards paths as the client sent them. */
	    "decode_url", "no",
	    "enable_directory_listing", "no",
	    /* CORS preflights belong to the handlers (the replicas), not
	     * to civetweb's automatic answer. */
	    "access_control_allow_methods", "",
	    NULL,
	};
	// clang-format on

	memset(&cb, 0, sizeof(cb));
	cb.log_message = http_log_message;
	cb.begin_request = http_begin_request;
	cb.init_connection = http_init_connection;
	cb.connection_close = http_connection_close;
	if (cfg->ssl_ctx)
		cb.external_ssl_ctx = http_external_ssl_ctx;
	ctx = mg_start(&cb, (void *)cfg, options);
	if (!ctx) {
		snprintf(err, errlen,
		         "cannot listen on %s (in use, or a bad "
		         "address)",
		         ports);
		return LB_ERR_SYS;
	}
	mg_set_auth_handler(ctx, "**", http_authorize_all, NULL);
	*out = ctx;
	return 0;
}

/* Splits "host:port" (a listen address setting).  False when s is not one,
 * or the host does not fit in hostlen. */
static bool http_split_listen(const char *s, char *host, size_t hostlen,
                              long long *port)
{
	const char *colon = strrchr(s, ':');
	char *end;

	if (!colon || colon == s || (size_t)(colon - s) >= hostlen || !colon[1])
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*port = strtoll(colon + 1, &end, 10);
	return *end == '\0' && *port >= 0 && *port <= 65535;
}

int lb_http_start_pages(const char *setting, const char *listen,
                        struct lb_http_server_cfg *cfg, struct mg_context **out,
                        char *err, size_t errlen)
{
	char host[LB_HOST_MAX + 1];
	int rv;

	if (!http_split_listen(listen, host, sizeof(host), &cfg->port)) {
		snprintf(err, errlen, "%s=%s: must be host:port", setting,
		         listen);
		return LB_ERR_INVAL;
	}
	cfg->host = host;
	cfg->keepalive_ms = 10000;
	cfg->request_timeout_ms = 5000;
	rv = lb_http_start(cfg, out, err, errlen);
	cfg->host = NULL; /* civetweb keeps its own copy */
	return rv;
}

struct http_stopper {
	struct mg_context *ctx;
	sem_t done;
};

static void *http_stop_thread(void *arg)
{
	struct http_stopper *st = arg;
	mg_stop(st->ctx);
	sem_post(&st->done);
	return NULL;
}

void lb_http_stop_or_exit(struct mg_context *ctx, int grace_ms)
{
	struct http_stopper st = {.ctx = ctx};
	struct timespec deadline;
	pthread_t tid;
	int rv;

	sem_init(&st.done, 0, 0);
	if (pthread_create(&tid, NULL, http_stop_thread, &st) != 0)
		_exit(0);
	lb_time_deadline(&deadline, CLOCK_REALTIME, grace_ms);
	while ((rv = sem_timedwait(&st.done, &deadline)) != 0 && errno == EINTR)
		;
	if (rv == 0) {
		pthread_join(tid, NULL);
		sem_destroy(&st.done);
		return;
	}
	lb_log(LB_INFO, "stopped",
	       "reason=\"idle keep-alive connections "
	       "outlived the %d ms grace\"",
	       grace_ms);
	_exit(0);
}

int lb_http_port(struct mg_context *ctx)
{
	struct mg_server_port ports[4];
	int n = mg_get_server_ports(ctx, 4, ports);
	return n > 0 ? ports[0].port : -1;
}

bool lb_http_keep_alive(const struct mg_connection *c)
{
	const char *v = mg_get_header(c, "Connection");
	const char *ver = mg_get_request_info(c)->http_version;

	if (http_closing_mark) /* lb_http_close_after() */
		return false;
	/* civetweb's should_keep_alive(): a Connection field keeps the
	 * connection only when it holds "keep-alive" (so "TE" closes it
	 * even in HTTP/1.1). */
	if (v)
		return lb_http_token_listed(v, strlen(v), "keep-alive", 10);
	return ver && strcmp(ver, "1.1") == 0;
}

void lb_http_close_after(struct mg_connection *c)
{
	mg_disable_connection_keep_alive(c);
	http_closing_mark = true;
}

size_t lb_http_sent(void)
{
	return http_sent;
}

void lb_http_note_sent(size_t n)
{
	http_sent += n;
}
