#define _GNU_SOURCE /* pipe2 */
#include "lb_signal.h"

#include "lb_err.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* The one mutable global besides per-program contexts: the signal flag. */
static int sig_pipe[2] = {-1, -1};
/* Written by the handler on whichever thread took the signal, read by
 * main(): an atomic (lock-free, so async-signal-safe), not just volatile. */
static atomic_int sig_last;
/* SIGHUP is no stop: it is counted, and whoever re-reads something on it
 * (the data plane's certificates) compares the count. */
static atomic_uint sig_hups;

static void sig_hup_handler(int sig)
{
	(void)sig;
	atomic_fetch_add(&sig_hups, 1);
}

static void sig_handler(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	atomic_store(&sig_last, sig);
	if (write(sig_pipe[1], &b, 1) < 0) {
		/* The pipe is full: a wake-up is already pending. */
	}
	errno = saved;
}

int lb_signal_init(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return LB_ERR_SYS;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0)
		return LB_ERR_SYS;
	sa.sa_handler = sig_hup_handler;
	if (sigaction(SIGHUP, &sa, NULL) != 0)
		return LB_ERR_SYS;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int lb_signal_wait(int timeout_ms)
{
	struct pollfd pfd = {.fd = sig_pipe[0], .events = POLLIN};
	unsigned char b;
	int n;

	if (atomic_load(&sig_last))
		return atomic_load(&sig_last);
	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR && !atomic_load(&sig_last));
	if (n > 0 && read(sig_pipe[0], &b, 1) == 1)
		return b;
	return atomic_load(&sig_last);
}

bool lb_signal_stopping(void)
{
	return atomic_load(&sig_last) != 0;
}

unsigned lb_signal_hups(void)
{
	return atomic_load(&sig_hups);
}
