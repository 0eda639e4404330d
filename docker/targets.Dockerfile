# The image every target service runs from: the harness package (for its launchers, e.g.
# harness.infra.postgres, and Locust) and the whole targets/ tree, in a venv at /opt/venv.
#
#   docker build -f docker/targets.Dockerfile -t harness/targets:latest .
#
# BASE_IMAGE defaults to the public python:3.11-slim. scripts/build-images.sh builds it
# from a local debootstrap base instead, where no image registry is reachable, and puts
# wheels built on the host into docker/wheels/ (containers here cannot reach PyPI).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# PostgreSQL's server binaries, for systems with a harness.infra.postgres service. The
# local base already has them; a public slim image gets them from Debian.
RUN if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends postgresql \
      && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /app
COPY pyproject.toml README.md ./
COPY harness ./harness
COPY docker/wheels /tmp/wheels
# With wheels present, install offline from them only; otherwise from the package index.
RUN python3 -m venv /opt/venv \
    && if ls /tmp/wheels/*.whl >/dev/null 2>&1; then \
         /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels "/app[targets]"; \
       else \
         /opt/venv/bin/pip install --no-cache-dir "/app[targets]"; \
       fi \
    && rm -rf /tmp/wheels
COPY targets ./targets

ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
LABEL io.harness.image=targets
