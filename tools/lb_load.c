/* lb-load: a load generator for the analysis.  Sends N requests at a given
 * concurrency to a URL over keep-alive connections (libcurl multi on one
 * thread), buckets the answers by the server id at the end of "message"
 * (the assignment's message.split()[-1]), and reports counts per server,
 * errors, throughput and latency percentiles, as text, JSON or CSV.
 *
 *   lb-load --url http://127.0.0.1:5000/home --requests 10000 \
 *           --concurrency 64 --json out.json
 */
#include "lb_array.h"
#include "lb_config.h"
#include "lb_time.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BODY_MAX 4096

struct slot {
	CURL *h;
	char body[BODY_MAX];
	size_t len;
	int64_t t0_us;
};

struct bucket {
	long long id; /* -1: answered, but no server id in it */
	long long count;
};

struct run {
	struct bucket *b;
	size_t nb, capb;
	long long status[600]; /* by HTTP status; [0] = transport error */
	double *lat_ms;
	long long done, ok, errors;
	char first_error[256];
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct slot *s = arg;
	size_t len = sz * n, room = BODY_MAX - 1 - s->len;
	memcpy(s->body + s->len, p, len < room ? len : room);
	s->len += len < room ? len : room;
	return len;
}

static void bucket_add(struct run *r, long long id)
{
	for (size_t i = 0; i < r->nb; i++) {
		if (r->b[i].id == id) {
			r->b[i].count++;
			return;
		}
	}
	if (lb_array_grow((void **)&r->b, &r->capb, r->nb + 1, sizeof(*r->b)) !=
	    0)
		return;
	r->b[r->nb++] = (struct bucket){id, 1};
}

/* The server id: the last whitespace-separated token of "message". */
static long long server_id(const char *body, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
	long long id = -1;
	if (cJSON_IsString(m)) {
		const char *last = strrchr(m->valuestring, ' ');
		char *end;
		last = last ? last + 1 : m->valuestring;
		id = strtoll(last, &end, 10);
		if (end == last || *end)
			id = -1;
	}
	cJSON_Delete(j);
	return id;
}

