"""Helpers and fixtures for the serving tests (re-exported by conftest.py): tiny models that need no download and no ../shared.

* ``tiny_tokenizer``: a byte-level BPE trained in well under a second on a few recipes,
  with ChatML special tokens and a ChatML chat template (the SmolLM2/Qwen family format).
* ``babbler_dir``: a random 2-layer Llama whose output rows for the stop tokens are zero,
  so greedy decoding practically never stops: good for long streams (disconnect tests).
* ``stopper_dir``: a Llama whose weights make it a bigram chain that writes three words ("Chop the rice")
  and then ``<|im_end|>``: generation must stop by itself (export smoke tests).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import threading
import time
import types
from pathlib import Path

import pytest
from tiny_models import save_with_stop_ids

from chefbot.config import GenerationConfig
from chefbot.generate.completion import Completion, TokenCompletion, TokenScores, resolve_settings
from chefbot.generate.token_engine import PromptIdsChat

CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful cook.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "# Lemon chicken with rice",
    "## Ingredients",
    "- 2 chicken thighs",
    "- 1 lemon",
    "- 3 cloves garlic",
    "- 1 cup rice",
    "## Directions",
    "1. Boil the rice in salted water for 15 minutes.",
    "2. Brown the chicken in a pan with garlic.",
    "3. Squeeze the lemon over and serve hot.",
    "Preheat the oven to 350 degrees. Mix flour, sugar, butter and eggs in a bowl.",
    "Chop the onions and tomatoes; simmer with beans and spices until thick.",
] * 5


def make_tiny_tokenizer(folder: Path | None = None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None, unk_token=None
    )
    fast.chat_template = CHATML
    if folder is not None:
        fast.save_pretrained(folder)
    return fast


def _llama_config(tokenizer, hidden: int = 64, layers: int = 2, tie: bool = False):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=tie,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
        rms_norm_eps=1e-5,
    )


def build_babbler(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaForCausalLM

    tok = make_tiny_tokenizer()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(_llama_config(tok))
    with torch.no_grad():
        model.lm_head.weight.normal_(0, 0.5)  # confident random logits
        # Only whole ASCII words are ever likely: a readable stream that never ends a turn.
        for tid in range(len(tok)):
            text = tok.decode([tid])
            if tid in tok.all_special_ids or not (text.isascii() and text.strip().isalpha() and len(text) > 2):
                model.lm_head.weight[tid] = 0.0
    return save_with_stop_ids(model, tok, folder)


def build_stopper(folder: Path, words: tuple[str, ...] = ("Chop", " the", " rice")) -> Path:
    """A bigram chain: the last prompt token ("\\n" after "assistant") -> words... -> <|im_end|>.

    The transformer blocks add nothing (o_proj and down_proj are zero), so the final hidden
    state is the last token's embedding; embedding and output rows are one-hot directions.
    """
    import torch
    from transformers import LlamaForCausalLM

    tok = make_tiny_tokenizer()
    torch.manual_seed(1)
    cfg = _llama_config(tok)
    model = LlamaForCausalLM(cfg)
    chain = [tok("\n", add_special_tokens=False)["input_ids"][-1]]
    for w in words:
        ids = tok(w, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, f"{w!r} must be one token in the tiny vocabulary"
        chain.append(ids[0])
    chain.append(tok.convert_tokens_to_ids("<|im_end|>"))
    with torch.no_grad():
        model.model.embed_tokens.weight.normal_(0, 0.02)
        model.lm_head.weight.zero_()
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        for k, (a, b) in enumerate(zip(chain, chain[1:])):
            model.model.embed_tokens.weight[a] = 0.0
            model.model.embed_tokens.weight[a, k] = 10.0
            model.lm_head.weight[b, k] = 10.0
    return save_with_stop_ids(model, tok, folder)


class _FakeLLM:
    """vLLM's offline ``LLM`` as chefbot uses it: ``generate(prompts, params, lora_request=...)``."""

    def __init__(self, **kw) -> None:
        self.kw, self.prompts = kw, []

    def generate(self, prompts, params, lora_request=None):
        self.prompts += list(prompts)
        out = types.SimpleNamespace(text="Boil.", finish_reason="stop", token_ids=[1, 2])
        return [types.SimpleNamespace(prompt_token_ids=p["prompt_token_ids"], outputs=[out]) for p in prompts]


