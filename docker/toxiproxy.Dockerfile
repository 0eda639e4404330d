# Toxiproxy from our own static build, laid out like the public ghcr.io/shopify/toxiproxy
# image (ENTRYPOINT /toxiproxy, CMD -host=0.0.0.0), so either can be used the same way.
# scripts/build-images.sh builds toxiproxy-server with CGO_ENABLED=0 into the context.
FROM scratch
COPY toxiproxy-server /toxiproxy
EXPOSE 8474
ENV LOG_LEVEL=info
ENTRYPOINT ["/toxiproxy"]
CMD ["-host=0.0.0.0"]
LABEL io.harness.image=toxiproxy
