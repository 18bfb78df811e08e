/* cp_docker_api.h - calls to the Docker Engine API (v1.41) with libcurl
 * over the engine's unix socket.  Bodies are built and read with cJSON only.
 */
#ifndef CP_DOCKER_API_H
#define CP_DOCKER_API_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define CP_DOCKER_API "/v1.41"

struct cp_docker_api {
	const char *socket; /* borrowed: "/var/run/docker.sock" */
	long timeout_ms;
};

/* One request.  body may be NULL; *status receives the HTTP status and
 * *out the parsed JSON answer when there is one (NULL otherwise; free with
 * cJSON_Delete()).  Returns 0 when the engine answered at all, whatever the
 * status; LB_ERR_UNAVAIL (socket missing, engine down) or LB_ERR_TIMEOUT
 * with the reason in err otherwise. */
int cp_docker_api_call(const struct cp_docker_api *api, const char *method,
                       const char *path, const cJSON *body, long *status,
                       cJSON **out, char *err, size_t errlen);

/* The engine's own error text from an answer ({"message": "..."}), or
 * fallback. */
const char *cp_docker_api_message(const cJSON *answer, const char *fallback);

/* Percent-encodes s for a query string into buf.  Returns buf, or NULL
 * when it would not fit. */
char *cp_docker_api_urlencode(const char *s, char *buf, size_t len);

#endif
