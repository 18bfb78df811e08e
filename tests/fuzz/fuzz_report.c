/* libFuzzer target: an admin request as the control plane's REP socket
 * receives it (bytes from whoever reaches it), through the decoder and,
 * for a REPORT, into the data planes' table the drains read.  Whatever is
 * kept must be bounded and well-formed. */
#include "cp_reports.h"
#include "lb_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cp_reports r;
	static int ready;
	Lb__AdminRequest *req;

	if (!ready) {
		cp_reports_init(&r);
		ready = 1;
	}
	if (lb_wire_request_unpack(data, size, &req) != 0)
		return 0;
	if (req->report) {
		cp_reports_put(&r, req->report, (int64_t)size);
		for (size_t i = 0; i < r.n; i++) {
			if (r.dp[i].naddr > CP_REPORTS_MAX_ADDRS)
				abort();
			for (size_t k = 0; k < r.dp[i].naddr; k++)
				if (strlen(r.dp[i].addr[k].host) > LB_HOST_MAX)
					abort();
		}
		(void)cp_reports_inflight(&r, req->report->boot_id, 1,
		                          "127.0.0.1", 5000, (int64_t)size);
	}
	lb__admin_request__free_unpacked(req, NULL);
	return 0;
}
