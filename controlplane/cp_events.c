#include "cp_events.h"

#include "lb_time.h"

#include <stdio.h>
#include <string.h>

void cp_events_init(struct cp_events *e)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->mu, NULL);
}

void cp_events_fini(struct cp_events *e)
{
	pthread_mutex_destroy(&e->mu);
}

void cp_events_add(struct cp_events *e, const char *kind, const char *name,
                   const char *detail)
{
	struct cp_event *ev;

	pthread_mutex_lock(&e->mu);
	ev = &e->v[e->next++ % CP_EVENTS_MAX];
	ev->wall_ms = lb_wall_us() / 1000;
	snprintf(ev->kind, sizeof(ev->kind), "%s", kind);
	snprintf(ev->name, sizeof(ev->name), "%s", name);
	snprintf(ev->detail, sizeof(ev->detail), "%s", detail ? detail : "");
	pthread_mutex_unlock(&e->mu);
}

size_t cp_events_last(struct cp_events *e, struct cp_event *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&e->mu);
	n = e->next < CP_EVENTS_MAX ? (size_t)e->next : CP_EVENTS_MAX;
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		out[i] = e->v[(e->next - n + i) % CP_EVENTS_MAX];
	pthread_mutex_unlock(&e->mu);
	return n;
}
