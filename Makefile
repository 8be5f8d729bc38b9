# Two commands on a fresh clone: `make run` and `make test`. Each sets itself up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JS_STAMP := tests/js/node_modules/.installed

.PHONY: run lint test test-fast bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,packaging]'
	touch $(STAMP)

$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	touch $(JS_STAMP)

run: $(STAMP)
	$(BIN)/presence-desktop --profile local

# ruff and mypy, configured in pyproject.toml. Quick; `make test` runs it first.
lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/mypy

# The whole suite, after lint (CI runs this, through .ci/run).
test: $(STAMP) lint $(JS_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -rs $(PYTEST_ARGS)

# The suite without the `slow` (builds, load) and `node` (npm) tests, and without lint.
test-fast: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -rs -m "not slow and not node" $(PYTEST_ARGS)

# Full benchmark run (bench/README.md); before/after a change: $(BIN)/python -m bench --compare A.json B.json
bench: $(STAMP) $(JS_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) tests/js/node_modules .pytest_cache .mypy_cache .ruff_cache

# Sign-in tests (tests/auth): a real Secret Service (gnome-keyring in dbus-run-session) and the
# de_DE / ja_JP locales for the SRP locale tests; Xvfb for the X11 idle back-end (tests/client).
# Best effort, only as root with apt-get; without them those tests skip and say why.
.PHONY: auth-test-deps
test: auth-test-deps
auth-test-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  command -v gnome-keyring-daemon >/dev/null 2>&1 || apt-get install -y -q gnome-keyring dbus-x11 >/dev/null 2>&1 \
	    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q gnome-keyring dbus-x11 >/dev/null 2>&1; } || true; \
	  command -v Xvfb >/dev/null 2>&1 || apt-get install -y -q xvfb >/dev/null 2>&1 || true; \
	  if command -v localedef >/dev/null 2>&1; then \
	    locale -a 2>/dev/null | grep -qi '^de_DE.utf' || localedef -i de_DE -f UTF-8 de_DE.UTF-8 2>/dev/null || true; \
	    locale -a 2>/dev/null | grep -qi '^ja_JP.utf' || localedef -i ja_JP -f UTF-8 ja_JP.UTF-8 2>/dev/null || true; \
	  fi; \
	fi
