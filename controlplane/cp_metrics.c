#include "cp_metrics.h"

#include "lb_err.h"
#include "lb_log.h"
#include "lb_prom.h"
#include "lb_http_auth.h"
#include "lb_http_send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const admin_ops[CP_ADMIN_OPS] = {
    NULL, "list", "add", "remove", "snapshot", "status", "report"};

/* Replicas that left the ring and wait for the requests in flight to
 * them (cp_drain.h). */
static void render_drain(struct cp *cp, struct lb_prom *b)
{
	struct cp_draining *v;
	size_t n = 0;

	if (cp_drain_copy(&cp->drain, &v, &n) == 0)
		free(v);
	lb_prom_single(b, "lb_replicas_draining", "gauge",
	               "Replicas out of the ring, waiting for the requests in "
	               "flight to them before they stop.",
	               (double)n);
	lb_prom_family(
	    b, "lb_drains_total", "counter",
	    "Drains ended, by outcome (drained: nothing was in "
	    "flight any more; timeout: LB_DRAIN_TIMEOUT_MS passed).");
	lb_prom_sample(b, "lb_drains_total", "outcome=\"drained\"",
	               (double)atomic_load(&cp->drain.drained));
	lb_prom_sample(b, "lb_drains_total", "outcome=\"timeout\"",
	               (double)atomic_load(&cp->drain.timed_out));
	lb_prom_single(b, "lb_drain_cut_requests_total", "counter",
	               "Requests still in flight when a drain timed out (cut "
	               "by the stop).",
	               (double)atomic_load(&cp->drain.cut));
}

static void render_state(struct cp *cp, struct lb_prom *b)
{
	size_t n, ready = cp_state_count_up(&cp->state, &n);

	lb_prom_single(b, "lb_replicas_desired", "gauge",
	               "N: the replicas the control plane keeps running.",
	               (double)n);
	lb_prom_single(b, "lb_replicas_ready", "gauge",
	               "Replicas in the ring, answering heartbeats.",
	               (double)ready);
	render_drain(cp, b);
}

static void render_counters(struct cp *cp, struct lb_prom *b)
{
	struct cp_state *s = &cp->state;
	char labels[64];

	lb_prom_family(b, "lb_heartbeats_total", "counter",
	               "Heartbeats sent to replicas, by result.");
	lb_prom_sample(b, "lb_heartbeats_total", "result=\"ok\"",
	               (double)atomic_load(&cp->stats.heartbeats[1]));
	lb_prom_sample(b, "lb_heartbeats_total", "result=\"failed\"",
	               (double)atomic_load(&cp->stats.heartbeats[0]));
	lb_prom_family(b, "lb_replica_deaths_total", "counter",
	               "Replicas found dead, by cause (exited: the driver saw "
	               "it end; heartbeat: it stopped answering).");
	for (int i = 0; cp_death_names[i]; i++) {
		snprintf(labels, sizeof(labels), "cause=\"%s\"",
		         cp_death_names[i]);
		lb_prom_sample(b, "lb_replica_deaths_total", labels,
		               (double)atomic_load(&s->deaths[i]));
	}
	lb_prom_single(b, "lb_replacements_total", "counter",
	               "Replacements made for dead replicas.",
	               (double)atomic_load(&s->replacements));
	lb_prom_family(b, "lb_replacement_seconds", "histogram",
	               "From a replica's death to its replacement serving.");
	lb_prom_histo(b, "lb_replacement_seconds", "", &s->replacement_time);
	lb_prom_family(b, "lb_admin_requests_total", "counter",
	               "Admin requests answered, by operation and status.");
	for (int op = 1; op < CP_ADMIN_OPS; op++)
		for (int c = 0; c < CP_ADMIN_CODES; c++) {
			unsigned long long k =
			    atomic_load(&cp->stats.admin[op][c]);
			if (!k)
				continue;
			snprintf(labels, sizeof(labels),
			         "op=\"%s\",code=\"%d\"", admin_ops[op], c);
			lb_prom_sample(b, "lb_admin_requests_total", labels,
			               (double)k);
		}
	lb_prom_single(b, "lb_snapshots_published_total", "counter",
	               "Snapshots sent on the PUB socket (changes and "
	               "republishes).",
	               (double)atomic_load(&cp->stats.snapshots_published));
	lb_prom_single(b, "lb_engine_errors_total", "counter",
	               "Replica starts or stops that the driver's engine "
	               "refused.",
	               (double)atomic_load(&cp->stats.engine_errors));
}

void cp_metrics_render(struct cp *cp, struct lb_prom *b)
{
	render_state(cp, b);
	render_counters(cp, b);
	lb_prom_single(b, "lb_snapshot_version", "gauge",
	               "Version of the current routing state.",
	               (double)cp_state_version(&cp->state));
}

static int metrics_page(struct mg_connection *c, void *user)
{
	struct cp *cp = user;
	const char *path = mg_get_request_info(c)->local_uri_raw;
	struct lb_prom b;

	if (strcmp(path, "/metrics") != 0) {
		lb_http_send_error(c, 404, NULL,
		                   "'%.200s' is not a page here "
		                   "(try /metrics)",
		                   path);
		return 404;
	}
	if (!cp->cfg.metrics_open &&
	    lb_http_auth_refused(c, cp->cfg.admin_token, true))
		return 401;
	lb_prom_init(&b);
	cp_metrics_render(cp, &b);
	return lb_http_send_prom(c, &b);
}

int cp_metrics_start(struct cp *cp, char *err, size_t errlen)
{
	if (!cp->cfg.metrics_listen[0])
		return 0;
	cp->http_cfg = (struct lb_http_server_cfg){
	    .threads = 4,
	    .begin_request = metrics_page,
	    .allow = &cp->cfg.admin_from,
	    .user = cp,
	};
	return lb_http_start_pages("LB_METRICS_LISTEN", cp->cfg.metrics_listen,
	                           &cp->http_cfg, &cp->http, err, errlen);
}

void cp_metrics_stop(struct cp *cp)
{
	if (cp->http)
		lb_http_stop_or_exit(cp->http, 500);
	cp->http = NULL;
}
