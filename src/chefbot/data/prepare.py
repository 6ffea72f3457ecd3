"""``prepare``: source rows -> validated, deduplicated, split, tokenized, packed datasets.

One streaming pass, bounded memory:

  main process                      worker processes (data.num_proc)
  read raw chunks (pyarrow) ----->  parse + validate + filter + hash + tokenize
  dedup, hash split, pack windows <-  (per-row arrays, recipes only for held-out)
  write Arrow files

Texts are tokenized with tiktoken when it reproduces the tokenizer (``text_backend``):
the copy is built before the workers fork, and the main process compares it id for id
with ``tokenizers`` on the texts of the run's first recipes before any chunk is sent
(``_choose_backend``); every task then names the backend to use.

Outputs go to ``data.cache_dir/<fingerprint>/`` (train.arrow, validation.arrow,
eval_test.jsonl, eval_validation.jsonl, stats.json, config.yaml, COMPLETE).  This
module is the pass itself; the fingerprint, the cache folders and their ``COMPLETE``
marker are ``cache``'s, and packing and writing the Arrow rows is ``arrow_writer``'s.
With ``grounding.enabled`` every prompt also holds retrieved real recipes (``retrieval``; training
recipes only, never the target or a near-duplicate): ``_train_references``.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from chefbot.config import DataConfig, ExperimentConfig, GroundingConfig, PromptConfig, save_resolved
from chefbot.cooking.labels import RecipeLabels
from chefbot.cooking.substitutions import Substituted
from chefbot.data import records as R
from chefbot.data.arrow_writer import ArrowRows
from chefbot.data.cache import (
    EVAL_SPLITS,
    Prepared,
    cache_folder,
    claim_tmp,
    eval_dir,
    fingerprint,
    is_complete,
    load_prepared,
    mark_complete,
    read_eval_items,
    release_tmp,
    remove_stale_tmp,
    save_eval_cache,
    write_eval_items,
)
from chefbot.data.chat_encoder import ChatEncoder
from chefbot.data.constraint_prompts import (
    LabelStats,
    SubstitutionStats,
    asked_keys,
    record_labels,
    sampled_constraints,
    substitution_diet,
    substitution_example,
)
from chefbot.data.readers import RawChunk, parse_chunk, raw_chunks
from chefbot.data.records import DropCounts, from_record, to_record
from chefbot.data.retrieval import (
    CorpusIndex,
    build_index,
    exclusion_keys,
    index_path,
    prompt_uses_title,
    query_text,
    references_for,
)
from chefbot.data.sources import SourceSpec, resolve_data_source, total_bytes
from chefbot.data.split import Deduper, HashSplit
from chefbot.data.text_backend import BackendChoice, TiktokenText, decide, fast_backend, requested_backend
from chefbot.data.tokenize import messages_for, target_for
from chefbot.errors import ChefbotError, ConfigError, DataError
from chefbot.io import atomic_dir, atomic_write_json
from chefbot.progress import make_progress
from chefbot.recipe_format import Recipe

# ---------------------------------------------------------------- worker side


@dataclass
class ChunkResult:
    read: int = 0
    drops: DropCounts = field(default_factory=DropCounts)
    first_bad: tuple[str, str] | None = None  # (where, reason) for --strict
    ident: np.ndarray | None = None  # uint64 dedup ids of valid rows
    u: np.ndarray | None = None  # float64 split positions
    lengths: np.ndarray | None = None  # int32 token counts (0 = no target fits)
    n_prompt: np.ndarray | None = None
    truncated: np.ndarray | None = None  # bool
    tokens: np.ndarray | None = None  # int32, all examples concatenated
    recipes: dict[int, dict] = field(default_factory=dict)  # row -> record, for u < bound
    nbytes: int = 0  # input size of the chunk, for the progress bar
    texts: dict[str, int] = field(default_factory=dict)  # texts tokenized per text backend
    backend_fallback: str | None = None  # the worker gave up tiktoken in this chunk, and why
    labels: list[tuple[RecipeLabels, tuple[str, ...] | None]] | None = None  # per valid row: labels, asked_keys
    subs: dict[int, tuple] | None = None  # data.substitution_rate: valid row -> _substitution_rows' tuple


_W: dict[str, Any] = {}


def _init_worker(
    tokenizer: Any,
    data_cfg: dict,
    prompt_cfg: dict,
    fast_text: TiktokenText | None = None,
    ground: tuple[str, dict, bool] | None = None,
) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _W["data"] = DataConfig.model_validate(data_cfg)
    _W["prompt"] = PromptConfig.model_validate(prompt_cfg)
    _W["ground"] = _open_grounding(ground)  # opened after the fork: one SQLite connection per process
    fold = _W["prompt"].fold_system
    _W["encoder"] = ChatEncoder(tokenizer, _W["data"].max_length, fold, fast_text) if tokenizer is not None else None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """For loops that make ~10^5 short-lived containers (row dicts, recipes, id lists, items)
    and next to no reference cycles: the cyclic GC would only walk them again and again
    (measured: ~8% of a worker's time, ~25% of the main process's); refcounting frees
    them, and the GC resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _process(task: tuple[RawChunk, float, str]) -> ChunkResult:
    with _gc_paused():
        return _process_chunk(task)


