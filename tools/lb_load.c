/* lb-load: a load generator for the analysis.  Sends N requests at a given
 * concurrency to a URL over keep-alive connections (libcurl multi on one
 * thread), buckets the answers by the server id at the end of "message"
 * (the assignment's message.split()[-1]), and reports counts per server,
 * errors, throughput and latency percentiles, as text, JSON or CSV.
 *
 *   lb-load --url http://127.0.0.1:5000/home --requests 10000 \
 *           --concurrency 64 --json out.json
 *
 * With --rate R, requests go out on a fixed schedule (open loop) and each
 * one's latency counts from when it was due:
 *
 *   lb-load --rate 2000 --requests 20000 --concurrency 256
 *
 * With --key, each request carries a routing key drawn from --keys
 * distinct values ("k<n>"), in a header, a cookie or a query parameter:
 * request i takes value i mod K, so K requests send each value once, and
 * --key-map writes which server answered each value.
 *
 *   lb-load --key header:X-User --keys 10000 --requests 10000 \
 *           --key-map users.csv
 */
#include "lb_array.h"
#include "lb_config.h"
#include "lb_key.h"
#include "lb_time.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BODY_MAX 4096

/* How requests carry their key. */
enum key_in { KEY_NONE, KEY_HEADER, KEY_COOKIE, KEY_QUERY };

struct load {
	const char *url;
	enum key_in key_in;
	char key_name[LB_KEY_NAME_MAX + 1];
	long long keys;
	long long *key_server; /* by key value: who answered it (-2: none) */
};

struct slot {
	CURL *h;
	char body[BODY_MAX];
	size_t len;
	int64_t t0_us;
	long long key;              /* the value this request carries */
	struct curl_slist *headers; /* the key's header, if any */
	char url[2048];
	char cookie[256];
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
	double secs = (double)(lb_now_us() - t0) / 1e6;
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

/* Parses --key ("header:X-User", "cookie:sid", "query:user", "none"):
 * a key that a client sends, read as the control plane reads LB_KEY. */
static int load_key_parse(struct load *l, const char *spec)
{
	struct lb_key k;
	char err[256] = "";

	l->key_in = KEY_NONE;
	if (strcmp(spec, "none") == 0)
		return 0;
	if (lb_key_parse(spec, &k, err, sizeof(err)) == 0)
		l->key_in = k.kind == LB_KEY_HEADER   ? KEY_HEADER
		            : k.kind == LB_KEY_COOKIE ? KEY_COOKIE
		            : k.kind == LB_KEY_QUERY  ? KEY_QUERY
		                                      : KEY_NONE;
	if (l->key_in == KEY_NONE) {
		fprintf(stderr,
		        "lb-load: --key %s: must be none, header:<Name>, "
		        "cookie:<name> or query:<name>%s%s\n",
		        spec, err[0] ? ": " : "", err);
		return -1;
	}
	snprintf(l->key_name, sizeof(l->key_name), "%s", k.name);
	return 0;
}

/* Points the slot's handle at request number i (its key, if any). */
static void slot_prepare(const struct load *l, struct slot *s, long long i)
{
	char line[320];

	s->len = 0;
	s->t0_us = lb_now_us();
	s->key = l->key_in == KEY_NONE ? -1 : i % l->keys;
	curl_slist_free_all(s->headers);
	s->headers = NULL;
	snprintf(s->url, sizeof(s->url), "%s", l->url);
	switch (l->key_in) {
	case KEY_HEADER:
		snprintf(line, sizeof(line), "%s: k%lld", l->key_name, s->key);
		s->headers = curl_slist_append(NULL, line);
		break;
	case KEY_COOKIE:
		snprintf(s->cookie, sizeof(s->cookie), "%s=k%lld", l->key_name,
		         s->key);
		curl_easy_setopt(s->h, CURLOPT_COOKIE, s->cookie);
		break;
	case KEY_QUERY:
		snprintf(s->url, sizeof(s->url), "%s%c%s=k%lld", l->url,
		         strchr(l->url, '?') ? '&' : '?', l->key_name, s->key);
		break;
	case KEY_NONE:
		break;
	}
	curl_easy_setopt(s->h, CURLOPT_URL, s->url);
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->headers);
}

