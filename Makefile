# The two commands of the quick start: `make run` and `make test`.
# Both create .venv on first use; the stamp file re-installs when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-oldest lint typecheck format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/steepest fit

# One worker per core (at most 4), each taking the next test as it frees up; what one worker
# compiled, the other loads from the session's compilation cache (conftest.py).
test: lint typecheck
	$(BIN)/python -m pytest src tests -n auto --maxprocesses 4 --dist worksteal --durations=10

# The suite on the oldest versions pyproject.toml allows (.ci/oldest.txt), in a venv of its own.
OLDEST := .venv-oldest
test-oldest:
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -m pip install --quiet -e '.[test]' -c .ci/oldest.txt
	$(OLDEST)/bin/python -m pytest src tests -n auto --maxprocesses 4 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The settings (files, the modules that ship no types) are pyproject.toml's [tool.mypy].
typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python experiments/benchmark.py

clean:
	rm -rf $(VENV) $(OLDEST)
