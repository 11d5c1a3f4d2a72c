# Two commands for a fresh machine: `make demo` and `make test`. Each builds .venv when missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The avatar tests' pinned glTF validator and three.js (npm ci, when npm is there).
JS := tests/js
JS_STAMP := $(JS)/node_modules/.package-lock.json

.PHONY: demo test venv clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.lock
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

$(JS_STAMP): $(JS)/package.json $(JS)/package-lock.json
	@if command -v npm >/dev/null; then cd $(JS) && npm ci --no-audit --no-fund; \
	else echo "npm not found: the avatar's glTF-validator and browser tests will skip"; fi

demo: $(STAMP)
	$(BIN)/python -m likeness.demo --out demo-output

test: $(STAMP) $(JS_STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) demo-output
