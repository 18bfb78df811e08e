#include "cp_ops.h"

#include "cp_probe.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_name.h"
#include "lb_rand.h"
#include "lb_time.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest /rm waits for the data planes to route without the
 * replicas it removed (they report within DP_REPORT_MS of a new ring). */
#define RM_APPLY_WAIT_MS 1000

/* Errors echo user-given names; cut them so a reply stays small. */
#define NAME_ECHO "%.64s"

static void reply_error(Lb__AdminReply *reply, uint32_t status, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

static void reply_error(Lb__AdminReply *reply, uint32_t status, const char *fmt,
                        ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	lb_error_vtext(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply->status = status;
	reply->error = strdup(msg);
}

/* The /rep body: every managed replica, in join order. */
static void reply_list(struct cp *cp, Lb__AdminReply *reply)
{
	struct cp_replica *v;
	size_t n;

	if (cp_state_copy(&cp->state, &v, &n) != 0) {
		reply_error(reply, 500, "out of memory");
		return;
	}
	reply->status = 200;
	reply->replicas = calloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; reply->replicas && i < n; i++) {
		if (!(reply->replicas[i] = strdup(v[i].name)))
			break;
		reply->n_replicas = i + 1;
	}
	free(v);
}

/* The dashboard's view: every replica's state and the recent events.  One
 * allocation holds it all (freed by cp_ops_reply_fini()). */
struct status_block {
	Lb__Status st;
	Lb__ReplicaStatus *rs;
	Lb__ReplicaStatus **rsp;
	Lb__Event ev[CP_EVENTS_MAX];
	Lb__Event *evp[CP_EVENTS_MAX];
	struct cp_event events[CP_EVENTS_MAX];
	struct cp_replica *v;
	struct cp_draining *dv; /* draining: listed after the managed */
};

static void reply_status(struct cp *cp, Lb__AdminReply *reply)
{
	struct status_block *b = calloc(1, sizeof(*b));
	size_t n, nd = 0, ne;

	if (!b || cp_state_copy(&cp->state, &b->v, &n) != 0 ||
	    cp_drain_copy(&cp->drain, &b->dv, &nd) != 0 ||
	    !(b->rs = calloc(n + nd + 1, sizeof(*b->rs))) ||
	    !(b->rsp = calloc(n + nd + 1, sizeof(*b->rsp)))) {
		if (b) {
			free(b->v);
			free(b->dv);
			free(b->rs);
			free(b);
		}
		reply_error(reply, 500, "out of memory");
		return;
	}
	lb__status__init(&b->st);
	for (size_t i = 0; i < n; i++) {
		lb__replica_status__init(&b->rs[i]);
		b->rs[i].name = b->v[i].name;
		b->rs[i].server_id = b->v[i].id;
		b->rs[i].state = b->v[i].st == CP_R_UP     ? "up"
		                 : b->v[i].st == CP_R_DOWN ? "down"
		                                           : "starting";
		b->rs[i].has_fails = true;
		b->rs[i].fails = (uint32_t)b->v[i].fails;
		b->rs[i].has_weight = true;
		b->rs[i].weight = cp_replica_weight(&b->v[i]);
		b->rsp[i] = &b->rs[i];
		b->st.ready += b->v[i].st == CP_R_UP;
	}
	for (size_t i = 0; i < nd; i++) {
		lb__replica_status__init(&b->rs[n + i]);
		b->rs[n + i].name = b->dv[i].r.name;
		b->rs[n + i].server_id = b->dv[i].r.id;
		b->rs[n + i].state = "draining";
		b->rs[n + i].has_weight = true;
		b->rs[n + i].weight = cp_replica_weight(&b->dv[i].r);
		b->rsp[n + i] = &b->rs[n + i];
	}
	b->st.desired = (uint32_t)n;
	b->st.n_replicas = n + nd;
	b->st.replicas = b->rsp;
	ne = cp_events_last(&cp->state.events, b->events, CP_EVENTS_MAX);
	for (size_t i = 0; i < ne; i++) {
		lb__event__init(&b->ev[i]);
		b->ev[i].wall_ms = b->events[i].wall_ms;
		b->ev[i].kind = b->events[i].kind;
		b->ev[i].name = b->events[i].name;
		b->ev[i].detail = b->events[i].detail;
		b->evp[i] = &b->ev[i];
	}
	b->st.n_events = ne;
	b->st.events = b->evp;
	reply->status = 200;
	reply->state = &b->st; /* st is b's first member */
}

void cp_ops_reply_fini(Lb__AdminReply *reply)
{
	for (size_t i = 0; i < reply->n_replicas; i++)
		free(reply->replicas[i]);
	free(reply->replicas);
	free(reply->error);
	if (reply->state) {
		struct status_block *b = (struct status_block *)reply->state;
		free(b->v);
		free(b->dv);
		free(b->rs);
		free(b->rsp);
		free(b);
	}
}

bool cp_ops_stop_replica(struct cp *cp, const char *name)
{
	char err[256];
	if (cp->driver->ops->stop(cp->driver, name, err, sizeof(err)) != 0) {
		atomic_fetch_add(&cp->stats.engine_errors, 1);
		/* Nothing is left behind: the repair thread tries again
		 * until the engine lets it. */
		lb_log(LB_WARN, "replica_stop_failed",
		       "name=%s reason=\"%s\" action=\"retry later\"", name,
		       err);
		cp_state_bury(&cp->state, name);
		return false;
	}
	lb_log(LB_INFO, "replica_stopped", "name=%s", name);
	return true;
}

void cp_ops_bury(struct cp *cp)
{
	struct cp_name *g;
	size_t n = cp_state_copy_graves(&cp->state, &g);

	for (size_t i = 0; i < n; i++)
		if (cp_ops_stop_replica(cp, g[i].name))
			cp_state_unbury(&cp->state, g[i].name);
	free(g);
}

int cp_ops_start_replicas(struct cp *cp, struct cp_replica *r, size_t n,
                          char *err, size_t errlen)
{
	struct cp_probe *probes = calloc(n ? n : 1, sizeof(*probes));
	bool *healthy_at = calloc(n ? n : 1, sizeof(*healthy_at));
	size_t started = 0, healthy = 0;
	int64_t deadline;
	int rv = 0;

	if (!probes || !healthy_at) {
		free(probes);
		free(healthy_at);
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	for (; started < n; started++) {
		int e = cp->driver->ops->start(
		    cp->driver, r[started].name, r[started].id,
		    cp_replica_weight(&r[started]), r[started].host,
		    sizeof(r[started].host), &r[started].port, err, errlen);
		if (e != 0) {
			atomic_fetch_add(&cp->stats.engine_errors, 1);
			rv = LB_ERR_ENGINE;
			goto undo;
		}
		lb_log(LB_INFO, "replica_started", "name=%s id=%u addr=%s:%u",
		       r[started].name, r[started].id, r[started].host,
		       r[started].port);
	}
	/* Wait for every first heartbeat; probe the ones not yet healthy. */
	deadline = lb_now_ms() + cp->cfg.start_timeout_ms;
	for (;;) {
		size_t np = 0;
		for (size_t i = 0; i < n; i++) {
			if (healthy_at[i])
				continue;
			probes[np].host = r[i].host;
			probes[np].port = r[i].port;
			np++;
		}
		cp_probe_run(&cp->cfg.check, probes, np, 250);
		np = 0;
		for (size_t i = 0; i < n; i++) {
			if (healthy_at[i])
				continue;
			if (probes[np++].ok) {
				healthy_at[i] = true;
				healthy++;
			}
		}
		if (healthy == n)
			break;
		if (lb_now_ms() >= deadline ||
		    !lb_time_sleep_unless(&cp->stopping, 50)) {
			snprintf(err, errlen,
			         "%zu of %zu new replicas did not answer "
			         "%s within %lld ms",
			         n - healthy, n, cp->cfg.check.path,
			         cp->cfg.start_timeout_ms);
			rv = LB_ERR_TIMEOUT;
			goto undo;
		}
	}
	free(probes);
	free(healthy_at);
	return 0;
undo:
	/* Leave nothing half-made behind. */
	lb_log(LB_WARN, "replica_start_failed", "count=%zu reason=\"%s\"", n,
	       err);
	while (started-- > 0)
		cp_ops_stop_replica(cp, r[started].name);
	free(probes);
	free(healthy_at);
	return rv;
}

/* The checks /add and /rm share: n >= 1, and no more names than n (the
 * assignment's exact message, with "newly added" or "removable"). */
static bool counts_ok(const Lb__AdminRequest *req, Lb__AdminReply *reply,
                      const char *which)
{
	if (!req->has_n || req->n < 1) {
		reply_error(reply, 400, "'n' must be an integer of at least 1");
		return false;
	}
	if (req->n_hostnames > req->n) {
		reply_error(reply, 400,
		            "Length of hostname list is more than %s instances",
		            which);
		return false;
	}
	return true;
}

/* True when v[i] equals an earlier entry. */
static bool listed_twice(char **v, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(v[j], v[i]) == 0)
			return true;
	return false;
}

/* True when one of r[0..n) is named `name`. */
static bool name_listed(const struct cp_replica *r, size_t n, const char *name)
{
	return lb_name_find(r, n, sizeof(*r), offsetof(struct cp_replica, name),
	                    name) >= 0;
}

/* A name is taken while its replica is managed, being added, or draining,
 * and until it has stopped: one whose stop failed waits in a grave for the
 * repair thread, still holding its name in the engine (a new start of that
 * name would fail there, or make two of one name). */
static bool name_used(struct cp *cp, const char *name)
{
	return cp_state_name_used(&cp->state, name) ||
	       cp_drain_has(&cp->drain, name) ||
	       cp_state_grave_pending(&cp->state, name);
}

/* Reads the names /add was given into r: the hostnames as they are, or,
 * under the static driver, "name=host:port" (the address goes to r too).
 * Checks them against each other and the state.  Returns false with the
 * error in reply. */
static bool add_given(struct cp *cp, const Lb__AdminRequest *req,
                      struct cp_replica *r, Lb__AdminReply *reply)
{
	bool given = cp->driver->ops->given_addresses;

	for (size_t i = 0; i < req->n_hostnames; i++) {
		const char *h = req->hostnames[i];
		char why[192];
		unsigned port;
		if (given &&
		    lb_name_backend_parse(h, r[i].name, r[i].host, &port, NULL,
		                          why, sizeof(why)) != 0) {
			reply_error(reply, 400, "%s", why);
			return false;
		}
		if (given) {
			r[i].port = (uint16_t)port;
		} else if (!lb_name_valid(h)) {
			reply_error(reply, 400,
			            "'" NAME_ECHO
			            "' is not a valid replica name "
			            "(^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$)",
			            h);
			return false;
		} else if (cp->driver->ops->name_ok &&
		           !cp->driver->ops->name_ok(h, why, sizeof(why))) {
			reply_error(reply, 400, "'" NAME_ECHO "' %s", h, why);
			return false;
		} else {
			snprintf(r[i].name, sizeof(r[i].name), "%s", h);
		}
		if (name_listed(r, i, r[i].name)) {
			reply_error(reply, 400,
			            "Hostname '" NAME_ECHO "' is listed twice",
			            r[i].name);
			return false;
		}
		/* Managed, being added by another /add right now, or
		 * draining. */
		if (name_used(cp, r[i].name)) {
			reply_error(reply, 400,
			            "Replica '" NAME_ECHO "' already exists",
			            r[i].name);
			return false;
		}
	}
	return true;
}

/* Names for the replicas past those given: random, neither used nor
 * given here. */
static void add_random_names(struct cp *cp, struct cp_replica *r, size_t from,
                             size_t n)
{
	for (size_t i = from; i < n; i++) {
		do
			lb_name_random(r[i].name, sizeof(r[i].name));
		while (name_listed(r, i, r[i].name) ||
		       name_used(cp, r[i].name));
	}
}

/* The counts an /add must respect: n and the names (counts_ok), the static
 * driver's one address per backend, the maximum, the weight and the room
 * it needs. */
static bool add_counts_ok(struct cp *cp, const Lb__AdminRequest *req,
                          Lb__AdminReply *reply)
{
	size_t have = cp_state_count_with_taken(&cp->state);
	uint32_t weight = req->has_weight ? req->weight : 1;

	if (!counts_ok(req, reply, "newly added"))
		return false;
	if (req->has_weight &&
	    (req->weight < 1 || req->weight > LB_WEIGHT_MAX)) {
		reply_error(reply, 400, "'weight' must be 1..%d",
		            LB_WEIGHT_MAX);
		return false;
	}
	if (cp->driver->ops->given_addresses && req->n != req->n_hostnames) {
		reply_error(reply, 400,
		            "The static driver needs one name=host:port per "
		            "new backend: 'n' must equal the list's length");
		return false;
	}
	if (req->n > (uint64_t)cp->cfg.max_replicas ||
	    have + req->n > (uint64_t)cp->cfg.max_replicas) {
		reply_error(
		    reply, 400,
		    "Adding %llu replicas to %zu would pass the maximum "
		    "of %lld replicas",
		    (unsigned long long)req->n, have, cp->cfg.max_replicas);
		return false;
	}
	/* Checked before anything starts: a weight the table cannot hold
	 * changes nothing. */
	if (!cp_state_ring_fits(&cp->state, (size_t)req->n, weight)) {
		reply_error(reply, 400,
		            "%llu replicas of weight %u do not fit in the "
		            "ring's %u slots (%u virtual servers per unit of "
		            "weight): lower the weight, or raise LB_SLOTS",
		            (unsigned long long)req->n, weight,
		            cp->cfg.preset.slots, cp->cfg.preset.vnodes);
		return false;
	}
	return true;
}

/* Checks an /add and takes its names and ids, under the orchestration lock
 * (a check still holds when the names are taken).  Returns the replicas to
 * start (free()), or NULL with the error in reply. */
static struct cp_replica *
add_prepare(struct cp *cp, const Lb__AdminRequest *req, Lb__AdminReply *reply)
{
	struct cp_replica *r = NULL;
	size_t n;
	uint32_t first;

	pthread_mutex_lock(&cp->orch);
	if (!add_counts_ok(cp, req, reply))
		goto out;
	n = (size_t)req->n;
	if (!(r = calloc(n, sizeof(*r)))) {
		reply_error(reply, 500, "out of memory");
		goto out;
	}
	if (!add_given(cp, req, r, reply))
		goto fail;
	add_random_names(cp, r, req->n_hostnames, n);
	first = cp_state_reserve_ids(&cp->state, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		r[i].id = first + (uint32_t)i;
		r[i].weight = req->has_weight ? req->weight : 1;
	}
	if (cp_state_take_names(&cp->state, r, n) == 0)
		goto out;
	reply_error(reply, 500, "cannot record the new names");
fail:
	free(r);
	r = NULL;
out:
	pthread_mutex_unlock(&cp->orch);
	return r;
}

/* /add: checked and prepared under the orchestration lock, then the
 * replicas start with no lock held (a death elsewhere is repaired
 * meanwhile, /rep answers at once), then they join the ring together. */
static void op_add(struct cp *cp, const Lb__AdminRequest *req,
                   Lb__AdminReply *reply)
{
	struct cp_replica *r = add_prepare(cp, req, reply);
	size_t n = r ? (size_t)req->n : 0;
	char err[384];
	int rv;

	if (!r)
		return;
	rv = cp_ops_start_replicas(cp, r, n, err, sizeof(err));
	for (size_t i = 0; i < n; i++)
		r[i].up_since_ms = lb_wall_us() / 1000; /* slow start */
	if (rv == 0 && (rv = cp_state_add_up(&cp->state, r, n)) != 0) {
		snprintf(err, sizeof(err), "cannot add to the ring: %s",
		         lb_err_str(rv));
		for (size_t i = 0; i < n; i++)
			cp_ops_stop_replica(cp, r[i].name);
	}
	if (rv != 0) {
		cp_state_give_back(&cp->state, r, n);
		reply_error(reply, rv == LB_ERR_TIMEOUT ? 504 : 500,
		            "Could not add replicas: %s", err);
	} else {
		for (size_t i = 0; i < n; i++) {
			lb_log(LB_INFO, "replica_added", "name=%s id=%u",
			       r[i].name, r[i].id);
			cp_events_add(&cp->state.events, "added", r[i].name,
			              "/add");
		}
		reply_list(cp, reply);
	}
	free(r);
}

/* Replicas that left the ring drain before they stop, from the first
 * ring without them on.  One that cannot be listed is stopped at once. */
static void drain_all(struct cp *cp, const struct cp_replica *gone, size_t n)
{
	uint64_t version = cp_state_version(&cp->state);

	for (size_t k = 0; k < n; k++) {
		if (!gone[k].name[0])
			continue;
		if (cp_drain_add(cp, &gone[k], cp->state.boot_id, version) !=
		        0 &&
		    gone[k].spawned)
			cp_ops_stop_replica(cp, gone[k].name);
	}
}

/* Checks an /rm, picks the replicas, takes them out of the ring and the
 * list and starts their drain (cp_drain.h), under the orchestration lock.
 * Returns their names (free()), or NULL with the error in reply. */
static char (*rm_prepare(struct cp *cp, const Lb__AdminRequest *req,
                         Lb__AdminReply *reply))[LB_NAME_MAX + 1]
{
	struct cp_replica *gone = NULL;
	char(*names)[LB_NAME_MAX + 1] = NULL;
	struct cp_replica *v = NULL;
	size_t have, n;

	pthread_mutex_lock(&cp->orch);
	have = cp_state_count(&cp->state);
	if (!counts_ok(req, reply, "removable"))
		goto out;
	if (req->n > have) {
		reply_error(reply, 400,
		            "Cannot remove %llu replicas: only %zu exist",
		            (unsigned long long)req->n, have);
		goto out;
	}
	for (size_t i = 0; i < req->n_hostnames; i++) {
		const char *h = req->hostnames[i];
		if (listed_twice(req->hostnames, i)) {
			reply_error(reply, 400,
			            "Hostname '" NAME_ECHO "' is listed twice",
			            h);
			goto out;
		}
		if (!cp_state_has(&cp->state, h)) {
			reply_error(reply, 400,
			            "Replica '" NAME_ECHO "' does not exist",
			            h);
			goto out;
		}
	}
	n = (size_t)req->n;
	names = calloc(n, sizeof(*names));
	gone = calloc(n, sizeof(*gone));
	if (!names || !gone || cp_state_copy(&cp->state, &v, &have) != 0) {
		free(names);
		names = NULL;
		reply_error(reply, 500, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < req->n_hostnames; i++)
		snprintf(names[i], sizeof(names[i]), "%s", req->hostnames[i]);
	/* Then random others until n are chosen. */
	for (size_t k = req->n_hostnames; k < n; k++) {
		for (;;) {
			size_t pick = (size_t)lb_rand_range(0, have - 1);
			bool taken = false;
			for (size_t j = 0; j < k; j++)
				taken |= strcmp(names[j], v[pick].name) == 0;
			if (!taken) {
				snprintf(names[k], sizeof(names[k]), "%s",
				         v[pick].name);
				break;
			}
		}
	}
	/* Out of the ring first (and published); then each drains: it is
	 * stopped once no data plane has a request in flight to it. */
	cp_state_remove(&cp->state, names, n, gone);
	drain_all(cp, gone, n);
out:
	pthread_mutex_unlock(&cp->orch);
	free(gone);
	free(v);
	return names;
}

/* /rm: the replicas leave the ring at once and drain; the answer does not
 * wait for their stop. */
static void op_remove(struct cp *cp, const Lb__AdminRequest *req,
                      Lb__AdminReply *reply)
{
	char(*names)[LB_NAME_MAX + 1] = rm_prepare(cp, req, reply);

	if (!names)
		return;
	/* The answer waits (briefly) until the data planes route without
	 * them: a client's next request does not reach what it removed. */
	cp_reports_wait_version(&cp->reports, cp->state.boot_id,
	                        cp_state_version(&cp->state), RM_APPLY_WAIT_MS);
	for (size_t k = 0; k < (size_t)req->n; k++) {
		lb_log(LB_INFO, "replica_removed", "name=%s", names[k]);
		cp_events_add(&cp->state.events, "removed", names[k], "/rm");
	}
	free(names);
	reply_list(cp, reply);
}

/* Hostnames are echoed in replies and logs: one holding a control
 * character (a newline could forge a log line) or a byte outside printable
 * ASCII is no name, refused without echoing it. */
static bool hostnames_printable(const Lb__AdminRequest *req,
                                Lb__AdminReply *reply)
{
	for (size_t i = 0; i < req->n_hostnames; i++) {
		for (const unsigned char *p =
		         (const unsigned char *)req->hostnames[i];
		     *p; p++) {
			if (*p < 0x20 || *p >= 0x7f) {
				reply_error(
				    reply, 400,
				    "Hostname %zu holds a control "
				    "character or a byte outside printable "
				    "ASCII: not a valid replica name",
				    i + 1);
				return false;
			}
		}
	}
	return true;
}

void cp_ops_handle(struct cp *cp, const Lb__AdminRequest *req,
                   Lb__AdminReply *reply)
{
	if (!hostnames_printable(req, reply))
		return;
	switch (req->op) {
	case LB__ADMIN_REQUEST__OP__LIST:
		reply_list(cp, reply);
		return;
	case LB__ADMIN_REQUEST__OP__ADD:
		op_add(cp, req, reply);
		return;
	case LB__ADMIN_REQUEST__OP__REMOVE:
		op_remove(cp, req, reply);
		return;
	case LB__ADMIN_REQUEST__OP__STATUS:
		reply_status(cp, reply);
		return;
	default:
		reply_error(reply, 400, "unknown admin operation");
		return;
	}
}
