#include "cp_driver_docker.h"

#include "lb_err.h"

#include <stdio.h>

int cp_driver_docker_create(const struct cp_config *cfg,
                            cp_driver_exit_cb on_exit, void *arg,
                            struct cp_driver **out, char *err, size_t errlen)
{
	(void)cfg;
	(void)on_exit;
	(void)arg;
	(void)out;
	snprintf(err, errlen, "LB_DRIVER=docker: not built yet");
	return LB_ERR_INVAL;
}
