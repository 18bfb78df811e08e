#include "cp_probe.h"

#include "lb_err.h"
#include "lb_name.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

static size_t probe_discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

int cp_probe_parse_status(const char *s, struct cp_check *c)
{
	char *end;
	long lo = strtol(s, &end, 10), hi = lo;

	if (end == s)
		return LB_ERR_INVAL;
	if (*end == '-') {
		const char *h = end + 1;
		hi = strtol(h, &end, 10);
		if (end == h)
			return LB_ERR_INVAL;
	}
	if (*end || lo < 100 || hi > 599 || lo > hi)
		return LB_ERR_INVAL;
	c->status_min = (int)lo;
	c->status_max = (int)hi;
	return 0;
}

int cp_probe_run(const struct cp_check *check, struct cp_probe *t, size_t n,
                 long timeout_ms)
{
	CURLM *multi;
	CURL **easy;
	int running = 0, rv = 0;

	for (size_t i = 0; i < n; i++)
		t[i].ok = false;
	if (n == 0)
		return 0;
	if (!(multi = curl_multi_init()))
		return LB_ERR_NOMEM;
	if (!(easy = calloc(n, sizeof(*easy)))) {
		curl_multi_cleanup(multi);
		return LB_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char url[LB_HOST_MAX + 1100];
		if (!(easy[i] = curl_easy_init())) {
			rv = LB_ERR_NOMEM;
			goto out;
		}
		snprintf(url, sizeof(url), "http://%s:%u%s", t[i].host,
		         t[i].port, check->path);
		curl_easy_setopt(easy[i], CURLOPT_URL, url);
		curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, timeout_ms);
		curl_easy_setopt(easy[i], CURLOPT_CONNECTTIMEOUT_MS,
		                 timeout_ms);
		curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, probe_discard);
		curl_easy_setopt(easy[i], CURLOPT_PRIVATE, &t[i]);
		/* A heartbeat must see whether a new connection is accepted. */
		curl_easy_setopt(easy[i], CURLOPT_FORBID_REUSE, 1L);
		curl_multi_add_handle(multi, easy[i]);
	}
	do {
		CURLMsg *m;
		int left;
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		while ((m = curl_multi_info_read(multi, &left))) {
			struct cp_probe *p;
			long code = 0;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			                  (char **)&p);
			curl_easy_getinfo(m->easy_handle,
			                  CURLINFO_RESPONSE_CODE, &code);
			/* A 404 is CURLE_OK too: the status decides. */
			p->ok = m->data.result == CURLE_OK &&
			        code >= check->status_min &&
			        code <= check->status_max;
		}
		if (running)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	} while (running);
out:
	for (size_t i = 0; i < n; i++) {
		if (easy[i]) {
			curl_multi_remove_handle(multi, easy[i]);
			curl_easy_cleanup(easy[i]);
		}
	}
	free(easy);
	curl_multi_cleanup(multi);
	return rv;
}
