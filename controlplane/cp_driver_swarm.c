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
/* SIGTERM, then this long, then SIGKILL (nanoseconds for the API). */
#define SWARM_STOP_GRACE_NS 2000000000.0

static cJSON *sw_service_body(const struct dd *d, const char *name, uint32_t id)
{
	cJSON *b = cJSON_CreateObject(), *tt, *cs, *nets, *net, *al;

	cJSON_AddStringToObject(b, "Name", name);
	dd_replica_labels(d, cJSON_AddObjectToObject(b, "Labels"), name, id);
	tt = cJSON_AddObjectToObject(b, "TaskTemplate");
	cs = cJSON_AddObjectToObject(tt, "ContainerSpec");
	cJSON_AddStringToObject(cs, "Image", d->image);
	cJSON_AddStringToObject(cs, "Hostname", name);
	dd_replica_env(d, cJSON_AddArrayToObject(cs, "Env"), id);
	/* The task's container carries them too: its die event names it. */
	dd_replica_labels(d, cJSON_AddObjectToObject(cs, "Labels"), name, id);
	cJSON_AddNumberToObject(cs, "StopGracePeriod", SWARM_STOP_GRACE_NS);
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

/* The newest task of service `name`.  Returns 0 (out->state empty when it
 * has none yet), or an error with the reason in err. */
static int sw_task(struct dd *d, const char *name, struct cp_swarm_task *out,
                   char *err, size_t errlen)
{
	char filter[160], enc[400], path[600];
	cJSON *ans = NULL;
	long status;
	int rv;

	memset(out, 0, sizeof(*out));
	snprintf(filter, sizeof(filter), "{\"service\":[\"%s\"]}", name);
	snprintf(path, sizeof(path), "/tasks?filters=%s",
	         cp_docker_urlencode(filter, enc, sizeof(enc)));
	if ((rv = cp_docker_call(&d->api, "GET", path, NULL, &status, &ans, err,
	                         errlen)) != 0)
		return rv;
	cp_swarm_task_parse(ans, d->network, out);
	cJSON_Delete(ans);
	return 0;
}

static int sw_remove(struct dd *d, const char *name, char *err, size_t errlen)
{
	char path[256];
	cJSON *ans = NULL;
	long status;
	int rv;

	snprintf(path, sizeof(path), "/services/%s", name);
	rv = cp_docker_call(&d->api, "DELETE", path, NULL, &status, &ans, err,
	                    errlen);
	if (rv == 0 && status != 200 && status != 404) {
		snprintf(err, errlen, "cannot delete service %s: %s", name,
		         cp_docker_message(ans, "engine refused"));
		rv = LB_ERR_ENGINE;
	}
	cJSON_Delete(ans);
	return rv;
}

/* Waits until the service's task runs and has an address. */
static int sw_wait_running(struct dd *d, const char *name,
                           struct cp_swarm_task *t, char *err, size_t errlen)
{
	int64_t deadline = lb_now_ms() + SWARM_START_WAIT_MS;
	int rv;

	while (!atomic_load(&d->closing)) {
		if ((rv = sw_task(d, name, t, err, errlen)) != 0)
			return rv;
		if (strcmp(t->state, "running") == 0 && t->ip[0])
			return 0;
		if (!strcmp(t->state, "failed") ||
		    !strcmp(t->state, "rejected") ||
		    !strcmp(t->state, "complete") ||
		    !strcmp(t->state, "shutdown")) {
			snprintf(err, errlen,
			         "the task of service %s is %s: %s", name,
			         t->state,
			         t->error[0] ? t->error : "no reason given");
			return LB_ERR_ENGINE;
		}
		if (lb_now_ms() > deadline)
			break;
		lb_sleep_ms(100);
	}
	snprintf(err, errlen, "the task of service %s did not run within %d ms",
	         name, SWARM_START_WAIT_MS);
	return LB_ERR_TIMEOUT;
}

static int sw_start(struct cp_driver *base, const char *name, uint32_t id,
                    char *host, size_t hostlen, uint16_t *port, char *err,
                    size_t errlen)
{
	struct dd *d = (struct dd *)base;
	cJSON *body, *ans = NULL;
	struct cp_swarm_task t;
	long status;
	int rv;

	if ((rv = dd_network(d, err, errlen)) != 0)
		return rv;
	body = sw_service_body(d, name, id);
	rv = cp_docker_call(&d->api, "POST", "/services/create", body, &status,
	                    &ans, err, errlen);
	cJSON_Delete(body);
	if (rv == 0 && status != 201) {
		if (status == 409)
			snprintf(err, errlen,
			         "a service named %s already exists", name);
		else
			snprintf(err, errlen, "cannot create service %s: %s",
			         name,
			         cp_docker_message(ans, "engine refused"));
		rv = LB_ERR_ENGINE;
	}
	cJSON_Delete(ans);
	if (rv != 0)
		return rv;
	if ((rv = sw_wait_running(d, name, &t, err, errlen)) != 0) {
		char e2[256];
		/* Leave nothing half-made behind. */
		if (sw_remove(d, name, e2, sizeof(e2)) != 0)
			lb_log(LB_WARN, "cleanup_failed",
			       "name=%s reason=\"%s\"", name, e2);
		return rv;
	}
	dd_track(d, name, t.container, t.service);
	snprintf(host, hostlen, "%s", t.ip);
	*port = REPLICA_PORT;
	return 0;
}

static int sw_stop(struct cp_driver *base, const char *name, char *err,
                   size_t errlen)
{
	struct dd *d = (struct dd *)base;
	int rv;

	dd_stopping(d, name);
	/* Swarm stops the task (SIGTERM, the grace, SIGKILL) as it goes. */
	if ((rv = sw_remove(d, name, err, errlen)) == 0)
		dd_untrack(d, name);
	return rv;
}

/* One listed service: adopted when its task runs, else deleted. */
static bool sw_adopt_one(struct dd *d, const cJSON *svc, struct cp_found *f)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(svc, "Spec");
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(spec, "Name");
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(spec, "Labels"), LABEL_SERVER_ID);
	struct cp_swarm_task t;
	char e2[256];
	long id;

	if (!cJSON_IsString(nm) || !cJSON_IsString(sid) ||
	    !lb_name_valid(nm->valuestring) ||
	    (id = strtol(sid->valuestring, NULL, 10)) < 1)
		return false;
	if (sw_task(d, nm->valuestring, &t, e2, sizeof(e2)) != 0 ||
	    strcmp(t.state, "running") != 0 || !t.ip[0]) {
		/* Dead while nobody watched: delete, leave no orphan. */
		lb_log(LB_INFO, "adopt_cleanup", "name=%s state=%s",
		       nm->valuestring, t.state[0] ? t.state : "?");
		sw_remove(d, nm->valuestring, e2, sizeof(e2));
		return false;
	}
	dd_track(d, nm->valuestring, t.container, t.service);
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", nm->valuestring);
	f->server_id = (uint32_t)id;
	snprintf(f->host, sizeof(f->host), "%s", t.ip);
	f->port = REPLICA_PORT;
	return true;
}

