#include "dp_config.h"

#include "lb_config.h"
#include "lb_guard.h"
#include "lb_err.h"
#include "lb_wire.h"

#include <stdbool.h>
#include <stdio.h>

/* HTTPS settings that only make sense together. */
static int dp_config_check_tls(struct dp_config *c, char *err, size_t errlen)
{
	bool tls = c->tls_cert[0] != '\0';

	if (tls != (c->tls_key[0] != '\0')) {
		snprintf(err, errlen,
		         "LB_TLS_CERT and LB_TLS_KEY go together (one is "
		         "empty)");
		return LB_ERR_INVAL;
	}
	if (!tls && (c->tls_only || c->http_redirect || c->tls_dir[0])) {
		snprintf(err, errlen, "%s needs LB_TLS_CERT and LB_TLS_KEY",
		         c->tls_only        ? "LB_TLS_ONLY=1"
		         : c->http_redirect ? "LB_HTTP_REDIRECT=1"
		                            : "LB_TLS_DIR");
		return LB_ERR_INVAL;
	}
	if (tls && c->tls_port == c->port &&
	    (!c->tls_only || c->http_redirect)) {
		snprintf(err, errlen,
		         "LB_TLS_PORT=%lld is LB_PORT too: plain HTTP and "
		         "HTTPS need their own ports",
		         c->tls_port);
		return LB_ERR_INVAL;
	}
	if (c->tls_public_port == 0)
		c->tls_public_port = c->tls_port;
	return 0;
}

/* What no single setting can say: HTTPS's files and ports together, and
 * the address lists. */
static int dp_config_check(struct dp_config *c, char *err, size_t errlen)
{
	int rv;

	if ((rv = dp_config_check_tls(c, err, errlen)) != 0)
		return rv;
	if ((rv = lb_cidrs_parse(&c->trusted, c->trusted_proxies,
	                         "LB_TRUSTED_PROXIES", &lb_cidr_env_default,
	                         err, errlen)) != 0)
		return rv;
	return lb_guard_allow_load(&c->admin_from, c->admin_allow,
	                           c->admin_token, err, errlen);
}

