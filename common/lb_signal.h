/* lb_signal.h - SIGINT/SIGTERM as an event that main() waits for, SIGHUP
 * as a count.
 *
 * A handler (not sigwait) because libraries start threads of their own with
 * their own signal masks: whichever thread the kernel picks, the handler
 * only sets a flag and writes one byte to a pipe (async-signal-safe).
 */
#ifndef LB_SIGNAL_H
#define LB_SIGNAL_H

#include <stdbool.h>

/* Installs the handlers (SIGINT, SIGTERM, SIGHUP) and ignores SIGPIPE.  Call
 * once in main() before threads start.  Returns 0 or LB_ERR_SYS. */
int lb_signal_init(void);

/* Waits up to timeout_ms (-1: forever) for SIGINT or SIGTERM.  Returns the
 * signal number, or 0 on timeout. */
int lb_signal_wait(int timeout_ms);

/* True once a stop signal has arrived. */
bool lb_signal_stopping(void);

/* How many SIGHUPs have arrived: a program that re-reads files on SIGHUP
 * compares it with the count it last acted on; others ignore it. */
unsigned lb_signal_hups(void);

#endif
