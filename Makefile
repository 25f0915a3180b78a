# casegraph — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SDK := frontend-sdk
CHROMIUM := /usr/bin/chromium

.PHONY: run test check lint typecheck schema schema-check contract-check sdk sdk-test bench clean \
	lock lock-check deploy-check deploy-tools

# The locked versions first (the same as the image's, requirements.lock), then the project itself;
# a dependency pyproject.toml gained since the lock was made still installs (and lock-check says so).
$(STAMP): pyproject.toml requirements-dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## Install everything and start the server with demo data (private PostgreSQL unless DATABASE_URL is set).
run: $(STAMP)
	$(BIN)/casegraph serve --seed-demo

## Install everything and run the whole test suite (Python and the TypeScript SDK).
test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider
	@if [ -f $(SDK)/package.json ]; then $(MAKE) --no-print-directory sdk-test; fi

## Static checks: lint, format, types, layering, exported schema drift, contract, lock, deploy files.
check: lint typecheck schema-check contract-check sdk-check lock-check deploy-check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

schema: $(STAMP)
	$(BIN)/casegraph export-schema > schema.graphql

schema-check: $(STAMP)
	@$(BIN)/casegraph export-schema > .schema.exported.graphql
	@diff -u schema.graphql .schema.exported.graphql && rm -f .schema.exported.graphql \
	  || (echo "schema.graphql drifted from the code: run 'make schema' and commit it"; rm -f .schema.exported.graphql; exit 1)

contract-check: $(STAMP)
	$(BIN)/python ../shared/tools/contract_check.py schema.graphql ../shared/contract/schema.graphql

$(SDK)/node_modules/.installed: $(SDK)/package.json
	cd $(SDK) && npm ci --no-audit --no-fund
	@touch $@

sdk: $(SDK)/node_modules/.installed

# Debian's Chromium for the console tests (playwright-core drives it; no browser download).
$(CHROMIUM):
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium

sdk-test: $(STAMP) sdk $(CHROMIUM)
	cd $(SDK) && npm test

sdk-check: sdk
	cd $(SDK) && npm run typecheck && npm run codegen:check && npm run console:check

# Lock files (hashes, every platform, Python 3.11): requirements.lock for the image,
# requirements-dev.lock for development and CI. Pinned versions are kept unless pyproject.toml
# requires otherwise; `make lock UPGRADE=--upgrade` moves everything to the newest.
LOCK = $(BIN)/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 --quiet $(UPGRADE)
lock: $(STAMP)
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev -o requirements-dev.lock

lock-check: $(STAMP)
	@tmp=$$(mktemp -d) && cp requirements.lock requirements-dev.lock $$tmp/ \
	  && $(BIN)/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 --quiet --no-header -o $$tmp/requirements.lock \
	  && $(BIN)/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 --quiet --no-header --extra dev -o $$tmp/requirements-dev.lock \
	  && for f in requirements.lock requirements-dev.lock; do \
	       tail -n +3 $$f | diff -q - $$tmp/$$f >/dev/null || { echo "$$f is out of date with pyproject.toml: run 'make lock' and commit it"; rm -rf $$tmp; exit 1; }; \
	     done; rm -rf $$tmp; echo "lock files match pyproject.toml"

# Debian's Caddy and docker-compose, to check deploy/ (where apt-get can be used; skipped otherwise).
deploy-tools:
	@if ! command -v caddy >/dev/null || ! command -v docker-compose >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends caddy docker-compose) >/dev/null; \
	  fi; fi

## deploy/: the compose file parses (docker compose or docker-compose), the Caddyfile validates.
deploy-check: deploy-tools
	@if docker compose version >/dev/null 2>&1; then compose="docker compose"; \
	  elif command -v docker-compose >/dev/null; then compose=docker-compose; else compose=; fi; \
	  if [ -n "$$compose" ]; then \
	    POSTGRES_PASSWORD=check OAUTH_KEY_ENCRYPTION_KEY=check $$compose -f deploy/compose.yaml config -q && echo "deploy/compose.yaml: valid ($$compose)"; \
	  else echo "deploy/compose.yaml: not checked (no docker compose or docker-compose here)"; fi
	@if command -v caddy >/dev/null; then \
	  SITE_ADDRESS=:80 CASEGRAPH_UPSTREAMS="api-1:8000 api-2:8000" caddy validate --config deploy/Caddyfile --adapter caddyfile >/dev/null 2>&1 \
	    && echo "deploy/Caddyfile: valid" || { echo "deploy/Caddyfile: invalid"; exit 1; }; \
	  else echo "deploy/Caddyfile: not checked (no caddy here)"; fi

bench: $(STAMP)
	$(BIN)/python -m bench.read_bench

clean:
	rm -rf $(VENV) .casegraph $(SDK)/node_modules
