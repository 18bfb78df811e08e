/* lb_err.h - the project's one error enum.
 *
 * Every fallible call returns 0 or one of these.  Library codes (CURLcode,
 * NNG's, HTTP statuses, a NULL from protobuf-c) are translated where the
 * library is called, so callers see one vocabulary.
 */
#ifndef LB_ERR_H
#define LB_ERR_H

enum lb_err {
	LB_OK = 0,
	LB_ERR_NOMEM,    /* allocation failed */
	LB_ERR_INVAL,    /* bad argument or input */
	LB_ERR_EXISTS,   /* the thing is already there */
	LB_ERR_NOTFOUND, /* the thing is not there */
	LB_ERR_FULL,     /* no room left (ring slots, table) */
	LB_ERR_TOOBIG,   /* input over its size limit */
	LB_ERR_DECODE,   /* a message did not decode */
	LB_ERR_TIMEOUT,  /* a deadline passed */
	LB_ERR_CONNECT,  /* could not connect to a peer */
	LB_ERR_IO,       /* a read or write failed */
	LB_ERR_PROTO,    /* the peer broke the protocol */
	LB_ERR_SYS,      /* a system call failed (see errno in the log) */
	LB_ERR_ENGINE,   /* the replica driver's engine refused */
	LB_ERR_UNAVAIL,  /* the service is not there right now */
	LB_ERR_CLOSED,   /* the object is shutting down */
};

#include <stdarg.h>
#include <stddef.h>

/* Writes a client-facing error message, "<Error> " followed by the
 * formatted text (contract.md: every error message starts so). */
void lb_error_vtext(char *buf, size_t len, const char *fmt, va_list ap);

/* Returns a static, human-readable text for err. */
const char *lb_err_str(int err);

#endif
