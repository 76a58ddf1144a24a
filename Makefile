# mlstarter: the front door. Every target is a thin wrapper over the `mlstarter` command,
# so without make (e.g. on Windows) run `.venv/bin/mlstarter <target> ...` instead.
#
#   make train PROJECT=credit_risk [ARGS="--set model.kind=logistic --dry-run"] [CONFIG=best_config.json]
#   make train PROJECT=medical_imaging NPROC=2          (several processes with torchrun: medical_imaging, gan)
#   make tune PROJECT=credit_risk [TRIALS=50] [ARGS="--storage postgresql://..."]
#   make evaluate PROJECT=credit_risk [RUN=<run id>]
#   make predict PROJECT=credit_risk INPUT=applicants.csv OUTPUT=scores.csv [RUN=<run id>]
#   make predict PROJECT=gan OUTPUT=samples/ ARGS="--n 64 --class 3 --seed 0"   (a generator takes no input)
#   make examples PROJECT=medical_imaging               (example input files: runs/medical_imaging-examples/)
#   make explore PROJECT=credit_risk [ARGS="--data applicants.csv"]   (a data report: runs/credit_risk-explore/)
#   make notebook PROJECT=credit_risk                  (the walkthrough notebook in JupyterLab: pip install -e '.[notebook]')
#   make serve PROJECT=credit_risk [RUN=<run id>] [PORT=8000] [WORKERS=2] [ARGS="--host 0.0.0.0"]
#   make promote PROJECT=credit_risk RUN=<run id> [ARGS=--force]   (the run make serve uses by default)
#   make monitor PROJECT=credit_risk [SINCE=7d]         (drift report from the prediction log; mlstarter monitor exits 3 at "act")
#   make simulate-drift PROJECT=credit_risk [PORT=8000] (shifted traffic to a running server)
#   make bench-serve PROJECT=credit_risk [ARGS="--seconds 5 --workers 2"]
#   make bench-page PROJECT=credit_risk                 (the page in Chromium: click-to-result time, projects/<p>/page.png)
#   make fuzz PROJECT=credit_risk [SECONDS=600]         (schemathesis, every check, against a served run)
#   make setup [TORCH=auto|cpu|cuda]                   (auto: the CPU build of PyTorch on Linux without an NVIDIA driver)

PROJECT ?=
TEST_WORKERS ?= auto
FROM ?=
RUN ?=
INPUT ?=
OUTPUT ?=
PORT ?= 8000
WORKERS ?= 1
NPROC ?= 1
TRIALS ?= 50
SECONDS ?= 600
CONFIG ?=
SINCE ?=
ARGS ?=
PYTHON ?= python3
TORCH ?= auto

VENV := .venv
BIN := $(VENV)/bin
# The set-up runs again only when a dependency file changes (stamp keyed on pyproject.toml and the lock).
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help setup lock train tune evaluate predict examples explore notebook serve promote monitor simulate-drift test lint bench bench-serve bench-page bench-predict bench-monitor fuzz new list clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) src/mlstarter/bootstrap.py --venv $(VENV) --torch $(TORCH)
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "Set-up done: $(VENV) holds mlstarter and its dependencies, at the versions in requirements.lock."

setup: $(STAMP) ## create .venv: checks, the PyTorch build for this machine (TORCH=auto|cpu|cuda), the locked packages

lock: $(STAMP) ## refresh requirements.lock after adding or changing a dependency in pyproject.toml (needs PyPI)
	$(BIN)/python src/mlstarter/bootstrap.py --lock

train: $(STAMP) ## train PROJECT (ARGS="--set key=value --dry-run --data file", CONFIG=file.json, NPROC=2)
	$(BIN)/mlstarter train $(if $(filter-out 1,$(NPROC)),--nproc $(NPROC)) $(PROJECT) $(if $(CONFIG),--config $(CONFIG)) $(ARGS)

tune: $(STAMP) ## search PROJECT's hyperparameters with Optuna for TRIALS trials; writes the best config
	$(if $(filter-out 1,$(NPROC)),$(error make tune runs one process per trial, so NPROC does not apply: to run trials side by side, start the same make tune in a second terminal))
	$(BIN)/mlstarter tune $(PROJECT) --trials $(TRIALS) $(if $(CONFIG),--config $(CONFIG)) $(ARGS)

evaluate: $(STAMP) ## evaluate the newest (or RUN=id) run of PROJECT on held-out data
	$(BIN)/mlstarter evaluate $(PROJECT) $(if $(RUN),--run $(RUN)) $(ARGS)

