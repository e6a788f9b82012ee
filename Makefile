# The two commands of the README. Both set up .venv on first use (torch first, then the project).
#
# TORCH_INDEX=cpu (e.g. `make quickstart TORCH_INDEX=cpu`) installs the CPU-only torch wheel from the
# PyTorch index (download.pytorch.org) instead of PyPI's default build, which on Linux is the
# multi-GB CUDA one. Without it only PyPI (or the pip index you configured) is used, so CI and
# offline mirrors never wait on a host they cannot reach. TORCH_INDEX may also be a full index URL.
PY ?= python3
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=
ifeq ($(TORCH_INDEX),cpu)
TORCH_INDEX_ARGS := --index-url https://download.pytorch.org/whl/cpu
else ifneq ($(TORCH_INDEX),)
TORCH_INDEX_ARGS := --index-url $(TORCH_INDEX)
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: quickstart test lint verify-docs bench clean

quickstart: $(STAMP)  ## run jobs/quickstart.yml on the local backend
	$(BIN)/arz submit jobs/quickstart.yml --backend local

test: $(STAMP)  ## the default test run (CI calls this)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check solver rl kernel_payload orchestrator tests scripts

verify-docs: $(STAMP)  ## regenerate the verification table (docs/numerics.md) and docs/scenarios.md
	$(BIN)/python -m solver.scenario.reference > docs/scenarios.md
	$(BIN)/arz verify --level full --write-docs docs/numerics.md

bench: $(STAMP)
	$(BIN)/arz bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==$(TORCH_VERSION) $(TORCH_INDEX_ARGS)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info
