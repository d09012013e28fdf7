# The two commands of the README: `make demo` and `make test`. Both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000
# pytest arguments (default: one worker per CPU), e.g. `make test PYTEST_ARGS="-k marking -x"`.
PYTEST_ARGS ?= -n auto
# The suite starts about a hundred Python processes (pytest's workers, every live and browser
# test's servers, the CLI's); with PYTHONDONTWRITEBYTECODE set (some shells and containers set
# it) each would compile the app and rewrite the tests' asserts again from source: ~7 s of CPU
# a pytest worker, ~0.3 s a server start (docs/PERFORMANCE.md). Cached bytecode is gitignored.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test pytest check types install browser nginx lint format migrate serve clean screenshots \
        bench bench-schoolday bench-fanout bench-connections bench-cluster

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the dependency list changes.
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(FLASK) db upgrade

## make demo: set up, migrate, load the demo school, print the logins and serve it.
demo: migrate
	$(FLASK) demo
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	$(FLASK) serve --host $(HOST) --port $(PORT)

serve: migrate
	$(FLASK) serve --host $(HOST) --port $(PORT)

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

browser: $(CHROMIUM)

# nginx: the live test of several processes behind deploy/nginx.conf, and bench-cluster.
# Debian's package; the test starts its own nginx with its own config (no service is used).
NGINX := /usr/sbin/nginx

$(NGINX):
	$(SUDO) apt-get -o DPkg::Lock::Timeout=300 update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=300 install -y -qq nginx

nginx: $(NGINX)

## make test: set up and run the whole suite (lint, types, then pytest) on $$DATABASE_URL or SQLite.
test: install browser nginx
	$(BIN)/ruff check attendance_app tests bench wsgi.py
	$(BIN)/ruff format --check attendance_app tests bench wsgi.py
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

## make pytest: `make test` without the lint and the types (which are the same on every
## database): .ci/run's second pass.
pytest: install browser nginx
	$(BIN)/pytest $(PYTEST_ARGS)

## make check: the quick loop while coding (about a minute): lint, types and the service
## tests, without the browser, the live servers or the HTTP edges.
check: install
	$(BIN)/ruff check attendance_app tests bench wsgi.py
	$(BIN)/ruff format --check attendance_app tests bench wsgi.py
	$(BIN)/mypy
	$(BIN)/pytest -n auto -q tests/services tests/test_config.py tests/test_tasks.py

types: install
	$(BIN)/mypy

## make screenshots: refresh docs/screenshots/ (the README's pictures) from the browser tests;
## every other run writes its screenshots to a temporary folder.
screenshots: install browser
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(BIN)/pytest -n 0 tests/browser

lint: install
	$(BIN)/ruff check attendance_app tests bench wsgi.py

format: install
	$(BIN)/ruff format attendance_app tests bench wsgi.py
	$(BIN)/ruff check --fix attendance_app tests bench wsgi.py

## make bench: our server, the DRF peer and the bare floor side by side (../shared/bench/),
## perfcmp.py against them in one run. DB=sqlite|postgres, MODE=eventlet|gevent|eventlet,gevent,
## BENCH_ARGS="--seconds 8 --conc 8" passes more options (see bench/README.md).
DB    ?= sqlite
MODE  ?= eventlet
BENCH_ARGS ?=

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench.perf --db $(DB) --mode $(MODE) $(BENCH_ARGS)

bench-schoolday: $(VENV)/.bench-installed
	$(BIN)/python -m bench.schoolday --targets us:$(DB):$(MODE),drf:$(DB) $(BENCH_ARGS)

bench-fanout: $(VENV)/.bench-installed
	$(BIN)/python -m bench.fanout --db $(DB) --mode $(MODE) $(BENCH_ARGS)

bench-connections: $(VENV)/.bench-installed
	$(BIN)/python -m bench.connections --mode $(MODE) $(BENCH_ARGS)

bench-cluster: $(VENV)/.bench-installed $(NGINX)
	$(BIN)/python -m bench.schoolday \
	    --targets us:postgres:$(MODE):x1,us:postgres:$(MODE):x2,us:postgres:$(MODE):x4 $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache *.egg-info
