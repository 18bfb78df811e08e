#include "cp_engine.h"

#include "lb_array.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_time.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The record of replica `name`, or -1.  Call with d->mu held. */
static ssize_t cp_engine_find(struct cp_engine *d, const char *name)
{
	return lb_name_find(d->v, d->n, sizeof(*d->v),
	                    offsetof(struct cp_engine_entry, name), name);
}

void cp_engine_track(struct cp_engine *d, const char *name, const char *id,
                     const char *service)
{
	ssize_t i;
	pthread_mutex_lock(&d->mu);
	if ((i = cp_engine_find(d, name)) < 0) {
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
	snprintf(d->v[i].service, sizeof(d->v[i].service), "%s",
	         service ? service : "");
	pthread_mutex_unlock(&d->mu);
}

void cp_engine_untrack(struct cp_engine *d, const char *name)
{
	ssize_t i;
	pthread_mutex_lock(&d->mu);
	if ((i = cp_engine_find(d, name)) >= 0) {
		d->v[i] = d->v[d->n - 1];
		d->n--;
	}
	pthread_mutex_unlock(&d->mu);
}

int cp_engine_network(struct cp_engine *d, char *err, size_t errlen)
{
	char path[256];
	long status;
	cJSON *ans = NULL, *body;
	int rv;

	if (atomic_load(&d->network_ok))
		return 0;
	snprintf(path, sizeof(path), "/networks/%s", d->network);
	if ((rv = cp_docker_api_call(&d->api, "GET", path, NULL, &status, NULL,
	                             err, errlen)) != 0)
		return rv;
	if (status == 200) {
		atomic_store(&d->network_ok, true);
		return 0;
	}
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "Name", d->network);
	cJSON_AddBoolToObject(body, "CheckDuplicate", 1);
	cJSON_AddStringToObject(body, "Driver",
	                        d->overlay ? "overlay" : "bridge");
	if (d->overlay)
		cJSON_AddBoolToObject(body, "Attachable", 1);
	rv = cp_docker_api_call(&d->api, "POST", "/networks/create", body,
	                        &status, &ans, err, errlen);
	cJSON_Delete(body);
	if (rv == 0 && status != 201 && status != 409) {
		snprintf(err, errlen, "cannot create network %s: %s",
		         d->network,
		         cp_docker_api_message(ans, "engine refused"));
		rv = LB_ERR_ENGINE;
	}
	cJSON_Delete(ans);
	if (rv == 0) {
		lb_log(LB_INFO, "network_created", "name=%s", d->network);
		atomic_store(&d->network_ok, true);
	}
	return rv;
}

bool cp_engine_ids(struct cp_engine *d, const char *name, char *id,
                   char *service)
{
	ssize_t i;
	pthread_mutex_lock(&d->mu);
	if ((i = cp_engine_find(d, name)) >= 0) {
		memcpy(id, d->v[i].id, sizeof(d->v[i].id));
		memcpy(service, d->v[i].service, sizeof(d->v[i].service));
	}
	pthread_mutex_unlock(&d->mu);
	return i >= 0;
}

bool cp_engine_path_of(char *out, size_t len, const char *endpoint,
                       const char *filter, const char *more)
{
	char enc[1024];
	int n;

	if (!cp_docker_api_urlencode(filter, enc, sizeof(enc)))
		return false;
	n = snprintf(out, len, "%s?filters=%s%s", endpoint, enc, more);
	return n > 0 && (size_t)n < len;
}

/* The filter (JSON) that selects this balancer's object for replica
 * `name`, by its labels (exact values, unlike the engine's name filter). */
static void cp_engine_name_filter(const struct cp_engine *d, const char *name,
                                  char *out, size_t len)
{
	snprintf(out, len, "{\"label\":[\"%s=%s\",\"%s=%s\"]}", LABEL_INSTANCE,
	         d->instance, LABEL_NAME, name);
}

int cp_engine_delete_id(struct cp_engine *d, const struct cp_engine_kind *k,
                        const char *id, const char *name, char *err,
                        size_t errlen)
{
	char path[256];
	cJSON *ans = NULL;
	long status;
	int rv;

	snprintf(path, sizeof(path), k->delete_fmt, id);
	rv = cp_docker_api_call(&d->api, "DELETE", path, NULL, &status, &ans,
	                        err, errlen);
	if (rv == 0 && status != 200 && status != 204 && status != 404) {
		snprintf(err, errlen, "cannot delete %s %s: %s", k->noun, name,
		         cp_docker_api_message(ans, "engine refused"));
		rv = LB_ERR_ENGINE;
	}
	cJSON_Delete(ans);
	return rv;
}

