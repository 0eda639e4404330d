# toxiproxy-server with the HTTP toxics (toxiproxy/ in this repository: Toxiproxy v2.12.0 from the
# Go module proxy, plus http_status, http_abort, http_delay, http_header), laid out like the public
# ghcr.io/shopify/toxiproxy image (ENTRYPOINT /toxiproxy, CMD -host=0.0.0.0), so either runs the
# same way. With a normal Docker install (a registry reachable), from the repository's root:
#
#   docker build -f docker/toxiproxy.Dockerfile -t harness/toxiproxy:2.12.0 .
#
# Where no registry is reachable, scripts/build-images.sh builds the same static binary on the host
# and packs it FROM scratch the same way (it cannot pull the Go image).
ARG GO_IMAGE=golang:1.23-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY toxiproxy/go.mod toxiproxy/go.sum ./
RUN go mod download
COPY toxiproxy/ ./
# CGO_ENABLED=0: a static binary, nothing to link in a scratch image.
RUN CGO_ENABLED=0 go build -trimpath -o /toxiproxy-server .

FROM scratch
COPY --from=build /toxiproxy-server /toxiproxy
EXPOSE 8474
ENV LOG_LEVEL=info
ENTRYPOINT ["/toxiproxy"]
CMD ["-host=0.0.0.0"]
LABEL io.harness.image=toxiproxy io.harness.http-toxics=1
