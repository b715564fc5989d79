# takehome: the two quickstart commands are `make demo` and `make test`.
# Both do their own set-up: a virtualenv with the pinned Python dependencies,
# a Docker engine (installed and started when root on Debian and `docker info` fails),
# and the sandbox image (built offline from a local wheel cache).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TAKEHOME := $(VENV)/bin/takehome
OUT ?= out/demo

.PHONY: setup engine image demo test test-fast lint browser bench validity clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	bash sandbox/scripts/ensure_venv.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

engine:
	bash sandbox/scripts/ensure_docker.sh

image: setup engine
	$(TAKEHOME) sandbox build

browser:
	bash sandbox/scripts/ensure_chromium.sh

demo: image
	$(TAKEHOME) demo --output $(OUT)

test: image browser
	bash sandbox/scripts/ensure_redis.sh
	bash sandbox/scripts/ensure_runsc.sh
	$(PY) -m pytest -ra

test-fast: setup
	$(PY) -m pytest -ra -m "not docker and not browser"

lint: setup
	$(VENV)/bin/ruff check contracts harness graders sandbox tests bench

bench: image
	$(PY) bench/run_benchmarks.py --serial-comparison

# Agreement with expert reviewers on the real-submission corpus (docs/validity.md); no Docker.
validity: setup
	$(PY) bench/validity.py

clean:
	rm -rf $(VENV) out .pytest_cache