static void slot_setup(struct slot *s, long long timeout_ms)
{
	s->h = curl_easy_init();
	curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
	curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->h, CURLOPT_TCP_NODELAY, 1L);
}

/* Records one finished request. */
static void on_done(struct run *r, const struct load *l, struct slot *s,
                    CURLcode rc)
{
	long code = 0;

	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
	r->lat_ms[r->done++] = (double)(lb_now_us() - s->t0_us) / 1e3;
	if (rc != CURLE_OK) {
		r->errors++;
		r->status[0]++;
		if (!r->first_error[0])
			snprintf(r->first_error, sizeof(r->first_error), "%s",
			         curl_easy_strerror(rc));
		return;
	}
	r->status[code > 0 && code < 600 ? code : 0]++;
	if (code != 200) {
		r->errors++;
		return;
	}
	r->ok++;
	long long id = server_id(s->body, s->len);
	bucket_add(r, id);
	if (s->key >= 0 && l->key_server)
		l->key_server[s->key] = id;
}

/* When request i is due: at once in a closed loop (rate 0), else at its
 * place in a fixed schedule from t0. */
static int64_t load_due(int64_t t0, double rate, long long i)
{
	return rate > 0 ? t0 + (int64_t)((double)i * 1e6 / rate) : 0;
}

/* How long to wait for answers before the next request is due: whole ms
 * in poll() (libcurl's unit), the rest under a millisecond in short naps,
 * so that a request leaves within ~0.2 ms of when it is due without
 * spinning a core. */
static long load_wait(int64_t due_us, int64_t *nap_us)
{
	int64_t ahead = due_us - lb_now_us();

	*nap_us = 0;
	if (ahead >= 1000)
		return ahead / 1000 < 100 ? (long)(ahead / 1000) : 100;
	if (ahead > 0)
		*nap_us = ahead < 200 ? ahead : 200;
	return 0;
}

/* Sends total requests, at most conc at a time, until done or the
 * deadline.  Closed loop (rate 0): a request starts as one ends.  Open
 * loop: request i is due at t0 + i / rate whatever the answers' speed, and
 * its latency counts from then, so a slow answer that holds back the
 * next request shows in that request's latency too (no coordinated
 * omission). */
static void load_run(struct run *r, const struct load *l, struct slot *slots,
                     long long conc, long long total, int64_t deadline,
                     double rate, bool bar)
{
	CURLM *multi = curl_multi_init();
	struct slot **idle = calloc((size_t)conc, sizeof(*idle));
	long long started = 0, nidle = conc;
	int64_t t0 = lb_now_us(), now;
	int running = 0;

	if (!idle || !multi) {
		fprintf(stderr, "lb-load: out of memory\n");
		exit(1);
	}
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)conc);
	for (long long i = 0; i < conc; i++)
		idle[i] = &slots[conc - 1 - i];
	while (((now = lb_now_us()) < deadline && started < total
	            ? true
	            : r->done < started)) {
		CURLMsg *m;
		int left;
		long wait_ms = 100;
		int64_t nap_us = 0;
		while (started < total && nidle > 0 && now < deadline &&
		       load_due(t0, rate, started) <= now) {
			struct slot *s = idle[--nidle];
			slot_prepare(l, s, started);
			if (rate > 0)
				s->t0_us = load_due(t0, rate, started);
			started++;
			curl_multi_add_handle(multi, s->h);
		}
		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left))) {
			struct slot *s;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			                  (char **)&s);
			on_done(r, l, s, m->data.result);
			curl_multi_remove_handle(multi, s->h);
			idle[nidle++] = s;
			if (bar && (r->done % 250 == 0 || r->done == total))
				progress(r->done, total, t0);
		}
		if (nidle > 0 && started < total)
			wait_ms =
			    load_wait(load_due(t0, rate, started), &nap_us);
		if (r->done < started || started < total)
			curl_multi_poll(multi, NULL, 0, (int)wait_ms, NULL);
		if (nap_us > 0)
			lb_time_sleep_us(nap_us);
	}
	free(idle);
	curl_multi_cleanup(multi);
}

