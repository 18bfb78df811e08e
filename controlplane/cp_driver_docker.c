#include "cp_driver_docker.h"

#include "cp_engine.h"
#include "lb_err.h"
#include "lb_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STOP_GRACE_S "2"

static cJSON *dd_create_body(struct dd *d, const char *name, uint32_t id)
{
	cJSON *b = cJSON_CreateObject(), *hc, *nc, *ep, *net, *aliases;

	cJSON_AddStringToObject(b, "Image", d->image);
	cJSON_AddStringToObject(b, "Hostname", name);
	dd_replica_env(d, cJSON_AddArrayToObject(b, "Env"), id);
	dd_replica_labels(d, cJSON_AddObjectToObject(b, "Labels"), name, id);
	cJSON_AddNumberToObject(b, "StopTimeout", 2);
	hc = cJSON_AddObjectToObject(b, "HostConfig");
	cJSON_AddStringToObject(hc, "NetworkMode", d->network);
	/* Replacement is the control plane's job, not the engine's. */
	cJSON_AddStringToObject(cJSON_AddObjectToObject(hc, "RestartPolicy"),
	                        "Name", "no");
	nc = cJSON_AddObjectToObject(b, "NetworkingConfig");
	ep = cJSON_AddObjectToObject(nc, "EndpointsConfig");
	net = cJSON_AddObjectToObject(ep, d->network);
	aliases = cJSON_AddArrayToObject(net, "Aliases");
	cJSON_AddItemToArray(aliases, cJSON_CreateString(name));
	return b;
}

static int dd_remove(struct dd *d, const char *name, char *err, size_t errlen)
{
	char path[256];
	long status;
	cJSON *ans = NULL;
	int rv;

	snprintf(path, sizeof(path), "/containers/%s?force=true&v=true", name);
	rv = cp_docker_call(&d->api, "DELETE", path, NULL, &status, &ans, err,
	                    errlen);
	if (rv == 0 && status != 204 && status != 404) {
		snprintf(err, errlen, "cannot delete container %s: %s", name,
		         cp_docker_message(ans, "engine refused"));
		rv = LB_ERR_ENGINE;
	}
	cJSON_Delete(ans);
	return rv;
}

/* The container's address on our network, from an inspect or list answer. */
static const char *dd_ip(const cJSON *c, const char *network)
{
	const cJSON *ns =
	    cJSON_GetObjectItemCaseSensitive(c, "NetworkSettings");
	const cJSON *nets = cJSON_GetObjectItemCaseSensitive(ns, "Networks");
	const cJSON *net = cJSON_GetObjectItemCaseSensitive(nets, network);
	const cJSON *ip = cJSON_GetObjectItemCaseSensitive(net, "IPAddress");
	/* The address enters here, once: one that would not fit where
	 * addresses are kept is no address. */
	return cJSON_IsString(ip) && ip->valuestring[0] &&
	               strlen(ip->valuestring) <= LB_HOST_MAX
	           ? ip->valuestring
	           : NULL;
}

static int dd_start(struct cp_driver *base, const char *name, uint32_t id,
                    char *host, size_t hostlen, uint16_t *port, char *err,
                    size_t errlen)
{
	struct dd *d = (struct dd *)base;
	char path[256], cid[72] = "";
	cJSON *body, *ans = NULL;
	const cJSON *jid;
	const char *ip;
	long status;
	int rv;

	if ((rv = dd_network(d, err, errlen)) != 0)
		return rv;
	body = dd_create_body(d, name, id);
	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	rv = cp_docker_call(&d->api, "POST", path, body, &status, &ans, err,
	                    errlen);
	cJSON_Delete(body);
	if (rv != 0)
		return rv;
	if (status != 201) {
		if (status == 404)
			snprintf(err, errlen,
			         "image %s not found (build it "
			         "with 'make images'): %s",
			         d->image, cp_docker_message(ans, ""));
		else if (status == 409)
			snprintf(err, errlen,
			         "a container named %s already "
			         "exists",
			         name);
		else
			snprintf(err, errlen, "cannot create container %s: %s",
			         name,
			         cp_docker_message(ans, "engine refused"));
		cJSON_Delete(ans);
		return LB_ERR_ENGINE;
	}
	jid = cJSON_GetObjectItemCaseSensitive(ans, "Id");
	if (cJSON_IsString(jid))
		snprintf(cid, sizeof(cid), "%s", jid->valuestring);
	cJSON_Delete(ans);
	ans = NULL;
	dd_track(d, name, cid, NULL);

	snprintf(path, sizeof(path), "/containers/%s/start", name);
	rv = cp_docker_call(&d->api, "POST", path, NULL, &status, &ans, err,
	                    errlen);
	if (rv == 0 && status != 204 && status != 304) {
		snprintf(err, errlen, "cannot start container %s: %s", name,
		         cp_docker_message(ans, "engine refused"));
		rv = LB_ERR_ENGINE;
	}
	cJSON_Delete(ans);
	ans = NULL;
	if (rv == 0) {
		snprintf(path, sizeof(path), "/containers/%s/json", name);
		rv = cp_docker_call(&d->api, "GET", path, NULL, &status, &ans,
		                    err, errlen);
		if (rv == 0 &&
		    (status != 200 || !(ip = dd_ip(ans, d->network)))) {
			snprintf(err, errlen,
			         "container %s has no address on "
			         "network %s",
			         name, d->network);
			rv = LB_ERR_ENGINE;
		} else if (rv == 0) {
			snprintf(host, hostlen, "%s", ip);
			*port = REPLICA_PORT;
		}
		cJSON_Delete(ans);
	}
	if (rv != 0) {
		/* Leave nothing half-made behind. */
		char e2[256];
		dd_stopping(d, name);
		if (dd_remove(d, name, e2, sizeof(e2)) != 0)
			lb_log(LB_WARN, "cleanup_failed",
			       "name=%s reason=\"%s\"", name, e2);
		dd_untrack(d, name);
	}
	return rv;
}

