# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SAMPLE ?= sample
VEHICLES ?= 200
# The sample fleet drives yesterday (UTC), so its positions are inside their 7-day retention
# when the report is made (GNU date, else BSD date, else the generator's fixed default).
DEMO_START ?= $(shell date -u -d '1 day ago' +%F 2>/dev/null || date -u -v-1d +%F 2>/dev/null)

.PHONY: demo test test-fast lint bench install dev clean docs sysdeps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The sources are compiled once here: an editable install has no bytecode, and where
# PYTHONDONTWRITEBYTECODE is set every command would compile ~0.4 s of modules again.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/python -m compileall -q src/onshore >/dev/null
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/python -m compileall -q src/onshore >/dev/null
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/onshore demo-data $(SAMPLE) --vehicles $(VEHICLES) --days 1 --seed 7 --force \
		$(if $(DEMO_START),--start $(DEMO_START))
	$(BIN)/onshore scan $(SAMPLE)/telemetry.parquet --areas $(SAMPLE)/areas.geojson \
		--out $(SAMPLE)/telemetry.labelled.parquet
	$(BIN)/onshore scan $(SAMPLE)/charging_sessions.parquet $(SAMPLE)/charging_stations_hourly.parquet \
		$(SAMPLE)/owners.csv --json > $(SAMPLE)/assessments.json
	rm -rf $(SAMPLE)/onshore-data $(SAMPLE)/risk-assessment
	mkdir -p -m 0700 $(SAMPLE)/onshore-data && cp examples/config.yaml $(SAMPLE)/onshore-data/config.yaml
	$(BIN)/onshore store put $(SAMPLE)/telemetry.parquet --dataset telemetry \
		--areas $(SAMPLE)/areas.geojson --purpose national_monitoring --home $(SAMPLE)/onshore-data
	$(BIN)/onshore store put $(SAMPLE)/owners.csv --dataset owners --purpose maintenance \
		--home $(SAMPLE)/onshore-data
	$(BIN)/onshore store put $(SAMPLE)/charging_sessions.parquet --dataset charging_sessions \
		--purpose maintenance --home $(SAMPLE)/onshore-data
	$(BIN)/onshore ledger verify --home $(SAMPLE)/onshore-data
	$(BIN)/onshore report risk --home $(SAMPLE)/onshore-data --format pdf \
		--out $(SAMPLE)/risk-assessment
	$(BIN)/onshore report --home $(SAMPLE)/onshore-data --lang zh --format html \
		--out $(SAMPLE)/annual-report.zh.html
	$(BIN)/onshore report --home $(SAMPLE)/onshore-data --lang en --format md \
		--out $(SAMPLE)/annual-report.en.md
	$(BIN)/onshore report verify $(SAMPLE)/annual-report.zh.html --home $(SAMPLE)/onshore-data
	$(BIN)/onshore report --home $(SAMPLE)/onshore-data --lang zh --format pdf \
		--out $(SAMPLE)/annual-report.zh.pdf
	$(BIN)/onshore report --home $(SAMPLE)/onshore-data --lang en --format pdf \
		--out $(SAMPLE)/annual-report.en.pdf
	$(BIN)/onshore report verify $(SAMPLE)/annual-report.zh.pdf --home $(SAMPLE)/onshore-data
	$(BIN)/onshore notice --home $(SAMPLE)/onshore-data --lang zh --out $(SAMPLE)/notice.zh.html
	@echo
	@echo "Labelled telemetry: $(SAMPLE)/telemetry.labelled.parquet"
	@echo "Assessments of the other files (JSON): $(SAMPLE)/assessments.json"
	@echo "Data home (lake, metadata, ledger): $(SAMPLE)/onshore-data  (onshore store ls --home …)"
	@echo "Annual report: $(SAMPLE)/annual-report.zh.html (and .en.md); privacy notice: $(SAMPLE)/notice.zh.html"
	@echo "Risk assessment of the important data (Art. 10, zh and en PDF): $(SAMPLE)/risk-assessment/"

# The whole suite, integration tests included (they need PostgreSQL and MQTT: see .ci/run).
# pytest's exit code 5 (nothing collected) is not a failure.
test: dev sysdeps
	$(BIN)/python -m pytest || [ $$? -eq 5 ]

test-fast: dev
	$(BIN)/python -m pytest -m "not integration and not slow and not spark" || [ $$? -eq 5 ]

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/python -m mypy --strict src

docs: install
	$(BIN)/python scripts/cli_reference.py --write docs/cli.md
	$(BIN)/python scripts/api_reference.py --write docs/api.md

bench: dev
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/geofence.py
	$(BIN)/python bench/scan_job.py --rows 1000000

# Debian packages the PDF report needs: a CJK font (Chinese typesetting) and poppler's pdftoppm
# (the tests look at the pages as images), and Chromium for the console's browser tests
# (tests/console). Best effort: without them those tests skip, HTML works.
sysdeps:
	@if ! fc-list :lang=zh 2>/dev/null | grep -q . || ! command -v pdftoppm >/dev/null 2>&1 || \
	    ! [ -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    echo "installing fonts-wqy-zenhei poppler-utils chromium (Debian)"; \
	    $$SUDO apt-get install -y -q fonts-wqy-zenhei poppler-utils chromium >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -q >/dev/null 2>&1 && \
	      $$SUDO apt-get install -y -q fonts-wqy-zenhei poppler-utils chromium >/dev/null 2>&1; } || \
	    echo "warning: could not install fonts-wqy-zenhei poppler-utils chromium: PDF and console tests will skip"; \
	  else \
	    echo "warning: no apt-get: install a CJK font and poppler-utils for PDF reports"; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) $(SAMPLE) .pytest_cache .hypothesis