def _valid_records(chunk: RawChunk, d: DataConfig, res: ChunkResult) -> list[Recipe]:
    """The chunk's rows that pass validation and the source filter; the rest counted in ``res``."""
    kept: list[Recipe] = []
    for where, rec in parse_chunk(chunk):
        res.read += 1
        if isinstance(rec, R.BadRow):
            res.drops.add(rec.reason, f"{where} ({rec.detail})" if rec.detail else where)
            if res.first_bad is None:
                res.first_bad = (where, str(rec))
            continue
        reason = R.record_problem(rec, d.max_chars, d.min_steps)
        if reason is not None:
            res.drops.add(reason, where)
            if res.first_bad is None:
                res.first_bad = (where, reason)
            continue
        if d.sources is not None and rec.source not in d.sources:
            res.drops.add(R.FILTERED_SOURCE, where)
            continue
        kept.append(rec)
    return kept


def _process_chunk(task: tuple[RawChunk, float, str]) -> ChunkResult:
    chunk, bound, backend = task
    d: DataConfig = _W["data"]
    res = ChunkResult()
    rows = chunk.rows
    res.nbytes = rows.nbytes if hasattr(rows, "nbytes") else sum(len(r) for r in rows if isinstance(r, bytes))
    kept = _valid_records(chunk, d, res)
    hashes = [R.key_hashes(R.dedup_key(r.title, r.ner), d.seed) for r in kept]
    res.ident = np.array([h[0] for h in hashes], dtype=np.uint64)
    res.u = np.array([h[1] for h in hashes], dtype=np.float64)
    res.recipes = {i: to_record(kept[i]) for i in range(len(kept)) if res.u[i] < bound}
    prompt: PromptConfig = _W["prompt"]
    enc: ChatEncoder | None = _W["encoder"]
    if enc is not None:
        labels: list[RecipeLabels | None] = [None] * len(kept)
        if prompt.constraints:  # labelled only when the prompts ask for labels (constraint_prompts: the cost)
            labels = [record_labels(r, prompt, d.seed) for r in kept]  # time only where asked
            drawn = [sampled_constraints(r, lab, prompt, d.seed) for r, lab in zip(kept, labels)]
            # plain data goes back to the parent for the statistics, not the pydantic models
            res.labels = [(lab, asked_keys(c)) for lab, c in zip(labels, drawn)]
        enc.use_backend(backend)
        refs, grounding = _train_references(kept, _W["ground"])
        if res.labels is not None:  # the constraints drawn above, not drawn again
            conv = [
                (messages_for(r, prompt, d.seed, lab, c, references=ref, grounding=grounding), target_for(r))
                for r, lab, c, ref in zip(kept, labels, drawn, refs)
            ]
        else:
            conv = [
                (messages_for(r, prompt, d.seed, lab, references=ref, grounding=grounding), target_for(r))
                for r, lab, ref in zip(kept, labels, refs)
            ]
        had_fallback = enc.backend_fallback
        before = enc.text_stats()
        res.tokens, res.lengths, res.n_prompt, res.truncated = enc.encode_arrays(conv, verify=1)
        if d.substitution_rate > 0:
            res.subs = _substitution_rows(kept, d, prompt, enc, refs, grounding)
        res.texts = {k: v - before.get(k, 0) for k, v in enc.text_stats().items()}
        if enc.backend_fallback != had_fallback:
            res.backend_fallback = f"{chunk.file}: rows from {chunk.first_row}: {enc.backend_fallback}"
    return res


