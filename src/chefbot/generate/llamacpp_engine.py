"""``LlamaCppGenerator``: chefbot's CPU engine, llama.cpp (through llama-cpp-python) on a cached GGUF.

The model is base + adapter merged in fp32 and quantized once (``chefbot.generate.gguf.cached_gguf``,
q8_0 by default).  Everything around the forward pass stays chefbot's, so the engine cannot drift
from training and the hf engine:

* **prompts** are token ids built by the one prompt path (``chat_prompt_ids``: ``chefbot.chat`` and the
  tokenizer's own chat template, the same ids ``LocalGenerator`` feeds transformers); llama.cpp never
  sees text and never applies a template of its own;
* **stops**: every stop id ``LocalGenerator`` stops on (``chefbot.stops``, the model's own eos ids);
* **text** is decoded by the same tokenizer, the same way;
* **structured output** (a request's ``structured`` setting): llama.cpp's grammar sampler, on the GBNF grammar
  llama-cpp-python converts from the JSON schema, masks the logits before chefbot samples
  (``chefbot.generate.structured.LlamaGrammar``);
* **sampling** is done here, in numpy, on llama.cpp's logits with chefbot's ``GenerationConfig``
  (greedy is the argmax; temperature, top_k, top_p, seed, repetition penalty as transformers
  applies them), so no llama.cpp sampler default (top_k 40, min_p 0.05, temperature 0.8) slips in.

**Concurrency** (docs/BENCHMARKS.md, "Serving engines", says how it was chosen): a small pool of
llama.cpp contexts on one loaded model (``contexts``, by default ``serve.max_concurrency``), each driven
by its own decoder thread, one sequence each; the CPU threads are shared among the contexts that are
busy (``llama_set_n_threads`` before each decode: one request alone gets every core, two share them).
On this project's 2-core CPU a decode of 4 sequences batched in one context (``parallel=4``, llama.cpp's
parallel sequences, also supported here) cost about 35% more CPU per token than one sequence at a time.

**Without the adapter** (``without_adapter``, the ``AnswersAsBase`` contract: a blind tasting's base side): the
adapter is merged into the served GGUF, so the base is a second, smaller engine on the base's own cached GGUF
(the one ``chefbot eval`` uses for the base), loaded on first use with one context; its busy context counts
in the same CPU thread budget as the served engine's (``_share``).

Plain completions (``complete_ids``, ``stream_ids``, ``score``: the server's ``/v1/completions``)
work as in ``LocalGenerator``; log-probabilities are the log-softmax (fp32, in numpy) of llama.cpp's
logits at each position of one pass over prompt + completion: exact for the *quantized* model served.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import queue as queue_module
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chefbot.config import ExperimentConfig, GenerationConfig
from chefbot.errors import ChefbotError
from chefbot.generate.completion import Completion, OnResult, Settings, TokenCompletion, TokenScores, resolve_settings
from chefbot.generate.engine_probe import Verdict, probe_llamacpp
from chefbot.generate.gguf import cached_gguf
from chefbot.generate.structured import LlamaGrammar, gbnf
from chefbot.generate.token_engine import CompletesIds, decode_plain
from chefbot.model import load_tokenizer, resolve_source
from chefbot.stops import stop_token_ids

INSTALL_HINT = (
    "the llamacpp engine needs llama-cpp-python: `make setup-llamacpp` (pip builds llama.cpp from source, "
    "a few minutes on 2 cores: natively, but without llama.cpp's AMX path, which crashes on Intel Xeons with "
    "AMX; by hand: `make -n setup-llamacpp` shows the CMAKE_ARGS for pip install --no-cache-dir "
    "'llama-cpp-python==0.3.36'); or use --engine hf"
)
DEFAULT_N_CTX = 4096  # tokens (prompt + answer) per sequence; KV cells, SmolLM2-135M: ~23 KB each (f16)
N_BATCH = 512  # prompt tokens per llama_decode call


def llamacpp_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def passive_openmp() -> None:
    """llama.cpp's CPU threads meet at a barrier after every operation, and libgomp's default there is to
    spin: on a busy machine a spinning thread holds a core while its partner waits to be scheduled (48 tokens
    took 10-66 s instead of 1.3 s with 2 threads on 2 cores at load average 10: docs/BENCHMARKS.md).
    ``OMP_WAIT_POLICY=PASSIVE`` sleeps instead.  libgomp reads it once, when it is first loaded, and torch
    loads the same libgomp.so.1: so this must run before torch is imported (``chefbot serve``/``chat`` call
    it first).  A value already set is kept."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _lib() -> Any:
    passive_openmp()  # in time only if neither torch nor llama_cpp is loaded yet
    try:
        import llama_cpp
    except ImportError:
        raise ChefbotError(INSTALL_HINT) from None
    return llama_cpp


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def probe_engine(
    cfg: ExperimentConfig, adapter: str | None = None, quant: str | None = None, gguf: Path | None = None
) -> Verdict:
    """Whether llama.cpp runs the GGUF this config serves (``gguf``, else exported now) on this machine, without
    risking this process: ``chefbot.generate.engine_probe.probe_llamacpp`` (a child process, once per library
    build, CPU and GGUF)."""
    path = gguf or cached_gguf(cfg, adapter or cfg.adapter, quant or cfg.engine.quantization)
    return probe_llamacpp(path, cfg.engine.threads or default_threads())


