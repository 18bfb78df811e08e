#include "dp_metrics.h"

#include "dp.h"
#include "dp_upstream.h"
#include "lb_time.h"
#include "dp_router.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Counting, on the hot path: relaxed atomic adds, no lock. */
void dp_metrics_init(struct dp_stats *s)
{
	memset(s, 0, sizeof(*s));
	lb_histo_init(&s->duration, lb_histo_latency_bounds,
	              lb_histo_latency_nbounds);
	for (int i = 0; i < DP_PHASES; i++)
		lb_histo_init(&s->phase[i], lb_histo_latency_bounds,
		              lb_histo_latency_nbounds);
}

void dp_metrics_count(struct dp_stats *s, struct dp_replica_stats *r,
                      int status, const struct dp_timers *t)
{
	int code = status > 0 && status < DP_CODES ? status : 0;
	atomic_ullong *c = r ? &r->by_code[code] : &s->no_replica[code];

	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
	lb_histo_observe(&s->duration, t->total_us);
	lb_histo_observe(&s->phase[DP_PHASE_QUEUE], t->queue_us);
	if (!r)
		return; /* no replica: nothing connected or answered */
	lb_histo_observe(&s->phase[DP_PHASE_CONNECT], t->connect_us);
	if (t->response_us >= 0)
		lb_histo_observe(&s->phase[DP_PHASE_RESPONSE],
		                 (uint64_t)t->response_us);
}

/* lb_requests_total{replica, code}: every replica's non-zero codes. */
static void render_requests(struct dp *dp, struct lb_prom *b)
{
	char labels[160], name[2 * LB_NAME_MAX + 8];

	lb_prom_family(
	    b, "lb_requests_total", "counter",
	    "Requests answered, by the replica that served them and "
	    "the status the client got (replica=\"none\": no replica "
	    "was reached).");
	dp_metrics_replica_lock();
	for (struct dp_replica_stats *r = dp_metrics_replica_first(); r;
	     r = r->next) {
		lb_prom_escape(r->name, name, sizeof(name));
		for (int c = 0; c < DP_CODES; c++) {
			unsigned long long n = atomic_load(&r->by_code[c]);
			if (!n)
				continue;
			snprintf(labels, sizeof(labels),
			         "replica=\"%s\",code=\"%d\"", name, c);
			lb_prom_sample(b, "lb_requests_total", labels,
			               (double)n);
		}
	}
	dp_metrics_replica_unlock();
	for (int c = 0; c < DP_CODES; c++) {
		unsigned long long n = atomic_load(&dp->stats.no_replica[c]);
		if (!n)
			continue;
		snprintf(labels, sizeof(labels), "replica=\"none\",code=\"%d\"",
		         c);
		lb_prom_sample(b, "lb_requests_total", labels, (double)n);
	}
}

/* The samples of one per-replica family for replica be; `name` is its
 * name, escaped. */
typedef void (*replica_sampler)(struct lb_prom *b, const char *fam,
                                const struct dp_backend *be, const char *name);

static void sample_inflight(struct lb_prom *b, const char *fam,
                            const struct dp_backend *be, const char *name)
{
	char labels[160];
	snprintf(labels, sizeof(labels), "replica=\"%s\"", name);
	lb_prom_sample(b, fam, labels, dp_upstream_inflight(be->up));
}

static void sample_conns(struct lb_prom *b, const char *fam,
                         const struct dp_backend *be, const char *name)
{
	char labels[160];
	int open, idle;

	dp_upstream_conns(be->up, &open, &idle);
	snprintf(labels, sizeof(labels), "replica=\"%s\",state=\"active\"",
	         name);
	lb_prom_sample(b, fam, labels, open - idle);
	snprintf(labels, sizeof(labels), "replica=\"%s\",state=\"idle\"", name);
	lb_prom_sample(b, fam, labels, idle);
}

static void sample_queue(struct lb_prom *b, const char *fam,
                         const struct dp_backend *be, const char *name)
{
	char labels[160];
	int active, queued;

	dp_upstream_queue(be->up, &active, &queued);
	snprintf(labels, sizeof(labels), "replica=\"%s\"", name);
	lb_prom_sample(b, fam, labels, queued);
}

static void sample_ejections(struct lb_prom *b, const char *fam,
                             const struct dp_backend *be, const char *name)
{
	char labels[160];
	snprintf(labels, sizeof(labels), "replica=\"%s\"", name);
	lb_prom_sample(b, fam, labels,
	               be->stats ? (double)atomic_load(&be->stats->ejections)
	                         : 0);
}

/* Per replica of the current table: in flight, connections, ejections. */
static void render_replicas(struct dp_table *t, struct lb_prom *b)
{
	static const struct {
		const char *name, *type, *help;
		replica_sampler sample;
	} fams[] = {
	    {"lb_inflight_requests", "gauge",
	     "Requests in flight to the replica from this data plane.",
	     sample_inflight},
	    {"lb_upstream_connections", "gauge",
	     "Connections to the replica: active (an exchange runs on it) or "
	     "idle (pooled).",
	     sample_conns},
	    {"lb_upstream_queue", "gauge",
	     "Requests waiting in line for the replica (past "
	     "LB_REPLICA_MAX_CONNS exchanges at once).",
	     sample_queue},
	    {"lb_upstream_ejections_total", "counter",
	     "Times the replica was ejected: skipped for LB_EJECT_MS after it "
	     "refused a connection, or for a growing time after "
	     "LB_EJECT_CONSECUTIVE failures in a row.",
	     sample_ejections},
	};
	char name[2 * LB_NAME_MAX + 8];

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		lb_prom_family(b, fams[f].name, fams[f].type, fams[f].help);
		for (size_t i = 0; t && i < t->n; i++) {
			lb_prom_escape(t->b[i].name, name, sizeof(name));
			fams[f].sample(b, fams[f].name, &t->b[i], name);
		}
	}
}

