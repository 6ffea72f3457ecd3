"""Predictions files: one JSON object per line, one line per test item.

A row is ``{"id", "inputs", "reference", "prediction", "model", "settings"}`` plus an
optional ``"finish_reason"`` ("stop" | "length") and ``"completion_tokens"``:

- ``inputs``: what the model was asked (a dict; the recipe checks read ``inputs["ner"]``
  (list, or a comma-separated string) and ``inputs["title"]`` when present);
- ``reference``: the target text; ``prediction``: the model's text ("" is allowed and
  scores zero);
- ``settings``: every generation setting, so a number can always be traced to how it
  was produced.

The reference project's files (``title, NER, ingredients, directions, reference_full,
prediction``) are read too (``fmt="reference"``, or auto-detected), so the audit scores
their stored outputs with the same code as ours.

``PredictionWriter`` appends and fsyncs one line per finished item, so a crashed
generation run resumes where it stopped (a torn last line is cut off on reopen).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from chefbot.errors import DataError
from chefbot.io import atomic_write_text

REQUIRED_FIELDS = ("id", "inputs", "reference", "prediction", "model", "settings")
REFERENCE_FIELDS = ("reference_full", "prediction")
Format = Literal["auto", "chefbot", "reference"]


def _from_reference_layout(obj: dict, where: str, lineno: int, model: str) -> dict:
    """Map a reference-project row onto the chefbot row layout."""
    missing = [f for f in REFERENCE_FIELDS if f not in obj]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)} (reference layout)")
    ner = obj.get("NER", [])
    if isinstance(ner, str):  # stored as "a, b, c"
        ner = [x.strip() for x in ner.split(",") if x.strip()]
    return {
        "id": str(obj.get("id", f"ref:{lineno - 1}")),
        # Their prompt gave the ingredients only (the model invents the title), so the
        # title is kept beside the inputs, not in them.
        "inputs": {"ner": ner},
        "title": obj.get("title"),
        "reference": obj["reference_full"],
        "prediction": obj["prediction"],
        "model": model,
        "settings": {},
        **({"finish_reason": obj["finish_reason"]} if "finish_reason" in obj else {}),
    }


def _check_row(row: dict, where: str) -> None:
    missing = [f for f in REQUIRED_FIELDS if f not in row]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)}; a row needs {', '.join(REQUIRED_FIELDS)}")
    for key in ("reference", "prediction"):
        if not isinstance(row[key], str):
            raise DataError(f"{where}: field {key!r} must be a string, got {type(row[key]).__name__}")
    if not isinstance(row["settings"], dict):
        raise DataError(f"{where}: field 'settings' must be an object")
    fr = row.get("finish_reason")
    if fr is not None and fr not in ("stop", "length"):
        raise DataError(f"{where}: field 'finish_reason' must be 'stop' or 'length', got {fr!r}")


def read_predictions(path: str | os.PathLike, fmt: Format = "auto", model: str | None = None) -> list[dict]:
    """Read and validate a predictions file; every error names the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"predictions file not found: {path}")
    rows: list[dict] = []
    seen: dict[str, int] = {}
    detected: str | None = None if fmt == "auto" else fmt
    for lineno, obj in _jsonl_objects(path):
        where = f"{path}:{lineno}"
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        if detected is None:
            detected = "reference" if "reference_full" in obj and "reference" not in obj else "chefbot"
        if detected == "reference":
            row = _from_reference_layout(obj, where, lineno, model or path.stem)
        else:
            row = obj
            if model is not None:
                row["model"] = model
        _check_row(row, where)
        row["id"] = str(row["id"])
        if row["id"] in seen:
            raise DataError(f"{where}: duplicate id {row['id']!r} (first at line {seen[row['id']]})")
        seen[row["id"]] = lineno
        rows.append(row)
    if not rows:
        raise DataError(f"{path}: no predictions in the file")
    return rows


def _jsonl_objects(path: Path):
    """(line number, parsed JSON) for every non-blank line; bad JSON names the line."""
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: bad JSON ({e.msg} at column {e.colno})") from None


