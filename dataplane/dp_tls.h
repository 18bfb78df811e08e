/* dp_tls.h - HTTPS for clients.
 *
 * civetweb does the handshakes and carries the bytes, on its workers; this
 * module gives it the OpenSSL context it uses (civetweb's external_ssl_ctx
 * hook): TLS 1.2 and 1.3 only, LB_TLS_CIPHERS for TLS 1.2, ALPN http/1.1,
 * no renegotiation, and for each handshake the certificate dp_certs picks.
 *
 * Opening checks everything a client would otherwise find out the hard way
 * (civetweb able to do TLS at all, the certificate files), so that a data
 * plane asked for TLS that cannot give it does not start.  A thread then
 * looks at the certificate files twice a second, and at once after SIGHUP,
 * and takes new ones for new connections (dp_certs.h). */
#ifndef DP_TLS_H
#define DP_TLS_H

#include "dp_config.h"
#include "lb_prom.h"

#include <stddef.h>

/* During a handshake, how long one wait for the client lasts (see
 * tls_info_cb() in dp_tls.c): a stalled handshake wakes its worker this
 * often, and ends at most this long after LB_HEAD_TIMEOUT_MS. */
#define DP_TLS_WAIT_SLICE_MS 500

/* How often the certificate files are looked at. */
#define DP_TLS_WATCH_MS 500

struct dp_tls;

/* Loads what Debian's civetweb needs for TLS (dp_tls_shim.c), initialises
 * civetweb's TLS and checks that it answered so, reads the certificates
 * and builds the context.  Returns 0 and *out, or LB_ERR_* with one line
 * in err. */
int dp_tls_open(struct dp_tls **out, const struct dp_config *cfg, char *err,
                size_t errlen);

/* Starts the thread that re-reads the certificates (when they are served:
 * until then a failed start has no thread to stop).  Returns 0 or
 * LB_ERR_SYS. */
int dp_tls_watch(struct dp_tls *t);

/* The SSL_CTX for civetweb (struct lb_http_server_cfg's ssl_ctx). */
void *dp_tls_context(struct dp_tls *t);

/* The certificates' metrics (dp_certs_prom()). */
void dp_tls_prom(struct dp_tls *t, struct lb_prom *b);

/* Stops the watcher and frees the context: after civetweb has stopped. */
void dp_tls_close(struct dp_tls *t);

#endif
