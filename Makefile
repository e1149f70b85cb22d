# Two commands matter on a fresh machine: `make demo` (a local sync end to end) and `make test` (every check).
# Each installs what it needs into .venv from the locked requirements.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3000
ZUORA_TENANT ?= local/tenants/demo.json
SAM_VENV := .venv-sam
# `sam build` needs the functions' runtime (python3.13) on PATH; pyenv installs it without a usable shim.
PYTHON313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13))
export AWS_DEFAULT_REGION ?= eu-west-2
export SAM_CLI_TELEMETRY := 0

.PHONY: install demo serve test lint unit integration contract openapi sam-check clean bench bench-10k

$(BIN)/.installed: requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.lock
	touch $@

install: $(BIN)/.installed

## demo: start the local stack, sync the demo customer as LFS would, print the result
demo: install
	$(BIN)/python -m local.demo --tenant $(ZUORA_TENANT)

## serve: the local stack as a long-running server on PORT (default 3000), tenant ZUORA_TENANT
serve: install
	$(BIN)/python -m local.serve --port $(PORT) --tenant $(ZUORA_TENANT)

## test: every check (lint, template lint, unit, integration and Zuora contract tests)
test: install lint unit integration contract

# checkov pins boto3 and packaging versions that conflict with dev.lock, so it gets its own virtualenv inside .venv.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

## lint: ruff, cfn-lint and checkov (template security checks; each suppression is Metadata on its resource)
lint: install $(CHECKOV)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml
	$(CHECKOV) -f template.yaml --framework cloudformation --quiet --compact --skip-download

$(CHECKOV): requirements/checkov.lock
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/checkov.lock
	touch $@

unit: install
	$(BIN)/pytest tests/unit -q

# Two workers (one per core); each test module keeps its own local stack on one worker.
integration: install
	$(BIN)/pytest tests/integration -q -n 2 --dist loadfile

# zuora-sdk (Zuora's official Python SDK) pins old urllib3/certifi, so it is installed without its dependencies into
# a directory of its own that only tests/contract loads from; nothing the functions run with changes.
ZUORA_SDK_DIR := $(VENV)/zuora-sdk

$(ZUORA_SDK_DIR)/.installed: requirements/zuora-sdk.lock $(BIN)/.installed
	rm -rf $(ZUORA_SDK_DIR)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --require-hashes --target $(ZUORA_SDK_DIR) -r requirements/zuora-sdk.lock
	touch $@

## contract: the Zuora emulator's responses and the Zuora client's requests and reads, held against zuora-sdk's models
contract: install $(ZUORA_SDK_DIR)/.installed
	$(BIN)/pytest tests/contract -q

## bench: measure syncs of 1, 10, 100 and 1,000 subscriptions on the local stack; writes docs/benchmarks.md and .json
bench: install
	$(BIN)/python -m bench.run

## bench-10k: the same for a customer of 10,000 subscriptions alone (about 20 minutes here); writes docs/benchmarks-10k.md and .json
bench-10k: install
	$(BIN)/python -m bench.run --sizes 10000 --out docs/benchmarks-10k.md --json docs/benchmarks-10k.json

## openapi: write the OpenAPI document generated from the API code
openapi: install
	$(BIN)/python -m local.openapi > docs/openapi.json

## sam-check: `sam validate --lint` and `sam build` in their own environment (aws-sam-cli pins other versions)
sam-check:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml
	@test -n "$(PYTHON313)" || { echo "sam build needs python3.13 (the Lambda runtime) on PATH"; exit 1; }
	PATH="$(dir $(PYTHON313)):$$PATH" $(SAM_VENV)/bin/sam build --template template.yaml

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache
