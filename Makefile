# The two commands of the README. Both set up .venv on first use (CPU torch first, then the project).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: quickstart test lint verify-docs bench clean

quickstart: $(STAMP)  ## run jobs/quickstart.yml on the local backend
	$(BIN)/arz submit jobs/quickstart.yml --backend local

test: $(STAMP)  ## the default test run (CI calls this)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check solver rl kernel_payload orchestrator tests

verify-docs: $(STAMP)  ## regenerate the verification table in docs/numerics.md
	$(BIN)/arz verify --level full --write-docs docs/numerics.md

bench: $(STAMP)
	$(BIN)/arz bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info
