/* lb-controlplane: owns the replica set.  Serves the data planes' requests over
 * NNG REP, publishes ring snapshots over NNG PUB, probes heartbeats, replaces
 * dead replicas, and runs replicas through a driver (process, docker,
 * swarm or static). */
#include "cp.h"
#include "cp_ctl.h"
#include "cp_driver_docker.h"
#include "cp_driver_process.h"
#include "cp_driver_static.h"
#include "cp_driver_swarm.h"
#include "cp_health.h"
#include "cp_metrics.h"
#include "cp_ops.h"
#include "cp_probe.h"
#include "cp_publish.h"
#include "cp_repair.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_signal.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Driver thread: a replica ended by itself.  Only the state lock is taken
 * here, never the orchestration lock (the driver may hold it). */
static void cp_on_replica_exit(void *arg, const char *name)
{
	struct cp *cp = arg;
	cp_state_mark_dead(&cp->state, name, cp_death_names[CP_DEATH_EXITED]);
}

static int cmp_found(const void *a, const void *b)
{
	const struct cp_found *x = a, *y = b;
	return (x->server_id > y->server_id) - (x->server_id < y->server_id);
}

/* Starts server1..N before the control server opens, so that the first /rep
 * a client sees lists replicas that already serve.  When they cannot start
 * (no image, engine down), they are left to the repair thread, which
 * retries with backoff. */
static int cp_start_initial(struct cp *cp, size_t want)
{
	struct cp_replica *r = calloc(want, sizeof(*r));
	uint32_t first = cp_state_reserve_ids(&cp->state, (uint32_t)want);
	char err[384];
	int rv;

	if (!r)
		return LB_ERR_NOMEM;
	for (size_t i = 0; i < want; i++) {
		snprintf(r[i].name, sizeof(r[i].name), "server%zu", i + 1);
		r[i].id = first + (uint32_t)i;
	}
	rv = cp_ops_start_replicas(cp, r, want, err, sizeof(err));
	if (rv == 0) {
		rv = cp_state_add_up(&cp->state, r, want);
	} else {
		lb_log(LB_WARN, "initial_start_failed",
		       "reason=\"%s\" action=\"repair retries\"", err);
		rv = cp_state_add_starting(&cp->state, r, want);
	}
	free(r);
	return rv;
}

static void found_to_replica(const struct cp_found *f, struct cp_replica *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", f->name);
	r->id = f->server_id;
	snprintf(r->host, sizeof(r->host), "%s", f->host);
	r->port = f->port;
	r->weight = f->weight;
}

/* Sorts what the driver found (join order is id order) into r[] and probes
 * it: ok[i] says whether r[i] answered.  A second replica with an id
 * already seen (labels edited by hand) counts as not answering: ids are
 * unique in the ring. */
static void bootstrap_probe(struct cp *cp, struct cp_found *f, size_t n,
                            struct cp_replica *r, bool *ok)
{
	struct cp_probe *probes = calloc(n ? n : 1, sizeof(*probes));

	if (n)
		qsort(f, n, sizeof(*f), cmp_found);
	for (size_t i = 0; probes && i < n; i++) {
		probes[i].host = f[i].host;
		probes[i].port = f[i].port;
		cp_state_bump_next_id(&cp->state, f[i].server_id);
	}
	if (probes)
		cp_probe_run(&cp->cfg.check, probes, n, 1000);
	for (size_t i = 0; i < n; i++) {
		ok[i] = probes && probes[i].ok;
		if (i > 0 && f[i].server_id == f[i - 1].server_id) {
			lb_log(LB_WARN, "adopt_duplicate_id", "name=%s id=%u",
			       f[i].name, f[i].server_id);
			ok[i] = false;
		}
		found_to_replica(&f[i], &r[i]);
		lb_log(ok[i] ? LB_INFO : LB_WARN,
		       ok[i] ? "replica_adopted" : "adopt_unhealthy",
		       "name=%s id=%u addr=%s:%u", f[i].name, f[i].server_id,
		       f[i].host, f[i].port);
		if (ok[i])
			cp_events_add(&cp->state.events, "adopted", f[i].name,
			              "found running at start");
	}
	free(probes);
}

