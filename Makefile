# Two commands for a new user:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make tools` builds toxiproxy-server here when it is not on PATH; every recipe (and the runs the
# tests start from other directories) finds it on PATH.
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: demo test test-full lint tools venv clean unit integration images compose docker-clean go-test

demo: venv tools
	$(BIN)/harness run experiments/circuit-breaker.yaml

# Experiments are wall-clock bound (light CPU), so two workers halve the suite; a test file
# stays on one worker. Docker tests come after, two at a time as well: each run has its own
# network and labels; the Compose stack's tests (fixed ports) take a machine-wide lock, one stack at a time.
test: venv tools go-test
	$(BIN)/pytest -n 2 --dist loadfile -m "not docker and not full"
	$(BIN)/pytest -n 2 --dist loadgroup -m "docker and not full"

# Everything, exhaustive: every experiment x every defect, mutants, campaigns (hours, not minutes).
test-full: venv tools go-test
	$(BIN)/pytest -n 2 --dist loadfile -m "not docker"
	$(BIN)/pytest -n 2 --dist loadgroup -m docker

# ruff over the whole tree, mypy --strict over the engine (configured in pyproject.toml).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -m "not integration"

integration: venv tools
	$(BIN)/pytest -m integration

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,dev,targets,docker]"
	touch $(STAMP)

tools:
	./scripts/install-toxiproxy.sh

# Our toxiproxy-server's own tests (toxiproxy/: the HTTP framer, and the HTTP toxics inside a real
# Toxiproxy between Go's client and server), under the race detector; about 10 s.
go-test:
	@command -v go >/dev/null || { echo "go-test: Go not found, toxiproxy/ not tested"; exit 0; }
	cd toxiproxy && test -z "$$(gofmt -l .)" || { gofmt -l .; echo "go-test: run gofmt -w toxiproxy"; exit 1; }
	cd toxiproxy && go vet ./... && go test -race -count=1 ./...

# Images for --runtime docker and docker-compose.yml, built here without an image registry.
images: venv
	./scripts/build-images.sh

# Regenerate docker-compose.yml (and docker/compose/*) from the manifests.
compose: venv
	$(BIN)/python -m harness.runtime.docker.compose --write

# Remove containers, networks and volumes that interrupted harness runs left behind.
docker-clean: venv
	$(BIN)/python -m harness.runtime.docker.resources --remove

clean:
	rm -rf $(VENV) .tools reports/*/
