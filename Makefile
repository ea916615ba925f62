# Self-documenting: `make` or `make help` lists the targets (the `## ` comment above each).
# Needs only python3 (>= 3.11), pip, git and make: uv is bootstrapped into .tools/ from PyPI.

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.installed
IMAGE ?= mlops-template:latest

# Every recipe sees the project's environment first, so dvc.yaml's `python -m ...` is the venv's.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export UV_PYTHON_DOWNLOADS := never
# Installed packages are compiled to bytecode once, here: otherwise every process (the API, each DVC stage,
# each test subprocess) compiles what it imports again, and the API's cold start doubles.
export UV_COMPILE_BYTECODE := 1
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.DEFAULT_GOAL := help
.PHONY: help install system-deps run data repro metrics test test-fast lint format bench bench-serve bench-peers bench-page screenshots bench-monitor bench-tune bench-compare loop-plot image rename clean

## Show this help
help:
	@awk '/^## /{doc=substr($$0,4); next} /^[a-zA-Z_-]+:/{if (doc) {split($$0,t,":"); printf "  \033[1m%-10s\033[0m %s\n", t[1], doc}; doc=""}' $(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	@touch $@

## Create the environment (.venv) from uv.lock, if missing or out of date
install: $(STAMP)

## Set everything up, fetch the default data, reproduce the pipeline, print the metrics
run: install data repro metrics

## Fetch data/ from the seed remote committed in .dvc/storage (offline)
data: install
	dvc pull data.dvc

## Run `dvc repro`: only the stages whose code, params or data changed
repro: install
	dvc repro

## Print the test metrics of the current model against the baseline
metrics: install
	@mlops-template metrics

## System tools the slow tier needs (Docker engine, debootstrap, promtool, wrk): installed as root if missing
system-deps:
	bash scripts/system-deps.sh

## Set everything up and run lint plus the whole test suite (what CI runs)
test: install system-deps bench-peers lint
	pytest -m "slow or not slow"

## The fast tier only (no DVC pipeline runs): the inner loop while you code
test-fast: install
	pytest

## ruff (lint + format check), mypy --strict on src/, and the import layers (lint-imports)
lint: install
	ruff check .
	ruff format --check .
	mypy
	lint-imports --no-cache
	actionlint
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	zizmor --offline --min-severity medium --quiet .github/
	hadolint Dockerfile

## Rewrite files with ruff's formatter and safe fixes
format: install
	ruff check --fix .
	ruff format .

## Benchmarks: dvc repro on the default data and on ~1M rows, and the no-op repro
bench: install
	python benchmarks/bench_pipeline.py

## Build the API image (IMAGE, BASE_IMAGE): wheels fetched on the host first, then a build with no network
image: install
	python scripts/image.py --tag $(IMAGE) $(if $(BASE_IMAGE),--base-image $(BASE_IMAGE))

## Benchmark the API against BentoML, `mlflow models serve` and an empty endpoint (after `make run`)
bench-serve: install system-deps bench-peers
	python benchmarks/bench_serve.py

## The peers' own pinned venvs (.tools/peers/, from benchmarks/peers/*/requirements.txt; not in uv.lock)
bench-peers: install
	python benchmarks/peers/environments.py

## The page's first screen in chromium against the same server's emptiest page (after `make run`; target < 1 s)
bench-page: install system-deps
	python benchmarks/bench_page.py

## Regenerate docs/page-*.png: the page's browser flows, their screenshots copied to docs/
screenshots: install system-deps
	PAGE_SCREENSHOTS_DIR=$(CURDIR)/docs pytest -m browser tests/serving/test_page_browser.py

## compare: three models (champion, a candidate DVC experiment, baseline; target < 30 s) and --ablate (< 5 min; after `make run`)
bench-compare: install
	python benchmarks/bench_compare.py

## The monitor's detection table over the simulator's drift scenarios (delay, kind, false alarms; after `make run`)
bench-monitor: install
	python benchmarks/bench_monitor.py

## `tune` on the default data: 50 trials with --jobs 2, target under 10 minutes (after `make run`)
bench-tune: install
	python benchmarks/bench_tune.py

## Make the template yours: make rename NAME=acme-risk [PACKAGE=acme_risk] [DRY_RUN=1] (needs no install)
rename:
	PYTHONPATH=src $(PYTHON) -m mlops_template.tools.init --name "$(NAME)" $(if $(PACKAGE),--package "$(PACKAGE)") $(if $(DRY_RUN),--dry-run)

## The closed loop over 8 simulated weeks of the new fraud pattern (~4 min): regenerate docs/loop.svg
loop-plot: install
	rm -rf build/loop
	mlops-template simulate --weeks 8 --scenario new_fraud_pattern --start-week 3 --last-week 2026-W40 --workdir build/loop
	cp build/loop/simulation/loop.svg docs/loop.svg
	cp build/loop/simulation/timeline.json docs/loop-timeline.json

## Remove the environment, pipeline outputs and the local MLflow store (not data/ or .dvc/cache)
clean:
	rm -rf $(VENV) $(TOOLS) artifacts models mlruns.db mlartifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis
