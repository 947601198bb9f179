# Beacon: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app

.PHONY: run test worker venv dev-venv assets lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The venv installs the locked trees (every package, indirect ones included, at the version
# and hashes CI tested), and again only when a lock file changes. requirements.txt (run
# time) and requirements-dev.txt (tests, benchmarks) list what the project asks for.
$(VENV)/.installed: requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	touch $@

venv: $(VENV)/.installed

dev-venv: $(VENV)/.installed-dev

# After changing requirements.txt or requirements-dev.txt: write both lock files again.
# Versions already locked stay unless a requirement moves them; the run-time tree is the
# development tree's subset, at the same versions.
lock: | $(BIN)/python
	$(BIN)/python -m pip show --quiet uv >/dev/null 2>&1 || $(BIN)/python -m pip install --quiet uv==0.13.8
	$(BIN)/uv pip compile --quiet --python $(BIN)/python --generate-hashes --custom-compile-command "make lock" \
		requirements-dev.txt -o requirements-dev.lock
	$(BIN)/uv pip compile --quiet --python $(BIN)/python --generate-hashes --custom-compile-command "make lock" \
		-c requirements-dev.lock requirements.txt -o requirements.lock

# Browser libraries come from the npm registry (package.json and its lock file);
# their dist files are copied to where the pages load them.
VENDOR := app/web/static/vendor
VENDOR_FILES := node_modules/socket.io-client/dist/socket.io.esm.min.js \
	node_modules/socket.io-client/dist/socket.io.esm.min.js.map \
	node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map \
	node_modules/marked/lib/marked.esm.js node_modules/marked/lib/marked.esm.js.map \
	node_modules/dompurify/dist/purify.es.mjs node_modules/dompurify/dist/purify.es.mjs.map \
	node_modules/react/umd/react.production.min.js node_modules/react-dom/umd/react-dom.production.min.js \
	node_modules/graphiql/dist/index.umd.js node_modules/graphiql/dist/index.umd.js.map \
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
		mv $(VENDOR)/index.umd.js $(VENDOR)/graphiql.umd.js; mv $(VENDOR)/index.umd.js.map $(VENDOR)/graphiql.umd.js.map; \
		cp node_modules/graphiql/dist/style.css $(VENDOR)/graphiql.css; \
	fi

run: venv assets
	$(BIN)/flask db upgrade
	$(BIN)/flask users ensure-admin
	$(BIN)/python app.py

# Two workers, one file each at a time (module fixtures stay in one process): the suite
# waits on servers, sockets and browsers as much as it computes, so two share two cores well.
TEST_WORKERS ?= 2
test: dev-venv assets
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

worker: venv
	$(BIN)/flask worker