static void progress(long long done, long long total, int64_t t0)
{
	int width = 40, fill = (int)(done * width / (total ? total : 1));
	double secs = (double)(now_us() - t0) / 1e6;
	fprintf(stderr, "\r[%.*s%*s] %lld/%lld %6.0f req/s", fill,
	        "########################################", width - fill, "",
	        done, total, secs > 0 ? (double)done / secs : 0.0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const double *v, long long n, double p)
{
	long long i;
	if (n == 0)
		return 0;
	i = (long long)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static int bucket_cmp(const void *a, const void *b)
{
	const struct bucket *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

int main(int argc, char **argv)
{
	const char *url, *json_path, *csv_path;
	long long total, conc, timeout_ms, max_seconds, quiet;
	const struct lb_opt opts[] = {
	    {"url", "LOAD_URL", LB_OPT_STR, "http://127.0.0.1:5000/home", 0, 0,
	     NULL, "what to request", &url},
	    {"requests", "LOAD_REQUESTS", LB_OPT_INT, "10000", 1, 100000000,
	     NULL, "how many requests", &total},
	    {"concurrency", "LOAD_CONCURRENCY", LB_OPT_INT, "64", 1, 10000,
	     NULL, "requests in flight (= keep-alive connections)", &conc},
	    {"timeout-ms", "LOAD_TIMEOUT_MS", LB_OPT_INT, "10000", 1, 600000,
	     NULL, "per request", &timeout_ms},
	    {"max-seconds", "LOAD_MAX_SECONDS", LB_OPT_INT, "300", 1, 86400,
	     NULL, "stop after this long, whatever is left", &max_seconds},
	    {"json", "LOAD_JSON", LB_OPT_STR, "", 0, 0, NULL,
	     "write the results as JSON to this file", &json_path},
	    {"csv", "LOAD_CSV", LB_OPT_STR, "", 0, 0, NULL,
	     "write server,count rows to this file", &csv_path},
	    {"quiet", "LOAD_QUIET", LB_OPT_INT, "0", 0, 1, NULL,
	     "1: no progress bar", &quiet},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]);
	struct run r;
	struct slot *slots;
	int exit_code;
	long long started = 0;
	int64_t t0, deadline;
	int running = 1;
	bool bar;
	CURLM *multi;

	if (lb_config_cli(opts, nopts, argc, argv, "lb-load", &exit_code))
		return exit_code;
	memset(&r, 0, sizeof(r));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (conc > total)
		conc = total;
	multi = curl_multi_init();
	slots = calloc((size_t)conc, sizeof(*slots));
	r.lat_ms = calloc((size_t)total, sizeof(double));
	if (!multi || !slots || !r.lat_ms) {
		fprintf(stderr, "lb-load: out of memory\n");
		return 1;
	}
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)conc);
	bar = !quiet && isatty(STDERR_FILENO);
	t0 = now_us();
	deadline = t0 + max_seconds * 1000000;
	for (long long i = 0; i < conc; i++) {
		struct slot *s = &slots[i];
		s->h = curl_easy_init();
		curl_easy_setopt(s->h, CURLOPT_URL, url);
		curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
		curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
		curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->h, CURLOPT_TCP_NODELAY, 1L);
		s->t0_us = now_us();
		curl_multi_add_handle(multi, s->h);
		started++;
	}
	while (running || r.done < started) {
		CURLMsg *m;
		int left;
		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left))) {
			struct slot *s;
			long code = 0;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			                  (char **)&s);
			curl_easy_getinfo(m->easy_handle,
			                  CURLINFO_RESPONSE_CODE, &code);
			r.lat_ms[r.done++] =
			    (double)(now_us() - s->t0_us) / 1e3;
			if (m->data.result != CURLE_OK) {
				r.errors++;
				r.status[0]++;
				if (!r.first_error[0])
					snprintf(
					    r.first_error,
					    sizeof(r.first_error), "%s",
					    curl_easy_strerror(m->data.result));
			} else {
				r.status[code > 0 && code < 600 ? code : 0]++;
				if (code == 200) {
					r.ok++;
					bucket_add(&r,
					           server_id(s->body, s->len));
				} else {
					r.errors++;
				}
			}
			curl_multi_remove_handle(multi, s->h);
			s->len = 0;
			if (started < total && now_us() < deadline) {
				s->t0_us = now_us();
				curl_multi_add_handle(multi, s->h);
				started++;
				running = 1;
			}
			if (bar && (r.done % 250 == 0 || r.done == total))
				progress(r.done, total, t0);
		}
		if (running)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	double secs = (double)(now_us() - t0) / 1e6;
	if (bar)
		fputc('\n', stderr);
	qsort(r.lat_ms, (size_t)r.done, sizeof(double), cmp_double);
	if (r.nb)
		qsort(r.b, r.nb, sizeof(*r.b), bucket_cmp);

	printf("requests %lld  ok %lld  errors %lld  in %.3f s  (%.0f req/s)\n",
	       r.done, r.ok, r.errors, secs, (double)r.done / secs);
	printf("latency ms  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
	       pct(r.lat_ms, r.done, 50), pct(r.lat_ms, r.done, 90),
	       pct(r.lat_ms, r.done, 99), pct(r.lat_ms, r.done, 100));
	for (size_t i = 0; i < r.nb; i++)
		printf(
		    "server %-6lld %8lld  %5.1f %%\n", r.b[i].id, r.b[i].count,
		    100.0 * (double)r.b[i].count / (double)(r.ok ? r.ok : 1));
	if (r.first_error[0])
		printf("first transport error: %s\n", r.first_error);

	if (json_path[0]) {
		cJSON *j = cJSON_CreateObject(), *o;
		char key[32];
		cJSON_AddStringToObject(j, "url", url);
		cJSON_AddNumberToObject(j, "requests", (double)r.done);
		cJSON_AddNumberToObject(j, "concurrency", (double)conc);
		cJSON_AddNumberToObject(j, "ok", (double)r.ok);
		cJSON_AddNumberToObject(j, "errors", (double)r.errors);
		cJSON_AddNumberToObject(j, "seconds", secs);
		cJSON_AddNumberToObject(j, "rps", (double)r.done / secs);
		o = cJSON_AddObjectToObject(j, "latency_ms");
		cJSON_AddNumberToObject(o, "p50", pct(r.lat_ms, r.done, 50));
		cJSON_AddNumberToObject(o, "p90", pct(r.lat_ms, r.done, 90));
		cJSON_AddNumberToObject(o, "p99", pct(r.lat_ms, r.done, 99));
		cJSON_AddNumberToObject(o, "max", pct(r.lat_ms, r.done, 100));
		o = cJSON_AddObjectToObject(j, "servers");
		for (size_t i = 0; i < r.nb; i++) {
			snprintf(key, sizeof(key), "%lld", r.b[i].id);
			cJSON_AddNumberToObject(o, key, (double)r.b[i].count);
		}
		o = cJSON_AddObjectToObject(j, "status");
		for (int s = 0; s < 600; s++) {
			if (!r.status[s])
				continue;
			snprintf(key, sizeof(key), "%d", s);
			cJSON_AddNumberToObject(o, key, (double)r.status[s]);
		}
		char *text = cJSON_Print(j);
		FILE *f = fopen(json_path, "w");
		if (!f || !text || fputs(text, f) < 0 || fclose(f) != 0) {
			fprintf(stderr, "lb-load: cannot write %s\n",
			        json_path);
			return 1;
		}
		cJSON_free(text);
		cJSON_Delete(j);
	}
	if (csv_path[0]) {
		FILE *f = fopen(csv_path, "w");
		if (!f) {
			fprintf(stderr, "lb-load: cannot write %s\n", csv_path);
			return 1;
		}
		fprintf(f, "server,count\n");
		for (size_t i = 0; i < r.nb; i++)
			fprintf(f, "%lld,%lld\n", r.b[i].id, r.b[i].count);
		fclose(f);
	}
	for (long long i = 0; i < conc; i++)
		curl_easy_cleanup(slots[i].h);
	curl_multi_cleanup(multi);
	free(slots);
	free(r.lat_ms);
	free(r.b);
	curl_global_cleanup();
	return r.errors ? 3 : 0;
}
