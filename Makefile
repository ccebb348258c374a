# Task file: `make site` builds the example site, `make test` runs the tests.
# Both create the virtual environment .venv/ from pyproject.toml on first use: `make site` with
# carecard's own dependencies, the test targets with the test extras added.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: site test test-slow fuzz check lint example-data golden bench screenshot clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(None if sys.version_info >= (3, 11) else "carecard needs Python 3.11 or later; $(PYTHON) is " + sys.version.split()[0] + ". Run make PYTHON=python3.11 (or newer).")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

site: $(STAMP)  ## build the example site into output/
	$(BIN)/carecard build --config config.yaml

fuzz: $(TEST_STAMP)  ## fuzz the readers and the config loader ten times deeper than `make test`
	CARECARD_FUZZ_SCALE=10 $(BIN)/python -m pytest -m fuzz tests/test_fuzz.py

check: $(STAMP)  ## validate config and data of the example site
	$(BIN)/carecard check --config config.yaml

test: $(TEST_STAMP)  ## run the default test suite (the slow tier: make test-slow)
	$(BIN)/python -m pytest

test-slow: $(TEST_STAMP)  ## run the slow tier (a build per config key, browsers, HTML checker)
	$(BIN)/python -m pytest -m slow

lint: $(TEST_STAMP)  ## ruff, mypy, the import layers and zizmor on the example workflow (installed on demand)
	$(BIN)/pip install --quiet 'ruff>=0.5,<0.18' 'mypy>=1.10,<3' types-PyYAML 'import-linter>=2.1,<3' \
		'zizmor>=1.33,<2'
	$(BIN)/ruff check generator tests scripts bench
	$(BIN)/mypy generator tests scripts bench
	$(BIN)/lint-imports
	$(BIN)/zizmor --offline .github/workflows/

example-data: $(STAMP)  ## regenerate content/exports/ deterministically
	$(BIN)/python scripts/make_example_exports.py

golden: $(TEST_STAMP)  ## regenerate tests/golden/ (then review `git diff tests/golden`)
	$(BIN)/python tests/test_golden.py --update

bench: $(STAMP)  ## run the benchmark at 0.1M interactions (see bench/README.md for more)
	$(BIN)/python bench/run.py --quick

screenshot: site $(TEST_STAMP)  ## the README's picture: docs/overview.png (needs Chromium)
	$(BIN)/python scripts/screenshot.py

clean:
	rm -rf output .pytest_cache