static int dd_stop(struct cp_driver *base, const char *name, char *err,
                   size_t errlen)
{
	struct dd *d = (struct dd *)base;
	char path[256];
	long status;
	cJSON *ans = NULL;
	int rv;

	dd_stopping(d, name);
	/* SIGTERM first, so answers in flight finish; then delete. */
	snprintf(path, sizeof(path), "/containers/%s/stop?t=" STOP_GRACE_S,
	         name);
	rv = cp_docker_call(&d->api, "POST", path, NULL, &status, &ans, err,
	                    errlen);
	cJSON_Delete(ans);
	if (rv == 0)
		rv = dd_remove(d, name, err, errlen);
	if (rv == 0)
		dd_untrack(d, name);
	return rv;
}

static int dd_adopt(struct cp_driver *base, struct cp_found **out, size_t *n,
                    char *err, size_t errlen)
{
	struct dd *d = (struct dd *)base;
	char filter[256], enc[512], path[700];
	cJSON *ans = NULL, *c;
	struct cp_found *found;
	size_t nf = 0;
	long status;
	int rv;

	*out = NULL;
	*n = 0;
	snprintf(filter, sizeof(filter), "{\"label\":[\"%s=%s\"]}",
	         LABEL_INSTANCE, d->instance);
	snprintf(path, sizeof(path), "/containers/json?all=true&filters=%s",
	         cp_docker_urlencode(filter, enc, sizeof(enc)));
	if ((rv = cp_docker_call(&d->api, "GET", path, NULL, &status, &ans, err,
	                         errlen)) != 0)
		return rv;
	if (status != 200 || !cJSON_IsArray(ans)) {
		snprintf(err, errlen, "cannot list containers: %s",
		         cp_docker_message(ans, "engine refused"));
		cJSON_Delete(ans);
		return LB_ERR_ENGINE;
	}
	found = calloc((size_t)cJSON_GetArraySize(ans) + 1, sizeof(*found));
	if (!found) {
		cJSON_Delete(ans);
		return LB_ERR_NOMEM;
	}
	cJSON_ArrayForEach(c, ans)
	{
		const cJSON *names =
		    cJSON_GetObjectItemCaseSensitive(c, "Names");
		const cJSON *nm = cJSON_GetArrayItem(names, 0);
		const cJSON *labels =
		    cJSON_GetObjectItemCaseSensitive(c, "Labels");
		const cJSON *sid =
		    cJSON_GetObjectItemCaseSensitive(labels, LABEL_SERVER_ID);
		const cJSON *state =
		    cJSON_GetObjectItemCaseSensitive(c, "State");
		const cJSON *jid = cJSON_GetObjectItemCaseSensitive(c, "Id");
		const char *name, *ip;
		char e2[256];
		long idv;

		if (!cJSON_IsString(nm) || !cJSON_IsString(sid))
			continue;
		name = nm->valuestring[0] == '/' ? nm->valuestring + 1
		                                 : nm->valuestring;
		idv = strtol(sid->valuestring, NULL, 10);
		ip = dd_ip(c, d->network);
		if (!lb_name_valid(name) || idv < 1)
			continue;
		if (!cJSON_IsString(state) ||
		    strcmp(state->valuestring, "running") != 0 || !ip) {
			/* Dead while nobody watched: delete, leave no orphan.
			 */
			lb_log(
			    LB_INFO, "adopt_cleanup", "name=%s state=%s", name,
			    cJSON_IsString(state) ? state->valuestring : "?");
			dd_remove(d, name, e2, sizeof(e2));
			continue;
		}
		dd_track(d, name, cJSON_IsString(jid) ? jid->valuestring : "",
		         NULL);
		snprintf(found[nf].name, sizeof(found[nf].name), "%s", name);
		found[nf].server_id = (uint32_t)idv;
		snprintf(found[nf].host, sizeof(found[nf].host), "%s", ip);
		found[nf].port = REPLICA_PORT;
		nf++;
	}
	cJSON_Delete(ans);
	*out = found;
	*n = nf;
	return 0;
}

static const struct cp_driver_ops dd_ops = {
    .name = "docker",
    .start = dd_start,
    .stop = dd_stop,
    .adopt = dd_adopt,
    .shutdown = dd_shutdown,
    .destroy = dd_destroy,
};

int cp_driver_docker_create(const struct cp_config *cfg,
                            cp_driver_exit_cb on_exit, void *arg,
                            struct cp_driver **out, char *err, size_t errlen)
{
	struct dd *d = calloc(1, sizeof(*d));
	int rv;

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	if ((rv = dd_engine_start(d, &dd_ops, cfg, on_exit, arg, err,
	                          errlen)) != 0)
		return rv;
	*out = &d->base;
	return 0;
}
