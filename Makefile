# Two commands for a new user:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-full lint tools venv clean unit integration images compose docker-clean

demo: venv tools
	$(BIN)/harness run experiments/circuit-breaker.yaml

# Experiments are wall-clock bound (light CPU), so two workers halve the suite; a test file
# stays on one worker. Docker tests share one engine and its labels: they run alone, after.
test: venv tools
	$(BIN)/pytest -n 2 --dist loadfile -m "not docker and not full"
	$(BIN)/pytest -m "docker and not full"

# Everything, exhaustive: every experiment x every defect, mutants, campaigns (hours, not minutes).
test-full: venv tools
	$(BIN)/pytest -n 2 --dist loadfile -m "not docker"
	$(BIN)/pytest -m docker

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
	$(BIN)/pip install --quiet -e ".[test,dev]"
	touch $(STAMP)

tools:
	./scripts/install-toxiproxy.sh

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
