#include "dp_tls.h"

#include "dp_certs.h"
#include "lb_buf.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_signal.h"
#include "lb_time.h"

#include <civetweb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* The shims, beside the binary (dp_tls_shim.c), crypto first: the ssl one
 * needs it. */
static const char *const tls_shims[] = {"lb-dataplane-libcrypto.so",
                                        "lb-dataplane-libssl.so"};

struct dp_tls {
	SSL_CTX *ctx;
	long long handshake_ms; /* LB_HEAD_TIMEOUT_MS */
	struct dp_certs *certs;
	pthread_t watcher;
	bool watching;
	atomic_bool stop;
	unsigned hups; /* the SIGHUPs acted on */
};

/* Loads the shims by absolute path, so that civetweb's dlopen("libssl.so")
 * and dlopen("libcrypto.so") find them already loaded under those sonames.
 * They stay loaded for the process's life. */
static int tls_load_shims(char *err, size_t errlen)
{
	char exe[PATH_MAX], path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0) {
		snprintf(err, errlen, "cannot find the program's own path");
		return LB_ERR_SYS;
	}
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')))
		*slash = '\0';
	for (size_t i = 0; i < sizeof(tls_shims) / sizeof(tls_shims[0]); i++) {
		struct lb_buf b;
		lb_buf_init(&b, path, sizeof(path));
		lb_buf_printf(&b, "%s/%s", exe, tls_shims[i]);
		if (b.cut || !dlopen(path, RTLD_NOW | RTLD_GLOBAL)) {
			snprintf(err, errlen,
			         "TLS: cannot load %s (%s), which civetweb "
			         "needs beside the binary",
			         path, b.cut ? "path too long" : dlerror());
			return LB_ERR_SYS;
		}
	}
	return 0;
}

/* civetweb's TLS: its answer is checked, since without OpenSSL loaded
 * (dp_tls_shim.c) the first request over TLS would crash the process. */
static int tls_init_civetweb(char *err, size_t errlen)
{
	unsigned got = mg_init_library(MG_FEATURES_TLS);

	if (!(got & MG_FEATURES_TLS)) {
		snprintf(err, errlen,
		         "TLS: civetweb could not load OpenSSL (its features: "
		         "0x%x, no TLS)",
		         got);
		return LB_ERR_SYS;
	}
	return 0;
}

/* Where a handshake's start time is kept on its SSL (ex_data). */
static int tls_started_index = -1;

/* civetweb waits for a client's handshake bytes in 50 ms polls, calling
 * SSL_accept after each: 2,000 stalled handshakes meant 40,000 wake-ups a
 * second, a whole core.  So during the handshake the socket is made
 * blocking with DP_TLS_WAIT_SLICE_MS timeouts: SSL_accept itself waits for
 * the client, and wakes once per slice.  Since civetweb counts each of its
 * tries as 50 ms, the handshake's deadline (LB_HEAD_TIMEOUT_MS) is kept
 * here: a try that ends without the handshake, past it, shuts the socket,
 * and civetweb's next try fails and closes.  Once done, the socket is
 * non-blocking again, as civetweb expects. */
