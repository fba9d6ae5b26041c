# The developer interface. Every target sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test demo lint format bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "studio-ops needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# One stamp per install flavour; a changed pyproject.toml reinstalls.
$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.run-installed

# The studio's own warehouse (`studio-ops init`) once it exists, else the demo in its own file
# beside it (built here on first start); the app says which one it shows.
REAL_DB = $${STUDIO_OPS_DB:-data/studio.duckdb}
run: $(VENV)/.run-installed
	@test -f "$(REAL_DB)" || test -f "$$(dirname "$(REAL_DB)")/demo.duckdb" || $(BIN)/studio-ops demo
	$(BIN)/streamlit run streamlit_app.py

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest -n 2 -q

demo: $(VENV)/.run-installed
	$(BIN)/studio-ops demo

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Python keeps modules compiled beside their sources after their first import, unless
# PYTHONDONTWRITEBYTECODE says not to; compiled here, every timed load starts as a studio's
# daily load does, not compiling the project first.
bench: $(VENV)/.test-installed
	$(BIN)/python -m compileall -q pipelines dashboard
	$(BIN)/python benchmarks/run.py --scale $${SCALE:-1m}

clean:
	rm -rf $(VENV) data/demo.duckdb* .pytest_cache   # never the studio's own warehouse