def probe_failure(verdict: Verdict) -> str:
    """The one-line reason a failed probe gives (the CLI prints it and exits 2)."""
    where = (
        f" (cached verdict: {verdict.cache_file}; rebuilding llama-cpp-python probes again)" if verdict.cached else ""
    )
    return (
        f"the llamacpp engine does not run on this machine: {verdict.reason}{where}; serve with --engine hf "
        '(docs/SERVING.md, "When the engine\'s probe fails")'
    )


class EngineUnsafe(ChefbotError):
    """``LlamaCppGenerator.from_config`` refused to load llama.cpp: its probe failed on this machine (``verdict``
    says why), so loading it here could crash this process.  ``chefbot serve``/``chat`` with engine "auto" catch it
    and fall back to the hf engine; otherwise it is a ``ChefbotError`` (exit 2) with ``probe_failure``'s line."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(probe_failure(verdict))
        self.verdict = verdict


# ---------------------------------------------------------------------------------------------
# sampling: chefbot's GenerationConfig on llama.cpp's logits
# ---------------------------------------------------------------------------------------------


def pick_token(logits: Any, s: GenerationConfig, rng: Any, history: Sequence[int]) -> int:
    """The next token as transformers would choose it with these settings (its order: repetition
    penalty, temperature, top_k, top_p, then a draw)."""
    import numpy as np

    x = logits.astype(np.float32, copy=True)
    if s.repetition_penalty != 1.0 and len(history):
        seen = np.unique(np.asarray(history, dtype=np.int64))
        seen = seen[seen < x.shape[0]]
        v = x[seen]
        x[seen] = np.where(v > 0, v / s.repetition_penalty, v * s.repetition_penalty)
    if not (s.do_sample and s.temperature > 0):
        return int(np.argmax(x))
    x = x / s.temperature
    if s.top_k and s.top_k < x.shape[0]:
        kth = np.partition(x, -s.top_k)[-s.top_k]
        x[x < kth] = -np.inf
    p = np.exp(x - x.max())
    p /= p.sum()
    if s.top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        drop = order[cum - p[order] >= s.top_p]  # keep the smallest head whose mass reaches top_p
        p[drop] = 0.0
        p /= p.sum()
    return int(rng.choice(x.shape[0], p=p))


def log_softmax(rows: Any) -> Any:
    import numpy as np

    rows = rows.astype(np.float32, copy=False)
    m = rows.max(axis=-1, keepdims=True)
    return rows - m - np.log(np.exp(rows - m).sum(axis=-1, keepdims=True))


def top_pairs(lp_row: Any, k: int) -> list[tuple[int, float]]:
    import numpy as np

    k = min(k, lp_row.shape[0])
    idx = np.argpartition(-lp_row, k - 1)[:k]
    idx = idx[np.argsort(-lp_row[idx], kind="stable")]
    return [(int(i), float(lp_row[i])) for i in idx]


# ---------------------------------------------------------------------------------------------
# jobs and the decoder thread that owns one llama.cpp context
# ---------------------------------------------------------------------------------------------


@dataclass
class _Job:
    """One sequence's work: generate after ``prompt`` (streaming ids to ``chunks``), or score it."""

    prompt: list[int]
    settings: GenerationConfig
    max_new: int
    stop_ids: frozenset[int]
    stop_check: Callable[[list[int]], bool] | None = None  # True once the new ids hold a stop string
    score_k: int | None = None  # not None: a scoring job (logits at every position, top_k of this many)
    score_next: bool = False
    chunks: queue_module.Queue[list[int] | None] = field(default_factory=queue_module.Queue)
    cancel: threading.Event = field(default_factory=threading.Event)
    future: Future = field(default_factory=Future)
    new: list[int] = field(default_factory=list)
    finish: str = ""
    seq: int = -1
    n_past: int = 0
    rng: Any = None
    scores: TokenScores | None = None
    outer: threading.Event | None = None  # the caller's ``cancel`` (shared by the jobs of one call): set = stop too
    grammar: LlamaGrammar | None = None  # structured output: llama.cpp's grammar sampler masks the logits

    @property
    def stopped(self) -> bool:
        """Given up: by its own handle (``cancel``) or by the caller of the whole call (``outer``)."""
        return self.cancel.is_set() or (self.outer is not None and self.outer.is_set())

    @property
    def reserve(self) -> int:
        return len(self.prompt) + (0 if self.score_k is not None else self.max_new)


