#include "dp_pages.h"

#include "dp.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_rand.h"
#include "lb_time.h"
#include "lb_http_send.h"
#include "lb_http_auth.h"
#include "dp_router.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A replica that died stays on the dashboard, marked dead, this long. */
#define SITE_DEAD_SHOWN_MS 60000
/* The ring is drawn with at most this many arcs. */
#define SITE_RING_BUCKETS 2048

extern const char dp_pages_page[];

/* ---- /api/state ---------------------------------------------------------- */

/* The control plane's view (desired, states, events), or NULL when it
 * cannot be asked. */
static Lb__AdminReply *pages_status(struct dp *dp)
{
	Lb__AdminRequest req = LB__ADMIN_REQUEST__INIT;
	Lb__AdminReply *reply;
	char err[256];

	req.op = LB__ADMIN_REQUEST__OP__STATUS;
	req.request_id = lb_rand_u64();
	if (dp_cpclient_call(&dp->cpclient, &req, 1000, &reply, err,
	                     sizeof(err)) != 0)
		return NULL;
	if (reply->status != 200 || !reply->state) {
		lb__admin_reply__free_unpacked(reply, NULL);
		return NULL;
	}
	return reply;
}

/* Requests a replica answered, and of them 5xx (the client's status). */
static void pages_counts(const struct dp_backend *b, double *all, double *bad)
{
	*all = *bad = 0;
	if (!b || !b->stats)
		return;
	for (int c = 0; c < DP_CODES; c++) {
		double n = (double)atomic_load(&b->stats->by_code[c]);
		*all += n;
		if (c >= 500)
			*bad += n;
	}
}

static cJSON *pages_replica(const struct dp_table *t, const char *name,
                            uint32_t id, const char *state, uint32_t fails,
                            uint32_t weight)
{
	cJSON *r = cJSON_CreateObject();
	const struct dp_backend *b = t ? dp_table_backend(t, id) : NULL;
	double all, bad;

	pages_counts(b, &all, &bad);
	cJSON_AddStringToObject(r, "name", name);
	cJSON_AddNumberToObject(r, "id", id);
	cJSON_AddStringToObject(r, "state", state);
	cJSON_AddNumberToObject(r, "fails", fails);
	cJSON_AddNumberToObject(r, "weight", weight);
	cJSON_AddBoolToObject(r, "in_ring", b != NULL);
	cJSON_AddNumberToObject(r, "inflight",
	                        b ? dp_upstream_inflight(b->up) : 0);
	cJSON_AddNumberToObject(r, "requests", all);
	cJSON_AddNumberToObject(r, "errors", bad);
	if (b) {
		char addr[LB_HOST_MAX + 8];
		int64_t out = atomic_load(&b->ejected_until) - lb_now_ms();
		snprintf(addr, sizeof(addr), "%s:%u", b->host, b->port);
		cJSON_AddStringToObject(r, "address", addr);
		/* Skipped by this data plane for so long yet (dp_outlier.h,
		 * or a refused connection). */
		cJSON_AddNumberToObject(r, "ejected_ms",
		                        out > 0 ? (double)out : 0);
	}
	return r;
}

/* Replicas that died lately (from the events), not listed any more. */
static void pages_dead(cJSON *arr, const Lb__Status *st, uint64_t now)
{
	for (size_t i = st->n_events; i-- > 0;) {
		const Lb__Event *e = st->events[i];
		bool listed = false;
		if (strcmp(e->kind, "died") != 0 ||
		    now - e->wall_ms > SITE_DEAD_SHOWN_MS)
			continue;
		for (size_t k = 0; k < st->n_replicas && !listed; k++)
			listed = strcmp(st->replicas[k]->name, e->name) == 0;
		if (!listed)
			cJSON_AddItemToArray(
			    arr, pages_replica(NULL, e->name, 0, "dead", 0, 1));
	}
}

