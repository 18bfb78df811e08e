#include "cp_engine_json.h"

#include "lb_ring.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Copies a JSON string into dst[cap]; false when it is not a string or
 * would not fit (a cut name or id could match another's). */
static bool copy_string(char *dst, size_t cap, const cJSON *s)
{
	size_t n;

	if (!cJSON_IsString(s) || !s->valuestring)
		return false;
	n = strlen(s->valuestring);
	if (n >= cap)
		return false;
	memcpy(dst, s->valuestring, n + 1);
	return true;
}

/* Like copy_string, but what is missing or too long stays empty. */
static void copy_or_empty(char *dst, size_t cap, const cJSON *s)
{
	if (!copy_string(dst, cap, s))
		dst[0] = '\0';
}

bool cp_engine_json_event(const char *line, size_t len,
                          struct cp_engine_event *out)
{
	cJSON *ev = cJSON_ParseWithLength(line, len);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "Type");
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(ev, "Action");
	const cJSON *actor = cJSON_GetObjectItemCaseSensitive(ev, "Actor");
	const cJSON *attrs =
	    cJSON_GetObjectItemCaseSensitive(actor, "Attributes");
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(attrs, LABEL_NAME);
	bool ok;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsString(nm))
		nm = cJSON_GetObjectItemCaseSensitive(attrs, "name");
	out->service =
	    cJSON_IsString(type) && strcmp(type->valuestring, "service") == 0;
	/* The stream's filter asks for these only; checked here all the
	 * same, as a death is acted on. */
	ok =
	    cJSON_IsString(action) &&
	    strcmp(action->valuestring, out->service ? "remove" : "die") == 0 &&
	    copy_string(out->name, sizeof(out->name), nm) && out->name[0] &&
	    copy_string(out->id, sizeof(out->id),
	                cJSON_GetObjectItemCaseSensitive(actor, "ID")) &&
	    out->id[0];
	cJSON_Delete(ev);
	return ok;
}

/* The address out of "10.0.1.5/24" on our network. */
static void task_ip(const cJSON *t, const char *network, char *ip, size_t cap)
{
	const cJSON *att, *a;

	ip[0] = '\0';
	att = cJSON_GetObjectItemCaseSensitive(t, "NetworksAttachments");
	cJSON_ArrayForEach(a, att)
	{
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(a, "Network"), "Spec");
		const cJSON *nm =
		    cJSON_GetObjectItemCaseSensitive(spec, "Name");
		const cJSON *addr = cJSON_GetArrayItem(
		    cJSON_GetObjectItemCaseSensitive(a, "Addresses"), 0);
		size_t len;
		if (!cJSON_IsString(nm) || strcmp(nm->valuestring, network) ||
		    !cJSON_IsString(addr))
			continue;
		len = strcspn(addr->valuestring, "/");
		if (len > 0 && len < cap) {
			memcpy(ip, addr->valuestring, len);
			ip[len] = '\0';
		}
		return;
	}
}

static double task_version(const cJSON *t)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(t, "Version"), "Index");
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

bool cp_engine_json_task(const cJSON *tasks, const char *network,
                         struct cp_swarm_task *out)
{
	const cJSON *t, *newest = NULL, *st;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsArray(tasks))
		return false;
	cJSON_ArrayForEach(t, tasks)
	{
		if (cJSON_IsObject(t) &&
		    (!newest || task_version(t) > task_version(newest)))
			newest = t;
	}
	if (!newest)
		return false;
	st = cJSON_GetObjectItemCaseSensitive(newest, "Status");
	copy_or_empty(out->state, sizeof(out->state),
	              cJSON_GetObjectItemCaseSensitive(st, "State"));
	/* Only shown to people: cut, not dropped. */
	t = cJSON_GetObjectItemCaseSensitive(st, "Err");
	if (cJSON_IsString(t) && t->valuestring)
		snprintf(out->error, sizeof(out->error), "%s", t->valuestring);
	copy_or_empty(
	    out->container, sizeof(out->container),
	    cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(st, "ContainerStatus"),
	        "ContainerID"));
	copy_or_empty(out->service, sizeof(out->service),
	              cJSON_GetObjectItemCaseSensitive(newest, "ServiceID"));
	task_ip(newest, network, out->ip, sizeof(out->ip));
	return true;
}

/* Label `key` as a whole decimal 1..max. */
static bool label_number(const cJSON *labels, const char *key, uint32_t max,
                         uint32_t *out)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(labels, key);
	unsigned long long v = 0;
	const char *p;

	if (!cJSON_IsString(s) || !s->valuestring[0])
		return false;
	for (p = s->valuestring; *p; p++) {
		if (*p < '0' || *p > '9' || v > max)
			return false;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v < 1 || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

bool cp_engine_json_label_id(const cJSON *labels, uint32_t *id)
{
	return label_number(labels, LABEL_SERVER_ID, UINT32_MAX, id);
}

uint32_t cp_engine_json_label_weight(const cJSON *labels)
{
	uint32_t w;
	return label_number(labels, LABEL_WEIGHT, LB_WEIGHT_MAX, &w) ? w : 1;
}
