# Every command a user needs; `make help` lists them. Targets install the environment on first use.
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PIP := $(PYTHON) -m pip
TORCH := torch==2.13.0
EXTRAS ?= train,export,serve,lambda,dvc,deploy,dev
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install train test test-fast lint lint-ship checkov stack format data repro params plots export serve predict lambda-invoke fuzz-api bench bench-train load-test lock clean

help: ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(VENV)/.installed ## create .venv with the pinned training + dev environment

$(VENV)/.installed: pyproject.toml constraints.txt
	test -d $(VENV) || python3 -m venv $(VENV)
	# torch first, pinned: an unpinned torch would pull gigabytes of CUDA wheels
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

train: install ## train the default model (pass overrides with ARGS="trainer.max_epochs=5")
	$(PYTHON) train.py $(ARGS)

test: install ## run the whole test suite (fast tests + the slow ones on the real model and data)
	$(PYTHON) -m pytest $(ARGS)

test-fast: install ## run the fast tests only (tiny random models, no downloads)
	$(PYTHON) -m pytest -m "not slow" $(ARGS)

lint: install ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

lint-ship: install ## lint what ships: Dockerfiles (hadolint), workflows (actionlint + shellcheck), Terraform (fmt)
	$(VENV)/bin/hadolint docker/*.Dockerfile
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/actionlint
	terraform fmt -check -recursive infra

checkov: ## security scan of infra/, docker/ and .github/ (checkov runs in its own venv, .venv-checkov)
	test -x .venv-checkov/bin/checkov || { python3 -m venv .venv-checkov && .venv-checkov/bin/pip install --quiet checkov==3.3.30; }
	.venv-checkov/bin/checkov --quiet --compact --skip-download --directory infra --framework terraform
	.venv-checkov/bin/checkov --quiet --compact --skip-download --directory docker --framework dockerfile
	.venv-checkov/bin/checkov --quiet --compact --skip-download --directory .github --framework github_actions

stack: ## the local stack: API + Prometheus + Grafana on 127.0.0.1 (needs Docker and models/text-classifier-onnx)
	docker compose -f docker/compose.yaml up --build

format: install ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

data: install ## data/raw (data.dvc) re-created offline from its pinned asset, then data/prepared (with S3: `dvc pull`)
	$(PYTHON) prepare.py $(ARGS)

repro: data ## the DVC pipeline: prepare → train → export → evaluate, running only what changed
	PATH="$(VENV)/bin:$$PATH" $(VENV)/bin/dvc repro $(ARGS)

params: install ## regenerate params.yaml from configs/ (as `dvc exp run -S` does); ARGS: Hydra overrides
	$(PYTHON) -m nlpops.utils.dvc_params $(ARGS)

plots: install ## render `dvc plots` offline into dvc_plots/index.html (ARGS: revisions to compare)
	$(PYTHON) -m nlpops.utils.dvc_plots $(ARGS)

export: install ## trained model → ONNX fp32 + INT8 + tokenizer + manifest, with parity checks
	$(PYTHON) export.py $(ARGS)

serve: install ## serve models/text-classifier-onnx on 127.0.0.1:8000 (settings: NLPOPS_* variables)
	$(PYTHON) -m nlpops.serving

predict: install ## batch predictions: make predict INPUT=reviews.txt [OUTPUT=predictions.jsonl]
	$(PYTHON) -m nlpops.serving.predict $(INPUT) -o $(or $(OUTPUT),-)

lambda-invoke: install ## run the Lambda handler locally on events/*.json (EVENT=events/http-api-v2.json for one)
	$(PYTHON) -m nlpops.serving.lambda_invoke $(EVENT)

fuzz-api: install ## fuzz a running API against its OpenAPI schema (URL=http://127.0.0.1:8000 or a deployed one)
	$(VENV)/bin/schemathesis run $(patsubst %/,%,$(or $(URL),http://127.0.0.1:8000))/openapi.json --checks all $(ARGS)

bench: install ## PyTorch fp32 vs ONNX fp32 vs ONNX INT8: latency, throughput, cold start, installed size
	$(PYTHON) benchmarks/inference_compare.py $(ARGS)

bench-train: install ## training throughput: samples/s of the real training loop, fp32 and bf16
	$(PYTHON) benchmarks/train_throughput.py $(ARGS)

load-test: install ## requests/s and latency of the API under wrk (starts its own server; needs Debian's wrk)
	$(PYTHON) benchmarks/load_test.py $(ARGS)

lock: install ## refresh constraints.txt from the current environment
	{ head -2 constraints.txt; $(PIP) freeze --exclude-editable | grep -v -E '^(torch|nlpops)=='; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean: ## remove run outputs and caches (keeps .venv and models/)
	rm -rf logs outputs multirun wandb dvc_plots .pytest_cache .ruff_cache .hypothesis .schemathesis
