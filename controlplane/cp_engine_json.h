/* cp_engine_json.h - reading what the Docker engine sends: event lines and
 * Swarm task lists.  Kept apart from the drivers (no I/O, no state) so that
 * a fuzz target can feed them any bytes (tests/fuzz/fuzz_engine.c). */
#ifndef CP_ENGINE_JSON_H
#define CP_ENGINE_JSON_H

#include "lb_name.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Labels that mark a container (or a service and its tasks' containers)
 * as a replica of one balancer. */
#define LABEL_MANAGED   "lb.managed"
#define LABEL_INSTANCE  "lb.instance"
#define LABEL_SERVER_ID "lb.server_id"
#define LABEL_WEIGHT    "lb.weight"
#define LABEL_NAME      "lb.name"

/* The server id in an object's labels: a whole decimal 1..UINT32_MAX. */
bool cp_engine_json_label_id(const cJSON *labels, uint32_t *id);

/* The weight in an object's labels: 1..LB_WEIGHT_MAX; 1 when absent or
 * not one (a replica made before weights). */
uint32_t cp_engine_json_label_weight(const cJSON *labels);

/* A container's "die" or a service's "remove": whose, and its id. */
struct cp_engine_event {
	bool service; /* a service event, else a container's */
	char name[LB_NAME_MAX + 1];
	char id[72];
};

/* Reads one line of /events: a container's "die" or a service's
 * "remove" (anything else is refused).  The replica's name is the "lb.name"
 * label (a Swarm task's container is not named after its replica), else the
 * actor's "name".  Returns false for anything else: not JSON, no actor,
 * a name or id that is missing or too long. */
bool cp_engine_json_event(const char *line, size_t len,
                          struct cp_engine_event *out);

/* The newest task of a service: its state ("running", "failed", ...),
 * container, service, address on `network`, and Swarm's error text.
 * Empty strings for what is missing. */
struct cp_swarm_task {
	char state[24];
	char container[72];
	char service[72];
	char ip[LB_HOST_MAX + 1];
	char error[160];
};

/* Picks the newest task (highest Version.Index) of a /tasks answer and
 * reads it into out.  Returns false when the answer holds no task. */
bool cp_engine_json_task(const cJSON *tasks, const char *network,
                         struct cp_swarm_task *out);

#endif