class _Decoder:
    """One llama.cpp context with ``n_seq`` parallel sequences and the thread that drives it."""

    def __init__(
        self, lib: Any, model: Any, n_vocab: int, *, n_seq: int, n_ctx: int, threads: Callable[[], int], name: str
    ) -> None:
        self.lib, self.model, self.n_vocab, self.n_seq, self.n_ctx = lib, model, n_vocab, n_seq, n_ctx
        self.threads = threads  # how many CPU threads this context may use now
        self._n_threads = threads()
        p = lib.llama_context_default_params()
        p.n_ctx, p.n_batch, p.n_ubatch, p.n_seq_max = n_ctx * n_seq, max(N_BATCH, n_seq), max(N_BATCH, n_seq), n_seq
        p.n_threads = p.n_threads_batch = self._n_threads
        p.kv_unified = True  # sequences share the cells: a long request may use what short ones leave
        p.no_perf = True
        self.ctx = lib.llama_init_from_model(model, p)
        if not self.ctx:
            raise ChefbotError(f"llama.cpp could not create a context of {n_ctx} tokens for {n_seq} sequences")
        self.mem = lib.llama_get_memory(self.ctx)
        self.batch = lib.llama_batch_init(max(N_BATCH, n_seq), 0, 1)
        self.pending: deque[_Job] = deque()
        self.cond = threading.Condition()
        self.active: dict[int, _Job] = {}
        self.closed = False
        self.thread = threading.Thread(target=self._loop, daemon=True, name=name)
        self.thread.start()

    @property
    def load(self) -> int:
        return len(self.pending) + len(self.active)

    @property
    def busy(self) -> bool:
        return bool(self.active)

    def submit(self, job: _Job) -> None:
        if job.reserve > self.n_ctx:
            raise ChefbotError(
                f"prompt of {len(job.prompt)} tokens + {job.max_new} new does not fit the engine's "
                f"context of {self.n_ctx} tokens"
            )
        with self.cond:
            if self.closed:
                raise ChefbotError("the llama.cpp engine is closed")
            self.pending.append(job)
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()
        self.thread.join(timeout=30)
        if not self.thread.is_alive():
            self.lib.llama_batch_free(self.batch)
            self.lib.llama_free(self.ctx)

    # -- the loop ---------------------------------------------------------------------------
    def _admit(self) -> list[_Job]:
        with self.cond:
            while not self.pending and not self.active and not self.closed:
                self.cond.wait()
            if self.closed:
                return []
            # Given up while waiting for a sequence: handed back at once (``_prefill`` ends them), not when a
            # sequence frees, which could be a long request of someone else later.
            new = [j for j in self.pending if j.stopped]
            if new:
                self.pending = deque(j for j in self.pending if not j.stopped)
            used = sum(j.reserve for j in self.active.values())
            while (
                self.pending
                and len(self.active) < self.n_seq
                and used + self.pending[0].reserve <= self.n_ctx * self.n_seq
            ):
                job = self.pending.popleft()
                job.seq = next(i for i in range(self.n_seq) if i not in self.active)
                self.active[job.seq] = job
                used += job.reserve
                new.append(job)
            return new

    def _loop(self) -> None:
        while True:
            new = self._admit()
            if self.closed:
                for job in list(self.active.values()) + list(self.pending):
                    self._end(job, error=ChefbotError("the llama.cpp engine was closed"))
                return
            try:
                for job in new:
                    self._prefill(job)
                running = [j for j in self.active.values() if j.score_k is None and not j.finish]
                if running:
                    self._step(running)
            except BaseException as e:  # every job in flight hears about it; none is left hanging
                for job in list(self.active.values()):
                    self._end(job, error=e)

    def _decode(self, items: list[tuple[int, int, int, bool]]) -> None:
        """One llama_decode of (token, position, sequence, wants logits) entries."""
        n = self.threads()
        if n != self._n_threads:
            self.lib.llama_set_n_threads(self.ctx, n, n)
            self._n_threads = n
        b = self.batch
        for i, (tok, pos, seq, logits) in enumerate(items):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = tok, pos, 1, int(logits)
            b.seq_id[i][0] = seq
        b.n_tokens = len(items)
        rc = self.lib.llama_decode(self.ctx, b)
        if rc != 0:
            raise ChefbotError(f"llama_decode failed with code {rc} ({len(items)} tokens)")

    def _logits(self, i: int) -> Any:
        import numpy as np

        return np.ctypeslib.as_array(self.lib.llama_get_logits_ith(self.ctx, i), shape=(self.n_vocab,)).copy()

    def _prefill(self, job: _Job) -> None:
        import numpy as np

        p = job.prompt
        if job.stopped:  # given up while it waited: no work for it
            return self._end(job, "cancelled")
        if not p:
            raise ChefbotError("cannot generate from an empty prompt")
        scoring = job.score_k is not None
        if scoring:
            job.scores = TokenScores(logprobs=[])
        for a in range(0, len(p), N_BATCH):
            chunk = p[a : a + N_BATCH]
            last = a + len(chunk) == len(p)
            self._decode([(t, a + k, job.seq, scoring or (last and k == len(chunk) - 1)) for k, t in enumerate(chunk)])
            if scoring:
                self._collect_scores(job, a, len(chunk))
            if job.stopped:
                return self._end(job, "cancelled")
        job.n_past = len(p)
        if scoring:
            return self._end(job, "stop")
        job.rng = np.random.default_rng(job.settings.seed)
        self._take(job, self._logits((len(p) - 1) % N_BATCH))  # the last chunk's last token

    def _collect_scores(self, job: _Job, start: int, rows: int) -> None:
        """The log-probabilities a scoring job needs from the rows of the batch just decoded (positions
        ``start``...), a slice of rows at a time: a whole [rows, vocabulary] fp32 copy can be large."""
        import numpy as np

        seq, k, out = job.prompt, job.score_k or 0, job.scores
        logits = np.ctypeslib.as_array(self.lib.llama_get_logits(self.ctx), shape=(rows, self.n_vocab))
        for a in range(0, rows, 64):
            lp = log_softmax(logits[a : a + 64])
            for r in range(lp.shape[0]):
                pos = start + a + r  # this row predicts the token after position pos
                if pos + 1 < len(seq):
                    out.logprobs.append(float(lp[r, seq[pos + 1]]))
                    if k:
                        out.top.append(top_pairs(lp[r], k))
                elif job.score_next:
                    best = int(np.argmax(lp[r]))
                    out.next = (best, float(lp[r, best]), top_pairs(lp[r], k) if k else [])

    def _take(self, job: _Job, logits: Any) -> None:
        """Choose the job's next token from its logits, hand it out, and end the job when it is done."""
        if job.grammar is not None:
            job.grammar.mask(logits)
        tok = pick_token(
            logits, job.settings, job.rng, job.prompt + job.new if job.settings.repetition_penalty != 1.0 else ()
        )
        if job.grammar is not None and tok not in job.stop_ids:
            job.grammar.accept(tok)
        job.new.append(tok)
        job.chunks.put([tok])
        if tok in job.stop_ids:
            self._end(job, "stop")
        elif job.stop_check is not None and job.stop_check(job.new):
            self._end(job, "stop_string")
        elif len(job.new) >= job.max_new:
            self._end(job, "length")
        elif job.stopped:
            self._end(job, "cancelled")

    def _step(self, running: list[_Job]) -> None:
        self._decode([(j.new[-1], j.n_past, j.seq, True) for j in running])
        for i, job in enumerate(running):
            job.n_past += 1
            if job.stopped:
                self._end(job, "cancelled")
            else:
                self._take(job, self._logits(i))

    def _end(self, job: _Job, finish: str = "", error: BaseException | None = None) -> None:
        job.finish = finish or "error"
        if job.grammar is not None:
            job.grammar.close()
        if job.seq >= 0 and self.active.get(job.seq) is job:
            del self.active[job.seq]
            self.lib.llama_memory_seq_rm(self.mem, job.seq, -1, -1)
        job.chunks.put(None)
        if not job.future.done():
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(job)