/* Records what was found: static backends all, in their order (those that
 * do not answer yet DOWN); replicas that answer, the others stopped (not
 * ours any more).  *nup says how many are UP. */
static int bootstrap_record(struct cp *cp, struct cp_replica *r, bool *ok,
                            size_t n, size_t *nup)
{
	int rv;

	*nup = 0;
	for (size_t i = 0; i < n; i++) {
		if (cp->driver->ops->given_addresses) {
			if ((rv = ok[i] ? cp_state_add_up(&cp->state, &r[i], 1)
			                : cp_state_add_down(&cp->state, &r[i],
			                                    1)) != 0)
				return rv;
		} else if (!ok[i]) {
			cp_ops_stop_replica(cp, r[i].name);
			continue;
		}
		if (ok[i])
			r[(*nup)++] = r[i]; /* keeps the healthy, in order */
	}
	if (!cp->driver->ops->given_addresses)
		return cp_state_add_up(&cp->state, r, *nup);
	return 0;
}

/* Adopts the replicas that already run (a restart loses nothing); when
 * there are none, starts server1..N.  Static backends are all kept: those
 * that do not answer yet start DOWN. */
static int cp_bootstrap(struct cp *cp, char *err, size_t errlen)
{
	struct cp_replica *r;
	struct cp_found *f;
	size_t n, nup = 0;
	bool *ok;
	int rv;

	if ((rv = cp->driver->ops->adopt(cp->driver, &f, &n, err, errlen)))
		return rv;
	r = calloc(n ? n : 1, sizeof(*r));
	ok = calloc(n ? n : 1, sizeof(*ok));
	if (!r || !ok)
		rv = LB_ERR_NOMEM;
	if (rv == 0) {
		bootstrap_probe(cp, f, n, r, ok);
		rv = bootstrap_record(cp, r, ok, n, &nup);
	}
	if (rv == 0 && !cp->driver->ops->given_addresses && nup == 0 &&
	    cp->cfg.replicas > 0)
		rv = cp_start_initial(cp, (size_t)cp->cfg.replicas);
	if (rv != 0)
		snprintf(err, errlen, "cannot record replicas: %s",
		         lb_err_str(rv));
	free(f);
	free(r);
	free(ok);
	return rv;
}

static int cp_driver_make(struct cp *cp, char *err, size_t errlen)
{
	switch (cp->cfg.driver_kind) {
	case CP_DRIVER_STATIC:
		return cp_driver_static_create(&cp->cfg, &cp->driver, err,
		                               errlen);
	case CP_DRIVER_SWARM:
		return cp_driver_swarm_create(&cp->cfg, cp_on_replica_exit, cp,
		                              &cp->driver, err, errlen);
	case CP_DRIVER_DOCKER:
		return cp_driver_docker_create(&cp->cfg, cp_on_replica_exit, cp,
		                               &cp->driver, err, errlen);
	case CP_DRIVER_PROCESS:
		break;
	}
	return cp_driver_process_create(&cp->cfg, cp_on_replica_exit, cp,
	                                &cp->driver, err, errlen);
}

/* Stops whatever runs, in order: no more requests, no more repairs, the
 * publisher last; then the driver (the process driver stops its
 * replicas; Docker leaves them to be adopted).  Threads that never started
 * are skipped. */
static void cp_stop_all(struct cp *cp)
{
	atomic_store(&cp->stopping, true);
	cp_state_stop(&cp->state);
	cp_ctl_stop(cp);
	cp_health_stop(cp);
	cp_repair_stop(cp);
	/* Replicas still draining left the ring: stopped now, not left to
	 * be adopted as members by the next control plane. */
	cp_drain_stop(cp);
	cp_publish_stop(cp);
	if (cp->driver->ops->shutdown)
		cp->driver->ops->shutdown(cp->driver);
	cp->driver->ops->destroy(cp->driver);
	/* Last: stopping a listener with idle keep-alive connections may end
	 * the process (lb_http_stop_or_exit()), and nothing is left to save
	 * now. */
	cp_metrics_stop(cp);
	cp_state_fini(&cp->state);
	cp_reports_fini(&cp->reports);
	curl_global_cleanup();
}

