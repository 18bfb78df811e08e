# The test replica that streams slowly and dies at once on SIGTERM
# (tools/lb_stream_replica.c), for the Docker tests of changes under load.
# Built by tools/build-images.sh from a rootfs of the binary and its
# libraries: no base image is pulled.
FROM scratch
COPY rootfs/ /
USER 65534:65534
EXPOSE 5000
ENV PORT=5000
ENTRYPOINT ["/usr/local/bin/lb-stream-replica"]