static void pages_events(cJSON *root, const Lb__Status *st)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "events");
	for (size_t i = 0; i < st->n_events; i++) {
		const Lb__Event *e = st->events[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "time_ms", (double)e->wall_ms);
		cJSON_AddStringToObject(o, "kind", e->kind);
		cJSON_AddStringToObject(o, "name", e->name);
		cJSON_AddStringToObject(o, "detail",
		                        e->detail ? e->detail : "");
		cJSON_AddItemToArray(arr, o);
	}
}

static void pages_routing(cJSON *root, const struct dp_table *t)
{
	const struct lb_preset *p = lb_ring_preset(t->ring);
	cJSON *o = cJSON_AddObjectToObject(root, "preset");
	char key[LB_KEY_NAME_MAX + 16];

	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddNumberToObject(o, "slots", p->slots);
	cJSON_AddNumberToObject(o, "vnodes", p->vnodes);
	cJSON_AddStringToObject(o, "hash", lb_hash_name(p->hash));
	cJSON_AddStringToObject(o, "placement",
	                        lb_preset_placement_name(p->placement));
	lb_key_format(&t->routing.key, key, sizeof(key));
	o = cJSON_AddObjectToObject(root, "routing");
	cJSON_AddStringToObject(o, "key", key);
	cJSON_AddNumberToObject(o, "balance_factor", t->routing.balance_factor);
}

/* The replicas: the control plane's list (with their states) when it
 * answers, else the ring's. */
static void pages_replicas(cJSON *root, const struct dp_table *t,
                           const Lb__Status *st)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "replicas");
	uint64_t now = lb_wall_us() / 1000;

	if (st) {
		for (size_t i = 0; i < st->n_replicas; i++) {
			const Lb__ReplicaStatus *r = st->replicas[i];
			cJSON_AddItemToArray(
			    arr, pages_replica(t, r->name, r->server_id,
			                       r->state, r->fails,
			                       r->has_weight ? r->weight : 1));
		}
		pages_dead(arr, st, now);
		return;
	}
	for (size_t i = 0; t && i < t->n; i++)
		cJSON_AddItemToArray(arr,
		                     pages_replica(t, t->b[i].name, t->b[i].id,
		                                   "up", 0, t->b[i].weight));
}

static cJSON *pages_state(struct dp *dp)
{
	struct dp_table *t = dp_router_acquire(&dp->router);
	Lb__AdminReply *status = pages_status(dp);
	const Lb__Status *st = status ? status->state : NULL;
	int64_t last = dp_router_last_snapshot_ms(&dp->router);
	cJSON *root = cJSON_CreateObject();

	cJSON_AddNumberToObject(root, "time_ms", (double)(lb_wall_us() / 1000));
	cJSON_AddNumberToObject(root, "version", t ? (double)t->version : 0);
	cJSON_AddNumberToObject(root, "snapshot_age_s",
	                        last ? (double)(lb_now_ms() - last) / 1000
	                             : -1);
	cJSON_AddBoolToObject(root, "control_plane", st != NULL);
	if (st) {
		cJSON_AddNumberToObject(root, "desired", st->desired);
		cJSON_AddNumberToObject(root, "ready", st->ready);
	}
	if (t)
		pages_routing(root, t);
	pages_replicas(root, t, st);
	if (st)
		pages_events(root, st);
	cJSON_AddNumberToObject(root, "client_connections",
	                        atomic_load(&dp->conns.busy));
	if (status)
		lb__admin_reply__free_unpacked(status, NULL);
	dp_table_release(t);
	return root;
}

/* ---- /api/ring ----------------------------------------------------------- */

/* The ring as arcs [first slot, slots, server id] coloured by the replica
 * that serves them (at most SITE_RING_BUCKETS of them: a large table is
 * drawn coarser), and the slots of the virtual servers. */
