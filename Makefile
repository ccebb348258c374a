# Task file: `make site` builds the example site, `make test` runs the tests.
# Both create the virtual environment .venv/ from pyproject.toml on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: site test fuzz check lint example-data golden bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(None if sys.version_info >= (3, 11) else "carecard needs Python 3.11 or later; $(PYTHON) is " + sys.version.split()[0] + ". Run make PYTHON=python3.11 (or newer).")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

site: $(STAMP)  ## build the example site into output/
	$(BIN)/carecard build --config config.yaml

fuzz: $(STAMP)  ## fuzz the readers and the config loader ten times deeper than `make test`
	CARECARD_FUZZ_SCALE=10 $(BIN)/python -m pytest -m fuzz tests/test_fuzz.py

check: $(STAMP)  ## validate config and data of the example site
	$(BIN)/carecard check --config config.yaml

test: $(STAMP)  ## run the whole test suite
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff and mypy (installed on demand)
	$(BIN)/pip install --quiet 'ruff>=0.5,<0.18' 'mypy>=1.10,<3' types-PyYAML
	$(BIN)/ruff check generator tests scripts bench
	$(BIN)/mypy generator tests scripts bench

example-data: $(STAMP)  ## regenerate content/exports/ deterministically
	$(BIN)/python scripts/make_example_exports.py

golden: $(STAMP)  ## regenerate tests/golden/ (then review `git diff tests/golden`)
	$(BIN)/python tests/test_golden.py --update

bench: $(STAMP)  ## run the benchmark at 0.1M interactions (see bench/README.md for more)
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf output .pytest_cache
