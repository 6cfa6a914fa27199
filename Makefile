# Quickstart targets. Each creates or updates the virtual environment in .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean deploy-check

$(STAMP): pyproject.toml requirements.txt requirements-nodeps.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU wheel; an unpinned torch pulls a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

# The main job on the bundled sample clips (see README): about 15 minutes on 2 CPU cores.
# Rerunning it resumes; delete demo-output/ to start over.
demo: $(STAMP)
	$(BIN)/facetransfer swap samples/bbaf2n.mpg samples/lbbc2a.mpg -o demo-output/result.mp4 \
		--preset cpu --total-minutes 12 --compare

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

# The SkyPilot task files in deploy/ checked by SkyPilot itself, in an environment of their own
# (SkyPilot's ~75 packages stay out of .venv): about a minute to install, seconds to run.
CLOUD_VENV := .venv-cloud
$(CLOUD_VENV)/.installed: requirements-cloud.txt
	test -x $(CLOUD_VENV)/bin/python || $(PYTHON) -m venv $(CLOUD_VENV)
	$(CLOUD_VENV)/bin/python -m pip install --quiet -r requirements-cloud.txt
	touch $@

deploy-check: $(CLOUD_VENV)/.installed
	$(CLOUD_VENV)/bin/python -m pytest -q tests/deploy

clean:
	rm -rf $(VENV) $(CLOUD_VENV) demo-output
