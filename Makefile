# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint typecheck format clean bench

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/outcomes run --migrate

# two workers at most (pytest-xdist), each test on its own databases: more would overrun
# PostgreSQL's default max_connections of 100 when system tests of both workers run at once
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --maxprocesses=2

lint: $(STAMP)
	$(BIN)/ruff check shared services tests bench
	$(BIN)/ruff format --check shared services tests bench

format: $(STAMP)
	$(BIN)/ruff format shared services tests bench
	$(BIN)/ruff check --fix shared services tests bench

# Benchmarks against PostgreSQL at OUTCOMES_BENCH_POSTGRES_URL (loopback); see docs/performance.md.
# About 15 minutes: intake, lag, rebuild, feed and memory (P1-P5, P7), then reports on a
# contract of 1,000,000 participants (P6).
bench: $(STAMP)
	$(BIN)/python -m bench.intake
	$(BIN)/python -m bench.reports --participants 1000000

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
