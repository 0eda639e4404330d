# Prometheus from Debian's package, for the Compose stack where prom/prometheus cannot be
# pulled. Built with `docker build --network host` (the package comes from Debian's mirror).
# Laid out like prom/prometheus: ENTRYPOINT is the binary, flags go in `command:`.
ARG BASE_IMAGE=harness/base:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
LABEL io.harness.image=prometheus
