#define _GNU_SOURCE /* close_range, pipe2 */
#include "cp_driver_process.h"

#include "cp_config.h"
#include "cp_statedir.h"

#include "lb_array.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_ring.h"
#include "lb_time.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PD_STOP_GRACE_MS 3000
#define PD_STATE_MAX     (16 << 20) /* a record larger than this is refused */

struct pd_entry {
	char name[LB_NAME_MAX + 1];
	uint32_t id;
	uint32_t weight; /* recorded for a restarted control plane */
	pid_t pid;
	uint16_t port;
	bool child;    /* ours to waitpid(); adopted ones are not */
	bool stopping; /* asked to stop: its exit is no death */
};

struct pd {
	struct cp_driver base;
	char bin[PATH_MAX];
	char state_path[PATH_MAX]; /* for logs: the record is reached
	                              through state_dir */
	int state_dir;             /* the open LB_STATE_DIR (cp_statedir.h) */
	char state_name[LB_NAME_MAX + 8]; /* "<instance>.json" */
	char instance[LB_NAME_MAX + 1];
	char env_threads[32]; /* "THREADS=<LB_REPLICA_THREADS>" */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* an entry went away, or a child was born */
	struct pd_entry *v;
	size_t n, cap;
	pthread_t reaper;
	bool reaper_started;
	bool closing;
};

static ssize_t pd_find(struct pd *d, const char *name)
{
	return lb_name_find(d->v, d->n, sizeof(*d->v),
	                    offsetof(struct pd_entry, name), name);
}

/* Appends a blank entry; NULL when out of memory.  Called with mu held. */
static struct pd_entry *pd_push(struct pd *d)
{
	struct pd_entry *e;
	if (lb_array_grow((void **)&d->v, &d->cap, d->n + 1, sizeof(*d->v)))
		return NULL;
	e = &d->v[d->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

static void pd_drop(struct pd *d, size_t i)
{
	memmove(&d->v[i], &d->v[i + 1], (d->n - i - 1) * sizeof(d->v[0]));
	d->n--;
}

/* Writes the registry to the state file (cp_statedir: a new file renamed
 * over the old, so a crash never leaves half of one).  Called with mu
 * held. */
static void pd_persist(struct pd *d)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *text = NULL;

	if (!root)
		return;
	arr = cJSON_AddArrayToObject(root, "replicas");
	for (size_t i = 0; arr && i < d->n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddStringToObject(o, "name", d->v[i].name);
		cJSON_AddNumberToObject(o, "id", d->v[i].id);
		cJSON_AddNumberToObject(o, "weight", d->v[i].weight);
		cJSON_AddNumberToObject(o, "pid", d->v[i].pid);
		cJSON_AddNumberToObject(o, "port", d->v[i].port);
		cJSON_AddItemToArray(arr, o);
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return;
	if (cp_statedir_write(d->state_dir, d->state_name, text,
	                      strlen(text)) != 0)
		lb_log(LB_WARN, "state_write_failed", "path=%s reason=\"%s\"",
		       d->state_path, strerror(errno));
	cJSON_free(text);
}

/* Waits for children; an exit nobody asked for is reported as a death. */
static void *pd_reaper(void *arg)
{
	struct pd *d = arg;

	for (;;) {
		char name[LB_NAME_MAX + 1] = "";
		bool unexpected = false;
		int status;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			/* No children now: sleep until one is born. */
			pthread_mutex_lock(&d->mu);
			if (d->closing) {
				pthread_mutex_unlock(&d->mu);
				return NULL;
			}
			struct timespec ts;
			lb_time_deadline(&ts, CLOCK_MONOTONIC, 200);
			pthread_cond_timedwait(&d->cv, &d->mu, &ts);
			pthread_mutex_unlock(&d->mu);
			continue;
		}
		pthread_mutex_lock(&d->mu);
		for (size_t i = 0; i < d->n; i++) {
			if (d->v[i].pid != pid)
				continue;
			snprintf(name, sizeof(name), "%s", d->v[i].name);
			unexpected = !d->v[i].stopping;
			pd_drop(d, i);
			pd_persist(d);
			break;
		}
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
		if (unexpected) {
			lb_log(LB_WARN, "replica_exited",
			       "name=%s pid=%d "
			       "status=%d",
			       name, (int)pid, status);
			d->base.on_exit(d->base.on_exit_arg, name);
		}
	}
}

/* A free loopback port: bind to port 0 and ask.  Another process could take
 * it before the replica binds; then the replica exits at once and the start
 * fails cleanly (the caller retries). */
static int pd_free_port(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return LB_ERR_SYS;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		close(fd);
		return LB_ERR_SYS;
	}
	*port = ntohs(a.sin_port);
	close(fd);
	return 0;
}

