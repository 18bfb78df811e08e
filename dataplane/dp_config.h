/* dp_config.h - the data plane's settings (flags and LB_* variables). */
#ifndef DP_CONFIG_H
#define DP_CONFIG_H

#include "lb_cidr.h"
#include "lb_log.h"

#include <stddef.h>

/* TLS 1.2's ciphers by default: ECDHE key exchange (forward secrecy) and
 * AEAD only -- Mozilla's "intermediate" list without DHE, whose handshakes
 * cost several times more.  All are sound, so the client's order decides
 * (no server preference, as Mozilla advises: a client without AES
 * instructions picks ChaCha20). */
#define DP_TLS_CIPHERS_DEFAULT                                                 \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct dp_config {
	const char *host;
	long long port;
	long long threads;
	const char *ctl_url; /* the control plane's control server */
	const char *pub_url; /* the control plane's PUB socket */
	long long admin_timeout_ms;
	const char *admin_token;    /* "" = no token needed */
	const char *admin_allow;    /* LB_ADMIN_ALLOW, parsed into admin_from */
	struct lb_cidrs admin_from; /* who may /add, /rm, read the pages */
	const char *trusted_proxies; /* LB_TRUSTED_PROXIES, parsed below */
	struct lb_cidrs trusted;     /* proxies whose X-Forwarded-For counts */
	long long connect_timeout_ms;
	long long upstream_timeout_ms;
	long long eject_ms;
	long long eject_max_ms;
	long long eject_consecutive; /* 0: no outlier ejection */
	long long max_eject_percent;
	long long retry_5xx; /* an idempotent request goes on after a 5xx */
	long long max_body;
	long long body_buffer;   /* request body read before a replica */
	long long min_body_rate; /* bytes/s; 0: no minimum */
	long long replica_max_conns;
	long long replica_max_queue;
	long long queue_timeout_ms;
	long long max_active; /* admission (dp_gate.h); -1: per core */
	long long keepalive_ms;
	long long head_timeout_ms;
	long long max_conns_per_ip;
	long long listen_backlog;
	long long ready_timeout_ms;
	long long drain_timeout_ms; /* a graceful stop's longest wait */
	const char *access_log;     /* "", "stderr" or a path */
	const char *pages_listen; /* host:port of the data plane's own pages */
	long long metrics_open;   /* /metrics needs no token */
	/* HTTPS (dp_tls.h): on when tls_cert is not "". */
	const char *tls_cert;      /* PEM: the certificate, then its chain */
	const char *tls_key;       /* PEM: its private key */
	const char *tls_dir;       /* "" or NAME.crt + NAME.key pairs (SNI) */
	const char *tls_ciphers;   /* TLS 1.2's, OpenSSL's syntax */
	long long tls_port;        /* the HTTPS listener's */
	long long tls_public_port; /* the HTTPS port clients see */
	long long tls_only;        /* no plain-HTTP listener... */
	long long http_redirect;   /* ...but one that answers 308 */
	enum lb_log_level log_level;
};

/* Returns 0; 1 after printing the help; or LB_ERR_INVAL with the reason in
 * err. */
int dp_config_load(struct dp_config *c, int argc, char **argv, char *err,
                   size_t errlen);

#endif
