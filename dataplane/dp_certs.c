#include "dp_certs.h"

#include "lb_buf.h"
#include "lb_err.h"
#include "lb_time.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <xxhash.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct dp_cert {
	X509 *x509;
	EVP_PKEY *key;
	STACK_OF(X509) * chain; /* the certificates after the first */
	char *file;             /* the certificate's file, for /metrics */
	int64_t not_after;      /* Unix seconds */
};

/* One generation of certificates, shared by the handshakes that use it. */
struct dp_cert_set {
	atomic_int refs;
	size_t n;
	struct dp_cert *v; /* v[0] is the default pair */
};

struct dp_certs {
	char *cert, *key, *dir;
	pthread_mutex_t mu;
	struct dp_cert_set *cur; /* under mu */
	/* The files' look (see certs_signature()), for dp_certs_refresh()
	 * only, which has one caller at a time. */
	uint64_t loaded_sig, seen_sig, failed_sig;
	int64_t failed_ms; /* when failed_sig failed */
	atomic_ullong reloads, reload_failures;
};

/* An encrypted key would make OpenSSL ask a terminal for its passphrase:
 * none is given, so such a key is refused. */
static int certs_no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

/* OpenSSL's reason for the last failure, or "" when it gave none. */
static const char *certs_ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r ? r : "";
}

static void certs_free_one(struct dp_cert *c)
{
	X509_free(c->x509);
	EVP_PKEY_free(c->key);
	sk_X509_pop_free(c->chain, X509_free);
	free(c->file);
}

static void certs_set_unref(struct dp_cert_set *set)
{
	if (!set || atomic_fetch_sub(&set->refs, 1) != 1)
		return;
	for (size_t i = 0; i < set->n; i++)
		certs_free_one(&set->v[i]);
	free(set->v);
	free(set);
}

static int64_t certs_asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;
	return ASN1_TIME_to_tm(t, &tm) == 1 ? (int64_t)timegm(&tm) : 0;
}

/* The leaf certificate and the chain after it, from one PEM file. */
static int certs_read_x509(struct dp_cert *c, const char *file, char *err,
                           size_t errlen)
{
	FILE *f = fopen(file, "r");
	X509 *x;

	if (!f) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return LB_ERR_INVAL;
	}
	c->x509 = PEM_read_X509(f, NULL, certs_no_passphrase, NULL);
	if (!c->x509) {
		fclose(f);
		snprintf(err, errlen, "%s: no PEM certificate in it (%s)", file,
		         certs_ssl_reason());
		return LB_ERR_INVAL;
	}
	if (!(c->chain = sk_X509_new_null())) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	while ((x = PEM_read_X509(f, NULL, certs_no_passphrase, NULL)))
		if (!sk_X509_push(c->chain, x)) {
			X509_free(x);
			fclose(f);
			snprintf(err, errlen, "out of memory");
			return LB_ERR_NOMEM;
		}
	fclose(f);
	/* The end of the file reads as "no start line"; anything else is a
	 * damaged certificate, not to be served as a shorter chain. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		snprintf(err, errlen,
		         "%s: a certificate after the first is damaged (%s)",
		         file, certs_ssl_reason());
		return LB_ERR_INVAL;
	}
	ERR_clear_error();
	return 0;
}

static int certs_read_key(struct dp_cert *c, const char *file, char *err,
                          size_t errlen)
{
	FILE *f = fopen(file, "r");

	if (!f) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return LB_ERR_INVAL;
	}
	c->key = PEM_read_PrivateKey(f, NULL, certs_no_passphrase, NULL);
	fclose(f);
	if (!c->key) {
		snprintf(err, errlen,
		         "%s: no PEM private key in it, or one locked by a "
		         "passphrase (%s)",
		         file, certs_ssl_reason());
		return LB_ERR_INVAL;
	}
	return 0;
}

/* Reads a pair and checks what a client would otherwise find out during a
 * handshake: the key is the certificate's, and the certificate is valid
 * now. */
static int certs_read_pair(struct dp_cert *c, const char *cert, const char *key,
                           char *err, size_t errlen)
{
	int64_t now = (int64_t)time(NULL), not_before;
	int rv;

	memset(c, 0, sizeof(*c));
	if ((rv = certs_read_x509(c, cert, err, errlen)) != 0 ||
	    (rv = certs_read_key(c, key, err, errlen)) != 0)
		return rv;
	if (X509_check_private_key(c->x509, c->key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s does not match the certificate %s",
		         key, cert);
		return LB_ERR_INVAL;
	}
	c->not_after = certs_asn1_unix(X509_get0_notAfter(c->x509));
	not_before = certs_asn1_unix(X509_get0_notBefore(c->x509));
	if (c->not_after <= now || not_before > now) {
		snprintf(err, errlen,
		         "%s: %s (valid from %lld to %lld, Unix time; now "
		         "%lld)",
		         cert,
		         c->not_after <= now ? "expired" : "not valid yet",
		         (long long)not_before, (long long)c->not_after,
		         (long long)now);
		return LB_ERR_INVAL;
	}
	if (!(c->file = strdup(cert))) {
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	return 0;
}

/* "dir/name", false when it does not fit. */
static bool certs_path(char *out, size_t len, const char *dir, const char *name,
                       size_t namelen, const char *ext)
{
	struct lb_buf b;
	lb_buf_init(&b, out, len);
	lb_buf_printf(&b, "%s/%.*s%s", dir, (int)namelen, name, ext);
	return !b.cut;
}

static int certs_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The NAME parts of dir's NAME.crt files, sorted (the order in which
 * they are tried).  Hidden files are left out. */
