/* cp_events.h - the control plane's recent events (adds, removes, deaths,
 * replacements, replicas up), for the dashboard: a ring of the last
 * CP_EVENTS_MAX, under its own lock. */
#ifndef CP_EVENTS_H
#define CP_EVENTS_H

#include "lb_name.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define CP_EVENTS_MAX 64

struct cp_event {
	uint64_t wall_ms; /* when, on the wall clock */
	char kind[16];    /* "added", "removed", "died", "replacing", "up" */
	char name[LB_NAME_MAX + 1];
	char detail[96];
};

struct cp_events {
	pthread_mutex_t mu;
	struct cp_event v[CP_EVENTS_MAX];
	uint64_t next; /* events ever recorded */
};

void cp_events_init(struct cp_events *e);
void cp_events_fini(struct cp_events *e);

/* Records an event now. */
void cp_events_add(struct cp_events *e, const char *kind, const char *name,
                   const char *detail);

/* Copies the last events, oldest first, into out[0..max); returns how many. */
size_t cp_events_last(struct cp_events *e, struct cp_event *out, size_t max);

#endif
