# The two commands a newcomer needs: `make dev` (the whole service) and `make test` (the suite).
# Both create .venv and install the pinned requirements on first use (again only when they change),
# and use embedded PostgreSQL and Redis unless DATABASE_URL/REDIS_URL (or TEST_*) are set.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: dev test bench install clean-devdata login-link

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt scripts/bootstrap
	PYTHON=$(PYTHON) scripts/bootstrap

dev: install
	$(PY) -m devtools.dev

# A fresh console sign-in link for make dev's demo account (each link works once).
login-link: install
	@$(PY) -m devtools.dev login-link

# The suite runs in TEST_WORKERS processes (pytest-xdist; each has its own embedded servers, or its own
# Redis database under TEST_REDIS_URL: tests/conftest.py), then the `apart` tests (process-level, with
# timing limits) in a pass of their own, as many at a time (scripts/run-tests). TEST_WORKERS=0 runs
# both passes in this process.
TEST_WORKERS ?= 2
test: install
	TEST_WORKERS=$(TEST_WORKERS) scripts/run-tests $(PYTEST_ARGS)

bench: install
	$(PY) -m bench $(BENCH_ARGS)

clean-devdata:
	rm -rf .devdata
