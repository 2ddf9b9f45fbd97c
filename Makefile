# The README's two commands: `make demo` and `make test`. Both run `make setup` first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup demo test lint unit lab-up lab-down bench

setup:
	@scripts/setup

lint: setup
	$(BIN)/yamllint -s .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/ansible-lint --profile production --offline

# Whole suite: lint, unit tests, lab integration (lab up, Ansible, pyinfra, testinfra over SSH, lab down).
test: lint
	$(BIN)/pytest tests -p no:cacheprovider --durations=25 $(PYTEST_ARGS)

# The main job on the built-in lab: boot, apply the baseline, verify, write the report.
demo: setup
	scripts/demo

lab-up: setup
	scripts/lab up

lab-down:
	scripts/lab down

bench: setup
	scripts/bench-lab
