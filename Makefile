# The two commands of the README. Both set up everything first (scripts/bootstrap.sh is
# idempotent): system packages, the venv, the ROS 2 Jazzy wheels and our interface package.
.PHONY: demo test lint bench setup

VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(VENV)/bin/robodine up --time-scale 10 $(ARGS)

# Two workers (pytest-xdist), each with its own DDS domain, Redis and fleets; a test module
# stays on one worker, so its fleet starts once. `make test WORKERS=0` runs in one process.
WORKERS ?= 2

test: setup
	$(PY) -m pytest -q -rs --durations=15 -n $(WORKERS) --dist loadfile $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy orchestrator table_qr robot_nodes bench tests
	$(VENV)/bin/mypy --strict orchestrator/store orchestrator/dispatch orchestrator/ids.py

bench: setup
	$(PY) bench/intake.py
	$(PY) bench/dispatch.py
