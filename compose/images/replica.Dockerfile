# Built by tools/build-images.sh from a rootfs of the binary and its
# libraries: no base image is pulled.
FROM scratch
COPY rootfs/ /
USER 65534:65534
EXPOSE 5000
ENV PORT=5000
ENTRYPOINT ["/usr/local/bin/lb-replica"]
