#include "lb_http_send.h"

#include "lb_err.h"
#include "lb_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lb_http_send_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 403:
		return "Forbidden";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Unknown";
	}
}

/* The head and a small body go out in one write: one segment on the wire
 * and one system call (the response-header API writes them apart). */
#define HTTP_ONE_WRITE 16384

int lb_http_send_head(struct mg_connection *c, int status, const char *ctype,
                      const char *length, const char *extra, const void *body,
                      size_t len)
{
	char stack[HTTP_ONE_WRITE], *buf = stack;
	size_t cap = sizeof(stack), need;
	bool keep = lb_http_keep_alive(c);
	int n, rv = 0;

	need = 256 + (ctype ? strlen(ctype) : 0) + (extra ? strlen(extra) : 0) +
	       len;
	if (need > cap && len < HTTP_ONE_WRITE * 4) {
		if (!(buf = malloc(need)))
			return LB_ERR_NOMEM;
		cap = need;
	}
	/* The answer to a HEAD says the length but carries no body. */
	if (strcmp(mg_get_request_info(c)->request_method, "HEAD") == 0)
		len = 0;
	n = snprintf(
	    buf, cap, "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %s\r\n%s%s\r\n",
	    status, lb_http_send_reason(status), ctype ? "Content-Type: " : "",
	    ctype ? ctype : "", ctype ? "\r\n" : "", length,
	    keep ? "" : "Connection: close\r\n", extra ? extra : "");
	if (n < 0 || (size_t)n >= cap) {
		rv = LB_ERR_TOOBIG;
	} else if ((size_t)n + len <= cap) {
		if (len)
			memcpy(buf + n, body, len);
		if (mg_write(c, buf, (size_t)n + len) != n + (int)len)
			rv = LB_ERR_IO;
	} else if (mg_write(c, buf, (size_t)n) != n ||
	           mg_write(c, body, len) != (int)len) {
		rv = LB_ERR_IO; /* a large body: two writes, no copy */
	}
	if (rv == 0)
		lb_http_note_sent((size_t)n + len);
	if (buf != stack)
		free(buf);
	return rv;
}

int lb_http_send(struct mg_connection *c, int status, const char *ctype,
                 const void *body, size_t len, const char *extra)
{
	char clen[24];
	snprintf(clen, sizeof(clen), "%zu", len);
	return lb_http_send_head(c, status, ctype, clen, extra, body, len);
}

int lb_http_send_json(struct mg_connection *c, int status, cJSON *message,
                      bool ok, const char *extra)
{
	cJSON *root = cJSON_CreateObject();
	char *text;
	int rv;

	if (!root) {
		cJSON_Delete(message);
		return LB_ERR_NOMEM;
	}
	cJSON_AddItemToObject(root, "message", message);
	cJSON_AddStringToObject(root, "status", ok ? "successful" : "failure");
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text)
		return LB_ERR_NOMEM;
	rv = lb_http_send(c, status, "application/json", text, strlen(text),
	                  extra);
	cJSON_free(text);
	return rv;
}

int lb_http_send_error(struct mg_connection *c, int status, const char *extra,
                       const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	lb_error_vtext(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return lb_http_send_json(c, status, cJSON_CreateString(msg), false,
	                         extra);
}

int lb_http_send_prom(struct mg_connection *c, struct lb_prom *b)
{
	int status = b->failed ? 500 : 200;

	if (b->failed)
		lb_http_send_error(c, 500, NULL, "Out of memory");
	else
		lb_http_send(c, 200, "text/plain; version=0.0.4", b->p, b->len,
		             NULL);
	lb_prom_fini(b);
	return status;
}
