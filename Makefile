# casegraph — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SDK := frontend-sdk
CHROMIUM := /usr/bin/chromium

.PHONY: run test check lint typecheck schema schema-check contract-check sdk sdk-test bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## Install everything and start the server with demo data (private PostgreSQL unless DATABASE_URL is set).
run: $(STAMP)
	$(BIN)/casegraph serve --seed-demo

## Install everything and run the whole test suite (Python and the TypeScript SDK).
test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider
	@if [ -f $(SDK)/package.json ]; then $(MAKE) --no-print-directory sdk-test; fi

## Static checks: lint, format, types, layering, exported schema drift, contract.
check: lint typecheck schema-check contract-check sdk-check

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

bench: $(STAMP)
	$(BIN)/python -m bench.read_bench

clean:
	rm -rf $(VENV) .casegraph $(SDK)/node_modules