# ---------------------------------------------------------------------------------------------
# the generator
# ---------------------------------------------------------------------------------------------


class _IncrementalText:
    """Token ids in, text deltas out: the decoded text grows; an unfinished UTF-8 character waits."""

    def __init__(self, tokenizer: Any, stop_ids: frozenset[int]) -> None:
        self.tokenizer, self.stop_ids = tokenizer, stop_ids
        self.ids: list[int] = []
        self.sent = 0

    def add(self, ids: list[int]) -> str:
        self.ids += [i for i in ids if i not in self.stop_ids]
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd") or len(text) <= self.sent:
            return ""
        delta, self.sent = text[self.sent :], len(text)
        return delta


class LlamaStream:
    """What ``stream``/``stream_ids`` return (the interface of ``StreamHandle``): iterate for deltas;
    ``completion`` once it ends; ``cancel()`` stops the sequence at its next token."""

    def __init__(self, job: _Job, deltas: Callable[[list[int]], Any], finish: Callable[[_Job], Any]) -> None:
        self._job, self._deltas, self._finish = job, deltas, finish
        self.completion: Any = None
        self.error: BaseException | None = None
        self._it = self._run()

    def _run(self) -> Iterator[Any]:
        while (chunk := self._job.chunks.get()) is not None:
            out = self._deltas(chunk)
            if out:
                yield out
        try:
            self.completion = self._finish(self._job.future.result())
        except BaseException as e:
            self.error = e
            raise

    def __iter__(self) -> LlamaStream:
        return self

    def __next__(self) -> Any:
        return next(self._it)

    def cancel(self) -> None:
        self._job.cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._job.cancel.is_set()

    def join(self, timeout: float | None = None) -> Any:
        try:
            self._job.future.result(timeout)
        except Exception:
            pass
        return self.completion