void cp_engine_undo_start(struct cp_engine *d, const struct cp_engine_kind *k,
                          const char *id, const char *name)
{
	char err[256];

	cp_engine_stopping(d, name);
	if (cp_engine_delete_id(d, k, id, name, err, sizeof(err)) != 0)
		lb_log(LB_WARN, "cleanup_failed", "name=%s reason=\"%s\"", name,
		       err);
	cp_engine_untrack(d, name);
}

int cp_engine_create_object(struct cp_engine *d, const struct cp_engine_kind *k,
                            const char *path, const cJSON *body,
                            const char *name, char *id, long *status,
                            cJSON **ans, char *err, size_t errlen)
{
	const cJSON *jid;
	int rv;

	*status = 0;
	*ans = NULL;
	rv = cp_docker_api_call(&d->api, "POST", path, body, status, ans, err,
	                        errlen);
	if (rv == 0 && *status == 409 &&
	    cp_engine_clear_name(d, k, name, "") > 0) {
		cJSON_Delete(*ans);
		*ans = NULL;
		rv = cp_docker_api_call(&d->api, "POST", path, body, status,
		                        ans, err, errlen);
	}
	if (rv != 0) { /* the engine may have made it all the same */
		cp_engine_clear_name(d, k, name, "");
		return rv;
	}
	jid = cJSON_GetObjectItemCaseSensitive(*ans, k->id_field);
	if (*status == 201 && cJSON_IsString(jid) &&
	    strlen(jid->valuestring) < 72) {
		strcpy(id, jid->valuestring);
		return 0;
	}
	if (*status == 201)
		snprintf(err, errlen, "the engine gave no id for %s", name);
	else if (*status == 409)
		snprintf(err, errlen, "a %s named %s already exists", k->noun,
		         name);
	else
		snprintf(err, errlen, "cannot create %s %s: %s", k->noun, name,
		         cp_docker_api_message(*ans, "engine refused"));
	return LB_ERR_ENGINE;
}

int cp_engine_stop_untracked(struct cp_engine *d,
                             const struct cp_engine_kind *k, const char *name,
                             char *err, size_t errlen)
{
	if (cp_engine_clear_name(d, k, name, "") >= 0)
		return 0;
	snprintf(err, errlen, "cannot list the %ss named %s", k->noun, name);
	return LB_ERR_ENGINE;
}

void cp_engine_adopt_take(struct cp_engine *d, struct cp_found *f,
                          bool *adopted, const char *name, uint32_t id,
                          uint32_t weight, const char *ip, const char *cid,
                          const char *svc)
{
	cp_engine_track(d, name, cid, svc);
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->server_id = id;
	f->weight = weight;
	snprintf(f->host, sizeof(f->host), "%s", ip);
	f->port = REPLICA_PORT;
	*adopted = true;
}

void cp_engine_adopt_drop(struct cp_engine *d, const struct cp_engine_kind *k,
                          const char *id, const char *name, const char *state)
{
	char err[256];

	lb_log(LB_INFO, "adopt_cleanup", "name=%s state=%s", name, state);
	cp_engine_delete_id(d, k, id, name, err, sizeof(err));
}

int cp_engine_clear_name(struct cp_engine *d, const struct cp_engine_kind *k,
                         const char *name, const char *keep)
{
	char filter[256], path[800], err[256];
	cJSON *ans = NULL;
	const cJSON *o;
	long status;
	int n = 0;

	cp_engine_name_filter(d, name, filter, sizeof(filter));
	if (!cp_engine_path_of(path, sizeof(path), k->list, filter,
	                       k->list_more) ||
	    cp_docker_api_call(&d->api, "GET", path, NULL, &status, &ans, err,
	                       sizeof(err)) != 0)
		return -1;
	if (status != 200 || !cJSON_IsArray(ans)) {
		cJSON_Delete(ans);
		return -1;
	}
	cJSON_ArrayForEach(o, ans)
	{
		const cJSON *id =
		    cJSON_GetObjectItemCaseSensitive(o, k->id_field);
		if (!cJSON_IsString(id) || strcmp(id->valuestring, keep) == 0)
			continue;
		lb_log(LB_INFO, "stale_deleted", "name=%s %s=%.12s", name,
		       k->noun, id->valuestring);
		if (cp_engine_delete_id(d, k, id->valuestring, name, err,
		                        sizeof(err)) == 0)
			n++;
	}
	cJSON_Delete(ans);
	return n;
}

