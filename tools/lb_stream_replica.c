/* lb-stream-replica: a replica for testing changes under load.  Like
 * lb-replica it answers /home and /heartbeat; besides:
 *
 *   /stream?size=N&rate=R   N bytes (Content-Length), R bytes a second:
 *                           a long download that a change must not cut
 *   /fail?on=ID             500 on the replica whose SERVER_ID is ID (a
 *                           gray failure: its heartbeats still pass),
 *                           elsewhere the /home answer
 *
 * and, like many real servers, it dies at once on SIGTERM: every answer
 * in flight is cut.  So any request that a change loses shows.  Started by
 * the control plane like lb-replica (SERVER_ID, PORT, HOST; an image of
 * its own for the Docker tests). */
#include "lb_config.h"
#include "lb_http.h"
#include "lb_log.h"
#include "lb_time.h"
#include "lb_http_send.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STREAM_PIECE_MAX (64 * 1024)
#define STREAM_SIZE_MAX  (1LL << 34)

static long long server_id;

static long long query_ll(const struct mg_request_info *ri, const char *name,
                          long long dflt)
{
	char v[32];
	const char *q = ri->query_string;

	if (!q || mg_get_var(q, strlen(q), name, v, sizeof(v)) <= 0)
		return dflt;
	return atoll(v);
}

static int stream_home(struct mg_connection *c)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "Hello from Server: %lld", server_id);
	lb_http_send_json(c, 200, cJSON_CreateString(msg), true, NULL);
	return 200;
}

/* size bytes at rate bytes a second, in pieces of a twentieth of a
 * second. */
static int stream_body(struct mg_connection *c)
{
	static const char zeros[STREAM_PIECE_MAX];
	const struct mg_request_info *ri = mg_get_request_info(c);
	long long size = query_ll(ri, "size", 0),
	          rate = query_ll(ri, "rate", 0);
	long long sent = 0, piece;
	int64_t t0 = lb_now_us();

	if (size < 0 || size > STREAM_SIZE_MAX || rate <= 0) {
		lb_http_send_error(c, 400, NULL, "size and rate, please");
		return 400;
	}
	mg_printf(c,
	          "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream"
	          "\r\nContent-Length: %lld\r\n\r\n",
	          size);
	piece = rate / 20 > 0 ? rate / 20 : 1;
	if (piece > STREAM_PIECE_MAX)
		piece = STREAM_PIECE_MAX;
	while (sent < size) {
		long long n = size - sent < piece ? size - sent : piece;
		int64_t ahead;
		if (mg_write(c, zeros, (size_t)n) != (int)n)
			return 499;
		sent += n;
		ahead = sent * 1000000 / rate - (lb_now_us() - t0);
		if (ahead > 0)
			lb_time_sleep_ms(ahead / 1000);
	}
	return 200;
}

static int stream_route(struct mg_connection *c, void *data)
{
	const char *path = mg_get_request_info(c)->local_uri_raw;

	(void)data;
	if (strcmp(path, "/heartbeat") == 0) {
		lb_http_send(c, 200, NULL, NULL, 0, NULL);
		return 200;
	}
	if (strcmp(path, "/home") == 0)
		return stream_home(c);
	if (strcmp(path, "/stream") == 0)
		return stream_body(c);
	if (strcmp(path, "/fail") == 0) {
		if (query_ll(mg_get_request_info(c), "on", -1) != server_id)
			return stream_home(c);
		lb_http_send_error(c, 500, NULL, "failing on purpose");
		return 500;
	}
	lb_http_send_json(c, 404, cJSON_CreateString("no such endpoint"), false,
	                  NULL);
	return 404;
}

/* Dies at once, whatever is in flight. */
static void stream_die(int sig)
{
	(void)sig;
	_exit(0);
}

int main(int argc, char **argv)
{
	long long port, threads;
	const char *host;
	const struct lb_opt opts[] = {
	    {"server-id", "SERVER_ID", LB_OPT_INT, NULL, 0, 2147483647, NULL,
	     "integer id given by the control plane", &server_id},
	    {"port", "PORT", LB_OPT_INT, "5000", 0, 65535, NULL,
	     "TCP port to listen on", &port},
	    {"host", "HOST", LB_OPT_STR, "0.0.0.0", 0, 0, NULL,
	     "address to listen on", &host},
	    {"threads", "THREADS", LB_OPT_INT, "256", 1, 8192, NULL,
	     "worker threads (one per open connection)", &threads},
	};
	struct lb_http_server_cfg hc;
	struct mg_context *ctx;
	char err[256];
	int code;

	if (lb_config_cli(opts, sizeof(opts) / sizeof(opts[0]), argc, argv,
	                  "lb-stream-replica", &code))
		return code;
	lb_log_init("stream-replica", LB_INFO);
	signal(SIGTERM, stream_die);
	signal(SIGINT, stream_die);
	lb_http_global_init();
	hc = (struct lb_http_server_cfg){.host = host,
	                                 .port = port,
	                                 .threads = threads,
	                                 .keepalive_ms = 10000,
	                                 .request_timeout_ms = 30000,
	                                 .begin_request = NULL};
	if (lb_http_start(&hc, &ctx, err, sizeof(err)) != 0) {
		lb_log(LB_ERROR, "listen_failed", "reason=\"%s\"", err);
		return 1;
	}
	mg_set_request_handler(ctx, "**", stream_route, NULL);
	lb_log(LB_INFO, "started", "server_id=%lld listen=%s:%d", server_id,
	       host, lb_http_port(ctx));
	for (;;)
		pause();
}
