#!/usr/bin/env bash
# The resilience gate a CI job runs: the same script in this repository's CI (.ci/run) and in
# the GitHub Actions and GitLab CI examples of docs/ci.md (tests/test_ci_docs.py checks they
# agree), so the example cannot drift from what is actually run. Copy it into your repository.
#
#   scripts/ci-gate.sh install [PIP_SPEC]   pip install the engine (default: harness[targets] from this
#                                           checkout) and make sure a toxiproxy-server is on PATH
#   scripts/ci-gate.sh run OUT EXP...       validate the experiments (exit 2 on bad input, nothing run),
#                                           then run them as one suite into OUT: OUT/junit.xml (a
#                                           <testsuite> per run, a <testcase> per check) and a run folder
#                                           per experiment (report.html, journal.jsonl, result.json)
#
# Exit codes are the harness's: 0 every check passed, 1 a check failed, 2 bad input, 3 environment.
# Upload OUT whatever the exit code (the run folders say why a check failed).
set -euo pipefail
TOXIPROXY_VERSION="${TOXIPROXY_VERSION:-2.12.0}"
TOOLS="${HARNESS_TOOLS_DIR:-$PWD/.tools/bin}"
export PATH="$TOOLS:$PATH"

install() {
  local spec="${1:-.[targets]}"
  python -m pip install --quiet "$spec"
  tools
}

# toxiproxy-server: the harness starts its own for every run. This repository builds one with the
# HTTP toxics (make tools); anywhere else, stock Toxiproxy from Go's module proxy runs every fault
# type but the HTTP ones.
tools() {
  if command -v toxiproxy-server >/dev/null 2>&1; then
    echo "toxiproxy-server: $(command -v toxiproxy-server)"
    return
  fi
  command -v go >/dev/null 2>&1 || { echo "error: no toxiproxy-server on PATH and no Go to build one" >&2; exit 3; }
  mkdir -p "$TOOLS"
  GOBIN="$TOOLS" go install "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION"
  mv "$TOOLS/server" "$TOOLS/toxiproxy-server"
  echo "toxiproxy-server: $TOOLS/toxiproxy-server (stock v$TOXIPROXY_VERSION)"
}

run() {
  [[ $# -ge 2 ]] || { echo "usage: $0 run OUT EXPERIMENT..." >&2; exit 2; }
  local out="$1"
  shift
  harness validate "$@"
  harness run "$@" --out "$out" --quiet
}

case "${1:-}" in
  install) shift; install "$@" ;;
  tools) tools ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 install [PIP_SPEC] | tools | run OUT EXPERIMENT..." >&2; exit 2 ;;
esac
