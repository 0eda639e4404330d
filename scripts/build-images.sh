#!/usr/bin/env bash
# Build the images the Docker runtime and the Compose stack use, on a machine where no image
# registry is reachable (only Debian's and PyPI's package mirrors):
#
#   harness/base:bookworm      debootstrap (minbase + python3, venv, pip, postgresql), `docker import`ed
#   harness/targets:latest     docker/targets.Dockerfile FROM that base, with wheels built on the host
#   harness/toxiproxy:2.12.0   FROM scratch, our toxiproxy-server (toxiproxy/: Toxiproxy + HTTP toxics), static
#   harness/prometheus:latest  Debian's prometheus package on the base, built with --network host
#
# With a normal Docker install you do not need this script: `docker build -f
# docker/targets.Dockerfile -t harness/targets:latest .` builds FROM python:3.11-slim, `docker build
# -f docker/toxiproxy.Dockerfile -t harness/toxiproxy:2.12.0 .` builds ours with the Go image, and
# the public prom/prometheus image is pulled.
#
# Overrides (environment):
#   HARNESS_BASE_IMAGE   use this base instead of building harness/base:bookworm (e.g. python:3.11-slim)
#   DEBIAN_MIRROR        debootstrap's mirror (default http://deb.debian.org/debian)
#   IMAGES               which to build, space-separated (default: "base targets toxiproxy prometheus")
#   REBUILD_BASE=1       rebuild the base even if it exists (it takes a minute or two)
#   HARNESS_TARGET_IMAGE the targets image's tag (default harness/targets:latest), as the runtime reads it
#   HARNESS_TOXIPROXY_IMAGE the Toxiproxy image's tag (default harness/toxiproxy:2.12.0), as the runtime reads it
# Needs: a running Docker daemon, root (debootstrap), Go >= 1.23, the project's .venv.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
IMAGES="${IMAGES:-base targets toxiproxy prometheus}"
BASE="${HARNESS_BASE_IMAGE:-harness/base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
TOXIPROXY_VERSION="${TOXIPROXY_VERSION:-2.12.0}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
TARGET_IMAGE="${HARNESS_TARGET_IMAGE:-harness/targets:latest}"
TOXIPROXY_IMAGE="${HARNESS_TOXIPROXY_IMAGE:-harness/toxiproxy:$TOXIPROXY_VERSION}"
# The Dockerfiles are plain (no BuildKit syntax); the classic builder works with every engine
# and every CLI (a newer CLI without the buildx plugin refuses BuildKit builds).
export DOCKER_BUILDKIT=0

want() { [[ " $IMAGES " == *" $1 "* ]]; }
say() { echo "build-images: $*"; }

if ! docker info >/dev/null 2>&1; then
  echo "build-images: no Docker daemon answers (is dockerd running? try: dockerd >/var/log/dockerd.log 2>&1 &)" >&2
  exit 3
fi

if want base && [[ -z "${HARNESS_BASE_IMAGE:-}" ]]; then
  if [[ "${REBUILD_BASE:-0}" != 1 ]] && docker image inspect "$BASE" >/dev/null 2>&1; then
    say "$BASE exists (REBUILD_BASE=1 to rebuild)"
  else
    command -v debootstrap >/dev/null || { echo "build-images: debootstrap missing: apt-get install -y debootstrap" >&2; exit 3; }
    DIR="$(mktemp -d /tmp/harness-base.XXXXXX)"
    trap 'rm -rf "$DIR"' EXIT
    say "debootstrap bookworm into $DIR (about two minutes)"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates,postgresql \
      bookworm "$DIR" "$MIRROR" >"$DIR.log" 2>&1 || { tail -20 "$DIR.log" >&2; exit 1; }
    rm -f "$DIR.log"
    # Debian's package made a 'main' cluster in the chroot: the harness makes its own, throwaway.
    rm -rf "$DIR/var/lib/postgresql/15/main" "$DIR/etc/postgresql/15/main" "$DIR/var/cache/apt/archives/"*.deb
    tar -C "$DIR" -c . | docker import \
      -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
      -c 'CMD ["/bin/bash"]' -c 'LABEL io.harness.image=base' - "$BASE" >/dev/null
    rm -rf "$DIR"
    trap - EXIT
    say "built $BASE"
  fi
fi

if want targets; then
  say "wheels for the targets image (host pip, into docker/wheels)"
  "$PYTHON" -m pip wheel --quiet --wheel-dir docker/wheels . setuptools wheel
  # Labelled with a digest of harness/ and targets/: the runtime warns when the image is older than the code.
  docker build --quiet -f docker/targets.Dockerfile --build-arg "BASE_IMAGE=$BASE" \
    --label "io.harness.source=$("$PYTHON" -m harness.runtime.docker.layout)" -t "$TARGET_IMAGE" . >/dev/null
  say "built $TARGET_IMAGE (FROM $BASE)"
fi

if want toxiproxy; then
  CTX="$(mktemp -d /tmp/harness-toxiproxy.XXXXXX)"
  command -v go >/dev/null || { echo "build-images: Go (>= 1.23) is needed to build toxiproxy-server" >&2; exit 3; }
  say "toxiproxy-server from toxiproxy/ (Toxiproxy v$TOXIPROXY_VERSION + HTTP toxics), static (CGO_ENABLED=0)"
  (cd toxiproxy && CGO_ENABLED=0 go build -trimpath -o "$CTX/toxiproxy-server" .)
  # docker/toxiproxy.Dockerfile's final stage, fed the binary built here (its build stage needs
  # the Go image, which cannot be pulled without a registry).
  sed -n '/^FROM scratch/,$p' docker/toxiproxy.Dockerfile \
    | sed 's|^COPY --from=build /toxiproxy-server /toxiproxy|COPY toxiproxy-server /toxiproxy|' >"$CTX/Dockerfile"
  grep -q '^COPY toxiproxy-server /toxiproxy' "$CTX/Dockerfile" \
    || { echo "build-images: docker/toxiproxy.Dockerfile has no final 'FROM scratch' stage copying /toxiproxy" >&2; exit 1; }
  docker build --quiet -t "$TOXIPROXY_IMAGE" "$CTX" >/dev/null
  rm -rf "$CTX"
  say "built $TOXIPROXY_IMAGE ($(docker run --rm "$TOXIPROXY_IMAGE" -version | awk '{print $NF}'))"
fi

if want prometheus; then
  # --network host: the build's apt-get reaches Debian's mirror the way the host does.
  docker build --quiet --network host --build-arg "BASE_IMAGE=$BASE" \
    -t harness/prometheus:latest - <docker/prometheus.Dockerfile >/dev/null
  say "built harness/prometheus:latest (Debian's prometheus on $BASE)"
fi