static int certs_dir_names(const char *dir, char ***names, size_t *n, char *err,
                           size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	*names = NULL;
	*n = 0;
	if (!d) {
		snprintf(err, errlen, "LB_TLS_DIR=%s: %s", dir,
		         strerror(errno));
		return LB_ERR_INVAL;
	}
	if (!(*names = calloc(DP_CERTS_DIR_MAX, sizeof(char *)))) {
		closedir(d);
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len <= 4 ||
		    strcmp(e->d_name + len - 4, ".crt") != 0)
			continue;
		if (*n == DP_CERTS_DIR_MAX) {
			closedir(d);
			snprintf(err, errlen,
			         "LB_TLS_DIR=%s: more than %d certificates",
			         dir, DP_CERTS_DIR_MAX);
			return LB_ERR_INVAL;
		}
		if (!((*names)[(*n)++] = strndup(e->d_name, len - 4))) {
			closedir(d);
			snprintf(err, errlen, "out of memory");
			return LB_ERR_NOMEM;
		}
	}
	closedir(d);
	qsort(*names, *n, sizeof(char *), certs_name_cmp);
	return 0;
}

static void certs_free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* Reads the directory's pairs into set->v[1..]. */
static int certs_read_dir(struct dp_certs *cs, struct dp_cert_set *set,
                          char *err, size_t errlen)
{
	char crt[PATH_MAX], key[PATH_MAX], **names;
	size_t n;
	int rv = certs_dir_names(cs->dir, &names, &n, err, errlen);
	struct dp_cert *v;

	if (rv == 0 && !(v = realloc(set->v, (n + 1) * sizeof(*v))))
		rv = LB_ERR_NOMEM;
	else if (rv == 0)
		set->v = v;
	for (size_t i = 0; rv == 0 && i < n; i++) {
		size_t len = strlen(names[i]);
		if (!certs_path(crt, sizeof(crt), cs->dir, names[i], len,
		                ".crt") ||
		    !certs_path(key, sizeof(key), cs->dir, names[i], len,
		                ".key")) {
			snprintf(err, errlen, "LB_TLS_DIR=%s: a path too long",
			         cs->dir);
			rv = LB_ERR_INVAL;
			break;
		}
		rv = certs_read_pair(&set->v[set->n], crt, key, err, errlen);
		set->n++; /* freed with the set, read or not */
	}
	if (rv == LB_ERR_NOMEM && !err[0])
		snprintf(err, errlen, "out of memory");
	certs_free_names(names, n);
	return rv;
}

/* Reads the whole set; NULL with the reason in err. */
static struct dp_cert_set *certs_read_set(struct dp_certs *cs, char *err,
                                          size_t errlen)
{
	struct dp_cert_set *set = calloc(1, sizeof(*set));
	int rv = LB_ERR_NOMEM;

	err[0] = '\0';
	if (set && (set->v = calloc(1, sizeof(*set->v)))) {
		atomic_init(&set->refs, 1);
		set->n = 1;
		rv =
		    certs_read_pair(&set->v[0], cs->cert, cs->key, err, errlen);
		if (rv == 0 && cs->dir)
			rv = certs_read_dir(cs, set, err, errlen);
	}
	if (rv == 0)
		return set;
	if (!err[0])
		snprintf(err, errlen, "out of memory");
	if (set)
		certs_set_unref(set);
	return NULL;
}

/* What the files look like now: the stat of each (device, inode, size,
 * change times) and of the directory, hashed.  A rename over a file, an
 * edit in place, an added or removed pair: each changes it. */
static uint64_t certs_file_sig(const char *path, uint64_t seed)
{
	struct stat st;
	int64_t v[7] = {0};

	if (stat(path, &st) == 0) {
		v[0] = (int64_t)st.st_dev;
		v[1] = (int64_t)st.st_ino;
		v[2] = (int64_t)st.st_size;
		v[3] = (int64_t)st.st_mtim.tv_sec;
		v[4] = (int64_t)st.st_mtim.tv_nsec;
		v[5] = (int64_t)st.st_ctim.tv_sec;
		v[6] = (int64_t)st.st_ctim.tv_nsec;
	} else {
		v[0] = -errno;
	}
	return XXH3_64bits_withSeed(v, sizeof(v), seed) ^
	       XXH3_64bits(path, strlen(path));
}