static void report_text(const struct run *r, double secs)
{
	printf("requests %lld  ok %lld  errors %lld  in %.3f s  (%.0f req/s)\n",
	       r->done, r->ok, r->errors, secs, (double)r->done / secs);
	printf("latency ms  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
	       pct(r->lat_ms, r->done, 50), pct(r->lat_ms, r->done, 90),
	       pct(r->lat_ms, r->done, 99), pct(r->lat_ms, r->done, 100));
	for (size_t i = 0; i < r->nb; i++)
		printf("server %-6lld %8lld  %5.1f %%\n", r->b[i].id,
		       r->b[i].count,
		       100.0 * (double)r->b[i].count /
		           (double)(r->ok ? r->ok : 1));
	if (r->first_error[0])
		printf("first transport error: %s\n", r->first_error);
}

static int report_json(const struct run *r, const char *url, long long conc,
                       long long rate, double secs, const char *path)
{
	cJSON *j = cJSON_CreateObject(), *o;
	char key[32], *text;
	FILE *f;
	int rv = 0;

	cJSON_AddStringToObject(j, "url", url);
	cJSON_AddNumberToObject(j, "requests", (double)r->done);
	cJSON_AddNumberToObject(j, "concurrency", (double)conc);
	cJSON_AddNumberToObject(j, "rate", (double)rate);
	cJSON_AddNumberToObject(j, "ok", (double)r->ok);
	cJSON_AddNumberToObject(j, "errors", (double)r->errors);
	cJSON_AddNumberToObject(j, "seconds", secs);
	cJSON_AddNumberToObject(j, "rps", (double)r->done / secs);
	o = cJSON_AddObjectToObject(j, "latency_ms");
	cJSON_AddNumberToObject(o, "p50", pct(r->lat_ms, r->done, 50));
	cJSON_AddNumberToObject(o, "p90", pct(r->lat_ms, r->done, 90));
	cJSON_AddNumberToObject(o, "p99", pct(r->lat_ms, r->done, 99));
	cJSON_AddNumberToObject(o, "max", pct(r->lat_ms, r->done, 100));
	o = cJSON_AddObjectToObject(j, "servers");
	for (size_t i = 0; i < r->nb; i++) {
		snprintf(key, sizeof(key), "%lld", r->b[i].id);
		cJSON_AddNumberToObject(o, key, (double)r->b[i].count);
	}
	o = cJSON_AddObjectToObject(j, "status");
	for (int s = 0; s < 600; s++) {
		if (!r->status[s])
			continue;
		snprintf(key, sizeof(key), "%d", s);
		cJSON_AddNumberToObject(o, key, (double)r->status[s]);
	}
	text = cJSON_Print(j);
	cJSON_Delete(j);
	if (!text || !(f = fopen(path, "w")) || fputs(text, f) < 0)
		rv = -1;
	else if (fclose(f) != 0)
		rv = -1;
	cJSON_free(text);
	return rv;
}