/* A replica gets a small, fixed environment, plus the sanitizers'
 * settings when the control plane runs under them (tests). */
static const char *const pd_env_pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS",
                                          "TSAN_OPTIONS", "LSAN_OPTIONS"};
#define PD_ENV_PASS  (sizeof(pd_env_pass) / sizeof(pd_env_pass[0]))
#define PD_ENV_FIXED 7 /* the entries pd_env_build() always sets */

struct pd_env {
	char id[32], port[32], inst[96], name[96];
	char pass[PD_ENV_PASS][1024];
	char *envp[PD_ENV_FIXED + PD_ENV_PASS + 1];
};

static void pd_env_build(struct pd_env *env, const struct pd *d,
                         const char *name, uint32_t id, uint16_t port)
{
	size_t ne = 0;

	snprintf(env->id, sizeof(env->id), "SERVER_ID=%u", id);
	snprintf(env->port, sizeof(env->port), "PORT=%u", port);
	snprintf(env->inst, sizeof(env->inst), "LB_INSTANCE=%s", d->instance);
	snprintf(env->name, sizeof(env->name), "LB_REPLICA_NAME=%s", name);
	env->envp[ne++] = env->id;
	env->envp[ne++] = env->port;
	env->envp[ne++] = "HOST=127.0.0.1";
	env->envp[ne++] = env->inst;
	env->envp[ne++] = env->name;
	env->envp[ne++] = "LOG_LEVEL=warn";
	env->envp[ne++] = (char *)d->env_threads;
	assert(ne == PD_ENV_FIXED); /* envp has room for these and the rest */
	for (size_t i = 0; i < PD_ENV_PASS; i++) {
		const char *v = getenv(pd_env_pass[i]);
		if (v && (size_t)snprintf(env->pass[i], sizeof(env->pass[i]),
		                          "%s=%s", pd_env_pass[i],
		                          v) < sizeof(env->pass[i]))
			env->envp[ne++] = env->pass[i];
	}
	env->envp[ne] = NULL;
}

/* The child between fork and exec: only async-signal-safe calls.  A failed
 * exec writes its errno to fd. */