static void tls_socket_wait(int fd, bool wait)
{
	struct timeval tv = {.tv_sec = 0,
	                     .tv_usec = wait ? DP_TLS_WAIT_SLICE_MS * 1000 : 0};
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return;
	fcntl(fd, F_SETFL, wait ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void tls_info_cb(const SSL *ssl, int where, int ret)
{
	const struct dp_tls *t;
	int fd = SSL_get_fd(ssl);
	int64_t started;

	if (fd < 0)
		return;
	if (where & SSL_CB_HANDSHAKE_START) {
		SSL_set_ex_data((SSL *)ssl, tls_started_index,
		                (void *)(intptr_t)lb_now_ms());
		tls_socket_wait(fd, true);
	} else if (where & SSL_CB_HANDSHAKE_DONE) {
		tls_socket_wait(fd, false);
	} else if ((where & SSL_CB_EXIT) && ret <= 0 &&
	           !SSL_is_init_finished(ssl)) {
		t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
		started =
		    (int64_t)(intptr_t)SSL_get_ex_data(ssl, tls_started_index);
		if (started && lb_now_ms() - started >= t->handshake_ms)
			shutdown(fd, SHUT_RDWR);
	}
}

static int tls_cert_cb(SSL *ssl, void *arg)
{
	return dp_certs_select(((struct dp_tls *)arg)->certs, ssl);
}

/* HTTP/1.1 only: civetweb here has no HTTP/2.  A client that does not
 * offer it gets no ALPN answer, and speaks HTTP/1.1 or fails. */
static int tls_alpn_cb(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x08http/1.1";
	unsigned char *chosen;
	(void)ssl;
	(void)arg;

	if (SSL_select_next_proto(&chosen, outlen, ours, sizeof(ours) - 1, in,
	                          inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = chosen;
	return SSL_TLSEXT_ERR_OK;
}

static int tls_make_context(struct dp_tls *t, const struct dp_config *cfg,
                            char *err, size_t errlen)
{
	if (!(t->ctx = SSL_CTX_new(TLS_server_method()))) {
		snprintf(err, errlen, "TLS: cannot make a context");
		return LB_ERR_NOMEM;
	}
	/* TLS 1.3's suites are OpenSSL's (all AEAD); TLS 1.2's are chosen. */
	if (!SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION)) {
		snprintf(err, errlen,
		         "TLS: OpenSSL refused TLS 1.2 as minimum");
		return LB_ERR_SYS;
	}
	if (!SSL_CTX_set_cipher_list(t->ctx, cfg->tls_ciphers)) {
		ERR_clear_error();
		snprintf(err, errlen,
		         "LB_TLS_CIPHERS=%s: no cipher OpenSSL knows",
		         cfg->tls_ciphers);
		return LB_ERR_INVAL;
	}
	/* Renegotiation asked by a client costs us a handshake for free. */
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION);
	/* An idle keep-alive connection holds no buffers (2,048 of them
	 * would hold ~70 MB). */
	SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_cert_cb(t->ctx, tls_cert_cb, t);
	SSL_CTX_set_app_data(t->ctx, t);
	SSL_CTX_set_info_callback(t->ctx, tls_info_cb);
	t->handshake_ms = cfg->head_timeout_ms;
	if (tls_started_index < 0 && (tls_started_index = SSL_get_ex_new_index(
	                                  0, NULL, NULL, NULL, NULL)) < 0) {
		snprintf(err, errlen, "TLS: no room for a handshake's time");
		return LB_ERR_NOMEM;
	}
	SSL_CTX_set_alpn_select_cb(t->ctx, tls_alpn_cb, NULL);
	return 0;
}

static void tls_refresh(struct dp_tls *t, bool force)
{
	char err[PATH_MAX + 256];
	int rv = dp_certs_refresh(t->certs, force, err, sizeof(err));

	if (rv == 1)
		lb_log(LB_INFO, "tls_reloaded", "sighup=%d", force);
	else if (rv != 0)
		lb_log(LB_ERROR, "tls_reload_failed",
		       "reason=\"%s\" action=\"kept the certificates in use\"",
		       err);
}

static void *tls_watch(void *arg)
{
	struct dp_tls *t = arg;

	while (!atomic_load(&t->stop)) {
		unsigned hups = lb_signal_hups();
		bool force = hups != t->hups;

		t->hups = hups;
		tls_refresh(t, force);
		for (int ms = 0;
		     ms < DP_TLS_WATCH_MS && hups == lb_signal_hups(); ms += 50)
			if (!lb_time_sleep_unless(&t->stop, 50))
				break;
	}
	return NULL;
}

int dp_tls_open(struct dp_tls **out, const struct dp_config *cfg, char *err,
                size_t errlen)
{
	struct dp_tls *t = calloc(1, sizeof(*t));
	int rv;

	*out = NULL;
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	atomic_init(&t->stop, false);
	t->hups = lb_signal_hups();
	if ((rv = tls_load_shims(err, errlen)) != 0 ||
	    (rv = tls_init_civetweb(err, errlen)) != 0 ||
	    (rv = dp_certs_open(&t->certs, cfg->tls_cert, cfg->tls_key,
	                        cfg->tls_dir, err, errlen)) != 0 ||
	    (rv = tls_make_context(t, cfg, err, errlen)) != 0) {
		dp_tls_close(t);
		return rv;
	}
	*out = t;
	return 0;
}

int dp_tls_watch(struct dp_tls *t)
{
	if (pthread_create(&t->watcher, NULL, tls_watch, t) != 0)
		return LB_ERR_SYS;
	t->watching = true;
	return 0;
}

void *dp_tls_context(struct dp_tls *t)
{
	return t->ctx;
}

void dp_tls_prom(struct dp_tls *t, struct lb_prom *b)
{
	dp_certs_prom(t->certs, b);
}

void dp_tls_close(struct dp_tls *t)
{
	if (!t)
		return;
	if (t->watching) {
		atomic_store(&t->stop, true);
		pthread_join(t->watcher, NULL);
	}
	SSL_CTX_free(t->ctx);
	dp_certs_close(t->certs);
	free(t);
}
