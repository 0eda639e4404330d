#!/usr/bin/env bash
# Build the toxiproxy-server the harness runs: toxiproxy/ in this repository, which is
# Toxiproxy v2.12.0 (a library from the Go module proxy) plus the HTTP toxics, into
# .tools/bin/toxiproxy-server; and Toxiproxy's own CLI into .tools/bin/toxiproxy-cli.
# No package of Toxiproxy exists on PyPI, npm or Debian; Go builds it from the module proxy.
#
# - Rebuilds when toxiproxy/ changed since the last build, or when .tools/bin holds a stock
#   server (an earlier version of this script installed one there).
# - Without Go, a toxiproxy-server on PATH is used as it is: a stock one runs every fault but
#   the HTTP ones, which are refused saying what to do (so is HARNESS_TOXIPROXY_SERVER).
set -euo pipefail
VERSION="${TOXIPROXY_VERSION:-2.12.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="$ROOT/toxiproxy"
BIN="$ROOT/.tools/bin"
SERVER="$BIN/toxiproxy-server"
mkdir -p "$BIN"

is_ours() { [[ -x "$SERVER" ]] && "$SERVER" -version 2>/dev/null | grep -q '+harness'; }
sources_newer() { [[ -n "$(find "$SRC" -newer "$SERVER" \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -print -quit)" ]]; }

if is_ours && ! sources_newer; then
  echo "toxiproxy-server: $SERVER ($("$SERVER" -version | awk '{print $NF}'))"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  if command -v toxiproxy-server >/dev/null 2>&1; then
    echo "warning: Go not found: the harness will use $(command -v toxiproxy-server) from PATH as it is." >&2
    echo "         If that is a stock server, HTTP fault types (http_status, ...) are refused; install Go >= 1.23 and run make tools." >&2
    exit 0
  fi
  echo "error: Go (>= 1.23) is needed to build toxiproxy-server (toxiproxy/); install it or put a toxiproxy-server on PATH" >&2
  exit 3
fi

echo "building toxiproxy-server from toxiproxy/ (Toxiproxy v$VERSION + HTTP toxics; the first build fetches modules)..."
# CGO_ENABLED=0: a static binary, the same one the Docker image (FROM scratch) can hold.
(cd "$SRC" && CGO_ENABLED=0 go build -trimpath -o "$SERVER.tmp.$$" .)
mv "$SERVER.tmp.$$" "$SERVER"
if [[ ! -x "$BIN/toxiproxy-cli" ]]; then
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  GOBIN="$TMP" go install -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/cli@v$VERSION"
  mv "$TMP/cli" "$BIN/toxiproxy-cli"
fi
echo "toxiproxy-server: $SERVER ($("$SERVER" -version | awk '{print $NF}'))"
