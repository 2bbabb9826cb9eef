# Two commands do everything on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install run test test-all lint bench clean

install: $(STAMP)

# The CPU build of torch goes in first on machines without an NVIDIA GPU, so that no
# requirement pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@if ! $(PY) -c "import torch" 2>/dev/null; then \
	  if nvidia-smi -L >/dev/null 2>&1; then $(PY) -m pip install -q torch; \
	  else $(PY) -m pip install -q "torch==2.13.0"; fi; fi
	@# the mcp extra (warpsmith mcp) adds ~22 MB (mcp, cryptography, pyjwt, ...): light enough to install always
	$(PY) -m pip install -q -e ".[dev,mcp]"
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/warpsmith optimize --kernel moe_dispatch

# The fast tier: every test that needs no extra service and runs in seconds.
test: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not postgres"

# Everything: adds PostgreSQL, Chromium, Ray and the slow tests (what CI runs, through .ci/run).
test-all: $(STAMP) $(VENV)/.installed-ray
	$(PY) -m pytest -q

# Ray (the multi-machine pool, warpsmith[ray]) only for the full suite: its tests skip without it.
$(VENV)/.installed-ray: $(STAMP)
	$(PY) -m pip install -q -e ".[ray]" || echo "could not install ray: the Ray pool tests will skip"
	@touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/eval_overhead.py

clean:
	rm -rf $(VENV) build *.egg-info

# Mutation score of the correctness core (bench/mutants.py): hand-made mutants, each applied to a
# copy of the tree under /tmp and run against the fast tests; fails below 90 % killed.
.PHONY: mutation
mutation: $(STAMP)
	$(PY) bench/mutation.py
