# Two commands on a fresh clone: `make run` and `make test`. Each sets itself up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JS_STAMP := tests/js/node_modules/.installed

.PHONY: run test test-fast bench clean

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

test: $(STAMP) $(JS_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -rs $(PYTEST_ARGS)

bench: $(STAMP) $(JS_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) tests/js/node_modules .pytest_cache