def _substitution_rows(
    kept: list[Recipe],
    d: DataConfig,
    prompt: PromptConfig,
    enc: ChatEncoder,
    refs: list[list[Recipe]],
    grounding: GroundingConfig | None,
) -> dict[int, tuple]:
    """data.substitution_rate: for each row drawn (``substitution_diet``), (diet, refusal code or "", the
    extra example's tokens or None, its prompt length); whether it is used waits for the split (``_Substitutions``)."""
    rows: dict[int, tuple] = {}
    conv: list[tuple[int, tuple]] = []
    for i, r in enumerate(kept):
        diet = substitution_diet(r, d.substitution_rate, d.seed)
        if diet is None:
            continue
        ex = substitution_example(r, diet, prompt, refs[i], grounding)
        rows[i] = (diet, ex.code if isinstance(ex, Substituted) else "", None, 0)
        if not isinstance(ex, Substituted):
            conv.append((i, ex))
    if conv:
        toks, lengths, n_prompt, _ = enc.encode_arrays([c for _, c in conv], verify=1)
        at = 0
        for (i, _), n, p in zip(conv, lengths.tolist(), n_prompt.tolist()):
            rows[i] = (rows[i][0], "", toks[at : at + n].copy() if n else None, p)
            at += n
    return rows


@dataclass
class _Substitutions:
    """Extra examples waiting for their recipe's split: one joins train.arrow only with its recipe
    (``take`` in ``on_train``); a held-out recipe's is left here and dropped."""

    stats: SubstitutionStats
    pending: dict[float, tuple] = field(default_factory=dict)  # the recipe's split position u -> row

    def offer(self, u: float, row: tuple) -> None:
        self.pending[u] = row

    def take(self, u: float) -> tuple | None:
        return self.pending.pop(u, None)

    def add(self, row: tuple | None, train: ArrowRows) -> None:
        """Count a training recipe's drawn row, and add its example when one was built."""
        if row is None:
            return
        diet, code, toks, n_prompt = row
        self.stats.add(diet, code, toks is not None)
        if toks is not None:
            train.add(toks, n_prompt)


Grounding = tuple[CorpusIndex, GroundingConfig, bool]  # the index, its settings, whether the prompt shows the title


def _open_grounding(args: tuple[str, dict, bool] | None) -> Grounding | None:
    if args is None:
        return None
    grounding = GroundingConfig.model_validate(args[1])
    return CorpusIndex(args[0], grounding.method), grounding, args[2]


def _train_references(
    kept: list[Recipe], ground: Grounding | None
) -> tuple[list[list[Recipe]], GroundingConfig | None]:
    """grounding.enabled: each recipe's retrieved recipes (``data.retrieval``): training-split recipes
    only, never the recipe itself or a near-duplicate (``exclusion_keys``); else none."""
    if ground is None:
        return [[] for _ in kept], None
    index, grounding, uses_title = ground
    return [
        references_for(
            index, grounding, query_text(r.ner, r.title, uses_title), exclusion_keys(r.title, r.ner), ("train",)
        )
        for r in kept
    ], grounding


def _grounding_args(cfg: ExperimentConfig, spec: SourceSpec, progress: bool) -> tuple[str, dict, bool] | None:
    """grounding.enabled: what workers need to ground prompts (index path, settings, whether the prompt shows
    the title), the corpus index built first if it is not on disk yet; else None."""
    if not cfg.grounding.enabled:
        return None
    path = index_path(cfg, spec)
    if not path.exists():
        # In a spawned process: the CSV reader's threads must never run in this one before it forks its workers.
        ctx = mp.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_build_index, args=(cfg.model_dump(mode="json"), spec, progress, send))
        child.start()
        send.close()
        try:
            error = receive.recv()  # blocks until the child sends its error or closes the pipe
        except EOFError:
            error = None
        child.join()
        if error is not None:  # the child's own clear message (a bad source), not a traceback
            raise DataError(f"grounding index: {error}")
        if child.exitcode != 0 or not path.exists():
            raise DataError(f"grounding index of {spec.describe()}: building it failed (exit code {child.exitcode})")
    return str(path), cfg.grounding.model_dump(mode="json"), prompt_uses_title(cfg)


