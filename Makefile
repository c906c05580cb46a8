# make run: set up and serve on the embedded defaults (SQLite + local provider).
# make test: set up and run the whole test suite (PostgreSQL and Chromium included).
# make lint: ruff (lint and format) and mypy --strict, as CI runs them.
# make test-notebooks-py313: the notebooks' tests on Python 3.13 (Colab's), in .venv-py313.
# make test-lowest: the fast tests on Python 3.11 with every requirement at its floor.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The newest Python the README names (Colab's); pyenv's shim runs it only when the version is named
# (PYENV_VERSION is ignored where there is no pyenv).
PYTHON313 ?= python3.13
VENV313 := .venv-py313
# ruff reads the notebooks too; mypy checks the Python packages.
LINT_PATHS := app tests bench tools scripts notebooks
# The lowest Python the project supports, in a venv of its own holding each floor (tools/floors.py).
LOWEST_PYTHON ?= python3.11
LOWEST_VENV ?= .venv-lowest
LOWEST_PY := $(LOWEST_VENV)/bin/python
# "Fast": all but the browser, notebook and multi-process tests (the full suite runs in make test).
LOWEST_SKIP := -m "not browser and not notebook" --ignore=tests/test_cluster.py \
	--ignore=tests/test_cluster_faults.py --ignore=tests/test_metrics_workers.py \
	--ignore=tests/test_export_memory.py --ignore=tests/test_memory.py

.PHONY: run test test-notebooks-py313 test-lowest lint colab-links bench chromium screenshot clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: requirements.txt | $(PY)
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install -q -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(PY) -m app

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

test: $(VENV)/.dev-installed chromium
	$(PY) -m pytest

$(VENV313)/.dev-installed: requirements.txt requirements-dev.txt
	PYENV_VERSION=3.13 $(PYTHON313) -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install -q -r requirements-dev.txt
	touch $@

test-notebooks-py313: $(VENV313)/.dev-installed
	$(VENV313)/bin/python -m pytest tests/test_notebooks.py

# Built anew whenever a requirement changes, so no release from an older list stays behind.
$(LOWEST_VENV)/.installed: requirements.txt requirements-dev.txt tools/floors.py
	rm -rf $(LOWEST_VENV)
	$(LOWEST_PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_PY) tools/floors.py requirements.txt requirements-dev.txt > $(LOWEST_VENV)/floors.txt
	$(LOWEST_PY) -m pip install -q -r $(LOWEST_VENV)/floors.txt
	touch $@

test-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_PY) -m pytest $(LOWEST_SKIP)

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)
	$(PY) -m mypy --strict app tests bench tools

# The notebooks' first cell and the README's and docs' Colab badges, from pyproject.toml.
colab-links: $(VENV)/.dev-installed
	$(PY) -m tools.colab_links

bench: $(VENV)/.dev-installed
	$(PY) bench/store_bench.py
	$(PY) bench/ws_load.py

screenshot: $(VENV)/.dev-installed chromium
	$(PY) scripts/screenshot.py

clean:
	rm -rf $(VENV) $(VENV313) $(LOWEST_VENV) .pytest_cache
