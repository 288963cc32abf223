# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TOOLS  := $(VENV)/.installed-test

.PHONY: run test check static setup setup-test browser lint format validate build clean

run: setup                      ## set up, then serve site + forms + review queue on 127.0.0.1:8000
	$(BIN)/plansite serve --root . --instance instance --port $${PORT:-8000}

test: setup-test browser static  ## the whole test suite, browser tests included
	$(BIN)/pytest -q -n auto -p no:cacheprovider $(PYTEST_ARGS)

check: setup-test static        ## the fast loop: lint, format, types, the tests that need no browser
	$(BIN)/pytest -q -n auto -p no:cacheprovider -m "not browser and not slow" $(PYTEST_ARGS)

static: setup-test              ## ruff, ruff format and mypy (strict for the pure core)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# `make run` installs what running needs; the test tools (pytest, Playwright, ruff, mypy,
# gunicorn, ...) come with `make test`, `make check` and `make static` only.
setup: $(STAMP)

setup-test: $(TOOLS)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(TOOLS): $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $(TOOLS)

# Browser tests use Debian's Chromium, never a browser downloaded at test time.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium (needs root or sudo)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei; }

lint: setup-test
	$(BIN)/ruff check .

format: setup-test                   ## rewrite the code as ruff format wants it
	$(BIN)/ruff format .

validate: setup
	$(BIN)/plansite validate --root .

build: setup
	$(BIN)/plansite build --root . --site-dir site --strict

clean:
	rm -rf site build *.egg-info .pytest_cache .ruff_cache
