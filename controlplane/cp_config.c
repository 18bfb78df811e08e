#include "cp_config.h"

#include "lb_config.h"
#include "lb_guard.h"
#include "lb_err.h"
#include "lb_wire.h"
#include "lb_name.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The replica binary next to ours in the build tree or install prefix. */
static const char *default_replica_bin(void)
{
	static char path[PATH_MAX + 32];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return "lb-replica";
	self[n] = '\0';
	if (!(slash = strrchr(self, '/')))
		return "lb-replica";
	*slash = '\0';
	/* build/controlplane/lb-controlplane -> build/replica/lb-replica;
	 * an installed bin/lb-controlplane -> bin/lb-replica. */
	snprintf(path, sizeof(path), "%s/../replica/lb-replica", self);
	if (access(path, X_OK) != 0)
		snprintf(path, sizeof(path), "%s/lb-replica", self);
	return path;
}

static int routing_load(struct lb_routing *r, const char *key,
                        const char *factor, long long trust, long long cookie,
                        char *err, size_t errlen)
{
	char why[192], *end;

	memset(r, 0, sizeof(*r));
	if (lb_key_parse(key, &r->key, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "LB_KEY=%s: %s", key, why);
		return LB_ERR_INVAL;
	}
	r->balance_factor = strtod(factor, &end);
	if (end == factor || *end != '\0') {
		snprintf(err, errlen,
		         "LB_BALANCE_FACTOR=%s: must be a number (0: off)",
		         factor);
		return LB_ERR_INVAL;
	}
	r->trust_forwarded = trust != 0;
	r->set_cookie = cookie != 0;
	return lb_key_routing_check(r, err, errlen);
}

const char *const cp_driver_names[] = {[CP_DRIVER_PROCESS] = "process",
                                       [CP_DRIVER_DOCKER] = "docker",
                                       [CP_DRIVER_SWARM] = "swarm",
                                       [CP_DRIVER_STATIC] = "static",
                                       NULL};

/* The settings read as text or numbers before they become a cp_config. */
struct cp_config_text {
	const char *preset, *hash, *placement, *level, *key, *factor, *status,
	    *driver;
	long long slots, vnodes, trust_forwarded, set_cookie, slow_start_ms;
};

/* The preset named, with the fields the settings override; checked. */
static int cp_config_preset(struct cp_config *c, const struct cp_config_text *t,
                            char *err, size_t errlen)
{
	if (lb_preset_lookup(t->preset, &c->preset) != 0) {
		snprintf(err, errlen, "LB_PRESET=%s: must be one of %s",
		         t->preset, lb_preset_names());
		return LB_ERR_INVAL;
	}
	if (t->slots)
		c->preset.slots = (uint32_t)t->slots;
	if (t->vnodes)
		c->preset.vnodes = (uint32_t)t->vnodes;
	if (t->hash[0])
		lb_hash_parse(t->hash, &c->preset.hash);
	if (t->placement[0])
		lb_preset_placement_parse(t->placement, &c->preset.placement);
	if (lb_preset_check(&c->preset, err, errlen) != 0)
		return LB_ERR_INVAL; /* err names the field */
	return 0;
}

/* What no single setting can say: the fields checked together. */
static int cp_config_check(struct cp_config *c, const struct cp_config_text *t,
                           char *err, size_t errlen)
{
	int rv;

	if ((rv = cp_config_preset(c, t, err, errlen)) != 0)
		return rv;
	for (int i = 0; cp_driver_names[i]; i++)
		if (strcmp(t->driver, cp_driver_names[i]) == 0)
			c->driver_kind = (enum cp_driver_kind)i;
	if ((rv = routing_load(&c->routing, t->key, t->factor,
	                       t->trust_forwarded, t->set_cookie, err,
	                       errlen)) != 0)
		return rv;
	c->routing.slow_start_ms = (uint32_t)t->slow_start_ms;
	if ((uint64_t)c->max_replicas > lb_preset_capacity(&c->preset)) {
		snprintf(
		    err, errlen,
		    "LB_MAX_REPLICAS=%lld: the preset's table holds at most "
		    "%u replicas (slots / virtual servers)",
		    c->max_replicas, lb_preset_capacity(&c->preset));
		return LB_ERR_INVAL;
	}
	if (c->replicas > c->max_replicas) {
		snprintf(err, errlen,
		         "LB_REPLICAS=%lld: more than LB_MAX_REPLICAS=%lld",
		         c->replicas, c->max_replicas);
		return LB_ERR_INVAL;
	}
	if (c->heartbeat_timeout_ms > c->heartbeat_ms) {
		snprintf(err, errlen,
		         "LB_HEARTBEAT_TIMEOUT_MS=%lld: must not exceed "
		         "LB_HEARTBEAT_MS=%lld",
		         c->heartbeat_timeout_ms, c->heartbeat_ms);
		return LB_ERR_INVAL;
	}
	if (c->check.path[0] != '/' || strlen(c->check.path) > 1024 ||
	    strpbrk(c->check.path, " \t\r\n")) {
		snprintf(err, errlen,
		         "LB_HEALTH_PATH=%s: must be a path starting with /",
		         c->check.path);
		return LB_ERR_INVAL;
	}
	if (cp_probe_parse_status(t->status, &c->check) != 0) {
		snprintf(err, errlen,
		         "LB_HEALTH_STATUS=%s: must be a status or a range "
		         "lo-hi within 100..599",
		         t->status);
		return LB_ERR_INVAL;
	}
	if (!lb_name_valid(c->instance)) {
		snprintf(err, errlen, "LB_INSTANCE=%s: must be a valid name",
		         c->instance);
		return LB_ERR_INVAL;
	}
	return lb_guard_allow_load(&c->admin_from, c->admin_allow,
	                           c->admin_token, err, errlen);
}

int cp_config_load(struct cp_config *c, int argc, char **argv, char *err,
                   size_t errlen)
{
	struct cp_config_text t;
	const struct lb_opt opts[] = {
	    {"ctl-url", "LB_CTL_URL", LB_OPT_STR, LB_DEFAULT_CTL_URL, 0, 0,
	     NULL,
	     "NNG address of the control server (REP): the data planes' "
	     "requests",
	     &c->ctl_url},
	    {"pub-url", "LB_PUB_URL", LB_OPT_STR, LB_DEFAULT_PUB_URL, 0, 0,
	     NULL, "NNG address that ring snapshots are published on (PUB)",
	     &c->pub_url},
	    {"replicas", "LB_REPLICAS", LB_OPT_INT, "3", 0, 100000, NULL,
	     "replicas to start (server1..N) when none exist", &c->replicas},
	    {"max-replicas", "LB_MAX_REPLICAS", LB_OPT_INT, "50", 1, 100000,
	     NULL, "most replicas /add may reach", &c->max_replicas},
	    {"preset", "LB_PRESET", LB_OPT_STR, "assignment", 0, 0, NULL,
	     "hashing preset: assignment, mix or maglev", &t.preset},
	    {"slots", "LB_SLOTS", LB_OPT_INT, "0", 0, LB_SLOTS_MAX, NULL,
	     "slot count (0: the preset's)", &t.slots},
	    {"vnodes", "LB_VNODES", LB_OPT_INT, "0", 0, LB_VNODES_MAX, NULL,
	     "virtual servers per replica, K (0: the preset's)", &t.vnodes},
	    {"hash", "LB_HASH", LB_OPT_STR, "", 0, 0, lb_hash_names,
	     "hash pair: quadratic or mix (empty: the preset's)", &t.hash},
	    {"placement", "LB_PLACEMENT", LB_OPT_STR, "", 0, 0,
	     lb_preset_placement_names,
	     "linear (probing) or maglev (empty: the preset's)", &t.placement},
	    {"key", "LB_KEY", LB_OPT_STR, "request-id", 0, 0, NULL,
	     "what requests are hashed by: request-id, ip, path, "
	     "header:<Name>, cookie:<name>, query:<name>",
	     &t.key},
	    {"balance-factor", "LB_BALANCE_FACTOR", LB_OPT_STR, "0", 0, 0, NULL,
	     "bounded loads: a replica takes at most factor x the mean "
	     "in-flight load (0: off; e.g. 1.25)",
	     &t.factor},
	    {"trust-forwarded", "LB_TRUST_FORWARDED", LB_OPT_INT, "0", 0, 1,
	     NULL,
	     "1: the proxies in front are believed: LB_KEY=ip reads the "
	     "right-most X-Forwarded-For address that is not a trusted proxy",
	     &t.trust_forwarded},
	    {"set-cookie", "LB_SET_COOKIE", LB_OPT_INT, "0", 0, 1, NULL,
	     "with LB_KEY=cookie:<name>, give clients without it a cookie",
	     &t.set_cookie},
	    {"slow-start-ms", "LB_SLOW_START_MS", LB_OPT_INT, "0", 0, 3600000,
	     NULL,
	     "a new or returning replica's share ramps up from 10 % to its "
	     "weight over this long (0: off)",
	     &t.slow_start_ms},
	    {"heartbeat-ms", "LB_HEARTBEAT_MS", LB_OPT_INT, "500", 50, 600000,
	     NULL, "interval between heartbeats", &c->heartbeat_ms},
	    {"heartbeat-timeout-ms", "LB_HEARTBEAT_TIMEOUT_MS", LB_OPT_INT,
	     "300", 10, 600000, NULL, "a heartbeat slower than this fails",
	     &c->heartbeat_timeout_ms},
	    {"fail-threshold", "LB_FAIL_THRESHOLD", LB_OPT_INT, "2", 1, 1000,
	     NULL, "failed heartbeats in a row that make a replica dead",
	     &c->fail_threshold},
	    {"start-timeout-ms", "LB_START_TIMEOUT_MS", LB_OPT_INT, "20000",
	     100, 600000, NULL, "time a new replica has to answer /heartbeat",
	     &c->start_timeout_ms},
	    {"drain-timeout-ms", "LB_DRAIN_TIMEOUT_MS", LB_OPT_INT, "30000", 0,
	     3600000, NULL,
	     "longest a replica that left the ring waits for the data planes' "
	     "requests in flight to it before it is stopped (those still "
	     "running are cut)",
	     &c->drain_timeout_ms},
	    {"republish-ms", "LB_REPUBLISH_MS", LB_OPT_INT, "1000", 10, 600000,
	     NULL, "period of snapshot republishing", &c->republish_ms},
	    {"driver", "LB_DRIVER", LB_OPT_STR, "process", 0, 0,
	     cp_driver_names,
	     "how replicas run: process, docker, swarm, or static (servers "
	     "the balancer did not start)",
	     &t.driver},
	    {"backends", "LB_BACKENDS", LB_OPT_STR, "", 0, 0, NULL,
	     "static driver: name=host:port,... to balance at start",
	     &c->backends},
	    {"health-path", "LB_HEALTH_PATH", LB_OPT_STR, "/heartbeat", 0, 0,
	     NULL, "path of the health check", &c->check.path},
	    {"health-status", "LB_HEALTH_STATUS", LB_OPT_STR, "200-399", 0, 0,
	     NULL, "statuses of a healthy answer (lo-hi, or one)", &t.status},
	    {"rise", "LB_RISE", LB_OPT_INT, "2", 1, 1000, NULL,
	     "static driver: good checks in a row that bring a dead backend "
	     "back",
	     &c->rise},
	    {"instance", "LB_INSTANCE", LB_OPT_STR, "lb", 0, 0, NULL,
	     "name that marks this balancer's replicas", &c->instance},
	    {"replica-threads", "LB_REPLICA_THREADS", LB_OPT_INT, "256", 1,
	     16384, NULL,
	     "worker threads of each replica (its THREADS): one per open "
	     "connection, so more than the data planes may open to it",
	     &c->replica_threads},
	    {"replica-bin", "LB_REPLICA_BIN", LB_OPT_STR, default_replica_bin(),
	     0, 0, NULL, "replica program (process driver)", &c->replica_bin},
	    {"state-dir", "LB_STATE_DIR", LB_OPT_STR, "/tmp/lb-state", 0, 0,
	     NULL, "where the process driver records its replicas",
	     &c->state_dir},
	    {"docker-socket", "LB_DOCKER_SOCKET", LB_OPT_STR,
	     "/var/run/docker.sock", 0, 0, NULL, "Docker Engine API socket",
	     &c->docker_socket},
	    {"image", "LB_IMAGE", LB_OPT_STR, "lb-replica:latest", 0, 0, NULL,
	     "replica image (docker driver)", &c->image},
	    {"network", "LB_NETWORK", LB_OPT_STR, "net1", 0, 0, NULL,
	     "Docker network of the replicas", &c->network},
	    {"metrics-listen", "LB_METRICS_LISTEN", LB_OPT_STR,
	     "127.0.0.1:5103", 0, 0, NULL,
	     "where /metrics is served (host:port; empty: off)",
	     &c->metrics_listen},
	    {"admin-token", "LB_ADMIN_TOKEN", LB_OPT_STR, "", 0, 0, NULL,
	     "when set, /metrics and every request to the control server "
	     "need it",
	     &c->admin_token},
	    {"admin-allow", "LB_ADMIN_ALLOW", LB_OPT_STR,
	     LB_GUARD_ALLOW_DEFAULT, 0, 0, NULL,
	     "who may read /metrics: addresses, networks, loopback, "
	     "container-host (a rule beyond this host needs LB_ADMIN_TOKEN)",
	     &c->admin_allow},
	    {"metrics-open", "LB_METRICS_OPEN", LB_OPT_INT, "0", 0, 1, NULL,
	     "1: /metrics needs no token", &c->metrics_open},
	    {"log-level", "LB_LOG_LEVEL", LB_OPT_STR, "info", 0, 0,
	     lb_log_level_names, "debug, info, warn or error", &t.level},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]);
	static const struct lb_opt_former former[] = {
	    {"LB_ADMIN_URL", "LB_CTL_URL"}, {NULL, NULL}};
	bool help;
	int rv;

	rv = lb_config_parse(opts, nopts, former, argc, argv, &help, err,
	                     errlen);
	if (rv != 0)
		return rv;
	if (help) {
		lb_config_usage(opts, nopts, "lb-controlplane", stdout);
		return 1;
	}
	lb_log_level_parse(t.level, &c->log_level);
	lb_log_init("cp", c->log_level);
	lb_config_warn_former(opts, nopts, former, argc, argv);
	return cp_config_check(c, &t, err, errlen);
}
