/* cp_config.h - the control plane's settings (flags and LB_* variables). */
#ifndef CP_CONFIG_H
#define CP_CONFIG_H

#include "lb_cidr.h"
#include "lb_log.h"
#include "lb_key.h"
#include "cp_probe.h"
#include "lb_preset.h"

#include <stdbool.h>

/* The drivers (LB_DRIVER), and their names by kind, NULL-terminated: the
 * one table of them. */
enum cp_driver_kind {
	CP_DRIVER_PROCESS,
	CP_DRIVER_DOCKER,
	CP_DRIVER_SWARM,
	CP_DRIVER_STATIC,
};
extern const char *const cp_driver_names[];

struct cp_config {
	const char *ctl_url; /* NNG REP: the control server */
	const char *pub_url; /* NNG PUB: ring snapshots */
	long long replicas;  /* replicas to start when none exist */
	long long max_replicas;
	struct lb_preset preset;
	struct lb_routing routing; /* LB_KEY, LB_BALANCE_FACTOR, ... */
	long long heartbeat_ms;
	long long heartbeat_timeout_ms;
	long long fail_threshold;
	long long rise;             /* good checks that bring a backend back */
	struct cp_check check;      /* LB_HEALTH_PATH, LB_HEALTH_STATUS */
	const char *backends;       /* static driver: name=host:port,... */
	long long start_timeout_ms; /* a new replica's first good heartbeat */
	long long drain_timeout_ms; /* longest drain before a stop */
	long long republish_ms;
	enum cp_driver_kind driver_kind; /* LB_DRIVER */
	const char *instance;      /* tells this balancer's replicas apart */
	const char *replica_bin;   /* process driver */
	long long replica_threads; /* THREADS of each replica */
	const char *state_dir;     /* process driver */
	const char *docker_socket; /* docker driver */
	const char *image;
	const char *network;
	const char *metrics_listen; /* host:port of /metrics, "" = off */
	const char *admin_token;    /* guards /metrics too, unless open */
	const char *admin_allow;    /* LB_ADMIN_ALLOW, parsed below */
	struct lb_cidrs admin_from; /* who may read /metrics */
	long long metrics_open;
	enum lb_log_level log_level;
};

/* Parses argv and the environment into *c.  Returns 0; or 1 after printing
 * the help; or LB_ERR_INVAL with the reason in err. */
int cp_config_load(struct cp_config *c, int argc, char **argv, char *err,
                   size_t errlen);

#endif