int main(int argc, char **argv)
{
	static struct cp cp; /* the one context; static only for its size */
	char err[512] = "", key[LB_KEY_NAME_MAX + 16];
	int rv, sig;

	rv = cp_config_load(&cp.cfg, argc, argv, err, sizeof(err));
	if (rv == 1)
		return 0;
	if (rv != 0) {
		fprintf(stderr, "lb-controlplane: %s\n", err);
		return 2;
	}
	if (lb_signal_init() != 0) {
		lb_log(LB_ERROR, "signal_setup_failed", "errno=%d", errno);
		return 1;
	}
	/* Library init, once, before any thread starts. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_init(&cp.orch, NULL);
	cp_reports_init(&cp.reports);
	cp_drain_init(&cp.drain);
	if ((rv = cp_state_init(&cp.state, &cp.cfg.preset, &cp.cfg.routing)) !=
	    0) {
		fprintf(stderr, "lb-controlplane: %s\n", lb_err_str(rv));
		return 1;
	}
	/* Sockets first: a bad or busy address fails the start before any
	 * replica is touched. */
	if ((rv = cp_publish_start(&cp, err, sizeof(err))) != 0 ||
	    (rv = cp_ctl_listen(&cp, err, sizeof(err))) != 0 ||
	    (rv = cp_metrics_start(&cp, err, sizeof(err))) != 0 ||
	    (rv = cp_driver_make(&cp, err, sizeof(err))) != 0) {
		lb_log(LB_ERROR, "start_failed", "reason=\"%s\"", err);
		fprintf(stderr, "lb-controlplane: %s\n", err);
		return 1;
	}
	if (cp.driver->ops->given_addresses)
		cp_state_no_respawn(&cp.state); /* nothing to respawn */
	/* Admin requests are answered once the first replicas serve, so that
	 * the first /rep lists replicas that work. */
	if ((rv = cp_bootstrap(&cp, err, sizeof(err))) != 0 ||
	    (rv = cp_ctl_serve(&cp)) != 0 || (rv = cp_health_start(&cp)) != 0 ||
	    (rv = cp_repair_start(&cp)) != 0 ||
	    (rv = cp_drain_start(&cp)) != 0) {
		lb_log(LB_ERROR, "start_failed", "reason=\"%s\"",
		       err[0] ? err : lb_err_str(rv));
		fprintf(stderr, "lb-controlplane: cannot start: %s\n",
		        err[0] ? err : lb_err_str(rv));
		/* What was started is stopped: no half-made control plane. */
		cp_stop_all(&cp);
		return 1;
	}
	lb_key_format(&cp.cfg.routing.key, key, sizeof(key));
	lb_log(LB_INFO, "started",
	       "ctl=%s pub=%s driver=%s preset=%s slots=%u vnodes=%u "
	       "hash=%s placement=%s key=%s balance_factor=%g replicas=%zu",
	       cp.cfg.ctl_url, cp.cfg.pub_url,
	       cp_driver_names[cp.cfg.driver_kind], cp.cfg.preset.name,
	       cp.cfg.preset.slots, cp.cfg.preset.vnodes,
	       lb_hash_name(cp.cfg.preset.hash),
	       lb_preset_placement_name(cp.cfg.preset.placement), key,
	       cp.cfg.routing.balance_factor, cp_state_count(&cp.state));

	sig = lb_signal_wait(-1);
	lb_log(LB_INFO, "stopping", "signal=%d", sig);

	cp_stop_all(&cp);
	lb_log(LB_INFO, "stopped", "signal=%d", sig);
	return 0;
}
