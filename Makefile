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

.PHONY: demo test lint bench swipl service-packages deps clean

swipl:
	@command -v swipl >/dev/null 2>&1 || { \
	  echo "installing SWI-Prolog (swi-prolog-nox)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq swi-prolog-nox; }

# The service tests run a real MariaDB server and a real headless Chromium, both Debian's
# (selenium drives /usr/bin/chromedriver; nothing downloads a browser or a driver).
service-packages:
	@missing=""; \
	[ -x /usr/sbin/mariadbd ] || command -v mariadbd >/dev/null 2>&1 || missing="$$missing mariadb-server"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/chromedriver ] || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned first: on the reference machine that version is a local CPU wheel,
# and the ppo extra's range admits it, so pip does not pull the CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[ppo,cpsat,tune,service,dev]"
	touch $(STAMP)

deps: swipl $(STAMP)

demo: deps
	mkdir -p $(OUT)
	$(BIN)/rrl schedule --scenario scenarios/extruders.yaml --rule edd --gantt $(OUT)/extruders_gantt.png
	$(BIN)/rrl train --goal tardiness --scenario scenarios/extruders.yaml --episodes 450 --seed 0 --out $(OUT)/policy-tardiness
	$(BIN)/rrl consult --policy $(OUT)/policy-tardiness --scenario scenarios/extruders.yaml --event rush_order --seed 1 --gantt $(OUT)/rush_order_strip.png
	@echo
	@echo "The repair service with its live Gantt page (docs/service.md):"
	@echo "  $(BIN)/rrl db import --db sqlite:///$(OUT)/rrl.db scenarios/extruders.yaml"
	@echo "  $(BIN)/rrl serve --db sqlite:///$(OUT)/rrl.db --policy $(OUT)/policy-tardiness   # then open http://127.0.0.1:8000/"

test: deps service-packages
	$(BIN)/python -m pytest -q

lint: deps
	$(BIN)/ruff check rrl tests benchmarks
	$(BIN)/mypy

bench: deps
	$(BIN)/python benchmarks/bench_domain.py
	$(BIN)/python benchmarks/bench_tilde.py
	$(BIN)/python benchmarks/bench_repair.py
	$(BIN)/python benchmarks/bench_ppo.py
	$(BIN)/python benchmarks/bench_service.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
