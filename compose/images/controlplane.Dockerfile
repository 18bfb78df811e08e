# Runs as root: it is the one process with the Docker socket.
FROM scratch
COPY rootfs/ /
ENV LB_DRIVER=docker LB_CTL_URL=tcp://0.0.0.0:5101 LB_PUB_URL=tcp://0.0.0.0:5102
ENTRYPOINT ["/usr/local/bin/lb-controlplane"]
