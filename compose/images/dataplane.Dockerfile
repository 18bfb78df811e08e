FROM scratch
COPY rootfs/ /
USER 65534:65534
EXPOSE 5000 5443
ENV LB_HOST=0.0.0.0 LB_PORT=5000
ENTRYPOINT ["/usr/local/bin/lb-dataplane"]
