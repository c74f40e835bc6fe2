# The two set-up commands of the README: `make demo` and `make test`. Each installs what it needs first.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

# requirements.lock pins every dependency (`make lock` writes it again from pyproject.toml's ranges)
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps -e '.[dev]'
	touch $(STAMP)

lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e '.[dev]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^chatsales' > requirements.lock
	rm -rf .venv-lock

.PHONY: install lock browser demo test bench
install: $(STAMP)

# Debian's Chromium and ChromeDriver drive the browser tests (dashboard and Dagster UI) headless.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

demo: $(STAMP)
	$(VENV)/bin/chatsales demo

test: $(STAMP) browser
	$(VENV)/bin/python -m pytest

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_nightly.py --cases 1x90 1x365 1x730 10x90 10x365 10x730 30x365 --backfills
	$(VENV)/bin/python benchmarks/bench_period.py --scale 1 --days 90
	$(VENV)/bin/python benchmarks/bench_period.py --scale 10 --days 365 --direct --chunk-days 31 --repeat 2
	$(VENV)/bin/python benchmarks/bench_attribution.py --orders 1000000 --messages 10000000
	$(VENV)/bin/python benchmarks/bench_attribution.py --orders 5000000 --messages 50000000 --repeat 1
