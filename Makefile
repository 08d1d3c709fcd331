# organfem developer tasks.  `make demo` and `make test` are all a new user needs:
# both create the virtual environment .venv on first use.

VENV  := .venv
STAMP := $(VENV)/.installed-stamp

# Python 3.12 to build the venv from: the first of these candidates that runs
# and reports 3.12 (a pyenv shim named python3.12 can be on PATH and still fail
# when 3.12 is not the selected pyenv version).  Override with
# `make PYTHON=/path/to/python3.12`.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo "$$HOME/.pyenv")
PYTHON_CANDIDATES = python3.12 $(wildcard $(PYENV_ROOT)/versions/3.12*/bin/python3.12) /usr/bin/python3.12
is_python312 = $(shell $(1) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1 && echo $(1))
PYTHON ?= $(firstword $(foreach c,$(PYTHON_CANDIDATES),$(call is_python312,$(c))))

.DEFAULT_GOAL := help
.PHONY: help venv demo test bench clean

help:
	@echo "make demo   set up .venv, inflate an idealised left ventricle and report it (results/lv_inflation/)"
	@echo "make test   set up .venv, then run the test suite"
	@echo "make bench  set up .venv, then run the benchmarks (results/bench/*.json)"
	@echo "make venv   create .venv and install organfem with the pinned versions in constraints.txt"
	@echo "make clean  remove results/ and caches (keeps .venv; rm -rf .venv for a full reset)"

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@if [ ! -x $(VENV)/bin/python ]; then \
	  py='$(PYTHON)'; \
	  if [ -z "$$py" ]; then \
	    echo "error: Python 3.12 not found; looked for python3.12 on PATH," \
	         "$(PYENV_ROOT)/versions/3.12*/bin/python3.12 and /usr/bin/python3.12." \
	         "Install Python 3.12 or run: make PYTHON=/path/to/python3.12 ..." >&2; \
	    exit 1; \
	  fi; \
	  echo "$$py -m venv $(VENV)"; \
	  "$$py" -m venv $(VENV); \
	fi
	$(VENV)/bin/python -m pip install --upgrade -c constraints.txt pip
	$(VENV)/bin/python -m pip install -c constraints.txt -e '.[solver,gmsh,batch,test]'
	touch $@

demo: $(STAMP)
	$(VENV)/bin/python solvers/lv_inflation.py --out results/lv_inflation
	$(VENV)/bin/organfem report results/lv_inflation/lv_inflation.vtkhdf \
	    --pdf results/lv_inflation/report.pdf

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	mkdir -p results/bench
	$(VENV)/bin/python benchmarks/materials.py --json results/bench/materials.json
	$(VENV)/bin/python benchmarks/jax_vs_ufl.py --json results/bench/jax_vs_ufl.json
	$(VENV)/bin/python benchmarks/land2015.py --json results/bench/land2015.json
	$(VENV)/bin/python benchmarks/dynamics.py --json results/bench/dynamics.json
	$(VENV)/bin/python benchmarks/contact_convergence.py --json results/bench/contact_convergence.json
	PYTHONPATH=. $(VENV)/bin/python benchmarks/image_to_mesh.py --json results/bench/image_to_mesh.json
	PYTHONPATH=. $(VENV)/bin/python benchmarks/report.py --shape tube --json results/bench/report.json
	$(VENV)/bin/python benchmarks/heart_cycle.py --json results/bench/heart_cycle.json
	$(VENV)/bin/python benchmarks/cardiac_elastodynamics.py --json results/bench/cardiac_elastodynamics.json
	OPENBLAS_NUM_THREADS=1 $(VENV)/bin/python benchmarks/batch.py --json results/bench/batch.json
	$(VENV)/bin/python benchmarks/tavi.py --json results/bench/tavi.json
	$(VENV)/bin/mpiexec -n 2 $(VENV)/bin/python benchmarks/tavi.py --json results/bench/tavi_np2.json

clean:
	rm -rf results .pytest_cache .jax_cache build *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
