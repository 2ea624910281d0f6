# The two commands that set everything up on a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
STAMP  := $(VENV)/.installed

.PHONY: dev test lint typecheck bench clean kubectl chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip setuptools wheel > $(VENV)/pip-bootstrap.log 2>&1 || (cat $(VENV)/pip-bootstrap.log; exit 1)

$(STAMP)-%: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[$*]" > $(VENV)/pip-$*.log 2>&1 || (grep -v "is ignored" $(VENV)/pip-$*.log; exit 1)
	$(BIN)/python -c "import streams, schemas" && touch $@

## make dev: the whole pipeline locally (broker, PostgreSQL, stand-ins, simulated traffic)
dev: $(STAMP)-dev
	$(BIN)/roasloop dev $(ARGS)

## make test: install what the tests need and run them
test: $(STAMP)-test kubectl chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## kubectl renders the Kubernetes manifests in the suite (tests/deploy/test_k8s_render.py). Kept
## when one is on PATH; otherwise, as root on Debian, installed from the distribution's packages.
kubectl:
	@command -v kubectl > /dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get > /dev/null 2>&1; then \
	    echo "make test needs kubectl on PATH to render deploy/k8s; as root on Debian: apt-get install kubernetes-client" >&2; \
	    exit 1; \
	  fi; \
	  echo "installing kubectl (Debian package kubernetes-client)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq kubernetes-client > /dev/null 2>&1 \
	    || { apt-get update -qq && apt-get install -y -qq kubernetes-client; }; \
	}

## chromium is the real browser the console's tests drive (tests/console/test_browser.py), through
## Playwright with the distribution's Chromium: Playwright's own browser download cannot work here.
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get > /dev/null 2>&1; then \
	    echo "make test needs Chromium at /usr/bin/chromium for the console's browser tests; as root on Debian: apt-get install chromium" >&2; \
	    exit 1; \
	  fi; \
	  echo "installing Chromium (Debian package chromium)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq chromium > /dev/null 2>&1 \
	    || { apt-get update -qq && apt-get install -y -qq chromium; }; \
	}

lint: $(STAMP)-test
	$(BIN)/ruff check schemas streams tests bench
	$(BIN)/mypy schemas streams
	$(BIN)/lint-imports

bench: $(STAMP)-test
	$(BIN)/python bench/broker_passthrough.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
