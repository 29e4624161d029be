# CityDesk: `make demo` (set up and run the demo job), `make test` (set up and run every test),
# `make app` (open the desktop window). Each sets itself up first: see scripts/setup.sh.
PYTHON ?= python3
export PYTHON
BIN := .venv/bin
DEMO_OUT ?= citydesk-demo

.PHONY: demo test app lint sample-city bench constraints clean

demo:
	@scripts/setup.sh runtime
	QT_QPA_PLATFORM=offscreen MPLBACKEND=Agg $(BIN)/citydesk demo --out $(DEMO_OUT)

test:
	@scripts/setup.sh dev
	QT_QPA_PLATFORM=offscreen MPLBACKEND=Agg $(BIN)/python -m pytest -q $(PYTEST_ARGS)

app:
	@scripts/setup.sh gui
	$(BIN)/citydesk

lint:
	@scripts/setup.sh dev
	$(BIN)/ruff check .

# Rebuild sample_data/helsinki.gpkg and the project from the raw files in sample_data/raw/.
sample-city:
	@scripts/setup.sh runtime
	$(BIN)/python sample_data/build_sample_city.py

bench:
	@scripts/setup.sh runtime
	$(BIN)/python benchmarks/run_all.py

# Re-pin the versions a fresh install gets (after the tests passed with them).
constraints:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^citydesk' > constraints.txt

clean:
	rm -rf .venv $(DEMO_OUT) .pytest_cache .ruff_cache
