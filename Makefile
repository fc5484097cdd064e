# The two commands: `make run` (set up and start the hub on its embedded default)
# and `make test` (set up and run every test). `.ci/run` calls `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint demo bench bench-peers fuzz clean translations

$(STAMP): setup.cfg pyproject.toml
	bash scripts/system-packages.sh runtime
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# phonenumberslite and phonenumbers both install the `phonenumbers` module: keep one.
	$(PY) -m pip uninstall -q -y phonenumbers 2>/dev/null || true
	$(PY) -m pip install -q -e '.[hub,postgres,test,bench]'
	touch $(STAMP)

run: $(STAMP)
	LIANFANG_PUBLIC_URL=http://$(HOST):$(PORT) $(VENV)/bin/lianfang-hub init --if-needed
	@echo "root key that screeners pin:"
	@$(VENV)/bin/lianfang-hub root-key
	@echo "admin console: http://$(HOST):$(PORT)/console/  API docs: http://$(HOST):$(PORT)/v1/docs"
	$(VENV)/bin/lianfang-hub serve --host $(HOST) --port $(PORT)

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: $(STAMP)
	bash scripts/system-packages.sh test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n 2 $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# A hub on its embedded default in a temp dir, three banks, signed feeds, a call screener.
demo: $(STAMP)
	$(PY) scripts/demo.py

# Benchmarks (issue 7): every figure with its target into bench/RESULTS.md + bench/chart.png.
# BENCH_SCALE=0.1 shrinks the sizes for a quick run.
bench: $(STAMP)
	$(PY) bench/run_all.py

# CrowdSec LAPI (Debian package, scripts/install-crowdsec.sh) next to our ingest, same run
bench-peers: $(STAMP)
	$(PY) bench/run_all.py --only peers

# Contract fuzzing (schemathesis) against a live hub: prints cases run and failures.
FUZZ_EXAMPLES ?= 120
fuzz: $(STAMP)
	LIANFANG_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -s -p no:cacheprovider \
	  tests/hub/test_fuzz_contract.py -k test_contract_fuzz_long

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf var build dist *.egg-info .pytest_cache

# Console translations (hub/translations): re-extract the English source strings, merge
# them into the Chinese catalog (translate the new ones in the .po), and compile the .mo.
# tests/console/test_translations.py fails while a string is untranslated or the .mo is stale.
translations: $(STAMP)
	mkdir -p var
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l --no-location --sort-output \
	  --project Lianfang --version 0.1.0 -o var/messages.pot .
	$(VENV)/bin/pybabel update -i var/messages.pot -d hub/translations \
	  --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d hub/translations --statistics