void cp_engine_stopping(struct cp_engine *d, const char *name)
{
	ssize_t i;
	pthread_mutex_lock(&d->mu);
	if ((i = cp_engine_find(d, name)) >= 0)
		d->v[i].stopping = true;
	pthread_mutex_unlock(&d->mu);
}

void cp_engine_replica_env(const struct cp_engine *d, cJSON *env, uint32_t id)
{
	char line[48];
	snprintf(line, sizeof(line), "SERVER_ID=%u", id);
	cJSON_AddItemToArray(env, cJSON_CreateString(line));
	snprintf(line, sizeof(line), "THREADS=%lld", d->replica_threads);
	cJSON_AddItemToArray(env, cJSON_CreateString(line));
	snprintf(line, sizeof(line), "PORT=%d", REPLICA_PORT);
	cJSON_AddItemToArray(env, cJSON_CreateString(line));
}

void cp_engine_replica_labels(const struct cp_engine *d, cJSON *labels,
                              const char *name, uint32_t id, uint32_t weight)
{
	char idtext[16], wtext[16];
	snprintf(idtext, sizeof(idtext), "%u", id);
	snprintf(wtext, sizeof(wtext), "%u", weight);
	cJSON_AddStringToObject(labels, LABEL_WEIGHT, wtext);
	cJSON_AddStringToObject(labels, LABEL_MANAGED, "true");
	cJSON_AddStringToObject(labels, LABEL_INSTANCE, d->instance);
	cJSON_AddStringToObject(labels, LABEL_SERVER_ID, idtext);
	cJSON_AddStringToObject(labels, LABEL_NAME, name);
}

/* The event stream: one JSON object per line. */
struct cp_engine_stream {
	struct cp_engine *d;
	char buf[16384];
	size_t len;
};

/* Is the event about the container (or, in a swarm, the service) that we
 * run as replica i, and not one that we stop ourselves?  d->mu held. */
static bool cp_engine_event_ours(const struct cp_engine *d, ssize_t i,
                                 bool service, const char *id)
{
	const char *ours;

	if (i < 0 || d->v[i].stopping)
		return false;
	ours = service ? d->v[i].service : d->v[i].id;
	return ours[0] && strcmp(ours, id) == 0;
}

static void cp_engine_event(struct cp_engine *d, const char *line, size_t len)
{
	struct cp_engine_event ev;
	bool report;

	if (!cp_engine_json_event(line, len, &ev))
		return;
	pthread_mutex_lock(&d->mu);
	report = cp_engine_event_ours(d, cp_engine_find(d, ev.name), ev.service,
	                              ev.id);
	pthread_mutex_unlock(&d->mu);
	if (report) {
		lb_log(LB_WARN,
		       ev.service ? "service_removed" : "container_died",
		       "name=%s", ev.name);
		d->base.on_exit(d->base.on_exit_arg, ev.name);
	}
}

static size_t cp_engine_stream_write(char *p, size_t sz, size_t n, void *arg)
{
	struct cp_engine_stream *s = arg;
	size_t len = sz * n;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			s->buf[s->len] = '\0';
			if (s->len)
				cp_engine_event(s->d, s->buf, s->len);
			s->len = 0;
		} else if (s->len + 1 < sizeof(s->buf)) {
			s->buf[s->len++] = p[i];
		}
	}
	return len;
}

static int cp_engine_stream_progress(void *arg, curl_off_t a, curl_off_t b,
                                     curl_off_t c, curl_off_t e)
{
	struct cp_engine_stream *s = arg;
	(void)a;
	(void)b;
	(void)c;
	(void)e;
	return atomic_load(&s->d->closing) ? 1 : 0; /* 1 aborts */
}

/* Follows container "die" events, so a killed replica is replaced at once
 * instead of after failed heartbeats; in a swarm, "remove" events of
 * services too (a removed service's task may take its whole stop grace
 * to die).  Service events carry no labels, so the swarm stream is not
 * filtered by label: cp_engine_event matches ids.  Reconnects when the stream
 * ends. */