static void render_counter(struct lb_prom *b, const char *name,
                           const char *help, const char *labels, double value)
{
	lb_prom_family(b, name, "counter", help);
	lb_prom_sample(b, name, labels, value);
}

static void render_gauge(struct lb_prom *b, const char *name, const char *help,
                         double value)
{
	lb_prom_family(b, name, "gauge", help);
	lb_prom_sample(b, name, "", value);
}

static void render_phases(struct dp *dp, struct lb_prom *b)
{
	static const char *const phases[DP_PHASES] = {"queue", "connect",
	                                              "response"};
	const char *fam = "lb_request_phase_seconds";
	char labels[64];
	int active, queued;

	lb_prom_family(b, fam, "histogram",
	               "Where requests' time went: waiting in line (admission "
	               "and the replica's queue), connecting (0 on a pooled "
	               "connection), the replica's time to the answer's head, "
	               "and the total.");
	for (int i = 0; i < DP_PHASES; i++) {
		snprintf(labels, sizeof(labels), "phase=\"%s\"", phases[i]);
		lb_prom_histo(b, fam, labels, &dp->stats.phase[i]);
	}
	lb_prom_histo(b, fam, "phase=\"total\"", &dp->stats.duration);
	dp_gate_counts(&dp->admit, &active, &queued);
	render_gauge(b, "lb_admitted_requests",
	             "Requests admitted that hold their place: from their "
	             "head until they went out to a replica (LB_MAX_ACTIVE).",
	             active);
	render_gauge(b, "lb_admission_queue",
	             "Requests waiting in line for admission.", queued);
	render_counter(b, "lb_admission_queued_total",
	               "Requests that waited in line for admission (only with "
	               "more client connections than twice LB_MAX_ACTIVE).",
	               "", (double)atomic_load(&dp->admit.queued_total));
	render_counter(b, "lb_queue_timeouts_total",
	               "Requests answered 503 after LB_QUEUE_TIMEOUT_MS in "
	               "line, by which line.",
	               "queue=\"admission\"",
	               (double)atomic_load(&dp->admit.timeouts_total));
	lb_prom_sample(b, "lb_queue_timeouts_total", "queue=\"replica\"",
	               (double)atomic_load(&dp->stats.replica_queue_timeouts));
}

void dp_metrics_render(struct dp *dp, struct lb_prom *b)
{
	static const char *const reasons[] = {"connect", "busy", "broken"};
	struct dp_table *t = dp_router_acquire(&dp->router);
	int64_t last = dp_router_last_snapshot_ms(&dp->router);
	char labels[64];

	render_requests(dp, b);
	lb_prom_family(b, "lb_request_duration_seconds", "histogram",
	               "Time from a request's head to the end of its answer.");
	lb_prom_histo(b, "lb_request_duration_seconds", "",
	              &dp->stats.duration);
	render_phases(dp, b);
	lb_prom_family(b, "lb_upstream_retries_total", "counter",
	               "Requests sent on to another replica, by why.");
	for (int i = 0; i < 3; i++) {
		snprintf(labels, sizeof(labels), "reason=\"%s\"", reasons[i]);
		lb_prom_sample(b, "lb_upstream_retries_total", labels,
		               (double)atomic_load(&dp->stats.retries[i]));
	}
	render_replicas(t, b);
	render_gauge(b, "lb_snapshot_version",
	             "Version of the routing table in use (0: none yet).",
	             t ? (double)t->version : 0);
	render_gauge(b, "lb_snapshot_age_seconds",
	             "Seconds since the control plane's last snapshot arrived "
	             "(it republishes every LB_REPUBLISH_MS).",
	             last ? (double)(lb_now_ms() - last) / 1000.0 : -1);
	render_gauge(b, "lb_control_plane_connected",
	             "1 while the admin pipe to the control plane is up.",
	             dp_cpclient_connected(&dp->cpclient));
	render_gauge(b, "lb_client_connections",
	             "Client connections open (each holds a worker).",
	             atomic_load(&dp->conns.busy));
	render_gauge(b, "lb_workers", "Worker threads (LB_THREADS).",
	             dp->conns.threads);
	render_counter(b, "lb_connections_refused_total",
	               "Client connections refused.",
	               "reason=\"max_conns_per_ip\"",
	               (double)atomic_load(&dp->conns.refused));
	render_counter(b, "lb_key_fallbacks_total",
	               "Requests that lacked their LB_KEY (routed by a random "
	               "id).",
	               "", (double)atomic_load(&dp->stats.key_fallbacks));
	render_counter(b, "lb_sticky_cookies_total",
	               "Sticky cookies handed out (LB_SET_COOKIE).", "",
	               (double)atomic_load(&dp->stats.cookies_set));
	if (dp->tls)
		dp_tls_prom(dp->tls, b);
	dp_table_release(t);
}
