/* cp_driver_docker.h - replicas as Docker containers, through the Docker
 * Engine API (v1.41) with libcurl over the engine's unix socket. */
#ifndef CP_DRIVER_DOCKER_H
#define CP_DRIVER_DOCKER_H

#include "cp_config.h"
#include "cp_driver.h"

int cp_driver_docker_create(const struct cp_config *cfg,
                            cp_driver_exit_cb on_exit, void *arg,
                            struct cp_driver **out, char *err, size_t errlen);

#endif
