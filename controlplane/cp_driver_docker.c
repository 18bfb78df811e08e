#include "cp_driver_docker.h"

#include "cp_docker_api.h"
#include "lb_array.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_time.h"

#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Labels that mark a container as one of this balancer's replicas. */
#define LABEL_MANAGED     "lb.managed"
#define LABEL_INSTANCE    "lb.instance"
#define LABEL_SERVER_ID   "lb.server_id"
#define REPLICA_PORT      5000
#define ENGINE_TIMEOUT_MS 30000
#define STOP_GRACE_S      "2"

struct dd_entry {
	char name[LB_NAME_MAX + 1];
	char id[72];   /* container id, to tell an old container's death from
	                  a new one's with the same name */
	bool stopping; /* its die event is ours, not a death */
};

struct dd {
	struct cp_driver base;
	struct cp_docker_api api;
	char socket[PATH_MAX];
	char image[256];
	char network[128];
	char instance[LB_NAME_MAX + 1];
	long long replica_threads;
	atomic_bool network_ok; /* set by whichever start finds it */
	pthread_mutex_t mu;     /* entries */
	struct dd_entry *v;
	size_t n, cap;
	pthread_t events;
	bool events_started;
	atomic_bool closing;
};

static ssize_t dd_find(struct dd *d, const char *name)
{
	return lb_name_find(d->v, d->n, sizeof(*d->v),
	                    offsetof(struct dd_entry, name), name);
}

static void dd_track(struct dd *d, const char *name, const char *id)
{
	ssize_t i;
	pthread_mutex_lock(&d->mu);
	if ((i = dd_find(d, name)) < 0) {
		if (lb_array_grow((void **)&d->v, &d->cap, d->n + 1,
		                  sizeof(*d->v)) != 0) {
			pthread_mutex_unlock(&d->mu);
			return;
		}
		i = (ssize_t)d->n++;
	}
	memset(&d->v[i], 0, sizeof(d->v[i]));
	snprintf(d->v[i].name, sizeof(d->v[i].name), "%s", name);
	snprintf(d->v[i].id, sizeof(d->v[i].id), "%s", id);
	pthread_mutex_unlock(&d->mu);
}

static void dd_untrack(struct dd *d, const char *name)
{
	ssize_t i;
	pthread_mutex_lock(&d->mu);
	if ((i = dd_find(d, name)) >= 0) {
		d->v[i] = d->v[d->n - 1];
		d->n--;
	}
	pthread_mutex_unlock(&d->mu);
}

/* Creates the network when it is missing (compose creates it otherwise). */
static int dd_network(struct dd *d, char *err, size_t errlen)
{
	char path[256];
	long status;
	cJSON *ans = NULL, *body;
	int rv;

	if (atomic_load(&d->network_ok))
		return 0;
	snprintf(path, sizeof(path), "/networks/%s", d->network);
	if ((rv = cp_docker_call(&d->api, "GET", path, NULL, &status, NULL, err,
	                         errlen)) != 0)
		return rv;
	if (status == 200) {
		atomic_store(&d->network_ok, true);
		return 0;
	}
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "Name", d->network);
	cJSON_AddBoolToObject(body, "CheckDuplicate", 1);
	cJSON_AddStringToObject(body, "Driver", "bridge");
	rv = cp_docker_call(&d->api, "POST", "/networks/create", body, &status,
	                    &ans, err, errlen);
	cJSON_Delete(body);
	if (rv == 0 && status != 201 && status != 409) {
		snprintf(err, errlen, "cannot create network %s: %s",
		         d->network, cp_docker_message(ans, "engine refused"));
		rv = LB_ERR_ENGINE;
	}
	cJSON_Delete(ans);
	if (rv == 0) {
		lb_log(LB_INFO, "network_created", "name=%s", d->network);
		atomic_store(&d->network_ok, true);
	}
	return rv;
}