static cJSON *pages_ring(struct dp *dp)
{
	struct dp_table *t = dp_router_acquire(&dp->router);
	cJSON *root = cJSON_CreateObject(), *arcs, *vn;
	const uint32_t *owner;
	uint32_t slots, step, serving = 0, *served;

	if (!t) {
		cJSON_AddNumberToObject(root, "version", 0);
		return root;
	}
	owner = lb_ring_table(t->ring);
	slots = lb_ring_preset(t->ring)->slots;
	step = (slots + SITE_RING_BUCKETS - 1) / SITE_RING_BUCKETS;
	cJSON_AddNumberToObject(root, "version", (double)t->version);
	cJSON_AddNumberToObject(root, "slots", slots);
	cJSON_AddNumberToObject(root, "step", step);
	/* Who serves each slot: the first virtual server clockwise, found
	 * by walking the table backwards twice (the arc wraps). */
	if ((served = malloc(slots * sizeof(*served)))) {
		for (uint32_t k = 0; k < 2 * slots; k++) {
			uint32_t s = slots - 1 - k % slots;
			if (owner[s])
				serving = owner[s];
			served[s] = serving;
		}
		arcs = cJSON_AddArrayToObject(root, "arcs");
		for (uint32_t s = 0; s < slots; s += step) {
			uint32_t first = s;
			while (s + step < slots &&
			       served[s + step] == served[first])
				s += step;
			cJSON *a = cJSON_CreateArray();
			cJSON_AddItemToArray(a, cJSON_CreateNumber(first));
			cJSON_AddItemToArray(
			    a,
			    cJSON_CreateNumber(
			        (s + step < slots ? s + step : slots) - first));
			cJSON_AddItemToArray(a,
			                     cJSON_CreateNumber(served[first]));
			cJSON_AddItemToArray(arcs, a);
		}
		free(served);
	}
	/* Virtual servers: every slot under Maglev; marked only when few. */
	vn = cJSON_AddArrayToObject(root, "vnodes");
	for (uint32_t s = 0; s < slots && slots <= 8192; s++)
		if (owner[s])
			cJSON_AddItemToArray(vn, cJSON_CreateNumber(s));
	dp_table_release(t);
	return root;
}

/* ---- the listener -------------------------------------------------------- */

static int pages_json(struct mg_connection *c, cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	int status = text ? 200 : 500;

	cJSON_Delete(j);
	if (text)
		lb_http_send(c, 200, "application/json", text, strlen(text),
		             "Cache-Control: no-store\r\n");
	else
		lb_http_send_error(c, 500, NULL, "Out of memory");
	cJSON_free(text);
	return status;
}

static int pages_metrics(struct mg_connection *c, struct dp *dp)
{
	struct lb_prom b;

	lb_prom_init(&b);
	dp_metrics_render(dp, &b);
	return lb_http_send_prom(c, &b);
}

static int pages_page(struct mg_connection *c, void *user)
{
	struct dp *dp = user;
	const char *path = mg_get_request_info(c)->local_uri_raw;
	bool metrics = strcmp(path, "/metrics") == 0;

	if (!(metrics && dp->cfg.metrics_open) &&
	    lb_http_auth_refused(c, dp->cfg.admin_token, true))
		return 401;
	if (metrics)
		return pages_metrics(c, dp);
	if (strcmp(path, "/api/state") == 0)
		return pages_json(c, pages_state(dp));
	if (strcmp(path, "/api/ring") == 0)
		return pages_json(c, pages_ring(dp));
	if (strcmp(path, "/") == 0) {
		lb_http_send(c, 200, "text/html; charset=utf-8", dp_pages_page,
		             strlen(dp_pages_page),
		             "Cache-Control: no-store\r\n");
		return 200;
	}
	lb_http_send_error(c, 404, NULL,
	                   "'%.200s' is not a page here (/, /metrics, "
	                   "/api/state, /api/ring)",
	                   path);
	return 404;
}

int dp_pages_start(struct dp *dp, char *err, size_t errlen)
{
	if (!dp->cfg.pages_listen[0])
		return 0;
	dp->site_cfg = (struct lb_http_server_cfg){
	    .threads = 8,
	    .begin_request = pages_page,
	    .allow = &dp->cfg.admin_from,
	    .user = dp,
	};
	return lb_http_start_pages("LB_PAGES_LISTEN", dp->cfg.pages_listen,
	                           &dp->site_cfg, &dp->site, err, errlen);
}

void dp_pages_stop(struct dp *dp)
{
	if (dp->site)
		lb_http_stop_or_exit(dp->site, 300);
	dp->site = NULL;
}
