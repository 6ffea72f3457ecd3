"""``prepare``: source rows -> validated, deduplicated, split, tokenized, packed datasets.

One streaming pass, bounded memory:

  main process                      worker processes (data.num_proc)
  read raw chunks (pyarrow) ----->  parse + validate + filter + hash + tokenize
  dedup, hash split, pack windows <-  (per-row arrays, recipes only for held-out)
  write Arrow files

Outputs go to ``data.cache_dir/<fingerprint>/`` (train.arrow, validation.arrow,
eval_test.jsonl, eval_validation.jsonl, stats.json, config.yaml, COMPLETE).  The
fingerprint covers the source file(s), the tokenizer and its chat template, the
prompt and every data option that changes the output, so a second run is a cache hit.
The folder is written under a temporary name and renamed when complete, and the
COMPLETE marker is written last: an interrupted run never leaves a cache that looks
complete.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing as mp
import os
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from chefbot.config import DataConfig, ExperimentConfig, PromptConfig, save_resolved
from chefbot.data import records as R
from chefbot.data.collate import pack_lengths
from chefbot.data.readers import RawChunk, parse_chunk, raw_chunks, resolve_source, source_identity, total_bytes
from chefbot.data.records import DropCounts, Recipe
from chefbot.data.split import Deduper, HashSplit
from chefbot.errors import DataError
from chefbot.io import atomic_dir, atomic_write_json, atomic_write_text

PIPELINE_VERSION = 1  # bump when the output of the same inputs changes
PACK_WINDOW = 50_000  # examples packed together; larger windows gain <0.1% efficiency
COMPLETE = "COMPLETE"


@dataclass
class Prepared:
    train: Any  # datasets.Dataset
    validation: Any
    stats: dict
    cache_dir: Path
    cache_hit: bool = False


# ---------------------------------------------------------------- fingerprints


_IDENTITY_CACHE: dict[int, tuple[Any, dict]] = {}


def _tokenizer_identity(tokenizer: Any) -> dict:
    cached = _IDENTITY_CACHE.get(id(tokenizer))
    if cached is not None and cached[0] is tokenizer and cached[1]["chat_template"] == tokenizer.chat_template:
        return cached[1]
    vocab = tokenizer.get_vocab()
    h = hashlib.sha256(json.dumps(sorted(vocab.items()), ensure_ascii=False).encode()).hexdigest()
    ident = {
        "class": type(tokenizer).__name__,
        "vocab_sha256": h,
        "chat_template": tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else json.dumps(tokenizer.chat_template, sort_keys=True),
        "special": {k: str(v) for k, v in sorted(tokenizer.special_tokens_map.items())},
    }
    _IDENTITY_CACHE[id(tokenizer)] = (tokenizer, ident)
    return ident


def _split_settings(d: DataConfig) -> dict:
    return {k: getattr(d, k) for k in ("val_size", "test_size", "seed", "sources", "min_steps", "max_chars")}


def eval_fingerprint(cfg: ExperimentConfig, spec=None) -> str:
    spec = spec or resolve_source(cfg.data.source, cfg.data.format)
    key = {
        "v": PIPELINE_VERSION,
        "source": source_identity(spec),
        "format": spec.fmt,
        "split": _split_settings(cfg.data),
        "prompt": cfg.prompt.model_dump(mode="json"),
    }
    return "eval-" + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def fingerprint(cfg: ExperimentConfig, tokenizer: Any, spec=None) -> str:
    spec = spec or resolve_source(cfg.data.source, cfg.data.format)
    data = cfg.data.model_dump(mode="json")
    for k in ("num_proc", "cache_dir", "strict", "source"):  # do not change the output
        data.pop(k)
    key = {
        "v": PIPELINE_VERSION,
        "source": source_identity(spec),
        "format": spec.fmt,
        "data": data,
        "prompt": cfg.prompt.model_dump(mode="json"),
        "tokenizer": _tokenizer_identity(tokenizer),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


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


_W: dict[str, Any] = {}


def _init_worker(tokenizer: Any, data_cfg: dict, prompt_cfg: dict) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from chefbot.data.tokenize import ChatEncoder

    _W["data"] = DataConfig.model_validate(data_cfg)
    _W["prompt"] = PromptConfig.model_validate(prompt_cfg)
    fold = _W["prompt"].fold_system
    _W["encoder"] = ChatEncoder(tokenizer, _W["data"].max_length, fold) if tokenizer is not None else None


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


def _process(task: tuple[RawChunk, float]) -> ChunkResult:
    with _gc_paused():
        return _process_chunk(task)


def _process_chunk(task: tuple[RawChunk, float]) -> ChunkResult:
    from chefbot.data.tokenize import messages_for, target_for

    chunk, bound = task
    d: DataConfig = _W["data"]
    res = ChunkResult()
    rows = chunk.rows
    res.nbytes = rows.nbytes if hasattr(rows, "nbytes") else sum(len(r) for r in rows if isinstance(r, bytes))
    kept: list[Recipe] = []
    for where, rec in parse_chunk(chunk):
        res.read += 1
        if isinstance(rec, R.BadRow):
            res.drops.add(rec.reason, f"{where} ({rec.detail})" if rec.detail else where)
            if res.first_bad is None:
                res.first_bad = (where, str(rec))
            continue
        reason = R.check_recipe(rec, d.max_chars, d.min_steps)
        if reason is not None:
            res.drops.add(reason, where)
            if res.first_bad is None:
                res.first_bad = (where, reason)
            continue
        if d.sources is not None and rec.source not in d.sources:
            res.drops.add(R.FILTERED_SOURCE, where)
            continue
        kept.append(rec)
    hashes = [R.key_hashes(R.dedup_key(r.title, r.ner), d.seed) for r in kept]
    res.ident = np.array([h[0] for h in hashes], dtype=np.uint64)
    res.u = np.array([h[1] for h in hashes], dtype=np.float64)
    res.recipes = {i: kept[i].to_dict() for i in range(len(kept)) if res.u[i] < bound}
    enc = _W["encoder"]
    if enc is not None:
        conv = [(messages_for(r, _W["prompt"]), target_for(r)) for r in kept]
        res.tokens, res.lengths, res.n_prompt, res.truncated = enc.encode_arrays(conv, verify=1)
    return res


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


# ---------------------------------------------------------------- writing


class ArrowRows:
    """Streams example or packed rows into an Arrow file that datasets can memory-map."""

    def __init__(self, path: Path, max_length: int, packing: bool, seed: int):
        import pyarrow as pa

        self.pa = pa
        self.path = path
        self.max_length = max_length
        self.packing = packing
        self.rng = np.random.default_rng(seed)
        self.schema = pa.schema([(c, pa.list_(pa.int32())) for c in ("input_ids", "labels", "position_ids")])
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = pa.ipc.new_stream(self.sink, self.schema)
        self.buffer: list[tuple[np.ndarray, int]] = []
        self.rows = 0
        self.tokens = 0
        self.label_tokens = 0
        self.examples = 0

    def add(self, tokens: np.ndarray, n_prompt: int) -> None:
        self.buffer.append((tokens, n_prompt))
        if len(self.buffer) >= PACK_WINDOW:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        pa = self.pa
        lengths = np.array([len(t) for t, _ in self.buffer], dtype=np.int64)
        bins = pack_lengths(lengths, self.max_length) if self.packing else [[i] for i in range(len(lengths))]
        bins = [bins[i] for i in self.rng.permutation(len(bins)).tolist()]
        order = list(chain.from_iterable(bins))
        ex_len = lengths[order]
        ex_prompt = np.array([p for _, p in self.buffer], dtype=np.int64)[order]
        ids = np.concatenate([self.buffer[i][0] for i in order]).astype(np.int32)
        starts = np.cumsum(ex_len) - ex_len
        pos = (np.arange(len(ids), dtype=np.int64) - np.repeat(starts, ex_len)).astype(np.int32)
        labels = ids.copy()
        labels[pos < np.repeat(ex_prompt, ex_len)] = -100  # prompt tokens (incl. each example's first token)
        bin_sizes = np.fromiter(map(len, bins), dtype=np.int64, count=len(bins))
        row_len = np.add.reduceat(ex_len, np.cumsum(bin_sizes) - bin_sizes)
        offsets = pa.array(np.concatenate([[0], np.cumsum(row_len)]).astype(np.int32))
        cols = [pa.ListArray.from_arrays(offsets, pa.array(a)) for a in (ids, labels, pos)]
        self.writer.write_batch(pa.record_batch(cols, schema=self.schema))
        self.rows += len(bins)
        self.tokens += int(len(ids))
        self.label_tokens += int((labels != -100).sum())
        self.examples += len(lengths)
        self.buffer = []

    def close(self) -> None:
        self.flush()
        self.writer.close()
        self.sink.close()

    def efficiency(self) -> float:
        return self.tokens / (self.rows * self.max_length) if self.rows else 0.0


def _eval_item(rec: dict, prompt: PromptConfig) -> dict:
    from chefbot.data.tokenize import messages_for, target_for

    r = Recipe.from_dict(rec)
    return {"id": r.id, "title": r.title, "ner": r.ner, "messages": messages_for(r, prompt), "reference": target_for(r)}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _percentiles(x: np.ndarray) -> dict:
    if len(x) == 0:
        return {}
    q = np.percentile(x, [50, 90, 99])
    return {"p50": float(q[0]), "p90": float(q[1]), "p99": float(q[2]), "max": int(x.max()), "mean": round(float(x.mean()), 1)}


# ---------------------------------------------------------------- the pass


def _take(res: ChunkResult, counters: dict, drops: DropCounts, dedup: Deduper, split: HashSplit) -> None:
    """Dedup one chunk's rows and hand them to the split (Python scalars: numpy's per-element access is slow)."""
    n = len(res.u)
    encoded = res.lengths is not None
    lengths = res.lengths.tolist() if encoded else [0] * n
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
            toks = res.tokens[at:end] if lengths[j] else None
            split.add(u, (toks, n_prompt[j], res.recipes.get(j), truncated[j]))
        at = end


def _stream(cfg: ExperimentConfig, spec, tokenizer: Any, progress: bool, on_train, on_result=None) -> tuple[dict, dict]:
    """Run the pass; returns (held-out items by split, counters)."""
    from chefbot.progress import make_progress

    d = cfg.data
    drops = DropCounts()
    dedup = Deduper()
    split = HashSplit(d.val_size, d.test_size, on_train)
    counters = {"read": 0, "valid": 0, "kept": 0}

    def tasks():
        for chunk in raw_chunks(spec, strict=d.strict):
            yield chunk, split.f

    initargs = (tokenizer, d.model_dump(mode="json"), cfg.prompt.model_dump(mode="json"))
    size = total_bytes(spec)
    with make_progress() as bar:
        task = bar.add_task(f"prepare {spec.describe()}", total=size, info="") if progress else None
        for res in _run(tasks(), d.num_proc, initargs):
            if d.strict and res.first_bad is not None:
                where, reason = res.first_bad
                raise DataError(f"{where}: bad row ({reason}) (--strict / data.strict=true)")
            counters["read"] += res.read
            drops.merge(res.drops)
            with _gc_paused():
                _take(res, counters, drops, dedup, split)
            if on_result:
                on_result(res)
            if task is not None:
                bar.update(task, advance=res.nbytes, info=f"{counters['kept']:,} kept")
    held = split.finish()
    counters["held_out_threshold"] = split.f
    counters["dropped"] = drops.to_dict()
    counters["drop_examples"] = dict(drops.examples)
    return held, counters


def prepare(cfg: ExperimentConfig, tokenizer: Any, progress: bool = True, force: bool = False) -> Prepared:
    """Prepared train/validation datasets for ``cfg`` (from the cache when possible)."""
    spec = resolve_source(cfg.data.source, cfg.data.format)
    fp = fingerprint(cfg, tokenizer, spec)
    out = Path(cfg.data.cache_dir) / fp
    if (out / COMPLETE).exists() and not force:
        if progress:
            print(f"cache hit: {out}")
        return load_prepared(out, cache_hit=True)
    t0 = time.time()
    d = cfg.data
    with atomic_dir(out) as tmp:
        train = ArrowRows(tmp / "train.arrow", d.max_length, d.packing, d.seed)
        capped: list = []  # max_train: the smallest-u training recipes (heap would save little here)
        lengths_all: list[np.ndarray] = []
        stats_extra = {"no_target": 0, "truncated": 0, "train_candidates": 0}

        def on_train(u: float, item) -> None:
            toks, n_prompt, _, truncated = item
            if toks is None:
                stats_extra["no_target"] += 1
                return
            stats_extra["truncated"] += truncated
            stats_extra["train_candidates"] += 1
            if d.max_train is not None:
                capped.append((u, toks, n_prompt))
                if len(capped) >= 4 * d.max_train + 1024:
                    capped.sort(key=lambda x: x[0])
                    del capped[d.max_train :]
            else:
                train.add(toks, n_prompt)

        held, counters = _stream(cfg, spec, tokenizer, progress, on_train, lambda r: lengths_all.append(r.lengths[r.lengths > 0]))
        if d.max_train is not None:
            capped.sort(key=lambda x: x[0])
            for _, toks, n_prompt in capped[: d.max_train]:
                train.add(toks, n_prompt)
        train.close()
        val = ArrowRows(tmp / "validation.arrow", d.max_length, d.packing, d.seed)
        val_no_target = 0
        for toks, n_prompt, _, _ in held["validation"]:
            if toks is None:
                val_no_target += 1
            else:
                val.add(toks, n_prompt)
        val.close()
        dropped = dict(counters["dropped"])
        if stats_extra["no_target"]:
            dropped[R.NO_TARGET] = stats_extra["no_target"] + val_no_target
        lengths = np.concatenate(lengths_all) if lengths_all else np.zeros(0, dtype=np.int32)
        stats = {
            "source": spec.describe(),
            "format": spec.fmt,
            "fingerprint": fp,
            "rows_read": counters["read"],
            "valid": counters["valid"],
            "kept_after_dedup": counters["kept"],
            "dropped": dropped,
            "bad_rows": sum(v for k, v in dropped.items() if k in R.BAD_ROW_REASONS),
            "drop_examples": counters["drop_examples"],
            "split": {
                "train_recipes": train.examples,
                "validation": len(held["validation"]),
                "test": len(held["test"]),
                "held_out_reserve": len(held["reserve"]),
                "held_out_threshold_u": counters["held_out_threshold"],
                "train_left_out_by_max_train": max(0, stats_extra["train_candidates"] - train.examples),
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
            "seconds": round(time.time() - t0, 2),
        }
        stats["rows_per_s"] = round(stats["rows_read"] / max(stats["seconds"], 1e-9), 1)
        for name in ("test", "validation"):
            _write_jsonl(tmp / f"eval_{name}.jsonl", [_eval_item(it[2], cfg.prompt) for it in held[name]])
        atomic_write_json(tmp / "stats.json", stats)
        save_resolved(cfg, tmp)
        atomic_write_text(tmp / COMPLETE, fp + "\n")
    _save_eval_cache(cfg, spec, out)
    return load_prepared(out, cache_hit=False)


def _save_eval_cache(cfg: ExperimentConfig, spec, prepared_dir: Path) -> None:
    target = Path(cfg.data.cache_dir) / eval_fingerprint(cfg, spec)
    if (target / COMPLETE).exists():
        return
    with atomic_dir(target) as tmp:
        for name in ("test", "validation"):
            (tmp / f"eval_{name}.jsonl").write_bytes((prepared_dir / f"eval_{name}.jsonl").read_bytes())
        atomic_write_text(tmp / COMPLETE, "\n")


def load_prepared(folder: Path, cache_hit: bool = False) -> Prepared:
    import datasets

    folder = Path(folder)
    if not (folder / COMPLETE).exists():
        raise DataError(f"{folder}: not a complete prepared dataset (no {COMPLETE} marker); run `chefbot data prepare` again")
    stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    train = datasets.Dataset.from_file(str(folder / "train.arrow"))
    val = datasets.Dataset.from_file(str(folder / "validation.arrow"))
    return Prepared(train=train, validation=val, stats=stats, cache_dir=folder, cache_hit=cache_hit)


def load_eval_items(cfg: ExperimentConfig, split: str = "test") -> list[dict]:
    """The held-out items of ``split`` in a fixed order (by split hash), the same for every model."""
    if split not in ("test", "validation"):
        raise DataError(f"eval split {split!r}: expected 'test' or 'validation'")
    spec = resolve_source(cfg.data.source, cfg.data.format)
    folder = Path(cfg.data.cache_dir) / eval_fingerprint(cfg, spec)
    if not (folder / COMPLETE).exists():
        held, _ = _stream(cfg, spec, None, progress=True, on_train=lambda u, item: None)
        with atomic_dir(folder) as tmp:
            for name in ("test", "validation"):
                _write_jsonl(tmp / f"eval_{name}.jsonl", [_eval_item(it[2], cfg.prompt) for it in held[name]])
            atomic_write_text(tmp / COMPLETE, "\n")
    lines = (folder / f"eval_{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]
