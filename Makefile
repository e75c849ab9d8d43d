# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch 2.13.0 lies on this machine's disk. Pinning it in every install
# that could resolve torch keeps pip from pulling a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: demo test install docs screenshots clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q $(TORCH) -e ".[test]"
	touch $@

install: $(VENV)/.installed

# Trains the quick-start recipe offline and prints where the results, the generator and
# the MLflow UI are.
# The demo is the conditional DCGAN: the tutorial's networks told which digit to draw. The
# unconditional quick start (recipes/quickstart.yaml) reads as a clear digit in about two
# thirds of its samples after the same 4 minutes; this one in 96% (docs/dcgan.md section 11).
demo: install
	$(VENV)/bin/ganrun recipes/cgan_mnist.yaml

test: install
	$(VENV)/bin/pytest

# Rewrites docs/recipe_reference.md from the schema dataclasses (tests fail when it is stale).
docs: install
	$(PY) -m ganrun.recipe_reference docs/recipe_reference.md

# Retakes docs/img/mlflow_compare.png: two short quickstart runs, a real `mlflow ui` on
# 127.0.0.1 and headless Chromium (Debian: apt-get install chromium); about 2 minutes.
screenshots: install
	OMP_NUM_THREADS=1 $(PY) docs/screenshots/take.py

clean:
	rm -rf $(VENV) runs mlruns
