#include "cp_docker_api.h"

#include "lb_err.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Engine answers are small; a larger one is cut off (and fails to parse)
 * rather than filling memory. */
#define DOCKER_MAX_ANSWER (4u << 20)

struct answer {
	char *buf;
	size_t len;
};

static size_t docker_write(char *p, size_t sz, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = sz * n;
	char *nb;

	if (a->len + len > DOCKER_MAX_ANSWER)
		return 0;
	if (!(nb = realloc(a->buf, a->len + len + 1)))
		return 0;
	a->buf = nb;
	memcpy(a->buf + a->len, p, len);
	a->len += len;
	a->buf[a->len] = '\0';
	return len;
}

int cp_docker_api_call(const struct cp_docker_api *api, const char *method,
                       const char *path, const cJSON *body, long *status,
                       cJSON **out, char *err, size_t errlen)
{
	struct answer a = {0};
	struct curl_slist *hdr = NULL;
	char url[2048], *text = NULL;
	CURLcode cc;
	CURL *h;
	int rv = 0;

	*status = 0;
	if (out)
		*out = NULL;
	if (!(h = curl_easy_init())) {
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	/* The host part is ignored over a unix socket. */
	snprintf(url, sizeof(url), "http://docker%s%s", CP_DOCKER_API, path);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, api->socket);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, api->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, docker_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	if (body) {
		if (!(text = cJSON_PrintUnformatted(body))) {
			rv = LB_ERR_NOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		/* libcurl's text names "localhost port 80" for a bad socket
		 * path: name the socket ourselves. */
		snprintf(err, errlen, "Docker engine at %s: %s", api->socket,
		         curl_easy_strerror(cc));
		rv = cc == CURLE_OPERATION_TIMEDOUT ? LB_ERR_TIMEOUT
		                                    : LB_ERR_UNAVAIL;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (out && a.len)
		*out = cJSON_ParseWithLength(a.buf, a.len);
out:
	free(a.buf);
	cJSON_free(text);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return rv;
}

const char *cp_docker_api_message(const cJSON *answer, const char *fallback)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(answer, "message");
	return cJSON_IsString(m) ? m->valuestring : fallback;
}

char *cp_docker_api_urlencode(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s && o + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
	return *s ? NULL : buf;
}
