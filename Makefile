# Beacon: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app

.PHONY: run test worker venv assets

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when requirements.txt changes.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

# Browser libraries come from the npm registry (package.json and its lock file);
# their dist files are copied to where the pages load them.
VENDOR := app/web/static/vendor
VENDOR_FILES := node_modules/socket.io-client/dist/socket.io.esm.min.js \
	node_modules/socket.io-client/dist/socket.io.esm.min.js.map \
	node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map \
	node_modules/marked/lib/marked.esm.js node_modules/marked/lib/marked.esm.js.map \
	node_modules/dompurify/dist/purify.es.mjs node_modules/dompurify/dist/purify.es.mjs.map \
	node_modules/tus-js-client/dist/tus.min.js node_modules/tus-js-client/dist/tus.min.js.map
assets:
	@if ! command -v npm >/dev/null; then \
		echo "npm is missing: the API works, the browser pages need it (apt-get install npm)"; \
	elif [ -f package-lock.json ]; then \
		if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
			npm ci --no-audit --no-fund --loglevel=error; \
		fi; \
		mkdir -p $(VENDOR); \
		cp $(VENDOR_FILES) $(VENDOR)/; \
	fi

run: venv assets
	$(BIN)/flask db upgrade
	$(BIN)/flask users ensure-admin
	$(BIN)/python app.py

test: venv assets
	$(BIN)/python -m pytest

worker: venv
	$(BIN)/flask worker
