# Two commands matter on a fresh machine: `make demo` (a local sync end to end) and `make test` (every check).
# Each installs what it needs into a virtualenv from the locked requirements.

# The suites run on the functions' runtime (template.yaml's Runtime) when this machine has it, else on the
# newest fallback, saying so. pyenv installs python3.13 without a usable shim, so its own path is looked for first.
RUNTIME_VERSION := $(shell sed -n 's/^ *Runtime: *python\([0-9][0-9.]*\).*/\1/p' template.yaml | head -n 1)
RUNTIME_PYTHON := $(firstword $(wildcard $(HOME)/.pyenv/versions/$(RUNTIME_VERSION)*/bin/python$(RUNTIME_VERSION)) $(shell command -v python$(RUNTIME_VERSION)))
FALLBACK_PYTHON := $(shell command -v python3.11 || command -v python3)
PYTHON ?= $(or $(RUNTIME_PYTHON),$(FALLBACK_PYTHON))
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# One virtualenv per Python version; .venv points at the one in use (unless it is a directory of its own).
VENV ?= .venv-$(PYTHON_VERSION)
BIN := $(VENV)/bin
PORT ?= 3000
ZUORA_TENANT ?= local/tenants/demo.json
SAM_VENV := .venv-sam
LOCK_VENV := .venv-lock
export AWS_DEFAULT_REGION ?= eu-west-2
export SAM_CLI_TELEMETRY := 0

.PHONY: install runtime-python demo serve test lint typecheck unit integration contract openapi sam-check clean bench bench-10k lock invoke

## runtime-python: say which Python the suites run on, and whether it is the functions' runtime
runtime-python:
	@if [ "$(PYTHON_VERSION)" = "$(RUNTIME_VERSION)" ]; then \
		echo "Python $(PYTHON_VERSION), the functions' runtime (template.yaml: python$(RUNTIME_VERSION)), in $(VENV)" >&2; \
	elif [ -z "$(RUNTIME_PYTHON)" ]; then \
		echo "WARNING: python$(RUNTIME_VERSION) (template.yaml's Runtime) is not installed here; falling back to Python $(PYTHON_VERSION) in $(VENV). CI runs python$(RUNTIME_VERSION)." >&2; \
	else \
		echo "WARNING: running on Python $(PYTHON_VERSION) (PYTHON=$(PYTHON)), not python$(RUNTIME_VERSION), the functions' runtime; in $(VENV)." >&2; \
	fi

$(BIN)/.installed: requirements/dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --editable .
	@if [ ! -e .venv ] || [ -L .venv ]; then ln -sfn $(VENV) .venv; fi
	touch $@

install: runtime-python $(BIN)/.installed

## demo: start the local stack, sync the demo customer as LFS would, print the result
demo: install
	$(BIN)/python -m local.demo --tenant $(ZUORA_TENANT)

## serve: the local stack as a long-running server on PORT (default 3000), tenant ZUORA_TENANT
serve: install
	$(BIN)/python -m local.serve --port $(PORT) --tenant $(ZUORA_TENANT)

## test: every check (lint, template lint, unit, integration and Zuora contract tests)
test: install lint unit integration contract

# checkov pins boto3 and packaging versions that conflict with dev.lock, so it gets its own virtualenv inside the venv.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

## lint: ruff, mypy (typecheck), cfn-lint and checkov (template security checks; each suppression is Metadata on its resource)
lint: install typecheck $(CHECKOV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml
	$(CHECKOV) -f template.yaml --framework cloudformation --quiet --compact --skip-download

## typecheck: mypy on the shared package and every function, for python3.13 ([tool.mypy] in pyproject.toml)
typecheck: install
	$(BIN)/mypy

$(CHECKOV): requirements/checkov.lock
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/checkov.lock
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
	ZUORA_SDK_DIR=$(ZUORA_SDK_DIR) $(BIN)/pytest tests/contract -q

## bench: measure syncs of 1, 10, 100 and 1,000 subscriptions on the local stack; writes docs/benchmarks.md and .json
bench: install
	$(BIN)/python -m bench.run

## bench-10k: the same for a customer of 10,000 subscriptions alone (about 20 minutes here); writes docs/benchmarks-10k.md and .json
bench-10k: install
	$(BIN)/python -m bench.run --sizes 10000 --out docs/benchmarks-10k.md --json docs/benchmarks-10k.json

## openapi: write the OpenAPI 3.0.3 document generated from the API code (what Salesforce External Services import)
openapi: install
	$(BIN)/python -m local.openapi > docs/openapi.json

## invoke: run one function's real handler with one event on the local stack, as `sam local invoke` does without Docker
invoke: install
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=<logical id, e.g. ApiFunction> EVENT=events/<file>.json"; exit 2; }
	@$(BIN)/python -m local.invoke $(FUNCTION) --event $(EVENT)

## sam-check: `sam validate --lint` and `sam build` in their own environment (aws-sam-cli pins other versions)
sam-check:
	@test -n "$(RUNTIME_PYTHON)" || { echo "sam build needs python$(RUNTIME_VERSION) (template.yaml's Runtime) on PATH or under ~/.pyenv/versions; install it first"; exit 1; }
	$(RUNTIME_PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml
	PATH="$(dir $(RUNTIME_PYTHON)):$$PATH" $(SAM_VENV)/bin/sam build --template template.yaml

## lock: re-resolve requirements/*.lock with hashes on the runtime's Python (pins already there are kept; pip-compile --upgrade-package X moves one)
lock:
	@test -n "$(RUNTIME_PYTHON)" || { echo "make lock resolves on python$(RUNTIME_VERSION) (template.yaml's Runtime); install it first"; exit 1; }
	$(RUNTIME_PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check pip-tools==7.6.2
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		--extra dev --output-file requirements/dev.lock pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--output-file requirements/checkov.lock requirements/checkov.in

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache .logs
