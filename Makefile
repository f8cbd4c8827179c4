# Every command a user needs; `make help` lists them. Targets install the environment on first use.
SHELL := /bin/bash
VENV ?= .venv
# the drift report's own venv: Evidently needs pandas<3, the main lock has pandas 3
MONITOR_VENV ?= .venv-monitor
PYTHON := $(VENV)/bin/python
PIP := $(PYTHON) -m pip
TORCH := torch==2.13.0
EXTRAS ?= train,export,serve,lambda,dvc,deploy,dev
ARGS ?=
# the branches of dvc.yaml (configs/task/<task>.yaml)
PIPELINE_TASKS := classification ner generation

.DEFAULT_GOAL := help
.PHONY: help install train test test-fast lint lint-ship checkov stack format data repro params register promote plots sweep generate cloud export serve predict lambda-invoke fuzz-api bench bench-train bench-ner bench-generate load-test lock lock-monitor monitor-env drift clean

help: ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(VENV)/.installed ## create .venv with the pinned training + dev environment

$(VENV)/.installed: pyproject.toml constraints.txt
	test -d $(VENV) || python3 -m venv $(VENV)
	# torch first, pinned: an unpinned torch would pull gigabytes of CUDA wheels
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

train: install ## train the default model (pass overrides with ARGS="trainer.max_epochs=5")
	$(PYTHON) train.py $(ARGS)

test: install monitor-env ## run the whole test suite (fast tests + the slow ones on the real model and data)
	$(PYTHON) -m pytest $(ARGS)

test-fast: install monitor-env ## run the fast tests only (tiny random models, no downloads)
	$(PYTHON) -m pytest -m "not slow" $(ARGS)

lint: install ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

lint-ship: install ## lint what ships: Dockerfiles (hadolint), workflows (actionlint + shellcheck), Terraform (fmt)
	$(VENV)/bin/hadolint docker/*.Dockerfile
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/actionlint
	terraform fmt -check -recursive infra

monitor-env: $(MONITOR_VENV)/.installed ## create .venv-monitor: Evidently for drift reports (its own venv and lock)

$(MONITOR_VENV)/.installed: pyproject.toml constraints-monitor.txt
	test -d $(MONITOR_VENV) || python3 -m venv $(MONITOR_VENV)
	$(MONITOR_VENV)/bin/python -m pip install --quiet -c constraints-monitor.txt -e ".[monitor]"
	touch $@

drift: monitor-env ## drift report: the prediction log against the test split (CURRENT=path, ARGS="--task ner"); exit 1 on drift
	DO_NOT_TRACK=1 $(MONITOR_VENV)/bin/python -m nlpops.monitor drift --current $(or $(CURRENT),logs/predictions.jsonl) --html reports/drift.html $(ARGS)

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

data: install ## data/raw (data.dvc) re-created offline from its pinned assets, then data/prepared (with S3: `dvc pull`)
	$(foreach task,$(PIPELINE_TASKS),$(PYTHON) prepare.py task=$(task) $(ARGS) &&) true

repro: data ## the DVC pipeline, each task's branch: prepare → train → export → evaluate, running only what changed
	PATH="$(VENV)/bin:$$PATH" $(VENV)/bin/dvc repro $(ARGS)

params: install ## regenerate params.yaml, params_ner.yaml and params_generation.yaml from configs/ (as `dvc exp run -S` does); ARGS: overrides
	$(PYTHON) -m nlpops.utils.dvc_params $(ARGS)

register: install ## register the model the pipeline produced as its next version: make register MODEL=ner [BUMP=minor]
	$(PYTHON) -m nlpops.registry register $(or $(MODEL),text-classifier) --bump $(or $(BUMP),patch)

promote: install ## release what a stage tag names (CD does this on a pushed tag): make promote TAG='ner#prod#3'
	$(PYTHON) -m nlpops.deploy promote --tag '$(TAG)'

plots: install ## render `dvc plots` offline into dvc_plots/index.html (ARGS: revisions to compare)
	$(PYTHON) -m nlpops.utils.dvc_plots $(ARGS)

sweep: install ## Optuna sweep (its study in logs/train/sweeps/): run it again after a kill to continue; ARGS: overrides
	$(PYTHON) train.py -m hparams_search=sentiment_optuna $(ARGS)

generate: install ## continue a prompt with the trained generator: make generate ARGS='prompt="My lord," max_new_tokens=40'
	$(PYTHON) generate.py $(ARGS)

cloud: install ## SageMaker: make cloud ARGS="train --instance-type ml.g5.xlarge --spot -- trainer.max_epochs=5" (train|tune|status|logs)
	$(PYTHON) -m nlpops.cloud $(ARGS)

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

bench-ner: install ## NER: `train.py task=ner` vs a run_ner-style Hugging Face Trainer: test entity F1, wall time
	$(PYTHON) benchmarks/ner_baseline.py $(ARGS)

bench-generate: install ## generation: tokens/s and time to first token of /generate vs a transformers generate() server
	$(PYTHON) -m benchmarks.generation_load $(ARGS)

load-test: install ## requests/s and latency of the API under wrk (starts its own server; needs Debian's wrk); NER: ARGS="--artifact models/ner-onnx"
	$(PYTHON) benchmarks/load_test.py $(ARGS)

lock: install ## refresh constraints.txt from the current environment
	{ head -2 constraints.txt; $(PIP) freeze --exclude-editable | grep -v -E '^(torch|nlpops)=='; } > constraints.tmp
	mv constraints.tmp constraints.txt

lock-monitor: monitor-env ## refresh constraints-monitor.txt from .venv-monitor
	{ head -2 constraints-monitor.txt; $(MONITOR_VENV)/bin/python -m pip freeze --exclude-editable | grep -v '^nlpops=='; } > constraints-monitor.tmp
	mv constraints-monitor.tmp constraints-monitor.txt

clean: ## remove run outputs and caches (keeps .venv and models/)
	rm -rf logs outputs multirun wandb dvc_plots .pytest_cache .ruff_cache .hypothesis .schemathesis