def _build_index(cfg: dict, spec: SourceSpec, progress: bool, errors: Any) -> None:
    """The spawned index build; a ChefbotError goes back to the parent as its message."""
    try:
        experiment = ExperimentConfig.model_validate(cfg)
        build_index(experiment, spec, index_path(experiment, spec), progress)
    except ChefbotError as e:
        errors.send(str(e))
    finally:
        errors.close()


def _run(chunks: Iterable[tuple[RawChunk, float]], num_proc: int, initargs: tuple) -> Iterator[ChunkResult]:
    """Ordered parallel map with a bounded number of chunks in flight (Pool.imap would
    read the whole file ahead into its task queue)."""
    if num_proc <= 1:
        _init_worker(*initargs)
        for c in chunks:
            yield _process(c)
        return
    # fork: workers inherit the tokenizer without pickling; created before any reader threads start.
    ctx = mp.get_context("fork")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    with ctx.Pool(num_proc, initializer=_init_worker, initargs=initargs) as pool:
        pending: deque = deque()
        for c in chunks:
            pending.append(pool.apply_async(_process, (c,)))
            if len(pending) >= 2 * num_proc:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


# ---------------------------------------------------------------- held-out items and statistics


def _eval_item(rec: dict, cfg: ExperimentConfig, ground: Grounding | None) -> dict:
    """One held-out item; ``labels`` are the recipe's own (``cooking.labels``), for the
    evaluation of constraint prompts.  With grounding, ``references`` are the records of the
    recipes in its prompt (training recipes only; ``retrieval.item_references`` reads them)."""
    r = from_record(rec)
    labels = record_labels(r)
    (refs,), grounding = _train_references([r], ground)
    item = {
        "id": r.id,
        "title": r.title,
        "ner": r.ner,
        "messages": messages_for(r, cfg.prompt, cfg.data.seed, labels, references=refs, grounding=grounding),
        "reference": target_for(r),
        "labels": labels.to_dict(),
    }
    if grounding is not None:
        item["references"] = [to_record(x) for x in refs]
    return item


def _eval_items(held: dict, cfg: ExperimentConfig, spec: SourceSpec) -> dict[str, list[dict]]:
    """The held-out items by split, as written to eval_<split>.jsonl."""
    ground = _open_grounding(_grounding_args(cfg, spec, progress=False))
    return {name: [_eval_item(it[2], cfg, ground) for it in held[name]] for name in EVAL_SPLITS}


def _percentiles(x: np.ndarray) -> dict:
    if len(x) == 0:
        return {}
    q = np.percentile(x, [50, 90, 99])
    return {
        "p50": float(q[0]),
        "p90": float(q[1]),
        "p99": float(q[2]),
        "max": int(x.max()),
        "mean": round(float(x.mean()), 1),
    }


# ---------------------------------------------------------------- the pass


def _take(
    res: ChunkResult,
    counters: dict,
    drops: DropCounts,
    dedup: Deduper,
    split: HashSplit,
    subs: _Substitutions | None = None,
) -> None:
    """Dedup one chunk's rows and hand them to the split (Python scalars: numpy's per-element access is slow)."""
    n = len(res.u)
    encoded = res.lengths is not None
    lengths = res.lengths.tolist() if encoded else [0] * n
    label_stats = counters.setdefault("labels", LabelStats()) if res.labels is not None else None
    n_prompt = res.n_prompt.tolist() if encoded else [0] * n
    truncated = res.truncated.tolist() if encoded else [False] * n
    at = 0
    for j, (ident, u) in enumerate(zip(res.ident.tolist(), res.u.tolist())):
        end = at + lengths[j]
        counters["valid"] += 1
        if not dedup.first(ident):
            drops.add(R.DUPLICATE)
        else:
            counters["kept"] += 1
            if label_stats is not None:
                label_stats.add(*res.labels[j])
            toks = res.tokens[at:end] if lengths[j] else None
            if subs is not None and res.subs and j in res.subs:
                subs.offer(u, res.subs[j])
            split.add(u, (toks, n_prompt[j], res.recipes.get(j), truncated[j]))
        at = end


def _detach(item: tuple) -> tuple:
    """A held-out candidate with its own copy of its tokens: a slice would keep the chunk's
    whole token array alive until the end of the pass (``split``'s module docstring)."""
    toks = item[0]
    return item if toks is None else (toks.copy(), *item[1:])


