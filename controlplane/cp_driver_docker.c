#include "cp_driver_docker.h"

#include "cp_engine.h"
#include "lb_err.h"
#include "lb_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cp_engine_kind CONTAINER = {
    .noun = "container",
    .list = "/containers/json",
    .list_more = "&all=true",
    .id_field = "Id",
    .delete_fmt = "/containers/%s?force=true&v=true",
};

static cJSON *cp_engine_create_body(struct cp_engine *d, const char *name,
                                    uint32_t id, uint32_t weight)
{
	cJSON *b = cJSON_CreateObject(), *hc, *nc, *ep, *net, *aliases;

	cJSON_AddStringToObject(b, "Image", d->image);
	cJSON_AddStringToObject(b, "Hostname", name);
	cp_engine_replica_env(d, cJSON_AddArrayToObject(b, "Env"), id);
	cp_engine_replica_labels(d, cJSON_AddObjectToObject(b, "Labels"), name,
	                         id, weight);
	cJSON_AddNumberToObject(b, "StopTimeout", REPLICA_STOP_GRACE_S);
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

/* The container's address on our network, from an inspect or list answer. */
static const char *cp_engine_ip(const cJSON *c, const char *network)
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

/* Creates the container; its id into cid[72]. */
static int cp_engine_create(struct cp_engine *d, const char *name, uint32_t id,
                            uint32_t weight, char *cid, char *err,
                            size_t errlen)
{
	char path[256];
	cJSON *body = cp_engine_create_body(d, name, id, weight), *ans;
	long status;
	int rv;

	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	rv = cp_engine_create_object(d, &CONTAINER, path, body, name, cid,
	                             &status, &ans, err, errlen);
	if (rv == LB_ERR_ENGINE && status == 404)
		snprintf(err, errlen,
		         "image %s not found (build it with 'make images'): %s",
		         d->image, cp_docker_api_message(ans, ""));
	cJSON_Delete(body);
	cJSON_Delete(ans);
	return rv;
}

/* Starts container cid and reads its address on our network. */
static int cp_engine_run(struct cp_engine *d, const char *cid, const char *name,
                         char *host, size_t hostlen, char *err, size_t errlen)
{
	char path[256];
	cJSON *ans = NULL;
	const char *ip;
	long status;
	int rv;

	snprintf(path, sizeof(path), "/containers/%s/start", cid);
	rv = cp_docker_api_call(&d->api, "POST", path, NULL, &status, &ans, err,
	                        errlen);
	if (rv == 0 && status != 204 && status != 304) {
		snprintf(err, errlen, "cannot start container %s: %s", name,
		         cp_docker_api_message(ans, "engine refused"));
		rv = LB_ERR_ENGINE;
	}
	cJSON_Delete(ans);
	ans = NULL;
	if (rv != 0)
		return rv;
	snprintf(path, sizeof(path), "/containers/%s/json", cid);
	rv = cp_docker_api_call(&d->api, "GET", path, NULL, &status, &ans, err,
	                        errlen);
	if (rv == 0 &&
	    (status != 200 || !(ip = cp_engine_ip(ans, d->network)))) {
		snprintf(err, errlen,
		         "container %s has no address on network %s", name,
		         d->network);
		rv = LB_ERR_ENGINE;
	} else if (rv == 0) {
		snprintf(host, hostlen, "%s", ip);
	}
	cJSON_Delete(ans);
	return rv;
}

static int cp_engine_start(struct cp_driver *base, const char *name,
                           uint32_t id, uint32_t weight, char *host,
                           size_t hostlen, uint16_t *port, char *err,
                           size_t errlen)
{
	struct cp_engine *d = (struct cp_engine *)base;
	char cid[72] = "";
	int rv;

	if ((rv = cp_engine_network(d, err, errlen)) != 0 ||
	    (rv = cp_engine_create(d, name, id, weight, cid, err, errlen)) != 0)
		return rv;
	cp_engine_track(d, name, cid, NULL);
	if ((rv = cp_engine_run(d, cid, name, host, hostlen, err, errlen)) ==
	    0) {
		*port = REPLICA_PORT;
		return 0;
	}
	cp_engine_undo_start(d, &CONTAINER, cid,
	                     name); /* nothing half-made left */
	return rv;
}

static int cp_engine_stop(struct cp_driver *base, const char *name, char *err,
                          size_t errlen)
{
	struct cp_engine *d = (struct cp_engine *)base;
	char path[256], cid[72], svc[72];
	long status;
	cJSON *ans = NULL;
	int rv;

	if (!cp_engine_ids(d, name, cid, svc) || !cid[0])
		return cp_engine_stop_untracked(d, &CONTAINER, name, err,
		                                errlen);
	cp_engine_stopping(d, name);
	/* SIGTERM first, so answers in flight finish; then delete. */
	snprintf(path, sizeof(path), "/containers/%s/stop?t=%d", cid,
	         REPLICA_STOP_GRACE_S);
	rv = cp_docker_api_call(&d->api, "POST", path, NULL, &status, &ans, err,
	                        errlen);
	cJSON_Delete(ans);
	if (rv == 0)
		rv = cp_engine_delete_id(d, &CONTAINER, cid, name, err, errlen);
	if (rv == 0)
		cp_engine_untrack(d, name);
	return rv;
}

/* One listed container: *adopted when it is (into f); one that does not
 * run is deleted (dead while nobody watched: no orphan is left). */
static int cp_engine_adopt_one(struct cp_engine *d, const cJSON *c,
                               struct cp_found *f, bool *adopted, char *err,
                               size_t errlen)
{
	const cJSON *nm =
	    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "Names"), 0);
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(c, "State");
	const cJSON *jid = cJSON_GetObjectItemCaseSensitive(c, "Id");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(c, "Labels");
	const char *name, *ip;
	uint32_t id;

	(void)err; /* a listed container needs no more engine answers */
	(void)errlen;

	if (!cJSON_IsString(nm) || !cJSON_IsString(jid) ||
	    strlen(jid->valuestring) >= 72 ||
	    !cp_engine_json_label_id(labels, &id))
		return 0;
	name =
	    nm->valuestring[0] == '/' ? nm->valuestring + 1 : nm->valuestring;
	if (!lb_name_valid(name))
		return 0;
	ip = cp_engine_ip(c, d->network);
	if (!cJSON_IsString(state) ||
	    strcmp(state->valuestring, "running") != 0 || !ip) {
		cp_engine_adopt_drop(d, &CONTAINER, jid->valuestring, name,
		                     cJSON_IsString(state) ? state->valuestring
		                                           : "?");
		return 0;
	}
	cp_engine_adopt_take(d, f, adopted, name, id,
	                     cp_engine_json_label_weight(labels), ip,
	                     jid->valuestring, NULL);
	return 0;
}

static int cp_engine_adopt(struct cp_driver *base, struct cp_found **out,
                           size_t *n, char *err, size_t errlen)
{
	return cp_engine_adopt_all((struct cp_engine *)base, &CONTAINER,
	                           cp_engine_adopt_one, out, n, err, errlen);
}

static const struct cp_driver_ops cp_engine_ops = {
    .name = "docker",
    .start = cp_engine_start,
    .stop = cp_engine_stop,
    .adopt = cp_engine_adopt,
    .destroy = cp_engine_destroy,
};

int cp_driver_docker_create(const struct cp_config *cfg,
                            cp_driver_exit_cb on_exit, void *arg,
                            struct cp_driver **out, char *err, size_t errlen)
{
	return cp_engine_driver_create(&cp_engine_ops, false, cfg, on_exit, arg,
	                               out, err, errlen);
}
