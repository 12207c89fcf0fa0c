# Set-up and everyday commands. Everything installs into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run route test test-fast lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## The whole system on embedded defaults: API (SQLite, demo roster), a simulated history and a
## trained model, the worker, a stream of demo leads and the lab; Ctrl-C stops it all.
## Options through ARGS, e.g. make run ARGS="--api-port 8080 --lab-port 8502"
run: $(STAMP)
	$(BIN)/leadroute up $(ARGS)

## The batch job: route the demo leads with the default policy; writes out/routed.csv
route: $(STAMP)
	$(BIN)/leadroute route --officers data/demo/officers.csv \
		--policy data/policies/default.yaml --out out/routed.csv data/demo/leads.csv

## The whole test suite (slow tests included), lint and type checks
test: $(STAMP) lint
	$(BIN)/python -m pytest -q

## Tests without the slow ones
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check engine simulator lab api cli tests benchmarks scripts
	$(BIN)/mypy engine simulator cli api lab
	$(BIN)/lint-imports

## Speed and quality benchmarks (not part of the tests); each prints its figures
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