/* CSV rows: server,count -- or, with a key map, key,server. */
static int report_csv(const struct run *r, const struct load *l,
                      const char *path, bool key_map)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	if (key_map) {
		fprintf(f, "key,server\n");
		for (long long k = 0; k < l->keys; k++)
			fprintf(f, "k%lld,%lld\n", k, l->key_server[k]);
	} else {
		fprintf(f, "server,count\n");
		for (size_t i = 0; i < r->nb; i++)
			fprintf(f, "%lld,%lld\n", r->b[i].id, r->b[i].count);
	}
	return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *json_path, *csv_path, *key_spec, *map_path;
	long long total, conc, timeout_ms, max_seconds, quiet, rate;
	struct load l = {0};
	const struct lb_opt opts[] = {
	    {"url", "LOAD_URL", LB_OPT_STR, "http://127.0.0.1:5000/home", 0, 0,
	     NULL, "what to request", &l.url},
	    {"requests", "LOAD_REQUESTS", LB_OPT_INT, "10000", 1, 100000000,
	     NULL, "how many requests", &total},
	    {"concurrency", "LOAD_CONCURRENCY", LB_OPT_INT, "64", 1, 10000,
	     NULL, "requests in flight (= keep-alive connections)", &conc},
	    {"timeout-ms", "LOAD_TIMEOUT_MS", LB_OPT_INT, "10000", 1, 600000,
	     NULL, "per request", &timeout_ms},
	    {"max-seconds", "LOAD_MAX_SECONDS", LB_OPT_INT, "300", 1, 86400,
	     NULL, "stop after this long, whatever is left", &max_seconds},
	    {"key", "LOAD_KEY", LB_OPT_STR, "none", 0, 0, NULL,
	     "a routing key per request: none, header:<Name>, cookie:<name> "
	     "or query:<name>",
	     &key_spec},
	    {"keys", "LOAD_KEYS", LB_OPT_INT, "1000", 1, 100000000, NULL,
	     "distinct key values (k0..k<K-1>; request i sends i mod K)",
	     &l.keys},
	    {"key-map", "LOAD_KEY_MAP", LB_OPT_STR, "", 0, 0, NULL,
	     "write key,server rows (who answered each key) to this file",
	     &map_path},
	    {"json", "LOAD_JSON", LB_OPT_STR, "", 0, 0, NULL,
	     "write the results as JSON to this file", &json_path},
	    {"csv", "LOAD_CSV", LB_OPT_STR, "", 0, 0, NULL,
	     "write server,count rows to this file", &csv_path},
	    {"quiet", "LOAD_QUIET", LB_OPT_INT, "0", 0, 1, NULL,
	     "1: no progress bar", &quiet},
	    {"rate", "LOAD_RATE", LB_OPT_INT, "0", 0, 10000000, NULL,
	     "requests/s on a fixed schedule, whatever the answers' speed "
	     "(latency counted from when each was due; --concurrency caps "
	     "those in flight); 0: closed loop",
	     &rate},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]);
	struct run r;
	struct slot *slots;
	int exit_code;
	int64_t t0;

	if (lb_config_cli(opts, nopts, argc, argv, "lb-load", &exit_code))
		return exit_code;
	if (load_key_parse(&l, key_spec) != 0)
		return 2;
	memset(&r, 0, sizeof(r));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (conc > total)
		conc = total;
	slots = calloc((size_t)conc, sizeof(*slots));
	r.lat_ms = calloc((size_t)total, sizeof(double));
	if (map_path[0] && l.key_in != KEY_NONE) {
		l.key_server = malloc((size_t)l.keys * sizeof(long long));
		for (long long k = 0; l.key_server && k < l.keys; k++)
			l.key_server[k] = -2; /* never answered */
	}
	if (!slots || !r.lat_ms || (map_path[0] && !l.key_server)) {
		fprintf(stderr, "lb-load: out of memory (or --key-map "
		                "without --key)\n");
		return 1;
	}
	for (long long i = 0; i < conc; i++)
		slot_setup(&slots[i], timeout_ms);
	t0 = lb_now_us();
	load_run(&r, &l, slots, conc, total, t0 + max_seconds * 1000000,
	         (double)rate, !quiet && isatty(STDERR_FILENO));
	double secs = (double)(lb_now_us() - t0) / 1e6;
	qsort(r.lat_ms, (size_t)r.done, sizeof(double), cmp_double);
	if (r.nb)
		qsort(r.b, r.nb, sizeof(*r.b), bucket_cmp);
	report_text(&r, secs);
	if ((json_path[0] &&
	     report_json(&r, l.url, conc, rate, secs, json_path) != 0) ||
	    (csv_path[0] && report_csv(&r, &l, csv_path, false) != 0) ||
	    (map_path[0] && report_csv(&r, &l, map_path, true) != 0)) {
		fprintf(stderr, "lb-load: cannot write the results\n");
		return 1;
	}
	for (long long i = 0; i < conc; i++) {
		curl_slist_free_all(slots[i].headers);
		curl_easy_cleanup(slots[i].h);
	}
	free(slots);
	free(r.lat_ms);
	free(r.b);
	free(l.key_server);
	curl_global_cleanup();
	return r.errors ? 3 : 0;
}