static void *cp_engine_events_thread(void *arg)
{
	struct cp_engine *d = arg;
	char filter[256], path[800], url[900];
	struct cp_engine_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->d = d;
	if (d->overlay)
		snprintf(filter, sizeof(filter),
		         "{\"type\":[\"container\",\"service\"],"
		         "\"event\":[\"die\",\"remove\"]}");
	else
		snprintf(filter, sizeof(filter),
		         "{\"type\":[\"container\"],\"event\":[\"die\"],"
		         "\"label\":[\"%s=%s\"]}",
		         LABEL_INSTANCE, d->instance);
	if (!cp_engine_path_of(path, sizeof(path), "/events", filter, "")) {
		free(s);
		return NULL;
	}
	snprintf(url, sizeof(url), "http://docker%s%s", CP_DOCKER_API, path);
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
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION,
		                 cp_engine_stream_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION,
		                 cp_engine_stream_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
		cc = curl_easy_perform(h);
		curl_easy_cleanup(h);
		if (atomic_load(&d->closing))
			break;
		lb_log(LB_WARN, "event_stream_lost", "reason=\"%s\"",
		       curl_easy_strerror(cc));
		lb_time_sleep_unless(&d->closing, 1000);
	}
	free(s);
	return NULL;
}

void cp_engine_destroy(struct cp_driver *base)
{
	struct cp_engine *d = (struct cp_engine *)base;
	if (!d)
		return;
	atomic_store(&d->closing, true);
	if (d->events_started)
		pthread_join(d->events, NULL);
	pthread_mutex_destroy(&d->mu);
	free(d->v);
	free(d);
}

static int cp_engine_open_engine(struct cp_engine *d,
                                 const struct cp_driver_ops *ops,
                                 const struct cp_config *cfg,
                                 cp_driver_exit_cb on_exit, void *arg,
                                 char *err, size_t errlen)
{
	long status;
	int rv;

	if (!lb_name_valid(cfg->network)) {
		snprintf(err, errlen, "LB_NETWORK=%s: not a valid network name",
		         cfg->network);
		free(d);
		return LB_ERR_INVAL;
	}
	d->base.ops = ops;
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
	rv = cp_docker_api_call(&d->api, "GET", "/_ping", NULL, &status, NULL,
	                        err, errlen);
	if (rv != 0) {
		cp_engine_destroy(&d->base);
		return rv;
	}
	if (pthread_create(&d->events, NULL, cp_engine_events_thread, d) == 0)
		d->events_started = true;
	return 0;
}

int cp_engine_driver_create(const struct cp_driver_ops *ops, bool overlay,
                            const struct cp_config *cfg,
                            cp_driver_exit_cb on_exit, void *arg,
                            struct cp_driver **out, char *err, size_t errlen)
{
	struct cp_engine *d = calloc(1, sizeof(*d));
	int rv;

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	d->overlay = overlay;
	if ((rv = cp_engine_open_engine(d, ops, cfg, on_exit, arg, err,
	                                errlen)) != 0)
		return rv;
	*out = &d->base;
	return 0;
}

int cp_engine_adopt_all(struct cp_engine *d, const struct cp_engine_kind *k,
                        cp_engine_adopt_one_fn one, struct cp_found **out,
                        size_t *n, char *err, size_t errlen)
{
	char filter[256], path[800];
	cJSON *ans = NULL;
	const cJSON *o;
	long status;
	int rv;

	*out = NULL;
	*n = 0;
	snprintf(filter, sizeof(filter), "{\"label\":[\"%s=%s\"]}",
	         LABEL_INSTANCE, d->instance);
	if (!cp_engine_path_of(path, sizeof(path), k->list, filter,
	                       k->list_more)) {
		snprintf(err, errlen, "LB_INSTANCE is too long for a filter");
		return LB_ERR_INVAL;
	}
	if ((rv = cp_docker_api_call(&d->api, "GET", path, NULL, &status, &ans,
	                             err, errlen)) != 0)
		return rv;
	if (status != 200 || !cJSON_IsArray(ans)) {
		snprintf(err, errlen, "cannot list %ss%s: %s", k->noun,
		         d->overlay ? " (is this node a swarm manager?)" : "",
		         cp_docker_api_message(ans, "engine refused"));
		cJSON_Delete(ans);
		return LB_ERR_ENGINE;
	}
	if (!(*out =
	          calloc((size_t)cJSON_GetArraySize(ans) + 1, sizeof(**out)))) {
		cJSON_Delete(ans);
		return LB_ERR_NOMEM;
	}
	cJSON_ArrayForEach(o, ans)
	{
		bool adopted = false;
		if ((rv = one(d, o, &(*out)[*n], &adopted, err, errlen)) != 0)
			break;
		*n += adopted;
	}
	cJSON_Delete(ans);
	if (rv != 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rv;
}
