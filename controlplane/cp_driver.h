/* cp_driver.h - how the control plane runs replicas: the driver interface.
 *
 * Four drivers implement it: `process` (replicas as local child processes
 * on loopback ports, the embedded default), `docker` (containers through
 * the Docker Engine API), `swarm` (a Swarm service per replica, through
 * the same API) and `static` (servers the balancer did not start: nothing
 * is started or stopped).  Several threads call a driver at once (an /add, an
 * /rm, the repair thread), never for the same name: each driver keeps its
 * own records under its own lock, and holds it across no wait.
 */
#ifndef CP_DRIVER_H
#define CP_DRIVER_H

#include "lb_name.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A replica that a driver found running when the control plane started. */
struct cp_found {
	char name[LB_NAME_MAX + 1];
	uint32_t server_id;
	char host[LB_HOST_MAX + 1]; /* checked where it enters */
	uint16_t port;
	uint32_t weight; /* as recorded at start(); 0: 1 */
};

/* Called from a driver's own thread when a replica ends without being
 * asked to (killed, crashed).  Must not call back into the driver. */
typedef void (*cp_driver_exit_cb)(void *arg, const char *name);

struct cp_driver;

struct cp_driver_ops {
	const char *name;
	/* The caller gives each replica's address (host and port are inputs
	 * to start()), and nothing is started or respawned: LB_DRIVER=static.
	 */
	bool given_addresses;
	/* When set, what names the driver's engine accepts beyond
	 * lb_name_valid() (Swarm's service names are DNS labels); false
	 * with the rule in why[len]. */
	bool (*name_ok)(const char *name, char *why, size_t len);
	/* Creates and starts replica `name` with SERVER_ID = id, recording
	 * its weight where adopt() finds it again.  On success fills
	 * host/port (where it will listen) and returns 0; on failure leaves
	 * nothing behind and writes the reason to err. */
	int (*start)(struct cp_driver *d, const char *name, uint32_t id,
	             uint32_t weight, char *host, size_t hostlen,
	             uint16_t *port, char *err, size_t errlen);
	/* Stops and deletes replica `name`: in-flight answers may finish
	 * first.  A replica that is already gone is not an error. */
	int (*stop)(struct cp_driver *d, const char *name, char *err,
	            size_t errlen);
	/* Lists the replicas of this instance that already run, so that a
	 * restarted control plane adopts them.  *out owned (free()). */
	int (*adopt)(struct cp_driver *d, struct cp_found **out, size_t *n,
	             char *err, size_t errlen);
	/* The control plane is exiting: the process driver stops its
	 * replicas (they are its children).  Optional: docker and swarm
	 * leave theirs to be adopted by the next start (make down and make
	 * swarm-down remove them); static has nothing to stop. */
	void (*shutdown)(struct cp_driver *d);
	void (*destroy)(struct cp_driver *d);
};

struct cp_driver {
	const struct cp_driver_ops *ops;
	cp_driver_exit_cb on_exit;
	void *on_exit_arg;
};

#endif
