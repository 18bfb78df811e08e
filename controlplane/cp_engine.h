/* cp_engine.h - what the docker and swarm drivers share: the Docker
 * Engine API client, the labels that mark this balancer's replicas, the
 * records of the replicas they run, the network, and the follower of the
 * engine's events (a container's "die", a service's "remove": a killed
 * replica is replaced at once, not after failed heartbeats; the engine
 * reports the containers of its own node only).  Internal to those two
 * drivers. */
#ifndef CP_ENGINE_H
#define CP_ENGINE_H

#include "cp_config.h"
#include "cp_docker_api.h"
#include "cp_driver.h"
#include "cp_engine_json.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

/* SIGTERM, then this long, then SIGKILL (containers and services). */
#define REPLICA_STOP_GRACE_S 2
#define REPLICA_PORT         5000
#define ENGINE_TIMEOUT_MS    30000

struct cp_engine_entry {
	char name[LB_NAME_MAX + 1];
	char id[72];      /* container id, to tell an old container's death
	                     from a new one's with the same name */
	char service[72]; /* swarm: the service's id (its removal by someone
	                     else is a death too); empty for containers */
	bool stopping;    /* its die event is ours, not a death */
};

struct cp_engine {
	struct cp_driver base;
	struct cp_docker_api api;
	char socket[PATH_MAX];
	char image[256];
	char network[128];
	char instance[LB_NAME_MAX + 1];
	long long replica_threads;
	atomic_bool network_ok; /* set by whichever start finds it */
	bool overlay;           /* swarm: an attachable overlay network */
	pthread_mutex_t mu;     /* entries */
	struct cp_engine_entry *v;
	size_t n, cap;
	pthread_t events;
	bool events_started;
	atomic_bool closing;
};

/* Records that `name` runs as container `id` (its die event is a death),
 * or forgets it. */
void cp_engine_track(struct cp_engine *d, const char *name, const char *id,
                     const char *service);
void cp_engine_untrack(struct cp_engine *d, const char *name);

/* `name` is being stopped by us: its die event is not a death. */
void cp_engine_stopping(struct cp_engine *d, const char *name);

/* Copies the ids that `name` is tracked with (container, and service in a
 * swarm; each 72 bytes) out.  False when it is not tracked. */
bool cp_engine_ids(struct cp_engine *d, const char *name, char *id,
                   char *service);

/* Engine paths name objects by id, never by replica name: the engine
 * matches a name it does not know against the start of ids, and could
 * act on someone else's object.  cp_engine_path_of() writes
 * "<endpoint>?filters=<filter, encoded><more>" into out[len]; false when
 * it would be cut. */
bool cp_engine_path_of(char *out, size_t len, const char *endpoint,
                       const char *filter, const char *more);

/* What a driver makes per replica: containers, or Swarm services. */
struct cp_engine_kind {
	const char *noun;       /* "container", "service" */
	const char *list;       /* endpoint that lists them */
	const char *list_more;  /* more of its query ("&all=true") */
	const char *id_field;   /* "Id", "ID" */
	const char *delete_fmt; /* path that deletes one, from its id */
};

/* Deletes the object with this id; gone already (404) is success. */
int cp_engine_delete_id(struct cp_engine *d, const struct cp_engine_kind *k,
                        const char *id, const char *name, char *err,
                        size_t errlen);

/* POSTs body to path, making the object of kind k for replica `name`; its
 * id into id[72].  A name that an object of ours holds while we track none
 * under it (a create whose answer was lost) is freed and tried once more;
 * when the answer is lost, what the engine may have made is cleared.  A
 * refusal is LB_ERR_ENGINE with err worded and *status, *ans (owned: the
 * caller deletes it) left for the driver to say more. */
int cp_engine_create_object(struct cp_engine *d, const struct cp_engine_kind *k,
                            const char *path, const cJSON *body,
                            const char *name, char *id, long *status,
                            cJSON **ans, char *err, size_t errlen);

/* A stop of a replica whose id we do not know: whatever object of ours
 * has its name is deleted. */
int cp_engine_stop_untracked(struct cp_engine *d,
                             const struct cp_engine_kind *k, const char *name,
                             char *err, size_t errlen);

/* Adoption of one listed object: taken (tracked as container cid and
 * service svc, "" or NULL for none, and filled into f), or dropped (not
 * running: deleted, so that no orphan is left). */
void cp_engine_adopt_take(struct cp_engine *d, struct cp_found *f,
                          bool *adopted, const char *name, uint32_t id,
                          uint32_t weight, const char *ip, const char *cid,
                          const char *svc);
void cp_engine_adopt_drop(struct cp_engine *d, const struct cp_engine_kind *k,
                          const char *id, const char *name, const char *state);

/* A start that failed after its object was made: the object (id) is
 * deleted, as its death is ours, and `name` is no longer tracked. */
void cp_engine_undo_start(struct cp_engine *d, const struct cp_engine_kind *k,
                          const char *id, const char *name);

/* Deletes every object of ours labelled as replica `name`, but `keep`
 * (an id, or ""): what a create whose answer was lost, or a stop that did
 * not finish, left behind.  Returns how many, or -1 when the engine could
 * not list them. */
int cp_engine_clear_name(struct cp_engine *d, const struct cp_engine_kind *k,
                         const char *name, const char *keep);

/* Creates the network when it is missing (compose or the stack file
 * creates it otherwise): a bridge, or an attachable overlay for swarm. */
int cp_engine_network(struct cp_engine *d, char *err, size_t errlen);

/* What every replica gets: SERVER_ID, THREADS and PORT in env (an array),
 * the labels in labels (an object). */
void cp_engine_replica_env(const struct cp_engine *d, cJSON *env, uint32_t id);
void cp_engine_replica_labels(const struct cp_engine *d, cJSON *labels,
                              const char *name, uint32_t id, uint32_t weight);

/* Reads one listed object into f; *adopted (false on entry) says whether
 * it is adopted (cp_engine_adopt_take).  An error when the engine could not say
 * (adoption is tried again). */
typedef int (*cp_engine_adopt_one_fn)(struct cp_engine *d, const cJSON *o,
                                      struct cp_found *f, bool *adopted,
                                      char *err, size_t errlen);

/* A driver's adopt(): lists this instance's objects of kind k by label and
 * adopts each with one(); *out owned (free()). */
int cp_engine_adopt_all(struct cp_engine *d, const struct cp_engine_kind *k,
                        cp_engine_adopt_one_fn one, struct cp_found **out,
                        size_t *n, char *err, size_t errlen);

/* Makes a driver with ops (overlay: a swarm's network), and checks that
 * the engine answers.  *out owned (ops->destroy). */
int cp_engine_driver_create(const struct cp_driver_ops *ops, bool overlay,
                            const struct cp_config *cfg,
                            cp_driver_exit_cb on_exit, void *arg,
                            struct cp_driver **out, char *err, size_t errlen);

void cp_engine_destroy(struct cp_driver *base);

#endif
