# Task file: `make site` builds the example site, `make test` runs the tests.
# Both create the virtual environment .venv/ from pyproject.toml on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: site test test-slow check lint example-data golden bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(None if sys.version_info >= (3, 11) else "carecard needs Python 3.11 or later; $(PYTHON) is " + sys.version.split()[0] + ". Run make PYTHON=python3.11 (or newer).")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

site: $(STAMP)  ## build the example site into output/
	$(BIN)/carecard build --config config.yaml

check: $(STAMP)  ## validate config and data of the example site
	$(BIN)/carecard check --config config.yaml

test: $(STAMP)  ## run the default test suite (the slow tier: make test-slow)
	$(BIN)/python -m pytest

test-slow: $(STAMP)  ## run the slow tier (a build per config key, browsers)
	$(BIN)/python -m pytest -m slow

lint: $(STAMP)  ## ruff, mypy, the import layers and zizmor on the example workflow (installed on demand)
	$(BIN)/pip install --quiet 'ruff>=0.5,<0.18' 'mypy>=1.10,<3' types-PyYAML 'import-linter>=2.1,<3' \
		'zizmor>=1.33,<2'
	$(BIN)/ruff check generator tests scripts bench
	$(BIN)/mypy generator tests scripts bench
	$(BIN)/lint-imports
	$(BIN)/zizmor --offline .github/workflows/

example-data: $(STAMP)  ## regenerate content/exports/ deterministically
	$(BIN)/python scripts/make_example_exports.py

golden: $(STAMP)  ## regenerate tests/golden/ (then review `git diff tests/golden`)
	$(BIN)/python tests/test_golden.py --update

bench: $(STAMP)  ## run the benchmark at 0.1M interactions (see bench/README.md for more)
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf output .pytest_cache