predict: $(STAMP) ## score the file INPUT with PROJECT's newest (or RUN=id) run; results to OUTPUT, bad rows beside it
	$(if $(OUTPUT),,$(error make predict needs OUTPUT=<file or folder> (and INPUT=<file or folder>, but for gan)))
	$(BIN)/mlstarter predict $(PROJECT) $(INPUT) $(OUTPUT) $(if $(RUN),--run $(RUN)) $(ARGS)

examples: $(STAMP) ## write example input files for PROJECT (own data for --data, make predict and the API) to runs/PROJECT-examples/
	$(BIN)/mlstarter examples $(PROJECT) $(ARGS)

explore: $(STAMP) ## write a data report of PROJECT's data (own data: ARGS="--data file") to runs/PROJECT-explore/
	$(BIN)/mlstarter explore $(PROJECT) $(ARGS)

notebook: $(STAMP) ## open PROJECT's walkthrough.ipynb in JupyterLab (from the notebook extra; says how to install it)
	$(BIN)/mlstarter notebook $(PROJECT)

serve: $(STAMP) ## serve the promoted (else newest, or RUN=id) run of PROJECT on 127.0.0.1:PORT; logs predictions
	$(BIN)/mlstarter serve $(PROJECT) $(if $(RUN),--run $(RUN)) --port $(PORT) --workers $(WORKERS) $(ARGS)

promote: $(STAMP) ## make RUN the run that make serve uses by default (ARGS=--force for a worse or dry run)
	$(if $(RUN),,$(error make promote needs RUN=<run id>: the runs are the folders in runs/$(PROJECT)/))
	$(BIN)/mlstarter promote $(PROJECT) $(RUN) $(ARGS)

monitor: $(STAMP) ## drift report of PROJECT's logged predictions (SINCE=7d) against its training data; exit 3 at "act"
	$(BIN)/mlstarter monitor $(PROJECT) $(if $(RUN),--run $(RUN)) $(if $(SINCE),--since $(SINCE)) $(ARGS)

simulate-drift: $(STAMP) ## send shifted traffic to PROJECT's server running on PORT, for make monitor to find
	$(BIN)/mlstarter simulate-drift $(PROJECT) --port $(PORT) $(ARGS)

test: $(STAMP) ## the full offline test suite (what CI runs), one worker per core (TEST_WORKERS=0: one at a time, in make's process)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile $(ARGS)

lint: $(STAMP) ## check style with ruff
	$(BIN)/ruff check src projects tests
	$(BIN)/ruff format --check src projects tests

bench: $(STAMP) ## full-size training and measurement of PROJECT (or all); results in bench/results/
	$(BIN)/mlstarter bench $(PROJECT) $(ARGS)

bench-serve: $(STAMP) ## load-test the served PROJECT at 1, 8 and 64 clients; results in bench/results/
	$(BIN)/mlstarter bench-serve $(PROJECT) $(if $(RUN),--run $(RUN)) $(ARGS)

bench-page: $(STAMP) ## the served PROJECT's page in Chromium: click-to-result time and projects/PROJECT/page.png
	$(BIN)/mlstarter bench-page $(PROJECT) $(if $(RUN),--run $(RUN))

bench-predict: $(STAMP) ## make predict on a large input for PROJECT: rows per second and peak memory; results in bench/results/
	$(BIN)/mlstarter bench-predict $(PROJECT) $(ARGS)

bench-monitor: $(STAMP) ## the monitor's false alarms (unshifted traffic) and detections (shifted) for PROJECT
	$(BIN)/mlstarter bench-monitor $(PROJECT) $(if $(RUN),--run $(RUN)) $(ARGS)

fuzz: $(STAMP) ## schemathesis with every check against PROJECT's served run for SECONDS (default 600); results in bench/results/
	$(BIN)/mlstarter fuzz $(PROJECT) $(if $(RUN),--run $(RUN)) --seconds $(SECONDS) $(ARGS)

new: $(STAMP) ## copy FROM into a new PROJECT: make new PROJECT=my_loans FROM=credit_risk
	$(BIN)/mlstarter new $(PROJECT) --from $(FROM)

list: $(STAMP) ## the projects, their datasets and whether each is available offline
	$(BIN)/mlstarter list

clean: ## remove caches and interrupted runs (keeps .venv, complete runs and downloads)
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache runs/*/.incomplete-*