static cJSON *dd_create_body(struct dd *d, const char *name, uint32_t id)
{
	char env_id[32], env_threads[32], idtext[16];
	cJSON *b = cJSON_CreateObject(), *env, *labels, *hc, *nc, *ep, *net,
	      *aliases;

	snprintf(env_id, sizeof(env_id), "SERVER_ID=%u", id);
	snprintf(idtext, sizeof(idtext), "%u", id);
	cJSON_AddStringToObject(b, "Image", d->image);
	cJSON_AddStringToObject(b, "Hostname", name);
	env = cJSON_AddArrayToObject(b, "Env");
	cJSON_AddItemToArray(env, cJSON_CreateString(env_id));
	snprintf(env_threads, sizeof(env_threads), "THREADS=%lld",
	         d->replica_threads);
	cJSON_AddItemToArray(env, cJSON_CreateString(env_threads));
	cJSON_AddItemToArray(env, cJSON_CreateString("PORT=5000"));
	labels = cJSON_AddObjectToObject(b, "Labels");
	cJSON_AddStringToObject(labels, LABEL_MANAGED, "true");
	cJSON_AddStringToObject(labels, LABEL_INSTANCE, d->instance);
	cJSON_AddStringToObject(labels, LABEL_SERVER_ID, idtext);
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
	dd_track(d, name, cid);

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
		pthread_mutex_lock(&d->mu);
		ssize_t i = dd_find(d, name);
		if (i >= 0)
			d->v[i].stopping = true;
		pthread_mutex_unlock(&d->mu);
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
	ssize_t i;
	int rv;

	pthread_mutex_lock(&d->mu);
	if ((i = dd_find(d, name)) >= 0)
		d->v[i].stopping = true;
	pthread_mutex_unlock(&d->mu);
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
		dd_track(d, name, cJSON_IsString(jid) ? jid->valuestring : "");
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

/* The event stream: one JSON object per line. */
struct dd_stream {
	struct dd *d;
	char buf[16384];
	size_t len;
};

static void dd_event(struct dd *d, const char *line)
{
	cJSON *ev = cJSON_Parse(line);
	const cJSON *actor = cJSON_GetObjectItemCaseSensitive(ev, "Actor");
	const cJSON *attrs =
	    cJSON_GetObjectItemCaseSensitive(actor, "Attributes");
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(attrs, "name");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(actor, "ID");
	bool report = false;

	if (cJSON_IsString(nm) && cJSON_IsString(id)) {
		pthread_mutex_lock(&d->mu);
		ssize_t i = dd_find(d, nm->valuestring);
		/* Only the container we run under that name, and only when
		 * we did not stop it ourselves. */
		report = i >= 0 && !d->v[i].stopping &&
		         strcmp(d->v[i].id, id->valuestring) == 0;
		pthread_mutex_unlock(&d->mu);
	}
	if (report) {
		lb_log(LB_WARN, "container_died", "name=%s", nm->valuestring);
		d->base.on_exit(d->base.on_exit_arg, nm->valuestring);
	}
	cJSON_Delete(ev);
}

static size_t dd_stream_write(char *p, size_t sz, size_t n, void *arg)
{
	struct dd_stream *s = arg;
	size_t len = sz * n;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			s->buf[s->len] = '\0';
			if (s->len)
				dd_event(s->d, s->buf);
			s->len = 0;
		} else if (s->len + 1 < sizeof(s->buf)) {
			s->buf[s->len++] = p[i];
		}
	}
	return len;
}

static int dd_stream_progress(void *arg, curl_off_t a, curl_off_t b,
                              curl_off_t c, curl_off_t e)
{
	struct dd_stream *s = arg;
	(void)a;
	(void)b;
	(void)c;
	(void)e;
	return atomic_load(&s->d->closing) ? 1 : 0; /* 1 aborts */
}

/* Follows container "die" events, so a killed replica is replaced at once
 * instead of after failed heartbeats.  Reconnects when the stream ends. */
static void *dd_events_thread(void *arg)
{
	struct dd *d = arg;
	char filter[256], enc[512], url[900];
	struct dd_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->d = d;
	snprintf(filter, sizeof(filter),
	         "{\"type\":[\"container\"],\"event\":[\"die\"],"
	         "\"label\":[\"%s=%s\"]}",
	         LABEL_INSTANCE, d->instance);
	snprintf(url, sizeof(url), "http://docker%s/events?filters=%s",
	         CP_DOCKER_API, cp_docker_urlencode(filter, enc, sizeof(enc)));
	while (!atomic_load(&d->closing)) {
		CURL *h = curl_easy_init();
		CURLcode cc;
		if (!h)
			break;
		s->len = 0;
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, d->socket);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, dd_stream_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION,
		                 dd_stream_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
		cc = curl_easy_perform(h);
		curl_easy_cleanup(h);
		if (atomic_load(&d->closing))
			break;
		lb_log(LB_WARN, "event_stream_lost", "reason=\"%s\"",
		       curl_easy_strerror(cc));
		lb_sleep_unless(&d->closing, 1000);
	}
	free(s);
	return NULL;
}

static void dd_shutdown(struct cp_driver *base)
{
	/* Containers outlive the control plane: the next start adopts them
	 * (make down removes them). */
	(void)base;
}

static void dd_destroy(struct cp_driver *base)
{
	struct dd *d = (struct dd *)base;
	if (!d)
		return;
	atomic_store(&d->closing, true);
	if (d->events_started)
		pthread_join(d->events, NULL);
	pthread_mutex_destroy(&d->mu);
	free(d->v);
	free(d);
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
	struct dd *d;
	long status;
	int rv;

	if (!lb_name_valid(cfg->network)) {
		snprintf(err, errlen, "LB_NETWORK=%s: not a valid network name",
		         cfg->network);
		return LB_ERR_INVAL;
	}
	if (!(d = calloc(1, sizeof(*d)))) {
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	d->base.ops = &dd_ops;
	d->base.on_exit = on_exit;
	d->base.on_exit_arg = arg;
	snprintf(d->socket, sizeof(d->socket), "%s", cfg->docker_socket);
	snprintf(d->image, sizeof(d->image), "%s", cfg->image);
	snprintf(d->network, sizeof(d->network), "%s", cfg->network);
	snprintf(d->instance, sizeof(d->instance), "%s", cfg->instance);
	d->replica_threads = cfg->replica_threads;
	d->api.socket = d->socket;
	d->api.timeout_ms = ENGINE_TIMEOUT_MS;
	pthread_mutex_init(&d->mu, NULL);
	/* Say at start, and clearly, when the engine is not there. */
	rv = cp_docker_call(&d->api, "GET", "/_ping", NULL, &status, NULL, err,
	                    errlen);
	if (rv != 0) {
		dd_destroy(&d->base);
		return rv;
	}
	if (pthread_create(&d->events, NULL, dd_events_thread, d) == 0)
		d->events_started = true;
	*out = &d->base;
	return 0;
}
