# Two commands set everything up on a fresh Debian machine (see README):
#   make demo   installs what is missing, then runs the main job
#   make test   installs what is missing, then runs the test suite
# Every step is idempotent: a stamp file remembers the Python install per pyproject.toml.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rrl-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
OUT ?= out

.PHONY: demo test lint bench swipl deps clean

swipl:
	@command -v swipl >/dev/null 2>&1 || { \
	  echo "installing SWI-Prolog (swi-prolog-nox)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq swi-prolog-nox; }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned first: on the reference machine that version is a local CPU wheel,
# and the ppo extra's range admits it, so pip does not pull the CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[ppo,cpsat,tune,dev]"
	touch $(STAMP)

deps: swipl $(STAMP)

demo: deps
	mkdir -p $(OUT)
	$(BIN)/rrl schedule --scenario scenarios/extruders.yaml --rule edd --gantt $(OUT)/extruders_gantt.png
	$(BIN)/rrl train --goal tardiness --scenario scenarios/extruders.yaml --episodes 450 --seed 0 --out $(OUT)/policy-tardiness
	$(BIN)/rrl consult --policy $(OUT)/policy-tardiness --scenario scenarios/extruders.yaml --event rush_order --seed 1 --gantt $(OUT)/rush_order_strip.png

test: deps
	$(BIN)/python -m pytest -q

lint: deps
	$(BIN)/ruff check rrl tests benchmarks
	$(BIN)/mypy

bench: deps
	$(BIN)/python benchmarks/bench_domain.py
	$(BIN)/python benchmarks/bench_tilde.py
	$(BIN)/python benchmarks/bench_repair.py
	$(BIN)/python benchmarks/bench_ppo.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
