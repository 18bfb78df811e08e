/* lb-upstream-bench: what one upstream exchange costs, by client.
 *
 *   lb-upstream-bench --host 127.0.0.1 --port 5001 [--path /home]
 *                     [--requests 20000]
 *
 * Sends the same GET, one at a time on one keep-alive connection, through
 *   - the data plane's own exchange (dp_upstream: pooled socket, one
 *     sendmsg(), http-parser framing through dp_answer), and
 *   - libcurl with one easy handle reused for every request (its connection
 *     cache keeps the connection; nothing is set up per request),
 * alternating rounds so that both see the same replica and machine, and
 * prints one JSON object: wall and CPU microseconds per request for each.
 * CPU time is this process's (user + system): the client's own cost, which
 * is what the proxy pays per request.  Timing only: no test depends on it.
 */
#include "dp_upstream.h"
#include "lb_time.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct cost {
	double wall_us, cpu_us;
};

static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* ---- dp_upstream -------------------------------------------------------- */

static size_t ours_bytes;

static int ours_head(void *arg, const struct dp_answer_head *h)
{
	(void)arg;
	return h->status == 200 ? 0 : 1;
}

static int ours_body(void *arg, const char *p, size_t n)
{
	(void)arg;
	(void)p;
	ours_bytes += n;
	return 0;
}

static int ours_flush(void *arg)
{
	(void)arg;
	return 0;
}

static int run_ours(struct dp_upstream_backend *b, const char *path, int n)
{
	static const struct dp_upstream_sink sink = {
	    .answer = {ours_head, ours_body, NULL},
	    .flush = ours_flush,
	};
	static const char headers[] = "Host: bench\r\n\r\n";
	struct dp_upstream_req req = {
	    .method = "GET",
	    .target = path,
	    .backend = b,
	    .headers = headers,
	    .headers_len = sizeof(headers) - 1,
	    .has_host = true,
	    .body_complete = true,
	    .queue_timeout_ms = 1000,
	    .connect_timeout_ms = 1000,
	    .timeout_ms = 5000,
	};
	static char buf[DP_ANSWER_BUF];
	struct dp_upstream_info info;
	char err[256];

	req.buf = buf;
	for (int i = 0; i < n; i++) {
		if (dp_upstream_do(&req, &sink, &info, err, sizeof(err)) !=
		    DP_UP_OK) {
			fprintf(stderr, "lb-upstream-bench: ours: %s\n", err);
			return -1;
		}
	}
	return 0;
}

/* ---- libcurl ------------------------------------------------------------ */

static size_t curl_sink(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p;
	(void)arg;
	return size * nmemb;
}

static int run_curl(CURL *h, int n)
{
	for (int i = 0; i < n; i++) {
		long status = 0;
		CURLcode rc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (rc != CURLE_OK || status != 200) {
			fprintf(stderr, "lb-upstream-bench: curl: %s (%ld)\n",
			        curl_easy_strerror(rc), status);
			return -1;
		}
	}
	return 0;
}

static CURL *curl_handle(const char *url)
{
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_sink);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	return h;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *path = "/home";
	int port = 0, requests = 20000, rounds = 4;
	struct cost ours = {0}, curl = {0};
	struct dp_upstream_backend *b;
	char url[512];
	CURL *h;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--host") == 0)
			host = argv[i + 1];
		else if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--path") == 0)
			path = argv[i + 1];
		else if (strcmp(argv[i], "--requests") == 0)
			requests = atoi(argv[i + 1]);
	}
	if (port <= 0 || requests < rounds) {
		fprintf(stderr, "usage: lb-upstream-bench --port PORT "
		                "[--host H] [--path P] [--requests N]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	dp_answer_global_init();
	snprintf(url, sizeof(url), "http://%s:%d%s", host, port, path);
	if (!(b = dp_upstream_backend_get(host, (uint16_t)port)) ||
	    !(h = curl_handle(url)))
		return 1;
	/* Warm both (connections open, pages touched), then alternate. */
	if (run_ours(b, path, 200) != 0 || run_curl(h, 200) != 0)
		return 1;
	for (int r = 0; r < rounds; r++) {
		int n = requests / rounds;
		double w = (double)lb_now_us(), c = cpu_us();
		if (run_ours(b, path, n) != 0)
			return 1;
		ours.wall_us += ((double)lb_now_us() - w) / requests;
		ours.cpu_us += (cpu_us() - c) / requests;
		w = (double)lb_now_us();
		c = cpu_us();
		if (run_curl(h, n) != 0)
			return 1;
		curl.wall_us += ((double)lb_now_us() - w) / requests;
		curl.cpu_us += (cpu_us() - c) / requests;
	}
	printf("{\"requests\": %d, \"ours\": {\"wall_us\": %.2f, \"cpu_us\": "
	       "%.2f}, \"libcurl\": {\"wall_us\": %.2f, \"cpu_us\": %.2f}}\n",
	       requests, ours.wall_us, ours.cpu_us, curl.wall_us, curl.cpu_us);
	curl_easy_cleanup(h);
	dp_upstream_backend_put(b);
	curl_global_cleanup();
	return 0;
}