@pytest.fixture
def fake_vllm(monkeypatch):
    """vLLM's module as chefbot uses it (no GPU, no vllm package): ``VLLMGenerator`` runs on ``_FakeLLM``."""
    module = types.ModuleType("vllm")
    module.LLM = _FakeLLM
    module.SamplingParams = lambda **kw: kw
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


@pytest.fixture(scope="session")
def babbler_dir(tmp_path_factory) -> Path:
    return build_babbler(tmp_path_factory.mktemp("babbler"))


@pytest.fixture(scope="session")
def stopper_dir(tmp_path_factory) -> Path:
    return build_stopper(tmp_path_factory.mktemp("stopper"))


def stub_plan(spec: dict) -> dict:
    """What a planner stub answers: a plan of no tasks for this spec, in the shape /v1/plan answers
    (``schemas.PlanResponse``; the server checks every answer against its model)."""
    return {
        "title": spec.get("title", "Meal"),
        "serve_at": str(spec.get("serve_at", "19:00")),
        "start": "19:00",
        "makespan_min": 0,
        "tasks": [],
        "by_cook": {},
        "warnings": [],
        "html": "<p>(no plan drawn)</p>",
    }


def serve_cfg(model_dir: Path, **serve):
    """A config for a test server.  ``allowed_hosts`` includes ``testserver``, the Host that Starlette's
    TestClient sends (a real server's default lets only this machine's names through: test_security.py)."""
    from chefbot.config import ExperimentConfig

    cfg = ExperimentConfig()
    cfg.serve.allowed_hosts = ["testserver"]
    cfg.model.name_or_path = str(model_dir)
    cfg.train.precision = "fp32"
    cfg.engine.generation.max_new_tokens = 32
    for k, v in serve.items():
        setattr(cfg.serve, k, v)
    return cfg


