#include "cp_driver_swarm.h"

#include "cp_engine.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a new service may take to run its task (scheduling, start). */
#define SWARM_START_WAIT_MS 60000

static const struct cp_engine_kind SERVICE = {
    .noun = "service",
    .list = "/services",
    .list_more = "",
    .id_field = "ID",
    .delete_fmt = "/services/%s",
};

static cJSON *sw_service_body(const struct cp_engine *d, const char *name,
                              uint32_t id, uint32_t weight)
{
	cJSON *b = cJSON_CreateObject(), *tt, *cs, *nets, *net, *al;

	cJSON_AddStringToObject(b, "Name", name);
	cp_engine_replica_labels(d, cJSON_AddObjectToObject(b, "Labels"), name,
	                         id, weight);
	tt = cJSON_AddObjectToObject(b, "TaskTemplate");
	cs = cJSON_AddObjectToObject(tt, "ContainerSpec");
	cJSON_AddStringToObject(cs, "Image", d->image);
	cJSON_AddStringToObject(cs, "Hostname", name);
	cp_engine_replica_env(d, cJSON_AddArrayToObject(cs, "Env"), id);
	/* The task's container carries them too: its die event names it. */
	cp_engine_replica_labels(d, cJSON_AddObjectToObject(cs, "Labels"), name,
	                         id, weight);
	/* Nanoseconds, for this API. */
	cJSON_AddNumberToObject(cs, "StopGracePeriod",
	                        REPLICA_STOP_GRACE_S * 1e9);
	/* Replacement is the control plane's job, not Swarm's. */
	cJSON_AddStringToObject(cJSON_AddObjectToObject(tt, "RestartPolicy"),
	                        "Condition", "none");
	nets = cJSON_AddArrayToObject(tt, "Networks");
	net = cJSON_CreateObject();
	cJSON_AddStringToObject(net, "Target", d->network);
	al = cJSON_AddArrayToObject(net, "Aliases");
	cJSON_AddItemToArray(al, cJSON_CreateString(name));
	cJSON_AddItemToArray(nets, net);
	cJSON_AddNumberToObject(
	    cJSON_AddObjectToObject(cJSON_AddObjectToObject(b, "Mode"),
	                            "Replicated"),
	    "Replicas", 1);
	/* No VIP: IPVS is missing here, and the data planes connect to the
	 * task's address anyway. */
	cJSON_AddStringToObject(cJSON_AddObjectToObject(b, "EndpointSpec"),
	                        "Mode", "dnsrr");
	return b;
}

/* Swarm's names for a task's life, in three kinds. */
enum sw_phase { SW_ON_ITS_WAY, SW_RUNNING, SW_OVER };

static enum sw_phase sw_phase_of(const struct cp_swarm_task *t)
{
	static const char *const over[] = {"failed",   "rejected", "complete",
	                                   "shutdown", "orphaned", "remove"};
	if (strcmp(t->state, "running") == 0)
		return t->ip[0] ? SW_RUNNING : SW_ON_ITS_WAY;
	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++)
		if (strcmp(t->state, over[i]) == 0)
			return SW_OVER;
	return SW_ON_ITS_WAY; /* new, pending, assigned, ..., starting */
}

/* The newest task of the service with id `svc`.  Returns 0 (out->state
 * empty when it has none yet), or an error with the reason in err. */
static int sw_task(struct cp_engine *d, const char *svc, const char *name,
                   struct cp_swarm_task *out, char *err, size_t errlen)
{
	char filter[160], path[600];
	cJSON *ans = NULL;
	long status;
	int rv;

	memset(out, 0, sizeof(*out));
	snprintf(filter, sizeof(filter), "{\"service\":[\"%s\"]}", svc);
	if (!cp_engine_path_of(path, sizeof(path), "/tasks", filter, "")) {
		snprintf(err, errlen, "service id too long");
		return LB_ERR_INVAL;
	}
	if ((rv = cp_docker_api_call(&d->api, "GET", path, NULL, &status, &ans,
	                             err, errlen)) != 0)
		return rv;
	if (status != 200) {
		snprintf(err, errlen, "cannot list the tasks of service %s: %s",
		         name, cp_docker_api_message(ans, "engine refused"));
		rv = LB_ERR_ENGINE;
	} else {
		cp_engine_json_task(ans, d->network, out);
	}
	cJSON_Delete(ans);
	return rv;
}

/* Waits (bounded) until the service's task is running with an address or
 * is over.  Returns 0 with t filled (sw_phase_of says which), or an error
 * of the engine. */
static int sw_wait_task(struct cp_engine *d, const char *svc, const char *name,
                        struct cp_swarm_task *t, char *err, size_t errlen)
{
	int64_t deadline = lb_now_ms() + SWARM_START_WAIT_MS;
	int rv;

	while ((rv = sw_task(d, svc, name, t, err, errlen)) == 0 &&
	       sw_phase_of(t) == SW_ON_ITS_WAY && lb_now_ms() < deadline &&
	       lb_time_sleep_unless(&d->closing, 100))
		;
	return rv;
}

/* Creates the service; its id into svc[72]. */
static int sw_create(struct cp_engine *d, const char *name, uint32_t id,
                     uint32_t weight, char *svc, char *err, size_t errlen)
{
	cJSON *body = sw_service_body(d, name, id, weight), *ans;
	long status;
	int rv;

	rv = cp_engine_create_object(d, &SERVICE, "/services/create", body,
	                             name, svc, &status, &ans, err, errlen);
	cJSON_Delete(body);
	cJSON_Delete(ans);
	return rv;
}

