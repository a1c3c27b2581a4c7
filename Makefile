# py-autotask developer tasks. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-slow servers lint typecheck check-drift generate render bootstrap bench bench-smoke clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## The main job on the embedded default: a local Autotask simulator, no credentials needed.
demo: $(STAMP)
	$(VENV)/bin/py-autotask demo --out demo-output

## Everything CI checks: lint, types, generated-code drift, tests, benchmark smoke runs.
test: $(STAMP) servers lint typecheck check-drift
	$(PY) -m pytest -q -n 2 --dist loadgroup -m "not slow" --durations=25
	$(MAKE) bench-smoke

## The tests marked slow (minutes each; not part of `make test`).
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

## Redis and PostgreSQL server binaries for the tests (apt-get when missing and root).
servers:
	@.ci/install-servers

lint: $(STAMP)
	$(PY) -m ruff check py_autotask codegen tests benchmarks examples generated
	$(PY) -m ruff format --check py_autotask codegen tests benchmarks examples generated
	PYTHONPATH=.:generated $(VENV)/bin/lint-imports --no-cache

typecheck: $(STAMP)
	$(PY) -m mypy

check-drift: $(STAMP)
	$(PY) -m codegen check-drift

## Refresh schemas/ from a live API (AUTOTASK_* credentials) or AUTOTASK_API_URL, then render.
generate: $(STAMP)
	@if [ -n "$$AUTOTASK_API_URL" ] || [ -n "$$AUTOTASK_USERNAME" ]; then \
		echo "generate: pulling metadata from the API"; \
		$(PY) -m codegen pull || exit $$?; \
	else \
		echo "generate: no AUTOTASK_USERNAME/AUTOTASK_API_URL set -- rendering from the committed snapshot in schemas/"; \
	fi
	$(PY) -m codegen render

render: $(STAMP)
	$(PY) -m codegen render

## Rebuild schemas/ from schemas/source/ (the raw inputs; `python -m codegen import-sources --from DIR`
## refreshes them from a folder of the reference data).
bootstrap: $(STAMP)
	$(PY) -m codegen bootstrap

## Full benchmarks (minutes; a million records). CI runs bench-smoke instead.
bench: $(STAMP)
	$(PY) -m benchmarks.run --full

bench-smoke: $(STAMP)
	$(PY) -m benchmarks.run --smoke

clean:
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache
