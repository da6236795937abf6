# Two commands for a fresh machine: `make run` and `make test`. Both create .venv and install
# what they need; the stamp files make the second run fast.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[capture]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,capture]'
	touch $@ $(VENV)/.installed-run

# The bot (serve, on the embedded defaults), a local mail capture writing every email to
# var/mail/, and, when node is here, Microsoft 365 Agents Playground beside it (installed with
# `npm ci` if node_modules is missing or stale).
run: $(VENV)/.installed-run
	@bash tools/run.sh $(BIN)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy --strict policy dialogs
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
