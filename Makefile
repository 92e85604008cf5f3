# The commands the README names. Everything runs inside the workspace environment (scripts/env.sh).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
ENV := source scripts/env.sh &&
SETUP_DONE := .venv/.diwa-stamps/setup-complete
SKILL ?= move_slider_left
SKILLS ?= $(SKILL)
SEED ?= 0

.PHONY: setup build test lint bench demo demo-loop reproduce clean

## setup: virtualenv, torch, ROS 2 Jazzy (system or wheels), dependencies, colcon build (idempotent)
setup:
	scripts/setup.sh

$(SETUP_DONE):
	scripts/setup.sh

## build: colcon build of all packages
build: $(SETUP_DONE)
	$(ENV) scripts/build.sh

## test: the whole test suite (runs setup first when needed)
test: $(SETUP_DONE)
	$(ENV) scripts/build.sh >/dev/null
	$(ENV) python -m pytest $(PYTEST_ARGS)

## demo: the gain through ROS on the simulator, from the released models (SKILL=move_slider_left by default, SKILLS=all)
demo: $(SETUP_DONE)
	$(ENV) scripts/build.sh >/dev/null
	$(ENV) python -m diwa_bringup.demo --skill $(SKILLS) --workdir artifacts/demo

## demo-loop: every stage of the loop through ROS at small size (shows the loop, not the gain)
demo-loop: $(SETUP_DONE)
	$(ENV) scripts/build.sh >/dev/null
	$(ENV) python -m diwa_bringup.demo --loop --skill $(SKILLS) --workdir artifacts/demo

## reproduce: the full pipeline from nothing to the released models and their figures (ROUTE=state; camera: the run and its report)
ROUTE ?= state
reproduce: $(SETUP_DONE)
	$(ENV) scripts/reproduce.sh $(ROUTE)

## lint: ruff over every Python file of the workspace
lint: $(SETUP_DONE)
	$(ENV) ruff check . && ruff format --check .

## bench: speed benchmarks; each prints one JSON object on its last line
bench: $(SETUP_DONE)
	$(ENV) scripts/bench.sh

clean:
	rm -rf build install log
