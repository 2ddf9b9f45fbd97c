# The README's two commands: `make demo` and `make test`. Both run `make setup` first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup demo test test-extended test-trixie lint lint-tools unit lab-up lab-down bench

setup:
	@scripts/setup

lint: setup
	@$(MAKE) --no-print-directory lint-tools

lint-tools:
	$(BIN)/yamllint -s .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/ansible-lint --profile production --offline

# The suite CI runs: lint, the tests that need no lab, and the lab integration tests (lab up, the demo, the suites that
# build on the hosts it hardened, the drifts, pyinfra's parity on the twins with the Debian 13 hosts joining the lab
# beside it (first apply, in-place upgrade, second apply, drill), the Debian 13 suites, lab down); the lab tests
# marked `extended` run in `make test-extended`.
# The lab tests run in the foreground; lint and the other tests run beside them in a process group of their own (they mostly wait on simulated devices and timeouts, the lab mostly computes): their output is
# kept in results/test-beside.log and shown when both are done, followed by the lab tests' failures again (their
# whole output is in results/test-lab.log), so that the last lines name every failure. Ctrl-C or SIGTERM stops both.
# They start once the lab session's demo has finished (results/.demo-done, written by tests/lab/conftest.py) or the
# lab tests have ended (results/.lab-done): the demo's first apply keeps both cores busy, the suites after it leave
# a good part of them idle (they wait on hosts), which lint and these tests then use.
# LAB_DEADLINE (seconds from the lab session's start) keeps the lab session below CI's limit (5400 s; setup on a
# clean clone and the summary after the lab session took about 70 s there): a lab test starts only when what it may take (its declared cost, devtools/lab/deadline.py)
# ends before the deadline; else it fails at once ("not run: ... deadline") and the run ends with its summary
# instead of being killed.
# `set -m` starts them as a job of their own: without it, bash starts a background command with SIGINT ignored,
# which its children inherit, and the tests of Ctrl-C handling would see no Ctrl-C.
BESIDE_LOG := results/test-beside.log
LAB_LOG := results/test-lab.log
DEMO_DONE := results/.demo-done
LAB_DONE := results/.lab-done
LAB_DEADLINE ?= 5150
# make runs every recipe line that names $(MAKE) even under -n: named through this variable, `make -n test` prints
# the recipe instead of running the suite.
LINT_TOOLS := $(MAKE) --no-print-directory lint-tools
test: setup
	@mkdir -p results; rm -f $(DEMO_DONE) $(LAB_DONE); \
	set -m; bash -c 'while [ ! -e $(DEMO_DONE) ] && [ ! -e $(LAB_DONE) ]; do sleep 5; done; \
	  $(LINT_TOOLS) && $(BIN)/pytest tests -m "not lab" -p no:cacheprovider \
	  --durations=15 $(PYTEST_ARGS)' >$(BESIDE_LOG) 2>&1 </dev/null & beside=$$!; set +m; \
	trap 'kill -TERM -- -$$beside 2>/dev/null; wait $$beside; echo "make test: stopped; lint and the tests beside the lab were stopped too ($(BESIDE_LOG))" >&2; exit 130' INT TERM; \
	echo "make test: lint and the tests that need no lab run beside the lab tests once the demo has finished; their output: $(BESIDE_LOG)"; \
	BASELINE_LAB_DEADLINE=$(LAB_DEADLINE) $(BIN)/pytest tests -m "lab and not extended" -p no:cacheprovider \
	  --durations=25 -rfEs -o console_output_style=times $(PYTEST_ARGS) 2>&1 | tee $(LAB_LOG); \
	lab=$${PIPESTATUS[0]}; touch $(LAB_DONE); \
	wait $$beside; beside_rc=$$?; trap - INT TERM; \
	echo "==== lint and the tests that need no lab ($(BESIDE_LOG)) ===="; cat $(BESIDE_LOG); \
	echo "==== the lab tests' summary again ($(LAB_LOG)) ===="; \
	grep -E '^(FAILED|ERROR) ' $(LAB_LOG) | cut -c1-240; tail -n 1 $(LAB_LOG); \
	echo "make test: lab tests exit $$lab; lint and the tests that need no lab exit $$beside_rc"; \
	[ $$lab -eq 0 ] && [ $$beside_rc -eq 0 ]

# The lab tests `make test` leaves out (marked `extended`), in a lab session of their own with the demo as its setup:
# the control-tag runs (each control ID's tag applied alone) and pyinfra's lab tests beyond the parity proof (both
# engines on one host, pyinfra's lockout guard, its backup and PKI parts); the parity proof on the twins
# (tests/lab/test_engine_parity.py) is part of `make test`. With them `make test` (61–83 min here on two cores,
# depending on the machine's day) would pass CI's 90-minute limit.
test-extended: setup
	$(BIN)/pytest tests/lab -m "lab and (extended or lab_teardown)" -p no:cacheprovider \
	  --durations=25 -rfEs -o console_output_style=times $(PYTEST_ARGS)

# Debian 13 beside Debian 12 alone (tests/lab/test_trixie.py, also part of `make test`): a lab session of its own,
# with the demo as its setup.
test-trixie: setup
	$(BIN)/pytest tests/lab/test_trixie.py tests/lab/test_lab.py::test_down_leaves_nothing_behind -m lab \
	  -p no:cacheprovider --durations=10 -rfEs $(PYTEST_ARGS)

# The main job on the built-in lab: boot, apply the baseline, verify, write the report.
demo: setup
	scripts/demo

lab-up: setup
	scripts/lab up

lab-down:
	scripts/lab down

bench: setup
	scripts/bench-lab
