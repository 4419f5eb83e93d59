# The two commands: `make run` (everything, on https://localhost:3000) and `make test`.
# Both create .venv and install the pinned dependencies first; `make run` needs nothing but
# Python 3.11+, make and git. `make test` also needs Node.js with npm and Chromium
# (test-prerequisites below installs Debian's chromium when it can).

VENV        := .venv
BIN         := $(VENV)/bin
# The first interpreter that runs and is 3.11+ (a pyenv shim may exist without a working Python).
PYTHON      ?= $(shell for c in python3 python3.13 python3.12 python3.11; do \
                 $$c -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$c; break; }; \
               done)
STAMP       := $(VENV)/.installed
# MSAL.js for the Outlook add-in and axe-core for the browser tests, pinned in package-lock.json.
NODE_STAMP  := node_modules/.installed
PYTEST_ARGS ?=
# The Chromium the browser tests drive; `make test CHROMIUM=/path/to/chromium` for another build.
CHROMIUM    ?= /usr/bin/chromium
# The nginx the deployment tests run in front of `mailferry web --proxy` (Debian's package).
NGINX       ?= /usr/sbin/nginx

.PHONY: run test test-prerequisites install certs lock clean

run: install certs
	$(BIN)/mailferry run

test: test-prerequisites install certs
	CHROMIUM="$(CHROMIUM)" NGINX="$(NGINX)" $(BIN)/python -m pytest $(PYTEST_ARGS)

# Chromium and nginx (installed with apt-get when missing, as root or with passwordless sudo)
# and axe-core (from npm ci): whatever cannot be installed stops `make test` before the suite,
# with the command that installs it.
test-prerequisites: $(NODE_STAMP)
	@sh tests/prerequisites.sh "$(CHROMIUM)" node_modules/axe-core/axe.min.js "$(NGINX)"

install: $(STAMP) $(NODE_STAMP)

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "Mailferry needs Python 3.11 or newer: none found as python3, python3.11-3.13; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# `npm ci` again whenever package.json or its lock changes. Without npm, `make run` still
# works but the add-in's pages cannot sign in (MSAL.js is missing: /addin/vendor answers 503),
# and the browser tests fail saying axe-core is missing.
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
	  echo "npm not found: skipping MSAL.js and axe-core (the Outlook add-in and the browser tests need them; install Node.js 20+ and npm)"; \
	fi

certs: install
	$(BIN)/mailferry certs

# Re-pin every dependency after editing requirements*.in.
lock: install
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements.lock requirements.in
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --allow-unsafe --output-file requirements-dev.lock requirements-dev.in

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache node_modules