static uint64_t certs_signature(const struct dp_certs *cs)
{
	uint64_t sig = certs_file_sig(cs->cert, 1) + certs_file_sig(cs->key, 2);
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (!cs->dir)
		return sig;
	sig += certs_file_sig(cs->dir, 3);
	if (!(d = opendir(cs->dir)))
		return sig;
	/* A sum: the order readdir() gives does not matter. */
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' &&
		    certs_path(path, sizeof(path), cs->dir, e->d_name,
		               strlen(e->d_name), ""))
			sig += certs_file_sig(path, 4);
	closedir(d);
	return sig;
}

int dp_certs_open(struct dp_certs **out, const char *cert, const char *key,
                  const char *dir, char *err, size_t errlen)
{
	struct dp_certs *cs = calloc(1, sizeof(*cs));

	*out = NULL;
	if (!cs || !(cs->cert = strdup(cert)) || !(cs->key = strdup(key)) ||
	    (dir && dir[0] && !(cs->dir = strdup(dir)))) {
		dp_certs_close(cs);
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	pthread_mutex_init(&cs->mu, NULL);
	cs->loaded_sig = cs->seen_sig = certs_signature(cs);
	if (!(cs->cur = certs_read_set(cs, err, errlen))) {
		dp_certs_close(cs);
		return LB_ERR_INVAL;
	}
	*out = cs;
	return 0;
}

int dp_certs_refresh(struct dp_certs *cs, bool force, char *err, size_t errlen)
{
	uint64_t sig = certs_signature(cs);
	bool settled = sig == cs->seen_sig;
	struct dp_cert_set *set, *old;

	cs->seen_sig = sig;
	/* Files that failed are tried again now and then: a certificate
	 * that was not valid yet may be now. */
	if (!force && (!settled || sig == cs->loaded_sig ||
	               (sig == cs->failed_sig &&
	                lb_now_ms() - cs->failed_ms < DP_CERTS_RETRY_MS)))
		return 0;
	if (!(set = certs_read_set(cs, err, errlen))) {
		cs->failed_sig = sig;
		cs->failed_ms = lb_now_ms();
		atomic_fetch_add(&cs->reload_failures, 1);
		return LB_ERR_INVAL;
	}
	pthread_mutex_lock(&cs->mu);
	old = cs->cur;
	cs->cur = set;
	pthread_mutex_unlock(&cs->mu);
	certs_set_unref(old);
	cs->loaded_sig = sig;
	cs->failed_sig = 0;
	atomic_fetch_add(&cs->reloads, 1);
	return 1;
}

static struct dp_cert_set *certs_acquire(struct dp_certs *cs)
{
	struct dp_cert_set *set;

	pthread_mutex_lock(&cs->mu);
	set = cs->cur;
	atomic_fetch_add(&set->refs, 1);
	pthread_mutex_unlock(&cs->mu);
	return set;
}

/* The directory's first certificate that covers name: exact names first,
 * then wildcards; the default one when none does. */
static const struct dp_cert *certs_pick(const struct dp_cert_set *set,
                                        const char *name)
{
	const unsigned int passes[] = {X509_CHECK_FLAG_NO_WILDCARDS,
	                               X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS};

	for (size_t p = 0; name && p < 2; p++)
		for (size_t i = 1; i < set->n; i++)
			if (X509_check_host(set->v[i].x509, name, 0, passes[p],
			                    NULL) == 1)
				return &set->v[i];
	return &set->v[0];
}

int dp_certs_select(struct dp_certs *cs, SSL *ssl)
{
	struct dp_cert_set *set = certs_acquire(cs);
	const struct dp_cert *c =
	    certs_pick(set, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	/* References, not copies: the set may go while ssl lives. */
	int ok = SSL_use_cert_and_key(ssl, c->x509, c->key, c->chain, 1);

	certs_set_unref(set);
	return ok == 1;
}

void dp_certs_prom(struct dp_certs *cs, struct lb_prom *b)
{
	struct dp_cert_set *set = certs_acquire(cs);
	char file[PATH_MAX * 2], labels[PATH_MAX * 2 + 16];

	lb_prom_family(b, "lb_tls_certificate_expiry_timestamp_seconds",
	               "gauge",
	               "When each certificate served expires (Unix time)");
	for (size_t i = 0; i < set->n; i++) {
		lb_prom_escape(set->v[i].file, file, sizeof(file));
		snprintf(labels, sizeof(labels), "file=\"%s\"", file);
		lb_prom_sample(b, "lb_tls_certificate_expiry_timestamp_seconds",
		               labels, (double)set->v[i].not_after);
	}
	certs_set_unref(set);
	lb_prom_family(b, "lb_tls_certificate_reloads_total", "counter",
	               "Certificate files read again after they changed");
	lb_prom_sample(b, "lb_tls_certificate_reloads_total", "result=\"ok\"",
	               (double)atomic_load(&cs->reloads));
	lb_prom_sample(b, "lb_tls_certificate_reloads_total",
	               "result=\"failed\"",
	               (double)atomic_load(&cs->reload_failures));
}

void dp_certs_close(struct dp_certs *cs)
{
	if (!cs)
		return;
	certs_set_unref(cs->cur);
	free(cs->cert);
	free(cs->key);
	free(cs->dir);
	free(cs);
}