def _drop_summary(dropped: dict[str, int]) -> str:
    return (
        ", ".join(f"{reason} {n:,}" for reason, n in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"
    )


def _check_rows(spec: SourceSpec, d: DataConfig, counters: dict, drops: DropCounts) -> None:
    """No rows, or no valid rows, is an error: a dataset of nothing must never look prepared."""
    src = spec.describe()
    if counters["read"] == 0:
        raise DataError(f"{src}: no rows to prepare (rows read: 0; the source holds no data rows); nothing was written")
    if counters["kept"] == 0:
        dropped = drops.to_dict()
        hint = ""
        if dropped.get(R.FILTERED_SOURCE):
            hint = f"; data.sources={d.sources} keeps none of them"
        elif not d.strict:
            hint = "; `chefbot data prepare --strict` stops at the first bad row and names it"
        raise DataError(
            f"{src}: no valid rows (rows read: {counters['read']:,}; dropped: {sum(dropped.values()):,} = {_drop_summary(dropped)})"
            f"{hint}; nothing was written"
        )


BACKEND_SAMPLE = 300  # recipes at the start of a run whose texts tiktoken must tokenize like tokenizers


def _choose_backend(
    chunks: Iterator[RawChunk],
    cfg: ExperimentConfig,
    tokenizer: Any,
    fast: TiktokenText,
    choice: BackendChoice,
    progress: bool,
) -> list[RawChunk]:
    """Read chunks until ``BACKEND_SAMPLE`` valid recipes (or the end), and let ``decide``
    compare the backends on their texts.  Returns the chunks read, still to be processed."""
    d = cfg.data
    head: list[RawChunk] = []
    sample: list[Recipe] = []
    for chunk in chunks:
        head.append(chunk)
        sample += _valid_records(chunk, d, ChunkResult())[: BACKEND_SAMPLE - len(sample)]
        if len(sample) >= BACKEND_SAMPLE:
            break
    enc = ChatEncoder(tokenizer, d.max_length, cfg.prompt.fold_system)
    with _gc_paused():
        texts = enc.texts_for([(messages_for(r, cfg.prompt, d.seed), target_for(r)) for r in sample])
    decide(fast, texts, choice)
    if choice.reason and progress:
        print(f"tokenizer backend: tokenizers ({choice.reason})")
    return head


def _stream(
    cfg: ExperimentConfig,
    spec: SourceSpec,
    tokenizer: Any,
    progress: bool,
    on_train,
    on_result=None,
    subs: _Substitutions | None = None,
) -> tuple[dict, dict]:
    """Run the pass; returns (held-out items by split, counters).  Raises ``DataError`` when
    the source has no rows or no valid rows."""
    d = cfg.data
    drops = DropCounts()
    dedup = Deduper()
    split = HashSplit(d.val_size, d.test_size, on_train, detach=_detach)
    counters: dict[str, Any] = {"read": 0, "valid": 0, "kept": 0}
    requested = requested_backend(d) if tokenizer is not None else "tokenizers"  # no tokenizer: held-out items only
    fast, why_not = (None, None) if tokenizer is None else fast_backend(tokenizer, requested)
    choice = BackendChoice(requested, reason=why_not)
    if why_not and requested == "auto" and progress:
        print(f"tokenizer backend: tokenizers ({why_not})")

    def tasks():
        chunks = iter(raw_chunks(spec, strict=d.strict))
        head: list[RawChunk] = []
        if fast is not None:  # in the main process, after the workers forked (no reader threads before)
            head = _choose_backend(chunks, cfg, tokenizer, fast, choice, progress)
        for chunk in chain(head, chunks):
            yield chunk, split.f, choice.used

    ground = _grounding_args(cfg, spec, progress) if tokenizer is not None else None  # none for held-out items alone
    initargs = (tokenizer, d.model_dump(mode="json"), cfg.prompt.model_dump(mode="json"), fast, ground)
    size = total_bytes(spec)
    with make_progress() as bar:
        task = bar.add_task(f"prepare {spec.describe()}", total=size, info="") if progress else None
        for res in _run(tasks(), d.num_proc, initargs):
            if d.strict and res.first_bad is not None:
                where, reason = res.first_bad
                raise DataError(f"{where}: bad row ({reason}) (--strict / data.strict=true)")
            counters["read"] += res.read
            drops.merge(res.drops)
            for name, n in res.texts.items():
                choice.texts[name] = choice.texts.get(name, 0) + n
            if res.backend_fallback and choice.fallback is None:
                choice.fallback = res.backend_fallback
                if progress:
                    print(f"tokenizer backend: tiktoken given up mid-run ({res.backend_fallback})")
            with _gc_paused():
                _take(res, counters, drops, dedup, split, subs)
            if on_result:
                on_result(res)
            if task is not None:
                bar.update(task, advance=res.nbytes, info=f"{counters['kept']:,} kept")
    _check_rows(spec, d, counters, drops)
    held = split.finish()
    counters["held_out_threshold"] = split.f
    counters["tokenizer_backend"] = choice.to_dict()
    counters["dropped"] = drops.to_dict()
    counters["drop_examples"] = dict(drops.examples)
    return held, counters


def prepare(
    cfg: ExperimentConfig, tokenizer: Any, progress: bool = True, force: bool = False, spec: SourceSpec | None = None
) -> Prepared:
    """Prepared train/validation datasets for ``cfg`` (from the cache when possible).  ``spec``:
    ``cfg.data``'s source as the caller resolved it (``chefbot data prepare`` does, before the
    tokenizer loads); resolved here when not given.  Either way once per run: the fingerprint,
    the pass and the eval cache all take this one."""
    if spec is None:
        spec = resolve_data_source(cfg.data.source, cfg.data.format)
    if cfg.data.substitution_rate > 0 and not cfg.prompt.constraints:
        raise ConfigError(
            f"data.substitution_rate={cfg.data.substitution_rate} asks for a diet in each extra example's prompt: "
            "set prompt.constraints (configs/quickstart.yaml has one), or data.substitution_rate=0"
        )
    fp = fingerprint(cfg, tokenizer, spec)
    out = cache_folder(cfg, fp)
    if is_complete(out) and not force:
        if progress:
            print(f"cache hit: {out}")
        return load_prepared(out, cache_hit=True)
    t0 = time.time()
    d = cfg.data
    for stale in remove_stale_tmp(out):
        if progress:
            print(f"removed the unfinished output of an interrupted run: {stale}")
    with atomic_dir(out) as tmp:
        claim_tmp(tmp)
        train = ArrowRows(tmp / "train.arrow", d.max_length, d.packing, d.seed)
        capped: list = []  # max_train: the smallest-u training recipes (heap would save little here)
        lengths_all: list[np.ndarray] = []
        stats_extra = {"no_target": 0, "truncated": 0, "train_candidates": 0}
        subs = _Substitutions(SubstitutionStats(rate=d.substitution_rate)) if d.substitution_rate > 0 else None

        def on_train(u: float, item) -> None:
            toks, n_prompt, _, truncated = item
            extra = subs.take(u) if subs is not None else None  # the recipe's substitution example, if drawn
            if toks is None:
                stats_extra["no_target"] += 1
                return
            stats_extra["truncated"] += truncated
            stats_extra["train_candidates"] += 1
            if d.max_train is not None:
                capped.append((u, toks.copy(), n_prompt, extra))  # a copy: a slice would keep its whole chunk alive
                if len(capped) >= 4 * d.max_train + 1024:
                    capped.sort(key=lambda x: x[0])
                    del capped[d.max_train :]
            else:
                train.add(toks, n_prompt)
                if subs is not None:
                    subs.add(extra, train)

        held, counters = _stream(
            cfg, spec, tokenizer, progress, on_train, lambda r: lengths_all.append(r.lengths[r.lengths > 0]), subs
        )
        if d.max_train is not None:
            capped.sort(key=lambda x: x[0])
            for _, toks, n_prompt, extra in capped[: d.max_train]:
                train.add(toks, n_prompt)
                if subs is not None:
                    subs.add(extra, train)
        train.close()
        n_subs = subs.stats.built if subs is not None else 0
        if train.examples == 0:
            _empty_train(spec, d, counters, held, stats_extra["no_target"])
        val = ArrowRows(tmp / "validation.arrow", d.max_length, d.packing, d.seed)
        for toks, n_prompt, _, _ in held["validation"]:
            if toks is not None:
                val.add(toks, n_prompt)
        val.close()
        # Examples with no answer token left, per split: dropped from train.arrow and
        # validation.arrow; test items stay in eval_test.jsonl (generation does not truncate).
        no_target = {
            "train": stats_extra["no_target"],
            **{name: sum(1 for it in held[name] if it[0] is None) for name in ("validation", "test")},
        }
        dropped = dict(counters["dropped"])
        if no_target["train"] + no_target["validation"]:
            dropped[R.NO_TARGET] = no_target["train"] + no_target["validation"]
        lengths = np.concatenate(lengths_all) if lengths_all else np.zeros(0, dtype=np.int32)
        stats = {
            "source": spec.describe(),
            "format": spec.fmt,
            "fingerprint": fp,
            "rows_read": counters["read"],
            "valid": counters["valid"],
            "kept_after_dedup": counters["kept"],
            "dropped": dropped,
            "no_target_by_split": no_target,
            "bad_rows": sum(v for k, v in dropped.items() if k in R.BAD_ROW_REASONS),
            "drop_examples": counters["drop_examples"],
            "split": {
                "train_recipes": train.examples - n_subs,
                "validation": len(held["validation"]),
                "test": len(held["test"]),
                "held_out_reserve": len(held["reserve"]),
                "held_out_threshold_u": counters["held_out_threshold"],
                "train_left_out_by_max_train": max(0, stats_extra["train_candidates"] - (train.examples - n_subs)),
            },
            "truncated_examples": stats_extra["truncated"],
            "tokens_per_example": _percentiles(lengths),
            "train_rows": train.rows,
            "train_tokens": train.tokens,
            "train_target_tokens": train.label_tokens,
            "validation_rows": val.rows,
            "packing": d.packing,
            "max_length": d.max_length,
            "packing_efficiency": round(train.efficiency(), 4),
            "tokenizer_backend": counters["tokenizer_backend"],
            "labels": counters["labels"].to_dict() if "labels" in counters else None,
            "seconds": round(time.time() - t0, 2),
        }
        if subs is not None:  # only when on: at rate 0 every output file is what it was
            stats["substitutions"] = subs.stats.to_dict()
        stats["rows_per_s"] = round(stats["rows_read"] / max(stats["seconds"], 1e-9), 1)
        write_eval_items(tmp, _eval_items(held, cfg, spec))
        atomic_write_json(tmp / "stats.json", stats)
        save_resolved(cfg, tmp)
        release_tmp(tmp)
        mark_complete(tmp, fp)  # last: the folder counts from here on
    save_eval_cache(cfg, spec, out)
    return load_prepared(out, cache_hit=False)


def _empty_train(spec: SourceSpec, d: DataConfig, counters: dict, held: dict, no_target: int) -> None:
    """Training needs at least one example: say why there is none and which setting to change."""
    n_held = {name: len(held[name]) for name in ("validation", "test", "reserve")}
    fixes = []
    if no_target:
        fixes.append(
            f"raise data.max_length (now {d.max_length}): the prompt alone fills it for {no_target:,} training recipe(s)"
        )
    if sum(n_held.values()):
        fixes.append(
            f"lower data.val_size / data.test_size (now {d.val_size} / {d.test_size}): the held-out pool "
            f"took {sum(n_held.values()):,} of the {counters['kept']:,} recipes"
        )
    raise DataError(
        f"{spec.describe()}: the train split is empty (rows read: {counters['read']:,}; kept after dedup: {counters['kept']:,}; "
        f"validation {n_held['validation']:,}, test {n_held['test']:,}, held-out reserve {n_held['reserve']:,}; "
        f"train recipes with no target after truncation: {no_target:,}; dropped: {_drop_summary(counters['dropped'])}); "
        f"{' or '.join(fixes) or 'add recipes'}; nothing was written"
    )


def load_eval_items(cfg: ExperimentConfig, split: str = "test") -> list[dict]:
    """The held-out items of ``split`` in a fixed order (by split hash), the same for every model."""
    if split not in EVAL_SPLITS:
        raise DataError(f"eval split {split!r}: expected 'test' or 'validation'")
    spec = resolve_data_source(cfg.data.source, cfg.data.format)
    folder = eval_dir(cfg, spec)
    if not is_complete(folder):
        held, _ = _stream(cfg, spec, None, progress=True, on_train=lambda u, item: None)
        with atomic_dir(folder) as tmp:
            write_eval_items(tmp, _eval_items(held, cfg, spec))
            mark_complete(tmp)
    return read_eval_items(folder, split)