def local_generator(model_dir: Path, cfg=None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from chefbot.config import GenerationConfig
    from chefbot.generate import LocalGenerator

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    gen_cfg = cfg.engine.generation if cfg is not None else GenerationConfig(max_new_tokens=32)
    return LocalGenerator(model, tok, gen_cfg)


@pytest.fixture(scope="session")
def babbler_generator(babbler_dir):
    return local_generator(babbler_dir)


class LiveServer:
    """uvicorn in a thread on 127.0.0.1 and a free port (real sockets: disconnects are real)."""

    def __init__(self, app) -> None:
        import uvicorn

        from chefbot.serve.slow_clients import uvicorn_options

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # chefbot serve's own uvicorn options (the read timeouts), from the app's config
        options = uvicorn_options(app.state.cfg) if hasattr(getattr(app, "state", None), "cfg") else {}
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", **options)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@contextlib.contextmanager
def live_app(cfg, generator):
    from chefbot.serve.app import create_app

    app = create_app(cfg, generator)
    with LiveServer(app) as srv:
        srv.app = app
        yield srv


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def browser_problem(repo: Path) -> str | None:
    """Why the real-browser tests cannot run here (None: they can): Debian's chromium, node and
    playwright-core in .cache/browser (`make setup-browser`)."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (apt-get install chromium; `make setup-browser` does it)"
    if shutil.which("node") is None:
        return "node not found (apt-get install nodejs npm)"
    if not (repo / ".cache" / "browser" / "node_modules" / "playwright-core").is_dir():
        return "playwright-core not installed in .cache/browser (run `make setup-browser`)"
    return None


def browser_env(repo: Path) -> dict:
    """The environment for a node check script driving Chromium; skips the test when the browser cannot run here
    (fails it in CI, naming why)."""
    problem = browser_problem(repo)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run: {problem}")
        pytest.skip(problem)
    return dict(os.environ, NODE_PATH=str(repo / ".cache" / "browser" / "node_modules"), CHROMIUM=CHROMIUM)


def wait_until(pred, timeout: float = 10.0, every: float = 0.02) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(every)
    return pred()


# -- generator doubles: no model, answers at once (or never) ------------------------------------------
SHORT_RECIPE = """# Rice Bowl

## Ingredients
- 1 cup rice
- 1 egg

## Directions
1. Boil the rice for 15 minutes.
2. Fry the egg and serve it on the rice."""


class ContractDouble:
    """What a server test double needs of the generator contract (``chefbot.generate.completion.Generator``)
    beside its own ``generate`` and ``stream``: a name, settings, ``describe`` and ``identity``."""

    backend = "double"
    gen_cfg = GenerationConfig()

    def describe(self, settings_override=None) -> dict:
        return {"backend": self.backend, **resolve_settings(self.gen_cfg, settings_override).model_dump()}

    def identity(self) -> dict:
        return {"backend": self.backend}


class _Handle:
    """A stream handle over fixed deltas, like ``chefbot.generate.local.StreamHandle``."""

    def __init__(self, deltas: list, completion) -> None:
        self._deltas, self._final, self.completion = deltas, completion, None
        self._stop = threading.Event()

    def __iter__(self):
        for d in self._deltas:
            if self._stop.is_set():
                break
            yield d
        self.completion = self._final

    def cancel(self) -> None:
        self._stop.set()


class Wrapped:
    """A ``TokenEngine`` that hands every call of the contract to ``inner``: a subclass changes the one it tests."""

    def __init__(self, inner) -> None:
        self.inner = inner

    backend = property(lambda self: self.inner.backend)
    gen_cfg = property(lambda self: self.inner.gen_cfg)
    tokenizer = property(lambda self: self.inner.tokenizer)
    stop_ids = property(lambda self: self.inner.stop_ids)

    def describe(self, settings_override=None):
        return self.inner.describe(settings_override)

    def identity(self):
        return self.inner.identity()

    def prompt_ids(self, messages):
        return self.inner.prompt_ids(messages)

    def generate(self, batch, settings_override=None, on_result=None, cancel=None):
        return self.generate_from_ids([self.prompt_ids(m) for m in batch], settings_override, on_result, cancel)

    def generate_from_ids(self, prompts, settings_override=None, on_result=None, cancel=None):
        return self.inner.generate_from_ids(prompts, settings_override, on_result, cancel)

    def stream(self, messages, settings_override=None):
        return self.stream_from_ids(self.prompt_ids(messages), settings_override)

    def stream_from_ids(self, prompt, settings_override=None):
        return self.inner.stream_from_ids(prompt, settings_override)

    def complete_ids(self, prompts, settings_override=None, **kw):
        return self.inner.complete_ids(prompts, settings_override, **kw)

    def stream_ids(self, prompt, settings_override=None, **kw):
        return self.inner.stream_ids(prompt, settings_override, **kw)

    def score(self, sequences, top_k=0, next_token=False):
        return self.inner.score(sequences, top_k, next_token)


class GatedStreams(Wrapped):
    """A real generator whose streams pause after their first ``after`` deltas until ``gate`` is set
    or the stream is cancelled: a test that needs a stream still running (a slot held, a client
    leaving mid-stream) gets it whatever the machine's load, instead of racing the model to the end."""

    def __init__(self, inner, after: int = 3) -> None:
        super().__init__(inner)
        self.after, self.gate = after, threading.Event()

    def stream_from_ids(self, prompt, settings_override=None):
        return _GatedHandle(self.inner.stream_from_ids(prompt, settings_override), self.after, self.gate)


class _GatedHandle:
    def __init__(self, handle, after: int, gate: threading.Event) -> None:
        self._handle, self._after, self._gate = handle, after, gate
        self._cancelled = threading.Event()

    def __iter__(self):
        for n, delta in enumerate(self._handle):
            if n == self._after:
                while not (self._gate.is_set() or self._cancelled.is_set()):
                    self._cancelled.wait(0.01)
            yield delta

    def cancel(self) -> None:
        self._cancelled.set()
        self._handle.cancel()

    @property
    def completion(self):
        return self._handle.completion


class FastGenerator(ContractDouble, PromptIdsChat):
    """A ``TokenEngine`` that writes SHORT_RECIPE at once, but with a real tokenizer and chat template (so the
    server counts prompt tokens as for a model) and chefbot's validation of the settings (as LocalGenerator
    does); ``prompt_ids``, ``generate`` and ``stream`` are the engines' own (``PromptIdsChat``)."""

    backend = "scripted"

    def __init__(self, tokenizer=None, max_new_tokens: int = 16) -> None:
        self.tokenizer = tokenizer if tokenizer is not None else make_tiny_tokenizer()
        self.fold = "auto"
        self.gen_cfg = GenerationConfig(max_new_tokens=max_new_tokens)
        self.calls = 0

    def _completion(self, prompt, settings):
        s = resolve_settings(self.gen_cfg, settings)  # a bad setting fails here, as in the real generator
        self.calls += 1
        n = min(s.max_new_tokens, 12)
        return Completion(SHORT_RECIPE, "stop" if n < s.max_new_tokens else "length", len(prompt), n)

    def generate_from_ids(self, prompts, settings_override=None, on_result=None, cancel=None):
        return [self._completion(p, settings_override) for p in prompts]

    def stream_from_ids(self, prompt, settings_override=None):
        c = self._completion(prompt, settings_override)
        return _Handle(SHORT_RECIPE.splitlines(keepends=True), c)

    # -- plain completions (the interface of LocalGenerator.complete_ids / stream_ids) -----------------
    @property
    def stop_ids(self) -> list[int]:
        return [self.tokenizer.convert_tokens_to_ids("<|im_end|>")]

    def score(self, sequences, top_k=0, next_token=False):
        """Made-up but well-formed log-probabilities, the same for the same positions."""
        out = []
        for seq in sequences:
            n = len(seq) - 1
            top = [[(t % len(self.tokenizer), -0.5 - j) for j, t in enumerate(range(i, i + top_k))] for i in range(n)]
            out.append(
                TokenScores(
                    [-1.0 - (i % 7) / 8 for i in range(n)], top, (self.stop_ids[0], -0.1, []) if next_token else None
                )
            )
        return out

    def _token_completion(self, prompt, settings, max_tokens, logprobs):
        """SHORT_RECIPE's tokens (at most max_tokens of them) and, asked for, ``score``'s log-probabilities."""
        resolve_settings(self.gen_cfg, {**(settings or {}), "max_new_tokens": max(1, max_tokens)})
        self.calls += 1
        ids = self.tokenizer(SHORT_RECIPE, add_special_tokens=False)["input_ids"]
        new = (ids + self.stop_ids)[:max_tokens]
        stop_id = bool(new) and new[-1] in self.stop_ids
        c = TokenCompletion(list(prompt), new, "stop" if stop_id else "length", stop_id=stop_id)
        if logprobs is not None:
            scored = self.score([list(prompt) + new], logprobs)[0]
            c.logprobs, c.top = scored.logprobs, scored.top if logprobs else [[] for _ in scored.logprobs]
        return c

    def complete_ids(self, prompts, settings_override=None, *, max_tokens, stop=(), logprobs=None, cancel=None):
        return [self._token_completion(p, settings_override, max_tokens, logprobs) for p in prompts]

    def stream_ids(self, prompt, settings_override=None, *, max_tokens, stop=()):
        c = self._token_completion(prompt, settings_override, max_tokens, None)
        return _Handle([[i] for i in c.ids], c)


class StuckGenerator(ContractDouble):
    """A model call that never returns on its own: ``generate`` blocks until ``release()`` or its ``cancel``
    is set; a stream's handle yields nothing and ends only when cancelled (or released)."""

    backend = "stuck"

    def __init__(self) -> None:
        self.released = threading.Event()
        self.started = threading.Event()

    def release(self) -> None:
        self.released.set()

    def generate(self, batch, settings_override=None, on_result=None, cancel=None):
        self.started.set()
        while not (self.released.is_set() or (cancel is not None and cancel.is_set())):
            self.released.wait(0.05)
        if not self.released.is_set():
            return [Completion("", "cancelled", 1, 0) for _ in batch]
        return [Completion("late", "stop", 1, 1) for _ in batch]

    def stream(self, messages, settings_override=None):
        gen = self

        class Handle(_Handle):
            def __iter__(self):
                gen.started.set()
                while not (self._stop.is_set() or gen.released.is_set()):
                    self._stop.wait(0.05)
                self.completion = Completion("", "cancelled", 1, 0)
                return iter(())

        return Handle([], None)


class ScriptedGenerator(ContractDouble):
    """Answers with ``texts`` in turn, one per call (the last one again once they run out), and
    remembers each call's messages and settings: a first answer that breaks a constraint and a
    second that keeps it is how the enforce tests see a retry."""

    backend = "scripted"

    def __init__(self, texts: list[str]) -> None:
        self.texts, self.calls = list(texts), []

    def _next(self, messages, settings):
        self.calls.append({"messages": list(messages), "settings": dict(settings or {})})
        text = self.texts[min(len(self.calls), len(self.texts)) - 1]
        return Completion(text, "stop", 20, len(text.split()))

    def generate(self, batch, settings_override=None, on_result=None, cancel=None):
        return [self._next(m, settings_override) for m in batch]

    def stream(self, messages, settings_override=None):
        c = self._next(messages, settings_override)
        return _Handle(c.text.splitlines(keepends=True), c)
