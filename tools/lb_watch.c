/* lb-watch: subscribes to the control plane's snapshot stream and prints
 * each snapshot as one line of JSON (nngcat shows only the raw frames).
 *
 *   lb-watch --pub-url tcp://127.0.0.1:5102 [--count 1] [--table 1]
 */
#include "lb_config.h"
#include "lb_err.h"
#include "lb_nng.h"
#include "lb_time.h"
#include "lb_wire.h"

#include <cjson/cJSON.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <stdio.h>
#include <stdlib.h>

static cJSON *snapshot_json(const Lb__Snapshot *s, bool table)
{
	cJSON *o = cJSON_CreateObject(), *p, *reps, *t;
	char boot[24], key[256];
	struct lb_routing rt;
	size_t used = 0;

	snprintf(boot, sizeof(boot), "%016llx", (unsigned long long)s->boot_id);
	cJSON_AddStringToObject(o, "boot_id", boot);
	cJSON_AddNumberToObject(o, "version", (double)s->version);
	p = cJSON_AddObjectToObject(o, "preset");
	cJSON_AddStringToObject(p, "name", s->preset->name);
	cJSON_AddNumberToObject(p, "slots", s->preset->slots);
	cJSON_AddNumberToObject(p, "vnodes", s->preset->vnodes);
	cJSON_AddStringToObject(p, "hash", s->preset->hash);
	cJSON_AddStringToObject(p, "placement", s->preset->placement);
	p = cJSON_AddObjectToObject(o, "routing");
	if (lb_wire_routing_get(s, &rt, key, sizeof(key)) == 0) {
		lb_key_format(&rt.key, key, sizeof(key));
		cJSON_AddStringToObject(p, "key", key);
		cJSON_AddNumberToObject(p, "balance_factor", rt.balance_factor);
		cJSON_AddBoolToObject(p, "trust_forwarded", rt.trust_forwarded);
		cJSON_AddBoolToObject(p, "set_cookie", rt.set_cookie);
	} else {
		cJSON_AddStringToObject(p, "error", key);
	}
	reps = cJSON_AddArrayToObject(o, "replicas");
	for (size_t i = 0; i < s->n_replicas; i++) {
		const Lb__Replica *r = s->replicas[i];
		cJSON *jr = cJSON_CreateObject();
		size_t slots = 0;
		for (size_t k = 0; k < s->n_owner; k++)
			slots += s->owner[k] == r->server_id;
		cJSON_AddStringToObject(jr, "name", r->name);
		cJSON_AddNumberToObject(jr, "server_id", r->server_id);
		cJSON_AddStringToObject(jr, "host", r->host);
		cJSON_AddNumberToObject(jr, "port", r->port);
		cJSON_AddNumberToObject(jr, "slots", (double)slots);
		cJSON_AddItemToArray(reps, jr);
	}
	for (size_t k = 0; k < s->n_owner; k++)
		used += s->owner[k] != 0;
	cJSON_AddNumberToObject(o, "slots_used", (double)used);
	if (table) {
		t = cJSON_AddArrayToObject(o, "owner");
		for (size_t k = 0; k < s->n_owner; k++)
			cJSON_AddItemToArray(t,
			                     cJSON_CreateNumber(s->owner[k]));
	}
	return o;
}

int main(int argc, char **argv)
{
	const char *url;
	long long count, table, timeout_ms;
	const struct lb_opt opts[] = {
	    {"pub-url", "LB_PUB_URL", LB_OPT_STR, LB_DEFAULT_PUB_URL, 0, 0,
	     NULL, "the control plane's snapshot address", &url},
	    {"count", "LB_WATCH_COUNT", LB_OPT_INT, "0", 0, 1000000000, NULL,
	     "exit after this many snapshots (0: never)", &count},
	    {"table", "LB_WATCH_TABLE", LB_OPT_INT, "0", 0, 1, NULL,
	     "1: print the whole slot table too", &table},
	    {"timeout-ms", "LB_WATCH_TIMEOUT_MS", LB_OPT_INT, "0", 0, 86400000,
	     NULL, "give up after this long (0: never)", &timeout_ms},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]);
	char err[256];
	int exit_code;
	nng_socket sock;
	long long seen = 0;
	int64_t deadline;
	int rv;

	if (lb_config_cli(opts, nopts, argc, argv, "lb-watch", &exit_code))
		return exit_code;
	if ((rv = nng_sub0_open(&sock)) != 0 ||
	    (rv = nng_socket_set(sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
	    (rv = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ,
	                              LB_WIRE_MAX_BYTES)) != 0 ||
	    (rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 200)) != 0) {
		fprintf(stderr, "lb-watch: %s: %s\n", url, nng_strerror(rv));
		return 1;
	}
	if (lb_nng_dial(sock, url, "--pub-url", err, sizeof(err)) != 0) {
		fprintf(stderr, "lb-watch: %s\n", err);
		return 1;
	}
	deadline = timeout_ms ? lb_now_ms() + timeout_ms : INT64_MAX;
	while (!count || seen < count) {
		nng_msg *msg;
		Lb__Snapshot *s;
		if (lb_now_ms() > deadline) {
			fprintf(stderr,
			        "lb-watch: no snapshot within %lld ms\n",
			        timeout_ms);
			nng_close(sock);
			return 1;
		}
		if ((rv = nng_recvmsg(sock, &msg, 0)) != 0)
			continue;
		if (lb_wire_snapshot_unpack(nng_msg_body(msg), nng_msg_len(msg),
		                            &s, err, sizeof(err)) != 0) {
			fprintf(stderr, "lb-watch: undecodable snapshot: %s\n",
			        err);
		} else {
			cJSON *j = snapshot_json(s, table != 0);
			char *text = cJSON_PrintUnformatted(j);
			if (text)
				printf("%s\n", text);
			fflush(stdout);
			cJSON_free(text);
			cJSON_Delete(j);
			lb__snapshot__free_unpacked(s, NULL);
			seen++;
		}
		nng_msg_free(msg);
	}
	nng_close(sock);
	return 0;
}