static void __attribute__((noreturn))
pd_child(const struct pd *d, char *const envp[], int fd)
{
	char *const argv[] = {(char *)d->bin, NULL}; /* execve's type */
	sigset_t none;
	struct sigaction dfl;
	int e;

	setsid();
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGPIPE, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Sockets of the control plane must not leak into replicas. */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(d->bin, argv, envp);
	e = errno;
	if (write(fd, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

/* Records a child just forked; called with d->mu held, before the reaper
 * can see it exit. */
static void pd_register(struct pd *d, const char *name, uint32_t id,
                        uint32_t weight, pid_t pid, uint16_t port)
{
	struct pd_entry *e = pd_push(d);

	if (e) {
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->id = id;
		e->weight = weight;
		e->pid = pid;
		e->port = port;
		e->child = true;
		pd_persist(d);
	}
	pthread_cond_broadcast(&d->cv);
}

/* Waits for the exec's verdict on the pipe: EOF when the program runs
 * (O_CLOEXEC closed it), else the child's errno.  A child that could not
 * exec is stopped (its exit is then expected) and the start fails. */
static int pd_exec_result(struct pd *d, const char *name, int fd, char *err,
                          size_t errlen)
{
	int child_errno = 0;
	ssize_t got;
	char e2[64];

	do
		got = read(fd, &child_errno, sizeof(child_errno));
	while (got < 0 && errno == EINTR);
	close(fd);
	if (got <= 0)
		return 0;
	pthread_mutex_lock(&d->mu);
	ssize_t i = pd_find(d, name);
	if (i >= 0)
		d->v[i].stopping = true;
	pthread_mutex_unlock(&d->mu);
	snprintf(err, errlen, "cannot run %s: %s", d->bin,
	         strerror(child_errno));
	d->base.ops->stop(&d->base, name, e2, sizeof(e2));
	return LB_ERR_ENGINE;
}

static int pd_start(struct cp_driver *base, const char *name, uint32_t id,
                    uint32_t weight, char *host, size_t hostlen, uint16_t *port,
                    char *err, size_t errlen)
{
	struct pd *d = (struct pd *)base;
	struct pd_env env;
	int pfd[2], rv;
	pid_t pid;

	pthread_mutex_lock(&d->mu);
	if (pd_find(d, name) >= 0) {
		pthread_mutex_unlock(&d->mu);
		snprintf(err, errlen, "a replica named %s already runs", name);
		return LB_ERR_EXISTS;
	}
	pthread_mutex_unlock(&d->mu);
	if (pd_free_port(port) != 0) {
		snprintf(err, errlen, "no free loopback port: %s",
		         strerror(errno));
		return LB_ERR_SYS;
	}
	pd_env_build(&env, d, name, id, *port);
	/* The child reports a failed exec through this pipe. */
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return LB_ERR_SYS;
	}
	pthread_mutex_lock(&d->mu);
	if ((pid = fork()) == 0)
		pd_child(d, env.envp, pfd[1]);
	if (pid < 0) {
		pthread_mutex_unlock(&d->mu);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return LB_ERR_SYS;
	}
	pd_register(d, name, id, weight, pid, *port);
	pthread_mutex_unlock(&d->mu);
	close(pfd[1]);
	if ((rv = pd_exec_result(d, name, pfd[0], err, errlen)) != 0)
		return rv;
	snprintf(host, hostlen, "127.0.0.1");
	return 0;
}

/* Reads /proc/<pid>/<what> into buf (NUL-terminated); returns the length,
 * or -1. */
static ssize_t pd_read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* The process runs as this user: a process of another user that borrowed
 * our replicas' environment is never adopted (nor signalled). */
static bool pd_pid_ours(pid_t pid)
{
	char path[32];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return stat(path, &st) == 0 && st.st_uid == geteuid();
}

/* Alive and not a zombie: an adopted replica's parent is init, which may
 * be slow to reap it (or, in a container, may never). */
static bool pd_pid_alive(pid_t pid)
{
	char buf[256], *rp;

	if (kill(pid, 0) != 0 && errno != EPERM)
		return false;
	if (pd_read_proc(pid, "stat", buf, sizeof(buf)) < 0)
		return false;
	/* "pid (comm) S ...": the state follows the last ')'. */
	rp = strrchr(buf, ')');
	return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

/* Waits until entry `name` has gone (reaped) or the adopted pid has died.
 * Called with mu held; returns true when gone. */
static bool pd_wait_gone(struct pd *d, const char *name, pid_t pid, bool child,
                         int64_t ms)
{
	int64_t deadline = lb_now_ms() + ms;

	while (lb_now_ms() < deadline) {
		ssize_t i = pd_find(d, name);
		if (i < 0 || d->v[i].pid != pid)
			return true;
		if (!child && !pd_pid_alive(pid)) {
			pd_drop(d, (size_t)i);
			pd_persist(d);
			return true;
		}
		struct timespec ts;
		lb_time_deadline(&ts, CLOCK_MONOTONIC, 20);
		pthread_cond_timedwait(&d->cv, &d->mu, &ts);
	}
	return false;
}

static int pd_stop(struct cp_driver *base, const char *name, char *err,
                   size_t errlen)
{
	struct pd *d = (struct pd *)base;
	ssize_t i;
	pid_t pid;
	bool child;

	pthread_mutex_lock(&d->mu);
	if ((i = pd_find(d, name)) < 0) {
		pthread_mutex_unlock(&d->mu);
		return 0; /* already gone */
	}
	d->v[i].stopping = true;
	pid = d->v[i].pid;
	child = d->v[i].child;
	kill(pid, SIGTERM);
	if (!pd_wait_gone(d, name, pid, child, PD_STOP_GRACE_MS)) {
		lb_log(LB_WARN, "replica_kill",
		       "name=%s pid=%d reason=\"no exit "
		       "%d ms after SIGTERM\"",
		       name, (int)pid, PD_STOP_GRACE_MS);
		kill(pid, SIGKILL);
		if (!pd_wait_gone(d, name, pid, child, PD_STOP_GRACE_MS)) {
			pthread_mutex_unlock(&d->mu);
			snprintf(err, errlen, "pid %d did not exit", (int)pid);
			return LB_ERR_TIMEOUT;
		}
	}
	pthread_mutex_unlock(&d->mu);
	return 0;
}

/* True when /proc/<pid>/environ holds exactly `want` as one entry. */
static bool pd_env_has(pid_t pid, const char *want)
{
	char buf[8192];
	size_t len, wl = strlen(want);
	ssize_t n = pd_read_proc(pid, "environ", buf, sizeof(buf));

	if (n < 0)
		return false;
	len = (size_t)n;
	for (size_t off = 0; off < len; off += strlen(buf + off) + 1)
		if (strlen(buf + off) == wl && memcmp(buf + off, want, wl) == 0)
			return true;
	return false;
}

static int pd_adopt(struct cp_driver *base, struct cp_found **out, size_t *n,
                    char *err, size_t errlen)
{
	struct pd *d = (struct pd *)base;
	cJSON *root = NULL, *arr, *o;
	struct cp_found *found = NULL;
	char *text = NULL;
	size_t nf = 0, cap;
	int rv;

	*out = NULL;
	*n = 0;
	rv = cp_statedir_read(d->state_dir, d->state_name, PD_STATE_MAX, &text);
	if (rv == 1)
		return 0; /* nothing recorded: nothing to adopt */
	if (rv != 0) {
		lb_log(LB_WARN, "state_refused", "path=%s reason=\"%s\"",
		       d->state_path,
		       errno == EPERM ? "not a regular file of this user"
		                      : strerror(errno));
		return 0;
	}
	root = cJSON_Parse(text);
	free(text);
	arr = cJSON_GetObjectItemCaseSensitive(root, "replicas");
	cap = (size_t)cJSON_GetArraySize(arr);
	if (cap && !(found = calloc(cap, sizeof(*found)))) {
		cJSON_Delete(root);
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	pthread_mutex_lock(&d->mu);
	cJSON_ArrayForEach(o, arr)
	{
		cJSON *jn = cJSON_GetObjectItemCaseSensitive(o, "name");
		cJSON *ji = cJSON_GetObjectItemCaseSensitive(o, "id");
		cJSON *jp = cJSON_GetObjectItemCaseSensitive(o, "pid");
		cJSON *jport = cJSON_GetObjectItemCaseSensitive(o, "port");
		cJSON *jw = cJSON_GetObjectItemCaseSensitive(o, "weight");
		char want_id[32], want_inst[96];
		pid_t pid;

		if (!cJSON_IsString(jn) || !lb_name_valid(jn->valuestring) ||
		    !cJSON_IsNumber(ji) || !cJSON_IsNumber(jp) ||
		    !cJSON_IsNumber(jport) || jp->valuedouble < 2 ||
		    ji->valuedouble < 1 || jport->valuedouble < 1 ||
		    jport->valuedouble > 65535 || jp->valuedouble > INT_MAX ||
		    ji->valuedouble > UINT32_MAX)
			continue;
		pid = (pid_t)jp->valuedouble;
		/* Only a live process that is our replica with that id: a
		 * recycled pid must not be adopted (or killed). */
		snprintf(want_id, sizeof(want_id), "SERVER_ID=%u",
		         (uint32_t)ji->valuedouble);
		snprintf(want_inst, sizeof(want_inst), "LB_INSTANCE=%s",
		         d->instance);
		if (!pd_pid_alive(pid) || !pd_pid_ours(pid) ||
		    !pd_env_has(pid, want_id) || !pd_env_has(pid, want_inst))
			continue;
		struct pd_entry *e = pd_push(d);
		if (!e)
			break;
		snprintf(e->name, sizeof(e->name), "%s", jn->valuestring);
		e->id = (uint32_t)ji->valuedouble;
		e->pid = pid;
		e->port = (uint16_t)jport->valuedouble;
		/* A record without a weight (or a bad one) weighs 1. */
		e->weight = cJSON_IsNumber(jw) && jw->valuedouble >= 1 &&
		                    jw->valuedouble <= LB_WEIGHT_MAX
		                ? (uint32_t)jw->valuedouble
		                : 1;
		e->child = false;
		struct cp_found *fo = &found[nf++];
		snprintf(fo->name, sizeof(fo->name), "%s", e->name);
		fo->server_id = e->id;
		fo->weight = e->weight;
		snprintf(fo->host, sizeof(fo->host), "127.0.0.1");
		fo->port = e->port;
	}
	pd_persist(d);
	pthread_mutex_unlock(&d->mu);
	cJSON_Delete(root);
	*out = found;
	*n = nf;
	return 0;
}

static void pd_shutdown(struct cp_driver *base)
{
	struct pd *d = (struct pd *)base;
	char err[128];

	/* SIGTERM to all first, so that they stop in parallel. */
	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < d->n; i++) {
		d->v[i].stopping = true;
		kill(d->v[i].pid, SIGTERM);
	}
	pthread_mutex_unlock(&d->mu);
	for (;;) {
		char name[LB_NAME_MAX + 1];
		pthread_mutex_lock(&d->mu);
		if (d->n == 0) {
			pthread_mutex_unlock(&d->mu);
			break;
		}
		snprintf(name, sizeof(name), "%s", d->v[0].name);
		pthread_mutex_unlock(&d->mu);
		if (pd_stop(base, name, err, sizeof(err)) != 0) {
			/* Give up on it, but do not loop forever. */
			pthread_mutex_lock(&d->mu);
			ssize_t i = pd_find(d, name);
			if (i >= 0)
				pd_drop(d, (size_t)i);
			pthread_mutex_unlock(&d->mu);
		}
	}
	pthread_mutex_lock(&d->mu);
	pd_persist(d);
	cp_statedir_remove(d->state_dir, d->state_name);
	pthread_mutex_unlock(&d->mu);
}

static void pd_destroy(struct cp_driver *base)
{
	struct pd *d = (struct pd *)base;
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->closing = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	if (d->reaper_started)
		pthread_join(d->reaper, NULL);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	close(d->state_dir);
	free(d->v);
	free(d);
}

static const struct cp_driver_ops pd_ops = {
    .name = "process",
    .start = pd_start,
    .stop = pd_stop,
    .adopt = pd_adopt,
    .shutdown = pd_shutdown,
    .destroy = pd_destroy,
};

int cp_driver_process_create(const struct cp_config *cfg,
                             cp_driver_exit_cb on_exit, void *arg,
                             struct cp_driver **out, char *err, size_t errlen)
{
	const char *replica_bin = cfg->replica_bin, *state_dir = cfg->state_dir,
	           *instance = cfg->instance;
	struct pd *d;
	int dirfd;

	if (access(replica_bin, X_OK) != 0) {
		snprintf(err, errlen,
		         "LB_REPLICA_BIN=%s: not an executable "
		         "file (%s)",
		         replica_bin, strerror(errno));
		return LB_ERR_INVAL;
	}
	if ((dirfd = cp_statedir_open(state_dir, err, errlen)) < 0)
		return LB_ERR_INVAL;
	if (!(d = calloc(1, sizeof(*d)))) {
		close(dirfd);
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	d->state_dir = dirfd;
	snprintf(d->state_name, sizeof(d->state_name), "%s.json", instance);
	d->base.ops = &pd_ops;
	d->base.on_exit = on_exit;
	d->base.on_exit_arg = arg;
	if (!realpath(replica_bin, d->bin))
		snprintf(d->bin, sizeof(d->bin), "%s", replica_bin);
	snprintf(d->state_path, sizeof(d->state_path), "%s/%s.json", state_dir,
	         instance);
	snprintf(d->instance, sizeof(d->instance), "%s", instance);
	snprintf(d->env_threads, sizeof(d->env_threads), "THREADS=%lld",
	         cfg->replica_threads);
	pthread_mutex_init(&d->mu, NULL);
	lb_time_cond_init(&d->cv);
	if (pthread_create(&d->reaper, NULL, pd_reaper, d) != 0) {
		pd_destroy(&d->base);
		snprintf(err, errlen, "cannot start the reaper thread");
		return LB_ERR_SYS;
	}
	d->reaper_started = true;
	*out = &d->base;
	return 0;
}
