# Two commands set up everything on a machine with only Python 3.11+ and make:
#   make demo   creates .venv, installs the locked dependencies, and runs the pipeline on sample data
#   make test   the same install, then the whole test suite
PYTHON ?= python3
VENV := .venv
BOOT := .venv-bootstrap
UV_VERSION := 0.13.9
UV := $(BOOT)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false

.PHONY: install demo serve test lint format bench clean

$(UV):
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# uv installs exactly what uv.lock pins; --locked fails if pyproject.toml and the lock disagree.
# --compile-bytecode: a machine with PYTHONDONTWRITEBYTECODE set would otherwise compile Prefect, GX and the rest
# from source in every process (`cakupan run` took 9 s more to import).
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --compile-bytecode --python $(PYTHON)
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/cakupan demo --data-dir data

# A Prefect server (UI on http://127.0.0.1:4200) with the deployments, and a worker, in this terminal; Ctrl-C stops.
serve: install
	$(VENV)/bin/python -m flows.serve

# One worker per core (pytest-xdist). --dist loadfile keeps a test file on one worker, so its module fixtures (a
# Prefect server, a Dask cluster) start once; the session's Prefect API and sample start once per worker.
# On a 2-core machine, within the hour: 6 min 12 s, against 7 min 52 s with the tests in turn.
test: install
	$(VENV)/bin/python -m pytest -q -n auto --dist loadfile

# Generated inputs at sizes S, M and L; every stage timed against DuckDB and the I/O floor, and the whole run.
# Minutes for S, hours with L (SIZES="S M" to limit); writes benchmarks/RESULTS.md. Not part of `make test`.
bench: install
	$(VENV)/bin/python -m benchmarks.run

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy cakupan flows tasks expectations warehouse

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) $(BOOT) data .pytest_cache .mypy_cache .ruff_cache
