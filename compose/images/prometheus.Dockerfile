FROM scratch
COPY rootfs/ /
USER 65534:65534
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/prometheus", "--config.file=/etc/prometheus.yml", "--storage.tsdb.path=/tmp/prometheus", "--web.listen-address=0.0.0.0:9090"]
