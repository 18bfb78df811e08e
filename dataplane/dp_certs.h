/* dp_certs.h - the certificates the data plane serves over TLS: the default
 * pair (LB_TLS_CERT, LB_TLS_KEY) and, for other host names, the pairs of a
 * directory (LB_TLS_DIR: every NAME.crt with its NAME.key).
 *
 * Each handshake gets the certificate that covers the name the client asked
 * for (SNI), as the certificates themselves say it (their subjectAltNames,
 * checked by OpenSSL: exact names before wildcards, directory files in name
 * order), and the default one for any other name or none.
 *
 * Files are read whole, checked (key matches certificate, valid now, no
 * passphrase), and only then used.  dp_certs_refresh() looks at them again:
 * once they have changed and then stayed still for one look (so that a
 * file is seldom caught half-written, and one that is fails the check),
 * the whole set is read again and swapped in for new handshakes; a set
 * that fails a check is not used, and the old one stays.  Connections in flight
 * keep what their handshake got. */
#ifndef DP_CERTS_H
#define DP_CERTS_H

#include "lb_prom.h"

#include <openssl/ssl.h>

#include <stdbool.h>
#include <stddef.h>

/* Files that failed a check are read again after this long, changed or
 * not (a certificate that was not valid yet may be). */
#define DP_CERTS_RETRY_MS 60000

/* Certificate directories hold at most this many pairs. */
#define DP_CERTS_DIR_MAX 256

struct dp_certs;

/* Reads and checks the default pair and the directory's (dir "" or NULL:
 * none).  Returns 0 and *out (dp_certs_close()), or LB_ERR_INVAL,
 * LB_ERR_NOMEM with one line in err naming the file and the reason. */
int dp_certs_open(struct dp_certs **out, const char *cert, const char *key,
                  const char *dir, char *err, size_t errlen);

/* Looks at the files (stat calls); with force (SIGHUP), reads them even if
 * they look unchanged.  Returns 1 when a new set was taken, 0 when there
 * was nothing to do, or LB_ERR_INVAL with the reason in err when changed
 * files failed a check (the old set stays; the same files are read again
 * when they change, when forced, or DP_CERTS_RETRY_MS later).  One caller at a
 * time. */
int dp_certs_refresh(struct dp_certs *cs, bool force, char *err, size_t errlen);

/* Gives ssl the certificate, key and chain for its handshake, chosen by
 * its SNI name.  Called from OpenSSL's certificate callback, on any
 * thread.  Returns 1, or 0 when OpenSSL refused them. */
int dp_certs_select(struct dp_certs *cs, SSL *ssl);

/* The certificates' expiry times and the re-reads, for /metrics. */
void dp_certs_prom(struct dp_certs *cs, struct lb_prom *b);

void dp_certs_close(struct dp_certs *cs);

#endif
