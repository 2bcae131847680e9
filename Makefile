# The two commands: `make dev` runs the suite locally, `make test` passes the tests.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export UV_PYTHON_DOWNLOADS ?= never
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
GPU_PY := gpu/.venv/bin/python
MEMBERS := $(wildcard pyproject.toml uv.lock contracts/pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml)

.PHONY: dev demo test test-fast lint fmt contracts bench up down sync clean

# uv from PyPI where the machine has none: the only tool the project installs outside its venvs.
.tools/bin/uv:
	python3 -m pip install --quiet --target .tools/lib uv
	mkdir -p .tools/bin && ln -sf ../lib/bin/uv .tools/bin/uv

$(VENV)/.synced: $(MEMBERS) | $(UV)
	$(UV) sync --all-packages --locked
	touch $@

gpu/.venv/.synced: gpu/pyproject.toml gpu/uv.lock contracts/pyproject.toml | $(UV)
	cd gpu && $(abspath $(UV)) sync --locked
	touch $@

sync: $(VENV)/.synced gpu/.venv/.synced

dev: sync
	$(PY) deploy/dev.py

# The journey over HTTP, narrated (starts `make dev` in the background when it is not running).
demo: sync
	$(PY) deploy/demo.py

test: sync
	$(PY) -m codex_contracts check --strict
	$(PY) deploy/openapi.py check
	$(VENV)/bin/pytest -q
	cd gpu && .venv/bin/pytest -q

lint: sync
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: sync
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

contracts: sync
	$(PY) -m codex_contracts snapshot
	$(PY) deploy/openapi.py write

bench: sync
	$(PY) tests/bench/run.py

# The bus on a throwaway 3-node RabbitMQ cluster (installed rabbitmq-server, ports 5681-5683) while
# the queue leader is SIGKILLed: lost / doubled / recovery figures (libs/bus/README.md). About 2 min.
.PHONY: chaos
chaos: sync
	$(PY) tests/chaos/run.py

up:
	docker compose up --build -d --wait
	docker compose ps
	@echo
	@echo "Codex is up (docker compose down stops it):"
	@echo "  gateway     http://localhost:8080   the console and every API (/auth /content /uploads /assets /purchases)"
	@echo "  S3 (MinIO)  http://localhost:9000   console http://localhost:9001 (codex / codex-secret)"
	@echo "  RabbitMQ    http://localhost:15672  management console (codex / codex)"
	@echo "  then: make demo (against http://localhost:8080)"

down:
	docker compose down

clean:
	rm -rf .venv gpu/.venv .tools .dev
