#!/usr/bin/env bash
# Build Toxiproxy's server and CLI (v2.12.0) from the Go module proxy into .tools/bin.
# No package of the server exists on PyPI, npm or Debian; `go install` is the portable way.
# Skips the build when a toxiproxy-server is already on PATH or already built here.
set -euo pipefail
VERSION="${TOXIPROXY_VERSION:-2.12.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.tools/bin"
mkdir -p "$BIN"
if [[ -x "$BIN/toxiproxy-server" ]]; then
  echo "toxiproxy-server: $BIN/toxiproxy-server"; exit 0
fi
if command -v toxiproxy-server >/dev/null 2>&1; then
  echo "toxiproxy-server: $(command -v toxiproxy-server) (from PATH)"; exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: Go (>= 1.23) is needed to build toxiproxy-server; install it or put toxiproxy-server on PATH" >&2
  exit 3
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
echo "building toxiproxy v$VERSION with go install (one-off, about a minute)..."
GOBIN="$TMP" go install -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$VERSION" \
  "github.com/Shopify/toxiproxy/v2/cmd/server@v$VERSION" "github.com/Shopify/toxiproxy/v2/cmd/cli@v$VERSION"
mv "$TMP/server" "$BIN/toxiproxy-server"
mv "$TMP/cli" "$BIN/toxiproxy-cli"
"$BIN/toxiproxy-server" -version || true
echo "toxiproxy-server: $BIN/toxiproxy-server"
