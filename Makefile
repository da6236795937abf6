# Two commands for a fresh machine: `make run` and `make test`. Both create .venv and install
# what they need; the stamp files make the second run fast.
#
# Python 3.11, 3.12 and 3.13 work (CI runs 3.11): `make run PYTHON=python3.12`. .venv records the
# version it was made with (.venv/.python-X.Y); another version rebuilds it from scratch, so a
# .venv of the wrong Python never lingers.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
VENV_PYTHON := $(VENV)/.python-$(PYTHON_VERSION)

.PHONY: run test lint demo clean

$(VENV_PYTHON):
	@if [ -z "$(PYTHON_VERSION)" ]; then \
	  echo "make: '$(PYTHON)' does not run as Python; set PYTHON to python3.11, 3.12 or 3.13" >&2; \
	  exit 1; \
	fi
	@made="$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"; \
	if [ "$$made" != "$(PYTHON_VERSION)" ]; then \
	  if [ -e $(VENV) ]; then \
	    echo "make: $(VENV) was made with Python $${made:-(unknown)}; rebuilding it with $(PYTHON) ($(PYTHON_VERSION))" >&2; \
	  fi; \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet --upgrade pip; \
	fi
	rm -f $(VENV)/.python-*
	touch $@

# The editable install compiles none of the bot's own modules; where PYTHONDONTWRITEBYTECODE is
# set, every `serve` would compile ~90 of them from source again (~0.3 s of its cold start), so
# they are compiled once here. A module edited later is compiled in memory until the next install.
COMPILE_OWN := $(BIN)/python -m compileall -q adapters bot dialogs policy scheduler >/dev/null

$(VENV)/.installed-run: pyproject.toml $(VENV_PYTHON)
	$(BIN)/pip install --quiet -e '.[capture]'
	$(COMPILE_OWN)
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV_PYTHON)
	$(BIN)/pip install --quiet -e '.[test,capture]'
	$(COMPILE_OWN)
	touch $@ $(VENV)/.installed-run

# The bot (serve, on the embedded defaults), a local mail capture writing every email to
# var/mail/, and, when node is here, Microsoft 365 Agents Playground beside it (installed with
# `npm ci` if node_modules is missing or stale).
run: $(VENV)/.installed-run
	@bash tools/run.sh $(BIN)

# Every test: the node tools first (npm ci, when node is here and node_modules is missing or
# stale), so the card and manifest validators and the Playground test run rather than skip.
test: $(VENV)/.installed-test
	@bash tools/node-tools.sh
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy --strict policy dialogs
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