class LlamaCppGenerator(CompletesIds):
    """Generation with llama.cpp on a GGUF file: a ``TokenEngine`` (``chefbot.generate.completion``), as
    ``LocalGenerator``; ``prompt_ids``, ``generate``, ``stream`` and ``complete_ids`` come from ``CompletesIds``."""

    backend = "llamacpp"

    def __init__(
        self,
        gguf_path: str | Path,
        tokenizer: Any,
        gen_cfg: GenerationConfig,
        *,
        stop_ids: list[int],
        fold: str = "auto",
        label: str | None = None,
        quant: str | None = None,
        contexts: int = 2,
        parallel: int = 1,
        threads: int | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        base_gguf: Callable[[], Path] | None = None,
        share_threads_with: LlamaCppGenerator | None = None,
    ) -> None:
        """``contexts`` llama.cpp contexts of ``parallel`` sequences each, every sequence up to ``n_ctx`` tokens
        (prompt + answer); ``threads`` CPU threads in all (default: the usable cores), shared among the busy
        contexts (also those of ``share_threads_with``).  ``base_gguf``: where the GGUF of the base without the
        adapter comes from (None: this GGUF has no adapter merged in), for ``without_adapter``."""
        lib = _lib()
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # llama.cpp's load chatter off
        lib.llama_backend_init()
        self.lib = lib
        self.gguf_path = Path(gguf_path)
        self.tokenizer, self.gen_cfg, self.fold = tokenizer, gen_cfg, fold
        self.label = label or self.gguf_path.name
        self.quant = quant
        self.stop_ids = list(stop_ids)
        self.threads = threads or default_threads()
        mp = lib.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model_ptr = lib.llama_model_load_from_file(str(self.gguf_path).encode(), mp)
        if not self.model_ptr:
            raise ChefbotError(f"llama.cpp could not load {self.gguf_path}")
        self.vocab = lib.llama_model_get_vocab(self.model_ptr)
        self.n_vocab = lib.llama_vocab_n_tokens(self.vocab)
        n_ctx = min(n_ctx, lib.llama_model_n_ctx_train(self.model_ptr))
        self.parallel, self.contexts, self.n_ctx = parallel, contexts, n_ctx
        self._base_gguf, self._base, self._base_lock = base_gguf, None, threading.Lock()
        # every context that shares the CPU threads: this engine's, and its base's (or the served one's)
        self._all_decoders: list[_Decoder] = share_threads_with._all_decoders if share_threads_with else []
        self._decoders: list[_Decoder] = []
        self._decoders = [
            _Decoder(
                lib,
                self.model_ptr,
                self.n_vocab,
                n_seq=parallel,
                n_ctx=n_ctx,
                threads=self._share,
                name=f"chefbot-llamacpp-{i}",
            )
            for i in range(contexts)
        ]
        self._all_decoders.extend(self._decoders)
        self._stop_set = frozenset(self.stop_ids)
        # Warm-up: a context's first decode is slow (seconds: thread team, buffers); pay it here, not in a request.
        warm = [
            _Job([self.stop_ids[0]] * 2 if self.stop_ids else [0, 0], gen_cfg, 0, self._stop_set, score_k=0)
            for _ in self._decoders
        ]
        for d, job in zip(self._decoders, warm):
            d.submit(job)
        for job in warm:
            job.future.result()

    @classmethod
    def from_config(
        cls,
        cfg: ExperimentConfig,
        adapter: str | None = None,
        quant: str | None = None,
        *,
        probe: bool = True,
        **kw: Any,
    ) -> LlamaCppGenerator:
        """Export (once, cached) base + adapter to GGUF and serve it with the config's tokenizer and settings.
        With ``probe`` (the default) the engine is first tried in a child process (``probe_engine``, cached): a
        build that would crash this process (a segfault cannot be caught) raises ``EngineUnsafe`` instead."""
        if not llamacpp_available():
            raise ChefbotError(INSTALL_HINT)
        adapter = adapter or cfg.adapter
        quant = quant or cfg.engine.quantization
        path = cached_gguf(cfg, adapter, quant)
        if probe:
            verdict = probe_engine(cfg, adapter, quant, gguf=path)
            if not verdict.ok:
                raise EngineUnsafe(verdict)
        tokenizer = load_tokenizer(cfg.model)
        label = cfg.model.name_or_path + (f"+{adapter}" if adapter else "") + f" ({quant} GGUF)"

        def base_gguf() -> Path:
            """The base's own GGUF at the same quantization (exported once, cached), probed as the served one was."""
            base = cached_gguf(cfg, None, quant)
            if probe and not (verdict := probe_engine(cfg, None, quant, gguf=base)).ok:
                raise EngineUnsafe(verdict)
            return base

        # One context per generation call the server runs at once; each sequence holds the longest request it admits.
        kw = {
            "contexts": cfg.serve.max_concurrency,
            "n_ctx": cfg.serve.max_prompt_tokens + cfg.serve.max_tokens_cap,
            "threads": cfg.engine.threads,
            **kw,
        }
        return cls(
            path,
            tokenizer,
            cfg.engine.generation,
            stop_ids=model_stop_ids(cfg, tokenizer),
            fold=cfg.prompt.fold_system,
            label=label,
            quant=quant,
            base_gguf=base_gguf if adapter else None,
            **kw,
        )

    def _share(self) -> int:
        """CPU threads for one busy context: all of them alone, an even share otherwise."""
        busy = sum(d.busy for d in self._all_decoders)
        return max(1, self.threads // max(1, busy))

    # -- without the adapter (``AnswersAsBase``) -------------------------------------------------
    def serves_adapter(self) -> bool:
        return self._base_gguf is not None

    def without_adapter(self) -> LlamaCppGenerator:
        """An engine on the base's own GGUF (loaded on the first call: seconds, plus an export the first time
        ever), with one context whose busy time shares this engine's CPU threads."""
        if self._base_gguf is None:
            raise ChefbotError("this GGUF has no adapter merged in: it answers as its base already")
        with self._base_lock:
            if self._base is None:
                self._base = LlamaCppGenerator(
                    self._base_gguf(),
                    self.tokenizer,
                    self.gen_cfg,
                    stop_ids=self.stop_ids,
                    fold=self.fold,
                    quant=self.quant,
                    contexts=1,
                    threads=self.threads,
                    n_ctx=self.n_ctx,
                    share_threads_with=self,
                )
            return self._base

    def close(self) -> None:
        for d in self._decoders:
            d.close()
        if self._base is not None:
            self._base.close()

    def identity(self) -> dict:
        """The cached GGUF: its quantization, and its name (a fingerprint of what was exported)."""
        return {"backend": self.backend, "quant": self.quant, "gguf": self.gguf_path.name}

    def describe(self, settings_override: dict | None = None) -> dict:
        s = resolve_settings(self.gen_cfg, settings_override)
        lib = self.lib
        return {
            "backend": self.backend,
            "model": self.label,
            **s.model_dump(),
            "stop_token_ids": self.stop_ids,
            "stop_tokens": self.tokenizer.convert_ids_to_tokens(self.stop_ids),
            "quant": self.quant,
            "gguf": self.gguf_path.name,
            "llama_cpp_python": getattr(lib, "__version__", None),
            "parallel_sequences": self.parallel,
            "contexts": self.contexts,
            "threads": self.threads,
            "n_ctx": self.n_ctx,
            "fold_system": self.fold,
            "sampling": "chefbot (numpy on llama.cpp logits)",
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        }

    # -- jobs --------------------------------------------------------------------------------
    def _submit(
        self,
        prompt: list[int],
        s: Settings,
        max_new: int,
        stop_check: Any = None,
        score_k: int | None = None,
        score_next: bool = False,
        cancel: threading.Event | None = None,
    ) -> _Job:
        room = self.n_ctx - len(prompt)
        if room < (0 if score_k is not None else 1):
            raise ChefbotError(
                f"a prompt of {len(prompt)} tokens does not fit the llamacpp engine's {self.n_ctx}-token context"
            )
        job = _Job(list(prompt), s, min(max_new, room), self._stop_set, stop_check, score_k, score_next, outer=cancel)
        if s.structured is not None and score_k is None:
            job.grammar = LlamaGrammar(self.lib, self.vocab, gbnf(s.structured), self.n_vocab)
        min(self._decoders, key=lambda d: d.load).submit(job)
        return job

    def _completion(self, job: _Job) -> Completion:
        row = job.new
        end = next((k for k, t in enumerate(row) if t in self._stop_set), None)
        toks, n = (row[:end], end + 1) if end is not None else (row, len(row))
        reason = {"length": "length", "cancelled": "cancelled"}.get(job.finish, "stop")
        return Completion(
            text=self.tokenizer.decode(toks, skip_special_tokens=True),
            finish_reason=reason,
            prompt_tokens=len(job.prompt),
            completion_tokens=n,
        )

    # -- chat --------------------------------------------------------------------------------
    def generate_from_ids(
        self,
        prompts: Sequence[Sequence[int]],
        settings_override: dict | None = None,
        on_result: OnResult | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        """Chat answers to prompt ids in input order; every prompt runs as its own sequence, up to ``parallel``
        at once.  Once ``cancel`` is set every sequence stops at its next token (one still waiting for a context:
        at once), ``finish_reason "cancelled"``."""
        s = resolve_settings(self.gen_cfg, settings_override)
        jobs = [self._submit(list(p), s, s.max_new_tokens, cancel=cancel) for p in prompts]
        out = []
        try:
            for i, job in enumerate(jobs):
                c = self._completion(job.future.result())
                out.append(c)
                if on_result is not None:
                    on_result(i, c)
        finally:
            for job in jobs:  # a caller that gave up (an exception above) frees the sequences
                job.cancel.set()
        return out

    def stream_from_ids(self, prompt: Sequence[int], settings_override: dict | None = None) -> LlamaStream:
        s = resolve_settings(self.gen_cfg, settings_override)
        job = self._submit(list(prompt), s, s.max_new_tokens)
        return LlamaStream(job, _IncrementalText(self.tokenizer, self._stop_set).add, self._completion)

    # -- plain completions: token ids in and out, no chat template ------------------------------
    def score(self, sequences: Sequence[Sequence[int]], top_k: int = 0, next_token: bool = False) -> list[TokenScores]:
        """The log-probability of each token given those before it: one llama.cpp pass per sequence, the
        log-softmax in fp32 of the logits at every position (``LocalGenerator.score``'s contract)."""
        s = resolve_settings(self.gen_cfg)
        jobs = [self._submit(list(seq), s, 0, score_k=top_k, score_next=next_token) for seq in sequences]
        return [j.future.result().scores for j in jobs]  # type: ignore[misc]

    def _stopper(self, stop: Sequence[str]) -> Callable[[list[int]], bool] | None:
        stops = [x for x in stop if x]
        if not stops:
            return None
        window = 4 * max(len(x) for x in stops) + 2  # a stop string of m characters lies within 4m+1 tokens

        def check(ids: list[int]) -> bool:
            tail = decode_plain(self.tokenizer, ids[-window:])
            return any(x in tail for x in stops)

        return check

    def _token_completion(self, job: _Job) -> TokenCompletion:
        ids = job.new
        if ids and ids[-1] in self._stop_set:
            return TokenCompletion(job.prompt, ids, "stop", stop_id=True)
        reason = {"length": "length", "cancelled": "cancelled"}.get(job.finish, "stop")
        return TokenCompletion(job.prompt, ids, reason)

    def _continue_ids(
        self, prompts: list[list[int]], s: Settings, stop: Sequence[str], cancel: threading.Event | None
    ) -> list[TokenCompletion]:
        """``complete_ids``' decoding: every prompt its own sequence; once ``cancel`` is set the sequences stop at
        their next token."""
        jobs = [self._submit(p, s, s.max_new_tokens, self._stopper(stop), cancel=cancel) for p in prompts]
        try:
            return [self._token_completion(j.future.result()) for j in jobs]
        finally:
            for job in jobs:  # a caller that gave up (an exception above) frees the sequences
                job.cancel.set()

    def stream_ids(
        self, prompt: Sequence[int], settings_override: dict | None = None, *, max_tokens: int, stop: Sequence[str] = ()
    ) -> LlamaStream:
        """``complete_ids`` for one prompt, streamed: iterate for lists of new token ids."""
        s = resolve_settings(self.gen_cfg, {**(settings_override or {}), "max_new_tokens": max(1, max_tokens)})
        job = self._submit(list(prompt), s, max(1, max_tokens), self._stopper(stop))
        return LlamaStream(job, lambda ids: ids, self._token_completion)


def model_stop_ids(cfg: ExperimentConfig, tokenizer: Any) -> list[int]:
    """The stop ids ``LocalGenerator`` uses for this model: the tokenizer's and the model config's eos ids,
    known end-of-turn tokens, then the model's generation_config eos ids."""
    from transformers import AutoConfig
    from transformers import GenerationConfig as HFGenerationConfig

    folder = resolve_source(cfg.model).path
    ids = stop_token_ids(tokenizer, AutoConfig.from_pretrained(folder))
    try:
        gc = HFGenerationConfig.from_pretrained(folder)
    except OSError:  # no generation_config.json
        return ids
    eos = gc.eos_token_id
    return ids + [i for i in (eos if isinstance(eos, list) else [eos]) if isinstance(i, int) and i not in ids]


__all__ = [
    "INSTALL_HINT",
    "EngineUnsafe",
    "LlamaCppGenerator",
    "LlamaStream",
    "default_threads",
    "llamacpp_available",
    "log_softmax",
    "model_stop_ids",
    "passive_openmp",
    "pick_token",
    "probe_engine",
    "probe_failure",
]
