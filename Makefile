# Two entry points that set everything up on a fresh machine (Python 3.10+ and pip only):
#   make example   lint the bundled example project
#   make test      run the whole test suite, real-PostgreSQL checks included
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: example test bench docs clean

$(BIN)/rlslint: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# Every rule fires on the example, so rlslint exits 1 there; anything else is a failure.
example: $(BIN)/rlslint
	cd example && ../$(BIN)/rlslint; status=$$?; test $$status -eq 1

test: $(BIN)/rlslint
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

bench: $(BIN)/rlslint
	$(BIN)/python bench/run.py
	$(BIN)/python bench/verify.py

# Regenerate the rule pages in rules/ from the rule declarations (a test fails when they are stale).
docs: $(BIN)/rlslint
	$(BIN)/python -m rlslint.docs --write rules/
	$(BIN)/python -m rlslint.docs --readme README.md

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
