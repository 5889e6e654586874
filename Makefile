# The two commands the README opens with: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Upstream CRDs beside the checkout (tests, CI); users pass their own with CRD_DIRS=...
CRD_DIRS ?= $(wildcard ../shared/crds)
CRD_FLAGS := $(foreach d,$(CRD_DIRS),--crd-dir $(d))

.PHONY: run test lint compile check schema controlplane netanalyzer bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## run: install into .venv, compile tenants/ into rendered/, print the summary
run: $(BIN)/.installed
	$(BIN)/tenantc compile $(CRD_FLAGS)

## test: lint, types, then the whole test suite (builds the local control plane binaries and
## installs the network analyzer when missing)
test: lint $(BIN)/.installed controlplane netanalyzer
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## lint: ruff (with docstring rules) on code and tests, mypy on compiler/ (settings in pyproject.toml)
lint: $(BIN)/.installed
	$(BIN)/ruff check compiler tests bench
	$(BIN)/mypy

## controlplane: build etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
## into the user cache (once per version)
controlplane:
	@if command -v go >/dev/null 2>&1; then tools/controlplane/build.sh >/dev/null && tools/kwok/build.sh >/dev/null; \
	elif [ "$$CI" = "true" ]; then echo "Go is required in CI to build the control plane" >&2; exit 3; \
	else echo "warning: Go not found; tests marked 'cluster' will be skipped" >&2; fi

## netanalyzer: network-config-analyzer (the network oracle) in its own venv in the user cache
netanalyzer: $(BIN)/.installed
	@$(BIN)/python tests/oracles/netanalyzer.py >/dev/null || { \
	  if [ "$$CI" = "true" ]; then echo "network-config-analyzer is required in CI" >&2; exit 3; \
	  else echo "warning: network-config-analyzer not installed; the network oracle will be skipped" >&2; fi; }

compile check: $(BIN)/.installed
	$(BIN)/tenantc $@ $(CRD_FLAGS)

schema: $(BIN)/.installed
	$(BIN)/tenantc schema

## bench: issue 17's performance table (import, compile, one-tenant edit, review and check in a
## fresh clone, the memory curve, apply when bench/apply_bench.py exists, the compile beside a
## pinned Kapitan: bench/kapitan_bench.py, installed once into the user cache); not part of `make test`
bench: $(BIN)/.installed
	$(BIN)/python bench/perf_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tenantc-cache .pytest_cache .hypothesis
