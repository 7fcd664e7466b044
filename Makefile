# One command each on a fresh machine: `make demo` runs the pipeline, `make test` runs the checks.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint contact-sheet browser screenshots

install: $(STAMP) browser

# Re-runs only when pyproject.toml, setup.py or the C extension's source changes, so `make install` is idempotent and cheap.
$(STAMP): pyproject.toml setup.py pipeline/dedup/_normalise.c
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Stage commands in dvc.yaml call `python`: the activated environment's, so `dvc exp run --queue/--temp`
# (which copy the repo without .venv) find it too.
ACTIVATE := . $(VENV)/bin/activate &&

demo: install
	$(ACTIVATE) dvc repro
	@$(ACTIVATE) python -m pipeline.digest --metrics metrics --reports reports

lint: install
	$(VENV)/bin/ruff check .

test: lint
	$(ACTIVATE) python -m pytest -q

contact-sheet: install
	$(PY) -m pip install -q -e '.[docs]'
	$(PY) -m docs.contact_sheet

# The browser tests and docs/screenshots.py drive Debian's Chromium through Playwright (Playwright's own
# browser download needs the internet). As root, install it; otherwise say how, in one line.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "browser tests need Chromium: run 'sudo apt-get install -y chromium' (then make test)"; fi

# docs/*_report.png: each report rendered by Chromium, served by the review server (so its buttons show)
screenshots: install
	$(PY) -m docs.screenshots