static int sw_start(struct cp_driver *base, const char *name, uint32_t id,
                    uint32_t weight, char *host, size_t hostlen, uint16_t *port,
                    char *err, size_t errlen)
{
	struct cp_engine *d = (struct cp_engine *)base;
	struct cp_swarm_task t;
	char svc[72] = "";
	int rv;

	if ((rv = cp_engine_network(d, err, errlen)) != 0 ||
	    (rv = sw_create(d, name, id, weight, svc, err, errlen)) != 0)
		return rv;
	/* Its removal by someone else is a death from now on. */
	cp_engine_track(d, name, "", svc);
	rv = sw_wait_task(d, svc, name, &t, err, errlen);
	if (rv == 0 && sw_phase_of(&t) == SW_OVER) {
		snprintf(err, errlen, "the task of service %s is %s: %s", name,
		         t.state, t.error[0] ? t.error : "no reason given");
		rv = LB_ERR_ENGINE;
	} else if (rv == 0 && sw_phase_of(&t) != SW_RUNNING) {
		snprintf(err, errlen,
		         "the task of service %s did not run within %d ms "
		         "(last state: %s%s%s)",
		         name, SWARM_START_WAIT_MS,
		         t.state[0] ? t.state : "none", t.error[0] ? ", " : "",
		         t.error);
		rv = LB_ERR_TIMEOUT;
	}
	if (rv == 0) {
		cp_engine_track(d, name, t.container, svc);
		snprintf(host, hostlen, "%s", t.ip);
		*port = REPLICA_PORT;
		return 0;
	}
	cp_engine_undo_start(d, &SERVICE, svc,
	                     name); /* nothing half-made left */
	return rv;
}

static int sw_stop(struct cp_driver *base, const char *name, char *err,
                   size_t errlen)
{
	struct cp_engine *d = (struct cp_engine *)base;
	char cid[72], svc[72];
	int rv;

	if (!cp_engine_ids(d, name, cid, svc) || !svc[0])
		return cp_engine_stop_untracked(d, &SERVICE, name, err, errlen);
	cp_engine_stopping(d, name);
	/* Swarm stops the task (SIGTERM, the grace, SIGKILL) as it goes. */
	if ((rv = cp_engine_delete_id(d, &SERVICE, svc, name, err, errlen)) ==
	    0)
		cp_engine_untrack(d, name);
	return rv;
}

/* One listed service: *adopted when it is (into f); one whose task is
 * over or never ran is deleted (no orphan is left).  Returns an error when
 * the engine could not say (adoption is then tried again). */
static int sw_adopt_one(struct cp_engine *d, const cJSON *s, struct cp_found *f,
                        bool *adopted, char *err, size_t errlen)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(s, "Spec");
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(spec, "Name");
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(s, "ID");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(spec, "Labels");
	struct cp_swarm_task t;
	uint32_t id;
	int rv;

	if (!cJSON_IsString(nm) || !cJSON_IsString(sid) ||
	    strlen(sid->valuestring) >= 72 || !lb_name_valid(nm->valuestring) ||
	    !cp_engine_json_label_id(labels, &id))
		return 0;
	if ((rv = sw_wait_task(d, sid->valuestring, nm->valuestring, &t, err,
	                       errlen)) != 0)
		return rv;
	if (sw_phase_of(&t) != SW_RUNNING) {
		cp_engine_adopt_drop(d, &SERVICE, sid->valuestring,
		                     nm->valuestring,
		                     t.state[0] ? t.state : "none");
		return 0;
	}
	cp_engine_adopt_take(d, f, adopted, nm->valuestring, id,
	                     cp_engine_json_label_weight(labels), t.ip,
	                     t.container, sid->valuestring);
	return 0;
}

static int sw_adopt(struct cp_driver *base, struct cp_found **out, size_t *n,
                    char *err, size_t errlen)
{
	return cp_engine_adopt_all((struct cp_engine *)base, &SERVICE,
	                           sw_adopt_one, out, n, err, errlen);
}

/* Swarm names services like DNS labels: letters, digits and inner '-'. */
static bool sw_name_ok(const char *name, char *why, size_t len)
{
	size_t n = strlen(name);
	bool ok = n > 0 && name[n - 1] != '-';

	for (size_t i = 0; ok && i < n; i++)
		ok = (name[i] >= 'a' && name[i] <= 'z') ||
		     (name[i] >= 'A' && name[i] <= 'Z') ||
		     (name[i] >= '0' && name[i] <= '9') ||
		     (name[i] == '-' && i > 0);
	if (!ok)
		snprintf(why, len,
		         "is not a valid Swarm service name "
		         "(^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$)");
	return ok;
}

static const struct cp_driver_ops sw_ops = {
    .name = "swarm",
    .name_ok = sw_name_ok,
    .start = sw_start,
    .stop = sw_stop,
    .adopt = sw_adopt,
    .destroy = cp_engine_destroy,
};

int cp_driver_swarm_create(const struct cp_config *cfg,
                           cp_driver_exit_cb on_exit, void *arg,
                           struct cp_driver **out, char *err, size_t errlen)
{
	return cp_engine_driver_create(&sw_ops, true, cfg, on_exit, arg, out,
	                               err, errlen);
}
