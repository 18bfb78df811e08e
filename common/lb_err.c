#include "lb_err.h"

#include <stdio.h>

void lb_error_vtext(char *buf, size_t len, const char *fmt, va_list ap)
{
	int off = snprintf(buf, len, "<Error> ");
	if (off > 0 && (size_t)off < len)
		vsnprintf(buf + off, len - (size_t)off, fmt, ap);
}

const char *lb_err_str(int err)
{
	switch ((enum lb_err)err) {
	case LB_OK:
		return "success";
	case LB_ERR_NOMEM:
		return "out of memory";
	case LB_ERR_INVAL:
		return "invalid argument";
	case LB_ERR_EXISTS:
		return "already exists";
	case LB_ERR_NOTFOUND:
		return "not found";
	case LB_ERR_FULL:
		return "no room left";
	case LB_ERR_TOOBIG:
		return "too big";
	case LB_ERR_DECODE:
		return "malformed message";
	case LB_ERR_TIMEOUT:
		return "timed out";
	case LB_ERR_CONNECT:
		return "connection failed";
	case LB_ERR_IO:
		return "input/output error";
	case LB_ERR_PROTO:
		return "protocol error";
	case LB_ERR_SYS:
		return "system call failed";
	case LB_ERR_ENGINE:
		return "replica engine error";
	case LB_ERR_UNAVAIL:
		return "service unavailable";
	case LB_ERR_CLOSED:
		return "closed";
	}
	return "unknown error";
}
