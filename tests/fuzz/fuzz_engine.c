/* libFuzzer target: what the Docker engine sends the control plane, read
 * by cp_engine_json.  The first byte picks the reader (an event line, a
 * /tasks answer, or a replica's labels); whatever the rest, no crash, leak
 * or out-of-bounds read, what is read is NUL-terminated within its field,
 * and a label read is in its range. */
#include "cp_engine_json.h"
#include "lb_ring.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BOUNDED(field) (memchr((field), '\0', sizeof(field)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		struct cp_engine_event ev;
		if (cp_engine_json_event((const char *)data + 1, size - 1,
		                         &ev) &&
		    (!BOUNDED(ev.name) || !BOUNDED(ev.id) || !ev.name[0] ||
		     !ev.id[0]))
			abort();
	} else if (data[0] & 2) {
		cJSON *j =
		    cJSON_ParseWithLength((const char *)data + 1, size - 1);
		uint32_t id = 0, w = cp_engine_json_label_weight(j);
		if ((cp_engine_json_label_id(j, &id) && id == 0) || w < 1 ||
		    w > LB_WEIGHT_MAX)
			abort();
		cJSON_Delete(j);
	} else {
		struct cp_swarm_task t;
		cJSON *j =
		    cJSON_ParseWithLength((const char *)data + 1, size - 1);
		cp_engine_json_task(j, "net1", &t);
		if (!BOUNDED(t.state) || !BOUNDED(t.container) ||
		    !BOUNDED(t.service) || !BOUNDED(t.ip) || !BOUNDED(t.error))
			abort();
		cJSON_Delete(j);
	}
	return 0;
}