int dp_config_load(struct dp_config *c, int argc, char **argv, char *err,
                   size_t errlen)
{
	const char *level;
	const struct lb_opt opts[] = {
	    {"host", "LB_HOST", LB_OPT_STR, "127.0.0.1", 0, 0, NULL,
	     "address the data plane listens on (0.0.0.0 in a container)",
	     &c->host},
	    {"port", "LB_PORT", LB_OPT_INT, "5000", 0, 65535, NULL,
	     "port the data plane listens on", &c->port},
	    {"threads", "LB_THREADS", LB_OPT_INT, "2048", 2, 16384, NULL,
	     "HTTP worker threads = client connections open at once",
	     &c->threads},
	    {"ctl-url", "LB_CTL_URL", LB_OPT_STR, LB_DEFAULT_CTL_URL, 0, 0,
	     NULL, "the control plane's control server (NNG REQ/REP)",
	     &c->ctl_url},
	    {"pub-url", "LB_PUB_URL", LB_OPT_STR, LB_DEFAULT_PUB_URL, 0, 0,
	     NULL, "the control plane's snapshot address (NNG PUB/SUB)",
	     &c->pub_url},
	    {"admin-timeout-ms", "LB_ADMIN_TIMEOUT_MS", LB_OPT_INT, "120000",
	     100, 3600000, NULL, "how long /add and /rm may take",
	     &c->admin_timeout_ms},
	    {"admin-token", "LB_ADMIN_TOKEN", LB_OPT_STR, "", 0, 0, NULL,
	     "when set, /add and /rm need 'Authorization: Bearer <token>'",
	     &c->admin_token},
	    {"admin-allow", "LB_ADMIN_ALLOW", LB_OPT_STR,
	     LB_GUARD_ALLOW_DEFAULT, 0, 0, NULL,
	     "who may /add, /rm and read the pages: addresses, networks, "
	     "loopback, container-host (a rule beyond this host needs "
	     "LB_ADMIN_TOKEN)",
	     &c->admin_allow},
	    {"trusted-proxies", "LB_TRUSTED_PROXIES", LB_OPT_STR, "loopback", 0,
	     0, NULL,
	     "proxies in front whose X-Forwarded-For is believed (with "
	     "LB_TRUST_FORWARDED=1)",
	     &c->trusted_proxies},
	    {"connect-timeout-ms", "LB_CONNECT_TIMEOUT_MS", LB_OPT_INT, "1000",
	     10, 600000, NULL, "connect timeout to a replica",
	     &c->connect_timeout_ms},
	    {"upstream-timeout-ms", "LB_UPSTREAM_TIMEOUT_MS", LB_OPT_INT,
	     "30000", 100, 3600000, NULL,
	     "longest silence of a replica while it answers (504 past it)",
	     &c->upstream_timeout_ms},
	    {"eject-ms", "LB_EJECT_MS", LB_OPT_INT, "2000", 0, 600000, NULL,
	     "how long a replica that refused a connection, or failed "
	     "LB_EJECT_CONSECUTIVE times in a row, is skipped (doubled for "
	     "each ejection in a row)",
	     &c->eject_ms},
	    {"eject-max-ms", "LB_EJECT_MAX_MS", LB_OPT_INT, "60000", 0, 3600000,
	     NULL, "the longest one ejection lasts", &c->eject_max_ms},
	    {"eject-consecutive", "LB_EJECT_CONSECUTIVE", LB_OPT_INT, "5", 0,
	     1000000, NULL,
	     "5xx answers or failed exchanges in a row that eject a replica "
	     "(0: off)",
	     &c->eject_consecutive},
	    {"max-eject-percent", "LB_MAX_EJECT_PERCENT", LB_OPT_INT, "50", 0,
	     100, NULL, "the most of the replicas ejected at once, in %",
	     &c->max_eject_percent},
	    {"retry-5xx", "LB_RETRY_5XX", LB_OPT_INT, "0", 0, 1, NULL,
	     "1: an idempotent request whose body is in hand goes to the next "
	     "replica after a 5xx answer",
	     &c->retry_5xx},
	    {"max-body", "LB_MAX_BODY", LB_OPT_INT, "0", 0, 1LL << 50, NULL,
	     "largest request or answer body proxied, in bytes (0: no limit)",
	     &c->max_body},
	    {"body-buffer", "LB_BODY_BUFFER", LB_OPT_INT, "262144", 1024,
	     1LL << 30, NULL,
	     "bytes of a request body read before a replica is chosen (a "
	     "slow upload costs a worker, not a replica's connection)",
	     &c->body_buffer},
	    {"min-body-rate", "LB_MIN_BODY_RATE", LB_OPT_INT, "1024", 0,
	     1LL << 30, NULL,
	     "bytes/s a request body must keep up, on average after 2 s "
	     "(408 past it; 0: no minimum)",
	     &c->min_body_rate},
	    {"replica-max-conns", "LB_REPLICA_MAX_CONNS", LB_OPT_INT, "128", 1,
	     100000, NULL,
	     "exchanges at once with one replica, each on a connection of its "
	     "own (keep under the replica's THREADS divided by the number of "
	     "data planes); past it, requests wait in line",
	     &c->replica_max_conns},
	    {"replica-max-queue", "LB_REPLICA_MAX_QUEUE", LB_OPT_INT, "256", 0,
	     100000, NULL,
	     "requests that may wait in line for one replica; past it, the "
	     "next replica is tried",
	     &c->replica_max_queue},
	    {"queue-timeout-ms", "LB_QUEUE_TIMEOUT_MS", LB_OPT_INT, "1000", 1,
	     600000, NULL,
	     "longest wait in a line (admission or a replica's); past it, 503 "
	     "with Retry-After",
	     &c->queue_timeout_ms},
	    {"max-active", "LB_MAX_ACTIVE", LB_OPT_INT, "-1", -1, 100000, NULL,
	     "requests proxied at once before they wait in line, in arrival "
	     "order, with over twice as many clients connected (-1: 8 per "
	     "CPU core; 0: no limit)",
	     &c->max_active},
	    {"keepalive-ms", "LB_KEEPALIVE_MS", LB_OPT_INT, "30000", 0, 3600000,
	     NULL, "idle time before a client connection closes",
	     &c->keepalive_ms},
	    {"head-timeout-ms", "LB_HEAD_TIMEOUT_MS", LB_OPT_INT, "5000", 100,
	     3600000, NULL,
	     "time a new connection has to send its first request head; "
	     "also the longest stall of a client mid-request or mid-answer",
	     &c->head_timeout_ms},
	    {"max-conns-per-ip", "LB_MAX_CONNS_PER_IP", LB_OPT_INT, "1024", 0,
	     1000000, NULL,
	     "connections one client address may hold (0: no cap; keep it "
	     "under LB_THREADS); past it, 503 and close",
	     &c->max_conns_per_ip},
	    {"listen-backlog", "LB_LISTEN_BACKLOG", LB_OPT_INT, "4096", 1,
	     1000000, NULL,
	     "connections the kernel holds for accept (capped by "
	     "net.core.somaxconn)",
	     &c->listen_backlog},
	    {"ready-timeout-ms", "LB_READY_TIMEOUT_MS", LB_OPT_INT, "5000", 0,
	     600000, NULL,
	     "at start, longest wait for the control plane before listening",
	     &c->ready_timeout_ms},
	    {"drain-timeout-ms", "LB_DRAIN_TIMEOUT_MS", LB_OPT_INT, "30000", 0,
	     3600000, NULL,
	     "on SIGTERM, longest wait for the requests being served (then "
	     "they are cut)",
	     &c->drain_timeout_ms},
	    {"access-log", "LB_ACCESS_LOG", LB_OPT_STR, "", 0, 0, NULL,
	     "one logfmt line per request: stderr or a file (empty: off)",
	     &c->access_log},
	    {"pages-listen", "LB_PAGES_LISTEN", LB_OPT_STR, "127.0.0.1:5001", 0,
	     0, NULL,
	     "the data plane's own pages: /metrics, the dashboard, its JSON "
	     "(host:port; empty: off)",
	     &c->pages_listen},
	    {"metrics-open", "LB_METRICS_OPEN", LB_OPT_INT, "0", 0, 1, NULL,
	     "1: /metrics needs no admin token", &c->metrics_open},
	    {"tls-cert", "LB_TLS_CERT", LB_OPT_STR, "", 0, 0, NULL,
	     "PEM certificate (its chain after it): serves HTTPS on "
	     "LB_TLS_PORT (empty: no HTTPS)",
	     &c->tls_cert},
	    {"tls-key", "LB_TLS_KEY", LB_OPT_STR, "", 0, 0, NULL,
	     "PEM private key of LB_TLS_CERT (no passphrase)", &c->tls_key},
	    {"tls-port", "LB_TLS_PORT", LB_OPT_INT, "5443", 1, 65535, NULL,
	     "port of the HTTPS listener (on LB_HOST)", &c->tls_port},
	    {"tls-dir", "LB_TLS_DIR", LB_OPT_STR, "", 0, 0, NULL,
	     "directory of NAME.crt + NAME.key pairs, each served to the "
	     "host names its certificate names (SNI); others get LB_TLS_CERT",
	     &c->tls_dir},
	    {"tls-ciphers", "LB_TLS_CIPHERS", LB_OPT_STR,
	     DP_TLS_CIPHERS_DEFAULT, 0, 0, NULL,
	     "TLS 1.2 ciphers (OpenSSL's syntax; TLS 1.3 uses OpenSSL's "
	     "three AEAD suites)",
	     &c->tls_ciphers},
	    {"tls-only", "LB_TLS_ONLY", LB_OPT_INT, "0", 0, 1, NULL,
	     "1: no plain-HTTP listener on LB_PORT (unless LB_HTTP_REDIRECT=1)",
	     &c->tls_only},
	    {"http-redirect", "LB_HTTP_REDIRECT", LB_OPT_INT, "0", 0, 1, NULL,
	     "1: plain HTTP answers 308 to HTTPS (but /rep, /add and /rm from "
	     "LB_ADMIN_ALLOW)",
	     &c->http_redirect},
	    {"tls-public-port", "LB_TLS_PUBLIC_PORT", LB_OPT_INT, "0", 0, 65535,
	     NULL,
	     "the HTTPS port clients reach, named in redirects (0: "
	     "LB_TLS_PORT)",
	     &c->tls_public_port},
	    {"log-level", "LB_LOG_LEVEL", LB_OPT_STR, "info", 0, 0,
	     lb_log_level_names, "debug, info, warn or error", &level},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]);
	static const struct lb_opt_former former[] = {
	    {"LB_ADMIN_URL", "LB_CTL_URL"},
	    {"LB_ADMIN_LISTEN", "LB_PAGES_LISTEN"},
	    {NULL, NULL}};
	bool help;
	int rv = lb_config_parse(opts, nopts, former, argc, argv, &help, err,
	                         errlen);

	if (rv != 0)
		return rv;
	if (help) {
		lb_config_usage(opts, nopts, "lb-dataplane", stdout);
		return 1;
	}
	lb_log_level_parse(level, &c->log_level);
	lb_log_init("dp", c->log_level);
	lb_config_warn_former(opts, nopts, former, argc, argv);
	return dp_config_check(c, err, errlen);
}
