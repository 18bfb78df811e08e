/* cp_fake_driver.h - a driver for the control plane's unit tests: nothing
 * runs, no process, socket or engine.  It records every start and stop,
 * keeps the replicas it "runs", and can be told to fail a call, to hold a
 * call until the test releases it, or to start a replica that never
 * answers its health checks.
 *
 * It also answers those health checks: this file defines cp_probe_run(),
 * so a test links it in place of cp_probe.c (and libcurl).  That link-time
 * seam is why the planes' code needs no hook for the tests: cp_ops.c waits
 * for a first heartbeat through cp_probe_run() and nothing else.
 *
 * Calls are numbered per operation from 1, in the order they arrive.
 */
#ifndef CP_FAKE_DRIVER_H
#define CP_FAKE_DRIVER_H

#include "cp.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cp_fake_op { CP_FAKE_START, CP_FAKE_STOP, CP_FAKE_OPS };

/* What happens to one numbered call. */
enum cp_fake_act {
	CP_FAKE_FAIL, /* the call fails: nothing starts, or nothing stops */
	CP_FAKE_HOLD, /* the call waits for cp_fake_driver_release() */
	CP_FAKE_MUTE, /* start: it runs but never answers a health check */
};

#define CP_FAKE_CALLS_MAX 256
#define CP_FAKE_RUN_MAX   128
#define CP_FAKE_RULES_MAX 16
#define CP_FAKE_HOST      "192.0.2.1" /* TEST-NET-1: never reached */

struct cp_fake_call {
	enum cp_fake_op op;
	char name[LB_NAME_MAX + 1];
	uint32_t id, weight; /* start only */
	bool ok;
};

struct cp_fake_replica {
	char name[LB_NAME_MAX + 1];
	uint32_t id, weight;
	char host[LB_HOST_MAX + 1]; /* CP_FAKE_HOST, or the one given */
	uint16_t port;
	bool mute; /* never answers a health check */
};

struct cp_fake_rule {
	enum cp_fake_op op;
	char name[LB_NAME_MAX + 1]; /* "": calls of any name */
	size_t nth; /* the call's number, among those of name when set */
	enum cp_fake_act act;
};

struct cp_fake_driver {
	struct cp_driver base;
	/* A copy per driver: a test may set given_addresses or name_ok
	 * before the first call. */
	struct cp_driver_ops ops;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a call arrived, or a hold was released */
	struct cp_fake_call calls[CP_FAKE_CALLS_MAX];
	size_t ncalls;
	size_t count[CP_FAKE_OPS];
	struct cp_fake_rule rules[CP_FAKE_RULES_MAX];
	size_t nrules;
	size_t releases; /* given by cp_fake_driver_release(), not used */
	size_t held;     /* calls waiting in a hold now */
	struct cp_fake_replica run[CP_FAKE_RUN_MAX];
	size_t nrun;
	uint16_t next_port;
	size_t anomalies; /* a start of a name that runs already */
};

/* Makes a struct cp as cp_main.c does (state, drain, reports, the lock),
 * without sockets or threads, driven by a new fake driver (*fd).  Config:
 * the "assignment" preset, max_replicas 10, start timeout 2 s. */
void cp_fake_driver_cp_init(struct cp *cp, struct cp_fake_driver **fd);

/* Ends what cp_fake_driver_cp_init() made.  Replicas still draining are
 * stopped through the driver (as at shutdown), then it is destroyed. */
void cp_fake_driver_cp_fini(struct cp *cp);

/* The k-th call of op from now (k = 1: the next one; 0: the one that
 * arrived last, a held one say) acts as act.  With name, only calls for
 * that name count; NULL: calls of any name. */
void cp_fake_driver_rule(struct cp_fake_driver *fd, enum cp_fake_op op,
                         const char *name, size_t k, enum cp_fake_act act);

/* Lets one held call go on. */
void cp_fake_driver_release(struct cp_fake_driver *fd);

/* Calls of op so far, for name (NULL: any); with ok_only, those that
 * ended well (a call counts from when it arrives, a held one too). */
size_t cp_fake_driver_calls(struct cp_fake_driver *fd, enum cp_fake_op op,
                            const char *name, bool ok_only);

/* Waits until cp_fake_driver_calls() reaches count, for timeout_ms at most.
 * True when it did. */
bool cp_fake_driver_wait_calls(struct cp_fake_driver *fd, enum cp_fake_op op,
                               const char *name, bool ok_only, size_t count,
                               long timeout_ms);

/* Where the which-th (from 1) of those calls is in the log of all calls,
 * or -1: tells what came first. */
long cp_fake_driver_call_index(struct cp_fake_driver *fd, enum cp_fake_op op,
                               const char *name, bool ok_only, size_t which);

/* The log entry at index i (a copy). */
struct cp_fake_call cp_fake_driver_call(struct cp_fake_driver *fd, size_t i);

/* True when the driver runs a replica of that name. */
bool cp_fake_driver_runs(struct cp_fake_driver *fd, const char *name);

/* Replicas running now. */
size_t cp_fake_driver_nrun(struct cp_fake_driver *fd);

/* The replica ends by itself (killed, crashed): it stops running and the
 * driver's exit callback is called, as a real driver's thread would. */
void cp_fake_driver_kill(struct cp_fake_driver *fd, const char *name);

#endif