static int sw_adopt(struct cp_driver *base, struct cp_found **out, size_t *n,
                    char *err, size_t errlen)
{
	struct dd *d = (struct dd *)base;
	char filter[256], enc[512], path[700];
	cJSON *ans = NULL;
	const cJSON *svc;
	long status;
	int rv;

	*out = NULL;
	*n = 0;
	snprintf(filter, sizeof(filter), "{\"label\":[\"%s=%s\"]}",
	         LABEL_INSTANCE, d->instance);
	snprintf(path, sizeof(path), "/services?filters=%s",
	         cp_docker_urlencode(filter, enc, sizeof(enc)));
	if ((rv = cp_docker_call(&d->api, "GET", path, NULL, &status, &ans, err,
	                         errlen)) != 0)
		return rv;
	if (status != 200 || !cJSON_IsArray(ans)) {
		snprintf(err, errlen,
		         "cannot list services (is this node a "
		         "swarm manager?): %s",
		         cp_docker_message(ans, "engine refused"));
		cJSON_Delete(ans);
		return LB_ERR_ENGINE;
	}
	if (!(*out =
	          calloc((size_t)cJSON_GetArraySize(ans) + 1, sizeof(**out)))) {
		cJSON_Delete(ans);
		return LB_ERR_NOMEM;
	}
	cJSON_ArrayForEach(svc, ans)
	{
		if (sw_adopt_one(d, svc, &(*out)[*n]))
			(*n)++;
	}
	cJSON_Delete(ans);
	return 0;
}

static const struct cp_driver_ops sw_ops = {
    .name = "swarm",
    .start = sw_start,
    .stop = sw_stop,
    .adopt = sw_adopt,
    .shutdown = dd_shutdown,
    .destroy = dd_destroy,
};

int cp_driver_swarm_create(const struct cp_config *cfg,
                           cp_driver_exit_cb on_exit, void *arg,
                           struct cp_driver **out, char *err, size_t errlen)
{
	struct dd *d = calloc(1, sizeof(*d));
	int rv;

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	d->overlay = true;
	if ((rv = dd_engine_start(d, &sw_ops, cfg, on_exit, arg, err,
	                          errlen)) != 0)
		return rv;
	*out = &d->base;
	return 0;
}