def read_references(path: str | os.PathLike) -> list[dict]:
    """A JSONL of ``{"id", "reference"}`` (e.g. the eval items) to check a predictions file against."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"references file not found: {path}")
    out = []
    for lineno, obj in _jsonl_objects(path):
        if not isinstance(obj, dict) or "id" not in obj or "reference" not in obj:
            raise DataError(f"{path}:{lineno}: a reference row needs 'id' and 'reference'")
        out.append({"id": str(obj["id"]), "reference": obj["reference"]})
    return out


def check_against_references(rows: list[dict], references: list[dict], name: str = "predictions") -> None:
    """Same items, same order, same reference text; the error names the first line that differs."""
    for i, (row, ref) in enumerate(zip(rows, references), 1):
        if row["id"] != ref["id"]:
            raise DataError(f"{name}: line {i} has id {row['id']!r} but the references have {ref['id']!r} there")
        if row["reference"] != ref["reference"]:
            raise DataError(
                f"{name}: line {i} (id {row['id']!r}) has a different reference text than the references file"
            )
    if len(rows) != len(references):
        n, m = len(rows), len(references)
        first = references[n]["id"] if n < m else rows[m]["id"]
        raise DataError(
            f"{name}: {n} predictions but {m} references; they differ from line {min(n, m) + 1} (id {first!r})"
        )


def check_same_items(a: list[dict], b: list[dict], name_a: str = "a", name_b: str = "b") -> None:
    """Two predictions files over the same items in the same order (needed for paired comparisons)."""
    check_against_references(a, [{"id": r["id"], "reference": r["reference"]} for r in b], f"{name_a} vs {name_b}")


class PredictionWriter:
    """Append-only predictions writer with resume.

    ``with PredictionWriter(path, model, settings) as w:`` then ``w.pending(items)``
    gives the items still to do and ``w.write(row)`` appends one finished row.
    Reopening a file written with other settings or another model is an error, so a
    resumed file never mixes two configurations.
    """

    def __init__(self, path: str | os.PathLike, model: str, settings: dict):
        self.path = Path(path)
        self.model = model
        self.settings = settings
        self.done: dict[str, dict] = {}
        self._f = None

    def __enter__(self) -> PredictionWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._recover()
        self._f = self.path.open("a", encoding="utf-8")
        return self

    def _recover(self) -> None:
        data = self.path.read_bytes()
        keep = data[: data.rfind(b"\n") + 1]  # drop a torn last line left by a crash
        if len(keep) != len(data):
            with self.path.open("r+b") as f:
                f.truncate(len(keep))
        if not keep.strip():
            return
        for row in read_predictions(self.path, fmt="chefbot"):
            if row["model"] != self.model or row["settings"] != self.settings:
                raise DataError(
                    f"{self.path}: cannot resume: it was written for model {row['model']!r} with settings "
                    f"{row['settings']} but this run uses {self.model!r} with {self.settings}; use another output path"
                )
            self.done[row["id"]] = row

    def pending(self, items: Iterable[dict]) -> list[dict]:
        return [it for it in items if str(it["id"]) not in self.done]

    def write(self, row: dict) -> None:
        row = {**row, "model": self.model, "settings": self.settings}
        row["id"] = str(row["id"])
        _check_row(row, f"{self.path} (row being written, id {row.get('id')!r})")
        assert self._f is not None, "use PredictionWriter as a context manager"
        self._f.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())
        self.done[row["id"]] = row

    def rows_in_order(self, items: Iterable[dict]) -> list[dict]:
        """The finished rows in the order of ``items`` (the file itself is in completion order)."""
        return [self.done[str(it["id"])] for it in items if str(it["id"]) in self.done]

    def finalize(self, items: Iterable[dict]) -> list[dict]:
        """Rewrite the file in item order (atomically) once every item is done; returns the rows."""
        items = list(items)
        missing = [str(it["id"]) for it in items if str(it["id"]) not in self.done]
        if missing:
            raise DataError(f"{self.path}: {len(missing)} items not finished yet (first: {missing[0]!r})")
        rows = self.rows_in_order(items)
        if self._f is not None:
            self._f.close()
            self._f = None
        write_predictions(self.path, rows)
        return rows

    def __exit__(self, *exc) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def write_predictions(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Write a whole predictions file at once (atomic)."""
    for i, row in enumerate(rows, 1):
        _check_row(row, f"{path} row {i}")
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
