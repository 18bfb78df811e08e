/* dp_tls_shim.c - what Debian 12's civetweb needs to find when it opens
 * "libssl.so" and "libcrypto.so".
 *
 * That civetweb loads OpenSSL at run time by those unversioned names (which
 * only libssl-dev provides) and was built for the OpenSSL 1.1 API, so it
 * looks up SSL_get_peer_certificate, which OpenSSL 3 renamed: without it,
 * mg_init_library() reports no TLS and the first request over TLS crashes.
 *
 * This file is built twice, as two small shared objects that the data plane
 * loads by absolute path before civetweb starts (dp_tls.c):
 * - with DP_TLS_SHIM_SSL: soname "libssl.so", linked to libssl.so.3, and
 *   defining the missing symbol;
 * - without: soname "libcrypto.so", linked to libcrypto.so.3, adding
 *   nothing.
 * glibc's dlopen() returns an object already loaded under the soname it is
 * asked for, and dlsym() on it searches the OpenSSL it links: civetweb then
 * calls the very OpenSSL the data plane uses, and no libssl-dev is needed
 * where the data plane runs (a FROM scratch image). */
#include <openssl/ssl.h>

#ifdef DP_TLS_SHIM_SSL
/* OpenSSL 3's headers make the old name a macro of the new one. */
#undef SSL_get_peer_certificate
X509 *SSL_get_peer_certificate(const SSL *s);

/* Same reference semantics: the caller frees what it gets. */
X509 *SSL_get_peer_certificate(const SSL *s)
{
	return SSL_get1_peer_certificate(s);
}
#else
/* A shared object needs something in it; this names what it stands for. */
const char dp_tls_shim_soname[] = "libcrypto.so";
#endif
